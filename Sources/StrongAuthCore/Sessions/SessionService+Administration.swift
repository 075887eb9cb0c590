import Foundation
import StrongAuthProtocol

/// The operator's side of sessions: users with a login identity, and unblocking access tools.
extension SessionService {
    /// A user with an ABN AMRO login identity (account, card, and optionally the 5-digit
    /// identification code of the soft token), stored with the user in one transaction.
    public func createUser(
        username: String, password: String?, phone: String?, email: String?, accountNumber: String, cardNumber: String,
        identificationCode: String?, realm: String = Realm.defaultID, actor: String
    ) async throws -> (user: User, password: String, identity: LoginIdentity) {
        guard let account = LoginNumbers.account(accountNumber) else {
            throw ValidationError(field: "account", message: "must be 1–10 digits")
        }
        guard let card = LoginNumbers.card(cardNumber) else { throw ValidationError(field: "card", message: "must be 1–5 digits") }
        if let identificationCode, !LoginNumbers.isIdentificationCode(identificationCode) {
            throw ValidationError(field: "identification-code", message: "must be 5 digits")
        }
        let (user, password) = try await administration.newUser(
            username: username, password: password, phone: phone, email: email, ownerClientID: nil, realm: realm)
        let identity = LoginIdentity(
            userID: user.id, accountNumber: account, cardNumber: card,
            identificationCodeHash: identificationCode.map { codeHasher.hash(Self.codeHashInput(userID: user.id, code: $0)) })
        try await store.insertUser(user, loginIdentity: identity, maxAttempts: configuration.maxAttempts)
        try await store.append(
            AuditRecord(
                actor: actor, action: .userCreated, subject: "user:\(user.id)", outcome: .success,
                details: ["loginIdentity": "true", "softToken": identificationCode == nil ? "false" : "true"]),
            at: user.createdAt)
        return (user, password, identity)
    }

    /// Gives a blocked (or any) access tool of the account and card its full attempts again.
    public func unblockAccessTool(accountNumber: String, cardNumber: String, tool: AccessTool, actor: String) async throws
        -> (identity: LoginIdentity, attemptsLeft: Int)
    {
        let identity = try await identity(accountNumber: accountNumber, cardNumber: cardNumber)
        let now = time.now()
        guard try await store.resetLoginAttempts(userID: identity.userID, tool: tool, maxAttempts: configuration.maxAttempts, at: now)
        else { throw SessionError.accessToolNotSetUp(tool.rawValue) }
        try await store.append(
            AuditRecord(
                actor: actor, action: .sessionAccessToolUnblocked, subject: "user:\(identity.userID)", outcome: .success,
                details: ["accessTool": tool.rawValue]),
            at: now)
        return (identity, configuration.maxAttempts)
    }
}
