import Foundation
import Logging
import StrongAuthProtocol

/// Why a step of the hosted login cannot go on.
public enum AuthorizationLoginError: Error, Equatable, Sendable {
    /// The login is unknown, expired, already finished, or was started by another browser.
    case gone
    /// The password is wrong, the user unknown, or the password factor locked (`invalid_grant`
    /// of `TokenService.authenticateUser`, which counted and audited it).
    case invalidCredentials
}

/// What the hosted login shows next.
public enum AuthorizationLoginStep: Sendable, Equatable {
    /// The second factor started: wait for the device's approval, or ask for the SMS code.
    case secondFactor(StepUpMethod)
    /// Done: send the browser to this URL (the client's redirect URI with `code`, `state` and
    /// `iss`, or with an error).
    case redirect(String)
}

/// The authorization endpoint's core (RFC 6749 §4.1, RFC 7636, RFC 9126, RFC 9207): validates
/// requests (pushed or brought by the browser), runs the hosted login — the password through
/// `TokenService.authenticateUser`, the second factor through `StepUpService` (an approval on a
/// bound device, else an SMS OTP) — and issues single-use codes that the authorization code
/// grant (`TokenService`) redeems.
///
/// Every login is a fresh one (no single sign-on session), so `max_age` and `prompt=login` are
/// met by construction. The login's state lives in the database, bound to the browser's cookie.
public struct AuthorizationService: Sendable {
    public typealias Repositories = AuthorizationCodeRepository & ClientRepository & UserRepository & ApprovalRepository & AuditLog
        & DeviceRepository

    private let store: any Repositories
    private let tokens: TokenService
    private let stepUp: StepUpService
    private let hasher: KeyedHash
    private let time: any TimeSource
    private let logger: Logger
    /// `iss` of the authorization response (RFC 9207).
    public let issuer: String

    /// A pushed request may be used this long, once (RFC 9126 §2.2: short-lived).
    public static let pushedRequestLifetime: TimeInterval = 60
    /// A code lives 60 s (RFC 6749 §4.1.2: at most 10 minutes recommended).
    public static let codeLifetime: TimeInterval = 60
    /// How long the user has to complete the login page.
    public static let loginLifetime: TimeInterval = 600
    public static let requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

    public init(
        store: any Repositories, tokens: TokenService, stepUp: StepUpService, hasher: KeyedHash, time: any TimeSource, issuer: String,
        logger: Logger
    ) {
        self.store = store
        self.tokens = tokens
        self.stepUp = stepUp
        self.hasher = hasher
        self.time = time
        self.issuer = issuer
        self.logger = logger
    }

    /// The injected clock's time (pages show an approval's status at it).
    public var now: Date { time.now() }

    /// The client named `id` if it exists and is active.
    public func activeClient(id: String?) async throws -> OAuthClient? {
        guard let id, !id.isEmpty, id.utf8.count <= 256, let client = try await store.client(id: id), client.status == .active else {
            return nil
        }
        return client
    }

    // MARK: Pushed authorization requests (RFC 9126)

    /// Validates a pushed request of the authenticated `client` as the authorization endpoint
    /// would and stores it; returns its `request_uri` (single use, `pushedRequestLifetime`).
    public func push(_ parameters: [String: String], resources: [String], client: OAuthClient) async throws -> String {
        var parameters = parameters
        // §2.1: the client authenticated; client_id in the body, if any, must be the same.
        if let named = parameters["client_id"], named != client.id {
            throw OAuthError.invalidRequest("client_id differs from the authenticated client.")
        }
        parameters["client_id"] = client.id
        let request: AuthorizationRequest
        do {
            request = try AuthorizationRequest.validate(parameters, resources: resources, client: client, pushed: true)
        } catch {
            throw error.error
        }
        let requestURI = Self.requestURIPrefix + Base64URL.encode(SecureRandom.bytes(32))
        let now = time.now()
        try await store.insertPushedAuthorizationRequest(
            id: hasher.hash(requestURI), request: request, at: now, expiresAt: now.addingTimeInterval(Self.pushedRequestLifetime))
        return requestURI
    }

    // MARK: The authorization endpoint

    /// The request a browser brings to `/oauth/authorize`: its parameters validated, or — with
    /// `request_uri` — the pushed request, taken once (the other parameters are then ignored,
    /// RFC 9126 §4).
    public func authorizationRequest(_ parameters: [String: String], resources: [String]) async throws -> AuthorizationRequest {
        let client = try await activeClient(id: parameters["client_id"])
        guard let requestURI = parameters["request_uri"] else {
            return try AuthorizationRequest.validate(parameters, resources: resources, client: client, pushed: false)
        }
        guard let client else { throw AuthorizationRequestError.untrusted(OAuthError(.invalidClient, "The client is unknown or disabled.")) }
        guard requestURI.hasPrefix(Self.requestURIPrefix), requestURI.utf8.count <= 256,
            let request = try await store.takePushedAuthorizationRequest(id: hasher.hash(requestURI), clientID: client.id, at: time.now())
        else {
            throw AuthorizationRequestError.untrusted(
                OAuthError(.invalidRequestURI, "The request_uri is unknown, expired, already used or another client's."))
        }
        return request
    }

    /// Starts the login for a validated request in the browser whose cookie is `browserSecret`;
    /// returns the login's handle (the `login` field of its forms).
    public func startLogin(_ request: AuthorizationRequest, browserSecret: String) async throws -> String {
        let handle = Base64URL.encode(SecureRandom.bytes(32))
        let now = time.now()
        try await store.insertAuthorizationLogin(
            AuthorizationLogin(
                id: hasher.hash(handle), request: request, browserHash: hasher.hash(browserSecret), createdAt: now,
                expiresAt: now.addingTimeInterval(Self.loginLifetime)))
        return handle
    }

    /// The unfinished login `handle` of this browser and its client, or `gone`.
    public func login(handle: String, browserSecret: String) async throws -> (login: AuthorizationLogin, client: OAuthClient) {
        guard !handle.isEmpty, handle.utf8.count <= 128, !browserSecret.isEmpty,
            let login = try await store.authorizationLogin(id: hasher.hash(handle), browserHash: hasher.hash(browserSecret), at: time.now()),
            let client = try await activeClient(id: login.request.clientID)
        else { throw AuthorizationLoginError.gone }
        return (login, client)
    }

    /// The password step: the user of the client's realm, checked (and locked, rate limited and
    /// audited) exactly as the password grant does. Then the second factor when the request
    /// needs two, else the code.
    public func submitPassword(handle: String, browserSecret: String, username: String, password: String, source: String?) async throws
        -> AuthorizationLoginStep
    {
        let (login, client) = try await self.login(handle: handle, browserSecret: browserSecret)
        guard login.userID == nil else { throw AuthorizationLoginError.gone }
        let user: User
        do {
            user = try await tokens.authenticateUser(username: username, password: password, client: client, source: source)
        } catch let error as OAuthError where error.code == .invalidGrant {
            // `login.password` journaled the wrong password (bounded by the lockout); that it came
            // through the hosted login is counted per window, as every unauthenticated failure.
            try await store.recordFailure(
                AuditRecord(
                    actor: "client:\(client.id)", action: .authorizationLogin, subject: nil, sourceAddress: source, outcome: .failure,
                    details: ["reason": "invalid_credentials"]),
                at: time.now())
            throw AuthorizationLoginError.invalidCredentials
        }
        let now = time.now()
        guard try await store.recordLoginPassword(id: login.id, browserHash: login.browserHash, userID: user.id, at: now) else {
            throw AuthorizationLoginError.gone
        }
        guard login.request.assurance == .twoFactor else {
            return .redirect(try await finish(login, userID: user.id, amr: ["pwd"], client: client, source: source))
        }
        let started = try await stepUp.startSecondFactor(
            for: user, confirming: "Sign in to \(client.name)", title: "Sign in", audit: .authorizationLogin,
            details: ["client": client.id], source: source)
        guard
            try await store.recordLoginSecondFactor(
                id: login.id, browserHash: login.browserHash, method: started.method, factorID: started.id, at: now)
        else { throw AuthorizationLoginError.gone }
        return .secondFactor(started.method)
    }

    /// The approval the login waits for (to show its status), `nil` for an SMS login.
    public func approval(of login: AuthorizationLogin) async throws -> Approval? {
        guard login.secondFactor == .approval, let id = login.secondFactorID, let userID = login.userID,
            let approval = try await store.approval(id: id), approval.userID == userID
        else { return nil }
        return approval
    }

    /// Continues once the device decided: approved issues the code; rejected (or canceled,
    /// failed, expired) sends `access_denied` to the client; still pending is `StepUpError.pending`.
    public func continueAfterApproval(handle: String, browserSecret: String, source: String?) async throws -> AuthorizationLoginStep {
        let (login, client) = try await self.login(handle: handle, browserSecret: browserSecret)
        guard let userID = login.userID, let approval = try await approval(of: login) else { throw AuthorizationLoginError.gone }
        switch approval.status(at: time.now()) {
        case .pending:
            throw StepUpError.pending
        case .approved:
            return .redirect(try await finish(login, userID: userID, amr: ["pwd", "hwk"], client: client, source: source))
        case let other:
            try await audit(
                .authorizationLogin, actor: "user:\(userID)", subject: "user:\(userID)", outcome: .failure, source: source,
                ["client": client.id, "reason": other.rawValue.lowercased()])
            return .redirect(
                AuthorizationResponse.error(
                    OAuthError(.accessDenied, "The sign-in was not approved on the device."), redirectURI: login.request.redirectURI,
                    state: login.request.state, issuer: issuer))
        }
    }

    /// The SMS OTP of the login's second factor (the step-up's check and limits).
    public func verifyOTP(handle: String, browserSecret: String, code: String, source: String?) async throws -> AuthorizationLoginStep {
        let (login, client) = try await self.login(handle: handle, browserSecret: browserSecret)
        guard let userID = login.userID, login.secondFactor == .smsOTP, let challengeID = login.secondFactorID else {
            throw AuthorizationLoginError.gone
        }
        try await stepUp.checkOTP(challengeID: challengeID, userID: userID, code: code, audit: .authorizationLogin, source: source)
        return .redirect(try await finish(login, userID: userID, amr: ["pwd", "sms"], client: client, source: source))
    }

    /// Issues the code: finishes the login and stores the code's keyed hash in one transaction
    /// (exactly one of racing requests wins), then the redirect with `code`, `state` and `iss`.
    private func finish(_ login: AuthorizationLogin, userID: String, amr: [String], client: OAuthClient, source: String?) async throws
        -> String
    {
        let code = Base64URL.encode(SecureRandom.bytes(32))
        let now = time.now()
        let acr = AssuranceLevel.of(amr: amr, confirmed: false)
        let record = AuthorizationCodeRecord(
            codeHash: hasher.hash(code), clientID: client.id, userID: userID, request: login.request, acr: acr.rawValue, amr: amr,
            authTime: login.passwordAt ?? now, createdAt: now, expiresAt: now.addingTimeInterval(Self.codeLifetime))
        guard try await store.finishLogin(id: login.id, browserHash: login.browserHash, issuing: record, at: now) else {
            throw AuthorizationLoginError.gone
        }
        try await audit(
            .authorizationLogin, actor: "user:\(userID)", subject: "user:\(userID)", outcome: .success, source: source,
            ["client": client.id, "acr": acr.rawValue, "amr": amr.joined(separator: " ")])
        try await audit(
            .authorizationCodeIssued, actor: "client:\(client.id)", subject: "user:\(userID)", outcome: .success, source: source,
            ["scope": login.request.scope, "acr": acr.rawValue])
        return AuthorizationResponse.redirect(
            to: login.request.redirectURI, [("code", code), ("state", login.request.state), ("iss", issuer)])
    }

    /// Deletes what expired (`AuthorizationCodeRepository.sweepAuthorizationCodes`).
    public func sweep() async throws {
        _ = try await store.sweepAuthorizationCodes(at: time.now())
    }

    private func audit(
        _ action: AuditAction, actor: String, subject: String, outcome: AuditRecord.Outcome, source: String?, _ details: [String: String]
    ) async throws {
        try await store.append(
            AuditRecord(actor: actor, action: action, subject: subject, sourceAddress: source, outcome: outcome, details: details),
            at: time.now())
    }
}

// MARK: The passkey as the second factor (issue 17)

extension AuthorizationService {
    /// Whether the login's user (known after the password) has an ACTIVE passkey to offer beside
    /// the approval or SMS code the password step started.
    public func offersPasskey(_ login: AuthorizationLogin) async throws -> Bool {
        guard let userID = login.userID, login.request.assurance == .twoFactor else { return false }
        return try await store.devices(userID: userID).contains { $0.kind == .passkey && $0.status == .active }
    }

    /// The passkey ceremony of the login `handle` of this browser, after its password: bound to
    /// the user and to this login (a ceremony of another login, or another user's, is refused by
    /// `PasskeyService.authenticate`).
    public func passkeyOptions(handle: String, browserSecret: String, passkeys: PasskeyService) async throws
        -> (ceremony: PasskeyCeremony, options: PublicKeyCredentialRequestOptionsJSON)
    {
        let (login, _) = try await self.login(handle: handle, browserSecret: browserSecret)
        guard let userID = login.userID, login.request.assurance == .twoFactor else { throw AuthorizationLoginError.gone }
        return try await passkeys.authenticationOptions(for: .authorization(userID: userID, requestID: login.id))
    }

    /// The passkey's assertion (user verification required): the second factor done in one
    /// gesture, then the code — `amr` `pwd hwk user` (RFC 8176: hardware-bound key, user presence and
    /// verification). A refused assertion is the passkey service's (counted, audited, a counter
    /// regression blocks the passkey); the login stays open for the other factor.
    public func verifyPasskey(
        handle: String, browserSecret: String, ceremonyID: String, response: AuthenticationResponseJSON, passkeys: PasskeyService, source: String?
    ) async throws -> AuthorizationLoginStep {
        let (login, client) = try await self.login(handle: handle, browserSecret: browserSecret)
        guard let userID = login.userID, login.request.assurance == .twoFactor else { throw AuthorizationLoginError.gone }
        _ = try await passkeys.authenticate(
            ceremonyID: ceremonyID, response: response, for: .authorization(userID: userID, requestID: login.id), source: source)
        return .redirect(try await finish(login, userID: userID, amr: PasskeyService.amr(afterPassword: true), client: client, source: source))
    }
}
