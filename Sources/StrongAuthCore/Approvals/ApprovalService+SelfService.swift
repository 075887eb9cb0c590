import Foundation
import StrongAuthProtocol

extension ApprovalService {
    /// The template name of self-service step-up approvals.
    public static let selfServiceTemplate = "selfservice.step_up"

    /// An approval the user's devices decide for a self-service step-up (`StepUpService`): `text`
    /// says what is being done, and it is what the device shows and signs (dynamic linking), so
    /// an approval for one action cannot be read as another. No integrator asked for it, so no
    /// webhook announces its decisions; the session that waits for it reads it. `title` heads the
    /// device's screen: "Self-service", or "Sign in" for the hosted login.
    public func createSelfServiceApproval(user: User, text: String, title: String = "Self-service", lifetime: TimeInterval, source: String?)
        async throws -> Approval
    {
        let now = time.now()
        let approval = Approval(
            id: SecureRandom.uuid(), kind: .operation, userID: user.id, externalUserID: user.username, applicationID: nil,
            template: Self.selfServiceTemplate, operationType: "authorization", parameters: [:], data: "A2*N\(text)",
            maxFailureCount: AttemptLimits.standard.approvalAnswer,
            signatureTypes: ["possession_knowledge", "possession_biometry"], createdAt: now, expiresAt: now.addingTimeInterval(lifetime),
            updatedAt: now, title: title, message: text)
        try await insert(approval, webhooks: [], actor: "user:\(user.id)", source: source)
        return approval
    }

    /// The user rejects `id` in a signed-in browser session (self-service): rejecting only stops
    /// something, so it needs no second factor, and the audit names the user (`user:<id>`), not a
    /// device. A new device's approval is not decided here: only a bound device may answer it
    /// (RTS art. 24) — it reads as a validation error.
    public func rejectInBrowser(id: String, userID: String, reason: String?, source: String?) async throws -> Approval {
        guard let approval = try await store.approval(id: id), approval.userID == userID else { throw ApprovalError.notFound }
        if let reason, !(1...64).contains(reason.utf8.count) {
            throw ApprovalError.validation(field: "reason", message: "1–64 characters")
        }
        guard !(approval.template == Self.newDeviceTemplate && approval.applicationID == nil) else {
            throw ApprovalError.validation(field: "id", message: "a new device is decided by a bound device")
        }
        return try await decide(approval, to: .rejected, reason: reason, actor: "user:\(userID)", source: source)
    }
}
