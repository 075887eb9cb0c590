import Foundation
import Testing

@testable import StrongAuthCore

/// The vocabulary of the audit chain (`AuditAction`): every action the server writes, by its
/// stored raw value. The values are in the hash-chained log and asserted by the conformance
/// suite, so a rename must be a visible diff here.
@Suite("Audit actions")
struct AuditActionTests {
    static let expected = [
        "client.created", "client.authentication", "login.password", "refresh.reuse_detected", "token.revoked", "signing_key.rotated",
        "audit.verified", "realm.created", "user.created", "user.deleted", "user.unlocked", "user.password_changed", "user.phone_changed",
        "device.created", "device.approval", "device.rejection",
        "device.committed", "device.blocked", "device.unblocked", "device.removed",
        "device_binding.answer", "device_signature.answer", "mfa_push.answer", "web_step_up.answer",
        "approval.created", "approval.failure",
        "approval.pending", "approval.approved", "approval.rejected", "approval.canceled", "approval.expired", "approval.failed",
        "action_token.use", "action_token.used",
        "process.created", "process.exchanged", "process.exchange_refused", "process.invalidated", "process.deleted",
        "powerauth.application.created", "powerauth.integration_user.created", "powerauth.integration_user.authentication",
        "powerauth.registration.created", "powerauth.registration.commit",
        "powerauth.registration.committed", "powerauth.registration.blocked", "powerauth.registration.unblocked",
        "powerauth.registration.removed",
        "powerauth.activation.key_exchange", "powerauth.signature", "powerauth.vault.unlocked", "webhook.retried",
        "session.login", "session.scenario", "session.ended", "session.access_tool.blocked", "session.access_tool.unblocked",
        "operator.created", "operator.signin", "operator.signout", "selfservice.signin", "selfservice.stepup",
        "selfservice.stepup.started", "web.csrf_refused",
        "signing_key.pruned", "master_key.rotated",
        "authorization.login", "authorization_code.issued", "authorization_code.reuse_detected",
        "dpop.proof_replayed", "passkey.registered", "passkey.authentication", "passkey.counter_regression",
    ]

    @Test("every action's stored value, in order; none twice")
    func rawValues() {
        #expect(AuditAction.all.map(\.rawValue) == Self.expected)
        #expect(Set(AuditAction.all).count == AuditAction.all.count)
    }

    @Test("the parameterised actions map to the strings written before they were typed")
    func parameterised() {
        #expect(AuditAction.device(.remove).rawValue == "device.removed")
        #expect(AuditAction.registration(.block) == AuditAction(rawValue: "powerauth.registration.blocked"))
        #expect(AuditAction.approval(.approved).rawValue == "approval.approved")
        #expect(AuditAction.challengeAnswer(.mfaPush).rawValue == "mfa_push.answer")
        #expect(AuditAction.lifecycle(.client, .disabled).rawValue == "client.disabled")
        #expect(AuditAction.lifecycle(.user, .locked).rawValue == "user.locked")
        #expect(AuditAction.lifecycle(.operator, .totpReset).rawValue == "operator.totp_reset")
        #expect(AuditAction.lifecycle(.application, .deleted).rawValue == "powerauth.application.deleted")
        #expect(AuditAction.lifecycle(.integrationUser, .secretRotated).rawValue == "powerauth.integration_user.secret_rotated")
        #expect(AuditAction.all.allSatisfy { $0.rawValue.contains(".") && $0.rawValue == $0.description })
    }
}
