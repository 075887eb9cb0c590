import Foundation
import StrongAuthProtocol

/// RFC 6238 codes for a secret (hummingbird-auth's `TOTP` in the server): 6 digits, 30-second steps, HMAC-SHA1.
public protocol TOTPGenerator: Sendable {
    /// The code of the time step that contains `date`.
    func code(secret: String, at date: Date) -> Int
    /// The `otpauth://totp/…` URI an authenticator app scans.
    func authenticatorURL(secret: String, label: String, issuer: String) -> String
}

/// Why an operator could not sign in. The page says only "invalid or locked"; the audit log has the reason.
public enum OperatorSignInError: Error, Equatable, Sendable {
    case invalidCredentials
}

/// A new operator's credentials, shown once.
public struct CreatedOperator: Sendable {
    public var `operator`: Operator
    /// The password (generated when none was given).
    public var password: String
    /// The TOTP secret in Base32, as authenticator apps take it.
    public var totpSecret: String
    /// The `otpauth://` URI with that secret.
    public var otpauthURI: String
}

/// Back-office operators: creation (CLI) and sign-in with password and TOTP.
///
/// Each factor has its own counter, reserved before the check, 5 failures then a lock (PSD2 RTS
/// art. 4, like users'): guessing passwords cannot lock out the TOTP and vice versa. A TOTP code
/// is accepted once: its time step must be later than the last accepted one (RFC 6238 §5.2).
public struct OperatorService: Sendable {
    public typealias Repositories = BackOfficeRepository & AuditLog

    /// TOTP steps of 30 s; one step of clock drift is accepted either way.
    public static let timeStep: TimeInterval = 30
    private static let sealPurpose = "operator-totp"

    private let store: any Repositories
    private let passwordHasher: any PasswordHasher
    private let totp: any TOTPGenerator
    private let masterKey: MasterKey
    private let time: any TimeSource
    private let issuer: String
    /// Verified when the username is unknown, so that costs as long as a wrong password.
    private let decoyPasswordHash: String

    public init(
        store: any Repositories, passwordHasher: any PasswordHasher, totp: any TOTPGenerator, masterKey: MasterKey,
        time: any TimeSource, decoyPasswordHash: String, issuer: String = "StrongAuth"
    ) {
        self.store = store
        self.passwordHasher = passwordHasher
        self.totp = totp
        self.masterKey = masterKey
        self.time = time
        self.issuer = issuer
        self.decoyPasswordHash = decoyPasswordHash
    }

    /// A fresh TOTP secret for the operator `id`: sealed for the store, and as an authenticator
    /// reads it (Base32 and an otpauth:// URI), shown once. Shared by `create` and the TOTP reset
    /// (docs/admin-api.md).
    public func newTOTPSecret(operatorID id: String, username: String) throws -> (sealed: String, base32: String, otpauthURI: String) {
        // 192 random bits as ASCII: hummingbird-auth's TOTP keys HMAC with the secret's UTF-8 bytes.
        let secret = SecureRandom.token(prefix: "", byteCount: 24)
        return (
            try masterKey.seal(Array(secret.utf8), purpose: Self.sealPurpose, associatedData: id), Base32.encode(Array(secret.utf8)),
            totp.authenticatorURL(secret: secret, label: "\(issuer):\(username)", issuer: issuer)
        )
    }

    /// A new operator with a bcrypt password and a fresh TOTP secret sealed under the master key.
    public func create(username: String, password: String?, realm: String = Realm.defaultID, actor: String) async throws -> CreatedOperator {
        try Validate.username(username)
        let password = password ?? SecureRandom.token(prefix: "", byteCount: 18)
        try Validate.password(password)
        let id = SecureRandom.uuid()
        let now = time.now()
        let totpSecret = try newTOTPSecret(operatorID: id, username: username)
        let created = Operator(
            id: id, username: username, passwordHash: try await passwordHasher.hash(password), sealedTOTPSecret: totpSecret.sealed,
            createdAt: now, realmID: realm)
        try await store.insertOperator(created)
        try await store.append(
            AuditRecord(actor: actor, action: .operatorCreated, subject: "operator:\(id)", outcome: .success, details: ["username": username]),
            at: now)
        return CreatedOperator(operator: created, password: password, totpSecret: totpSecret.base32, otpauthURI: totpSecret.otpauthURI)
    }

    /// Checks username, password and TOTP code; every outcome is audited. Failures nothing bounds
    /// (an unknown name, a disabled operator, a locked factor) are counted per window and source
    /// (SECURITY.md); wrong passwords and codes stay one record each, bounded by the lockout.
    public func signIn(username: String, password: String, code: String, source: String?) async throws -> Operator {
        guard let found = try await store.operator(username: username) else {
            _ = try await passwordHasher.verify(password, hash: decoyPasswordHash)
            try await store.recordFailure(
                AuditRecord(
                    actor: "anonymous", action: .operatorSignIn, sourceAddress: source, outcome: .failure,
                    details: ["reason": "unknown_operator"]),
                at: time.now())
            throw OperatorSignInError.invalidCredentials
        }
        let subject = "operator:\(found.id)"
        func fail(_ reason: String, _ extra: [String: String] = [:]) async throws -> Never {
            try await audit(.operatorSignIn, subject: subject, source: source, outcome: .failure, extra.merging(["reason": reason]) { $1 })
            throw OperatorSignInError.invalidCredentials
        }
        func countFailure(_ reason: String) async throws -> Never {
            try await store.recordFailure(
                AuditRecord(
                    actor: subject, action: .operatorSignIn, subject: subject, sourceAddress: source, outcome: .failure,
                    details: ["reason": reason]),
                at: time.now())
            throw OperatorSignInError.invalidCredentials
        }
        guard found.status == .active else { try await countFailure("operator_disabled") }
        guard let passwordAttempt = try await store.reserveAttempt(.operatorPassword, subject: .operator(id: found.id), at: time.now())
        else { try await countFailure("password_locked") }
        guard try await passwordHasher.verify(password, hash: found.passwordHash) else {
            try await fail("wrong_password", passwordAttempt.lockDetails)
        }
        try await store.resetAttempts(.operatorPassword, subject: .operator(id: found.id))
        guard let totpAttempt = try await store.reserveAttempt(.operatorTOTP, subject: .operator(id: found.id), at: time.now())
        else { try await countFailure("totp_locked") }
        guard let step = try matchingStep(code: code, of: found), try await store.acceptTOTPStep(operatorID: found.id, step: step) else {
            try await fail("wrong_totp", totpAttempt.lockDetails)
        }
        try await store.resetAttempts(.operatorTOTP, subject: .operator(id: found.id))
        try await audit(.operatorSignIn, subject: subject, source: source, outcome: .success, [:])
        return found
    }

    /// The time step (now, or one either side) whose code is `code`, compared in constant time.
    private func matchingStep(code: String, of found: Operator) throws -> Int64? {
        let digits = code.filter { !$0.isWhitespace }
        guard digits.count == 6, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        let secret = String(
            decoding: try masterKey.open(found.sealedTOTPSecret, purpose: Self.sealPurpose, associatedData: found.id), as: UTF8.self)
        let current = Int64((time.now().timeIntervalSince1970 / Self.timeStep).rounded(.down))
        var matched: Int64?
        for step in [current - 1, current, current + 1] {
            let expected = totp.code(secret: secret, at: Date(timeIntervalSince1970: TimeInterval(step) * Self.timeStep))
            let formatted = String(expected).leftPadded(to: 6)
            if ConstantTime.equals(formatted, digits), step > found.lastTOTPStep { matched = step }
        }
        return matched
    }

    private func audit(_ action: AuditAction, subject: String?, source: String?, outcome: AuditRecord.Outcome, _ details: [String: String])
        async throws
    {
        try await store.append(
            AuditRecord(actor: subject ?? "anonymous", action: action, subject: subject, sourceAddress: source, outcome: outcome, details: details),
            at: time.now())
    }
}

extension String {
    /// `self` with leading zeros up to `length` characters.
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
