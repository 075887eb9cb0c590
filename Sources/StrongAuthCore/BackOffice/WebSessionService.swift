import Crypto
import Foundation
import StrongAuthProtocol

/// Browser sessions of the back office and self-service, and their CSRF tokens.
///
/// - The cookie carries 256 random bits; the database holds only their keyed hash, so a database
///   dump signs no one in.
/// - A session ends after `idleTimeout` without a request (5 minutes, PSD2 RTS art. 4(3)(d)) and
///   after `absoluteLifetime` in any case; each request moves the expiry in one conditional update,
///   so an expired session can never be revived, on any node.
/// - The CSRF token of a form is HMAC(csrf key, session token): a synchronizer token bound to the
///   session without being stored, checked in constant time. The sign-in forms, which have no
///   session yet, bind theirs to a random pre-session cookie the same way.
public struct WebSessionService: Sendable {
    public typealias Repositories = BackOfficeRepository

    public static let tokenPrefix = "sa_ws_"
    private let store: any Repositories
    private let tokenHasher: KeyedHash
    private let csrfKey: SymmetricKey
    private let time: any TimeSource
    public let idleTimeout: TimeInterval
    public let absoluteLifetime: TimeInterval

    public init(
        store: any Repositories, masterKey: MasterKey, time: any TimeSource, idleTimeout: TimeInterval = 300,
        absoluteLifetime: TimeInterval = 8 * 3600
    ) {
        self.store = store
        tokenHasher = KeyedHash(key: masterKey.derive(purpose: "web-session"))
        csrfKey = masterKey.derive(purpose: "web-csrf")
        self.time = time
        self.idleTimeout = idleTimeout
        self.absoluteLifetime = absoluteLifetime
    }

    /// Starts a session; returns the cookie token (shown to the browser only). `secondFactor`:
    /// the sign-in itself gave two factors (a passkey: possession and user verification in one
    /// gesture), so the session starts raised, as a completed step-up would leave it.
    public func start(kind: WebSessionKind, principalID: String, secondFactor: StepUpMethod? = nil) async throws -> String {
        let token = SecureRandom.token(prefix: Self.tokenPrefix)
        let now = time.now()
        try await store.insertWebSession(
            WebSession(
                tokenHash: tokenHasher.hash(token), kind: kind, principalID: principalID, createdAt: now,
                expiresAt: now.addingTimeInterval(idleTimeout), secondFactorAt: secondFactor == nil ? nil : now,
                secondFactorMethod: secondFactor))
        return token
    }

    /// The live session of `kind` behind `token`, its idle expiry moved on; `nil` otherwise.
    public func resume(token: String, kind: WebSessionKind) async throws -> WebSession? {
        guard token.hasPrefix(Self.tokenPrefix), token.utf8.count < 100 else { return nil }
        let now = time.now()
        guard
            let session = try await store.touchWebSession(
                tokenHash: tokenHasher.hash(token), at: now, newExpiry: now.addingTimeInterval(idleTimeout),
                notCreatedBefore: now.addingTimeInterval(-absoluteLifetime))
        else { return nil }
        return session.kind == kind ? session : nil
    }

    /// Ends the session (logout).
    public func end(token: String) async throws {
        try await store.deleteWebSession(tokenHash: tokenHasher.hash(token))
    }

    /// Deletes sessions past their expiry.
    public func sweep() async throws {
        try await store.deleteExpiredWebSessions(at: time.now())
    }

    /// The CSRF token of the forms of the session (or pre-session) whose cookie is `token`.
    public func csrfToken(for token: String) -> String {
        Base64URL.encode(Array(HMAC<SHA256>.authenticationCode(for: Array("csrf:\(token)".utf8), using: csrfKey)))
    }

    /// Whether `presented` is the CSRF token of `token`, compared in constant time.
    public func checkCSRF(_ presented: String?, for token: String) -> Bool {
        guard let presented else { return false }
        return ConstantTime.equals(presented, csrfToken(for: token))
    }

    /// A random pre-session value for a sign-in form's cookie.
    public func newPreSession() -> String {
        SecureRandom.token(prefix: "sa_pre_")
    }
}
