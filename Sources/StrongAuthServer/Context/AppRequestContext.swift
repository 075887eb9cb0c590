import Hummingbird
import NIOCore
import StrongAuthCore

/// The request context of every StrongAuth route: Hummingbird's core storage plus the peer
/// address (for audit events and, later, rate limits).
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's IP address: the TCP peer, or — behind a trusted proxy — the address the
    /// proxy forwarded (`ClientAddressMiddleware`, `TrustedProxies.clientAddress`). What rate
    /// limits, audit events and logs use.
    public internal(set) var remoteAddress: String?
    /// The TCP peer's IP address, if the transport has one (the proxy, behind one).
    public let peerAddress: String?
    /// The verified user token on the routes of a user-token face (set by `UserTokenMiddleware`,
    /// read by `UserTokenContext` and `TwoFactorContext`).
    public var userToken: VerifiedUserToken?
    /// The authenticated integration user on the routes of the PowerAuth integration face (set by
    /// `IntegrationUserMiddleware`, read by `IntegrationUserContext`).
    public var integrationUser: IntegrationUser?
    /// The integration user's credentials, presented but not yet checked, on the integration
    /// routes that check them with their own first read (set by `IntegrationCallerMiddleware`,
    /// read by `PendingIntegrationUserContext`).
    var integrationCaller: IntegrationCredentials?
    /// The verified PowerAuth signature or MAC token on the phone face's authenticated routes (set
    /// by `PhoneSignatureMiddleware` / `PhoneTokenMiddleware`, read by `PhoneSignedContext` /
    /// `PhoneTokenContext`).
    var phone: VerifiedPhone?
    /// The authenticated OAuth client on the routes of a client face (set by `ClientMiddleware`,
    /// read by `ClientContext`).
    var client: OAuthClient?
    /// The signed-in browser on the web areas' signed-in routes (set by `WebSessionMiddleware`,
    /// read by `OperatorContext`).
    var webSignedIn: WebSignedIn?
    /// The admin API's caller (set by `AdminMiddleware`, read by `AdminContext`).
    var admin: AdminPrincipal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
        remoteAddress = peerAddress
    }
}
