import Hummingbird

/// What every face's authentication middleware does (`UserTokenMiddleware`,
/// `IntegrationUserMiddleware`, `PhoneSignatureMiddleware`, `PhoneTokenMiddleware`,
/// `ClientMiddleware`): authenticate the request in the face's way, refusing in the face's shape,
/// record what it proved in its field of `AppRequestContext`, and hand the request on. The child
/// context of the face reads that field in its `init` (which cannot be async, hence the
/// middleware). `authenticate` may read the body if it leaves it buffered on `request`.
///
/// `WebSessionMiddleware` is not one: without a session it redirects to the sign-in page rather
/// than refusing.
protocol FaceAuthenticationMiddleware: RouterMiddleware where Context == AppRequestContext {
    associatedtype Proof: Sendable
    /// The field of `AppRequestContext` the face's child context reads.
    static var proof: WritableKeyPath<AppRequestContext, Proof?> { get }
    /// Who or what is calling; throws the face's refusal.
    func authenticate(_ request: inout Request, context: AppRequestContext) async throws -> Proof
}

extension FaceAuthenticationMiddleware {
    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response)
        async throws -> Response
    {
        var request = request
        let proof = try await authenticate(&request, context: context)
        var context = context
        context[keyPath: Self.proof] = proof
        return try await next(request, context)
    }
}
