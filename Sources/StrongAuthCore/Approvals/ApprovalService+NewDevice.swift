import Foundation
import StrongAuthProtocol

/// RTS art. 24 across the faces (docs/security-model.md): a Kontist device bound while the user already has an
/// ACTIVE device — of either kind — waits in PENDING_COMMIT, and an approval of the engine asks
/// the bound devices to let it in. Every bound device sees it where it sees approvals (a PowerAuth
/// phone in the mobile token API, an ECDSA phone in `GET /api/user/approvals`) and decides it with
/// its own signature; the decision and the new device's activation are one transaction
/// (`decidePendingDeviceApproval`), so they can never diverge.
extension ApprovalService {
    /// The template name of a new device's approval; its `externalID` is the new device's id.
    public static let newDeviceTemplate = "device.approve"

    /// The approval of `device` (PENDING_COMMIT) by the user's bound devices. What the phone
    /// shows and signs names the device and a fingerprint of its key (dynamic linking), so a
    /// signature lets in exactly that key: the data is `A2*N<text>` with PowerAuth's escaping of
    /// `\` and `*` in the text field, so a name with a `*` cannot forge another field.
    public static func newDeviceApproval(for device: Device, username: String, lifetime: TimeInterval, at now: Date) -> Approval {
        let fingerprint = DeviceService.keyFingerprint(publicKeyHex: device.publicKeyHex)
        let text = "Approve the new device \"\(device.name)\" with the key \(fingerprint)"
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "*", with: "\\*")
        return Approval(
            id: SecureRandom.uuid(), kind: .operation, userID: device.userID, externalUserID: username, applicationID: nil,
            template: newDeviceTemplate, operationType: "approve_device", parameters: ["device": device.name, "keyFingerprint": fingerprint],
            data: "A2*N\(escaped)", maxFailureCount: AttemptLimits.standard.approvalAnswer,
            signatureTypes: ["possession_knowledge", "possession_biometry"],
            externalID: device.id, createdAt: now, expiresAt: now.addingTimeInterval(lifetime), updatedAt: now, title: "New device",
            message: text)
    }

    /// A bound device (`approverID`) approves or rejects a new device's approval, having proven
    /// itself (PowerAuth signature, or ECDSA signature over `approve:<id>:<data>`). One store
    /// transaction moves the approval and the device together, and only while the approver is
    /// still ACTIVE: approving twice activates once, and an approver blocked meanwhile lets
    /// nothing in. Rejection removes the pending device.
    func decideNewDevice(_ approval: Approval, approve: Bool, approverID: String, reason: String?, source: String?) async throws -> Approval {
        guard let deviceID = approval.externalID else { throw ApprovalError.notFound }
        let now = time.now()
        let outcome = try await devices.store.decidePendingDeviceApproval(
            approvalID: approval.id, deviceID: deviceID, approverID: approverID, userID: approval.userID, approve: approve, reason: reason,
            at: now)
        switch outcome {
        case .decided:
            break
        case .approverNotActive:
            throw ApprovalError.validation(field: "deviceId", message: "must be another ACTIVE device of the user")
        case .approvalClosed:
            throw ApprovalError.state(try await store.approval(id: approval.id)?.status(at: now) ?? .expired)
        case .deviceNotPending:
            throw ApprovalError.state(.canceled)
        }
        var decided = approval
        decided.status = approve ? .approved : .rejected
        decided.statusReason = reason
        decided.updatedAt = now
        try await audit(decided, action: .approval(decided.status), actor: "device:\(approverID)", source: source)
        try await store.append(
            AuditRecord(
                actor: "user:\(approval.userID)", action: approve ? .deviceApproval : .deviceRejection, subject: "device:\(deviceID)",
                sourceAddress: source, outcome: approve ? .success : .failure, details: ["approver": approverID, "approval": approval.id]),
            at: now)
        return decided
    }
}
