import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// Shine's SCA action requests (Shine's API documentation, docs/approvals.md): create, poll (GET and POST), verify the
/// short-lived token, and Shine's own demo resource `POST /v3/bank/transfers`. Clients
/// authenticate with `client_id`/`client_secret` (in the body, the query, or HTTP Basic), checked by
/// `ClientMiddleware` before the handler: the action request routes are `ClientContext` routes.
/// Errors are RFC 9457 problems.
struct ActionRequestsController {
    let approvals: ApprovalService
    /// Client authentication (the `clients` groups) and the transfer route's bearer token.
    let tokens: TokenService
    let maxBodyBytes: Int

    func addRoutes(to router: Router<AppRequestContext>) {
        clients(of: router, body: .required)
            .post("/v2/authentication/oauth2/action_request", use: create)
            .post("/v2/authentication/oauth2/action_request/verify", use: verify)
        clients(of: router, body: .optionalOnPost)
            .get("/v2/authentication/oauth2/action_request/:id/poll", use: poll)
            .post("/v2/authentication/oauth2/action_request/:id/poll", use: poll)
        // A resource route: a bearer token and a short-lived token, no client credentials.
        router.post("/v3/bank/transfers", use: transfer)
    }

    /// Whether a route's JSON body (where `client_id`/`client_secret` may be) is read before the
    /// client is authenticated.
    enum ClientBody {
        case none
        case required
        /// Poll: GET has none, POST may have one.
        case optionalOnPost
    }

    /// The routes an OAuth client calls with its credentials (here, and the client webhook log):
    /// HTTP Basic, or `client_id`/`client_secret` in the query or the JSON body. The body is read
    /// and checked first (as the handlers did: a malformed body is a 400 before any 401) and stays
    /// buffered for the handler.
    static func clients(of router: Router<AppRequestContext>, body: ClientBody, tokens: TokenService, maxBodyBytes limit: Int)
        -> RouterGroup<ClientContext>
    {
        return router.group().add(
            middleware: ClientMiddleware { request, context in
                let object: [String: Any]
                switch body {
                case .none: object = [:]
                case .required: object = try await stringMembers(buffering: &request, limit: limit)
                case .optionalOnPost:
                    object = request.method == .post ? try await stringMembers(buffering: &request, limit: limit, optional: true) : [:]
                }
                return try await ClientAuthentication.client(of: request, body: object, context: context, tokens: tokens)
            }
        ).group(context: ClientContext.self)
    }

    func clients(of router: Router<AppRequestContext>, body: ClientBody) -> RouterGroup<ClientContext> {
        Self.clients(of: router, body: body, tokens: tokens, maxBodyBytes: maxBodyBytes)
    }

    @Sendable func create(_ request: Request, context: ClientContext) async throws -> Response {
        let body = try await ActionRequestBody(request, limit: maxBodyBytes)
        let client = context.client
        guard let action = body.strings["action"] else { throw ProblemDetails.badRequest("'action' is missing.") }
        guard let uid = body.strings["uid"] else { throw ProblemDetails.badRequest("'uid' is missing.") }
        guard let payload = body.canonicalPayload else { throw ProblemDetails.badRequest("'payload' is missing.") }
        let approval = try await mapped {
            try await approvals.createActionRequest(
                client: client, uid: uid, action: action, canonicalPayload: payload, source: context.remoteAddress)
        }
        return wire(approval, status: .created)
    }

    @Sendable func poll(_ request: Request, context: ClientContext) async throws -> Response {
        let client = context.client
        let approval = try await mapped {
            try await approvals.actionRequest(id: try context.parameters.require("id"), client: client)
        }
        return wire(approval, status: .ok)
    }

    /// For resource servers: is this token good for this action and payload? Valid once.
    @Sendable func verify(_ request: Request, context: ClientContext) async throws -> Response {
        let body = try await ActionRequestBody(request, limit: maxBodyBytes)
        let client = context.client
        guard let token = body.strings["token"], let action = body.strings["action"], let payload = body.canonicalPayload else {
            throw ProblemDetails.badRequest("'token', 'action' and 'payload' are required.")
        }
        guard
            let approval = try await approvals.consumeActionToken(
                token, action: action, canonicalPayload: payload, clientID: client.id, source: context.remoteAddress)
        else { throw Self.tokenRefused }
        var data = JSONObjectWriter(escaping: .foundationWithoutEscapingSlashes)
        data.member("action", string: approval.template)
        data.member("authenticationActionRequestId", string: approval.id)
        data.member("uid", string: approval.externalUserID)
        data.member("valid", raw: Array("true".utf8))
        return Self.envelope(
            data.finish(), status: .ok,
            checkedAgainst: [
                "valid": true, "authenticationActionRequestId": approval.id, "uid": approval.externalUserID, "action": approval.template,
            ])
    }

    /// Shine's example resource: a transfer needs a bearer token and a short-lived token that
    /// confirmed `bank:transfers:create` with exactly this body.
    @Sendable func transfer(_ request: Request, context: AppRequestContext) async throws -> Response {
        let claims = try await BearerAuthentication.claims(of: request, tokens: tokens)
        guard let token = request.headers.value(.shortLivedToken) else {
            throw ProblemDetails(.forbidden, "Forbidden", detail: "This action needs strong customer authentication: send a short-lived-token.")
        }
        let body = try await Self.jsonObject(request, limit: maxBodyBytes)
        guard
            let approval = try await approvals.consumeActionToken(
                token, action: "bank:transfers:create", canonicalPayload: try Self.canonical(body), clientID: claims.clientID,
                source: context.remoteAddress)
        else { throw Self.tokenRefused }
        var transfer = body
        transfer["id"] = SecureRandom.uuid()
        transfer["status"] = "PENDING"
        transfer["authenticationActionRequestId"] = approval.id
        return try Self.envelope(transfer, status: .created)
    }

    // MARK: Helpers

    /// `{"data": …, "metadata": {}}` — built with JSONSerialization so that payloads keep their
    /// JSON types (numbers stay numbers) exactly as the client sent them: the demo resource's
    /// answer, which echoes a whole body.
    static func envelope(_ data: [String: Any], status: HTTPResponse.Status) throws -> Response {
        let body = try JSONSerialization.data(
            withJSONObject: ["data": data, "metadata": [String: Any]()], options: [.sortedKeys, .withoutEscapingSlashes])
        return response(ByteBuffer(data: body), status: status)
    }

    /// `{"data": …, "metadata": {}}` around `data`, an object's bytes: the action request routes'
    /// answers, written without Foundation (whose sorted keys cost an ICU collation per
    /// comparison). Their members are written in the order `JSONSerialization` sorted them, so
    /// the bytes are the ones it wrote; a debug build checks that against `checkedAgainst`.
    static func envelope(_ data: [UInt8], status: HTTPResponse.Status, checkedAgainst expected: @autoclosure () -> [String: Any]) -> Response {
        var envelope = JSONObjectWriter(escaping: .foundationWithoutEscapingSlashes)
        envelope.member("data", raw: data)
        envelope.member("metadata", raw: Array("{}".utf8))
        let body = envelope.finish()
        #if DEBUG
            let foundation = try? JSONSerialization.data(
                withJSONObject: ["data": expected(), "metadata": [String: Any]()], options: [.sortedKeys, .withoutEscapingSlashes])
            assert(
                foundation.map { Array($0) == body } ?? false,
                "wrote \(String(decoding: body, as: UTF8.self)), JSONSerialization \(foundation.map { String(decoding: $0, as: UTF8.self) } ?? "-")")
        #endif
        return response(ByteBuffer(bytes: body), status: status)
    }

    private static func response(_ body: ByteBuffer, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    static let tokenRefused = ProblemDetails(
        .forbidden, "Forbidden", detail: "The short-lived token is unknown, used, expired, or for another action or payload.")

    /// Shine's action request object; its payload is copied from the canonical JSON it is stored as.
    func wire(_ approval: Approval, status: HTTPResponse.Status) -> Response {
        let created = InternetTimestamp.string(from: approval.createdAt, fractionalSeconds: true)
        let updated = InternetTimestamp.string(from: approval.updatedAt, fractionalSeconds: true)
        let expires = InternetTimestamp.string(from: approval.expiresAt, fractionalSeconds: true)
        let shineStatus = Approval.shineStatus(approval.status)
        let token = approval.status == .approved ? approvals.actionRequestToken(for: approval.id) : nil
        var data = JSONObjectWriter(escaping: .foundationWithoutEscapingSlashes)
        data.member("action", string: approval.template)
        data.member("authenticationActionRequestId", string: approval.id)
        data.member("clientId", string: approval.clientID ?? "")
        data.member("createdAt", string: created)
        data.member("expiresAt", string: expires)
        data.member("payload", raw: Array((approval.payload ?? "null").utf8))
        data.member("status", string: shineStatus)
        if let token { data.member("token", string: token) }
        data.member("uid", string: approval.externalUserID)
        data.member("updatedAt", string: updated)
        return Self.envelope(
            data.finish(), status: status,
            checkedAgainst: {
                let payload = approval.payload.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8), options: [.fragmentsAllowed]) }
                var expected: [String: Any] = [
                    "authenticationActionRequestId": approval.id, "clientId": approval.clientID ?? "", "action": approval.template,
                    "payload": payload ?? NSNull(), "uid": approval.externalUserID, "status": shineStatus, "createdAt": created,
                    "updatedAt": updated, "expiresAt": expires,
                ]
                if let token { expected["token"] = token }
                return expected
            }())
    }

    static func jsonObject(_ request: Request, limit: Int, optional: Bool = false) async throws -> [String: Any] {
        let buffer = try await JSONBody.collect(request, limit: limit)
        if optional, buffer.readableBytes == 0 { return [:] }
        try requireJSONContentType(request)
        return try jsonObject(in: buffer)
    }

    /// `buffer` parsed by `JSONSerialization` as an object, or the 400 problem.
    static func jsonObject(in buffer: ByteBuffer) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else {
            throw ProblemDetails.badRequest("The request body must be a JSON object.")
        }
        return object
    }

    /// `value`'s canonical form, or a 400 for what is not JSON.
    static func canonical(_ value: Any) throws -> String {
        do {
            return try CanonicalJSON.foundation(value)
        } catch {
            throw ProblemDetails.approval(.validation(field: "payload", message: "must be JSON"), what: "action request")
        }
    }

    static func requireJSONContentType(_ request: Request) throws {
        let contentType = request.headers.value(.contentType)?.split(separator: ";").first?.trimmingHTTPWhitespace().lowercased()
        guard contentType == "application/json" else {
            throw ProblemDetails(.unsupportedMediaType, "Unsupported Media Type", detail: "The request body must be application/json.")
        }
    }

    /// The top-level string members of the body (where `client_id` and `client_secret` may be),
    /// with `jsonObject(_:limit:optional:)`'s refusals (same order), read by `JSONBytesParser` where
    /// it can: the client middleware needs no more. The body stays on `request`, read, for the handler.
    static func stringMembers(buffering request: inout Request, limit: Int, optional: Bool = false) async throws -> [String: Any] {
        let buffer = try await JSONBody.collect(buffering: &request, limit: limit)
        if optional, buffer.readableBytes == 0 { return [:] }
        try requireJSONContentType(request)
        guard let parsed = CanonicalMemberBody.parsedObject(buffer) else { return try jsonObject(in: buffer) }
        var strings: [String: Any] = [:]
        for case (let key, .string(let value)) in parsed { strings[key] = value }
        return strings
    }

    func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ApprovalError {
            throw ProblemDetails.approval(error, what: "action request")
        }
    }
}

extension HTTPField.Name {
    /// Shine's header for the short-lived token.
    public static let shortLivedToken = Self("short-lived-token")!
}

/// The JSON object body of `POST …/action_request` and `…/verify`: its top-level string members
/// and its `payload` in canonical form (`CanonicalMemberBody`); the refusals are `jsonObject`'s.
struct ActionRequestBody {
    var strings: [String: String] = [:]
    /// `nil` when the body has no `payload`.
    var canonicalPayload: String?

    init(_ request: Request, limit: Int) async throws {
        let buffer = try await JSONBody.collect(request, limit: limit)
        try ActionRequestsController.requireJSONContentType(request)
        let body: CanonicalMemberBody?
        do {
            body = try CanonicalMemberBody(buffer, member: "payload")
        } catch {
            throw ProblemDetails.approval(.validation(field: "payload", message: "must be JSON"), what: "action request")
        }
        guard let body else { throw ProblemDetails.badRequest("The request body must be a JSON object.") }
        strings = body.strings
        canonicalPayload = body.canonical
    }
}
