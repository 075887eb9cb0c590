import Foundation

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
            id: UUID().uuidString.lowercased(), kind: .operation, userID: user.id, externalUserID: user.username, applicationID: nil,
            template: Self.selfServiceTemplate, operationType: "authorization", parameters: [:], data: "A2*N\(text)",
            maxFailureCount: AttemptLimits.standard.approvalAnswer,
            signatureTypes: ["possession_knowledge", "possession_biometry"], createdAt: now, expiresAt: now.addingTimeInterval(lifetime),
            updatedAt: now, title: title, message: text)
        try await store.insertApproval(approval, webhooks: [])
        try await audit(approval, action: .approvalCreated, actor: "user:\(user.id)", source: source)
        try await devices.announce(userID: user.id, message: Self.announcement)
        return approval
    }
}
