import Foundation

/// What an audit record says happened: a dotted verb (`client.created`, `login.password`, …).
///
/// Every action the server writes is a static member or function here, so that the vocabulary
/// of the chain is defined once and a new action is one line in one place. The raw values are
/// stored in the hash-chained audit log (SECURITY.md, docs/architecture.md) and asserted by the conformance suite:
/// they never change. `init(rawValue:)` is for records read back from the chain, which may hold
/// actions of earlier or later versions.
public struct AuditAction: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
}

extension AuditAction {
    // MARK: OAuth clients, tokens and keys

    public static let clientCreated = AuditAction(rawValue: "client.created")
    /// A client failed to authenticate (counted per window, `AuditLog.recordFailure`).
    public static let clientAuthentication = AuditAction(rawValue: "client.authentication")
    /// The password grant (RFC 6749 §4.3), both outcomes.
    public static let loginPassword = AuditAction(rawValue: "login.password")
    /// A used refresh token presented again: its family is revoked (RFC 9700 §4.14.2).
    public static let refreshReuseDetected = AuditAction(rawValue: "refresh.reuse_detected")
    /// A DPoP proof presented again (RFC 9449 §11.1: a captured request replayed), counted per
    /// window (`AuditLog.recordFailure`).
    public static let dpopProofReplayed = AuditAction(rawValue: "dpop.proof_replayed")
    /// RFC 7009 revocation.
    public static let tokenRevoked = AuditAction(rawValue: "token.revoked")
    /// An authorization code presented a second time: what its first use issued is revoked
    /// (RFC 6749 §4.1.2).
    public static let authorizationCodeReuseDetected = AuditAction(rawValue: "authorization_code.reuse_detected")
    /// The hosted login issued an authorization code (RFC 6749 §4.1.2).
    public static let authorizationCodeIssued = AuditAction(rawValue: "authorization_code.issued")
    /// A sign-in at the hosted login page (password, then second factor), both outcomes.
    public static let authorizationLogin = AuditAction(rawValue: "authorization.login")
    public static let signingKeyRotated = AuditAction(rawValue: "signing_key.rotated")
    /// A retired signing key deleted once no unexpired token can carry it (docs/keys.md).
    public static let signingKeyPruned = AuditAction(rawValue: "signing_key.pruned")
    /// Every sealed secret re-sealed under a new master key (`keys rotate-master`, docs/keys.md).
    public static let masterKeyRotated = AuditAction(rawValue: "master_key.rotated")
    public static let auditVerified = AuditAction(rawValue: "audit.verified")
    public static let realmCreated = AuditAction(rawValue: "realm.created")

    // MARK: Users

    public static let userCreated = AuditAction(rawValue: "user.created")
    public static let userDeleted = AuditAction(rawValue: "user.deleted")
    public static let userUnlocked = AuditAction(rawValue: "user.unlocked")
    public static let userPasswordChanged = AuditAction(rawValue: "user.password_changed")
    public static let userPhoneChanged = AuditAction(rawValue: "user.phone_changed")

    // MARK: Devices (docs/devices.md)

    public static let deviceCreated = AuditAction(rawValue: "device.created")
    /// A bound device approved a new one (PSD2 RTS art. 24).
    public static let deviceApproval = AuditAction(rawValue: "device.approval")
    /// A passkey registered (WebAuthn registration ceremony), both outcomes (docs/passkeys.md).
    public static let passkeyRegistered = AuditAction(rawValue: "passkey.registered")
    /// A passkey assertion (sign-in, step-up, hosted login), both outcomes.
    public static let passkeyAuthentication = AuditAction(rawValue: "passkey.authentication")
    /// A passkey's signature counter did not increase: a cloned authenticator; the passkey is blocked.
    public static let passkeyCounterRegression = AuditAction(rawValue: "passkey.counter_regression")
    /// A bound device rejected a new one.
    public static let deviceRejection = AuditAction(rawValue: "device.rejection")
    /// A lifecycle action on a device key: `device.committed`, `device.blocked`, `device.unblocked`, `device.removed`.
    public static func device(_ action: DeviceAction) -> AuditAction { AuditAction(rawValue: "device.\(action.pastTense)") }
    /// An answer to a device challenge: `device_binding.answer`, `device_signature.answer`, `mfa_push.answer`, …
    public static func challengeAnswer(_ kind: Challenge.Kind) -> AuditAction { AuditAction(rawValue: "\(kind.rawValue).answer") }

    // MARK: Approvals and action tokens

    public static let approvalCreated = AuditAction(rawValue: "approval.created")
    public static let approvalFailure = AuditAction(rawValue: "approval.failure")
    /// A decided approval: `approval.approved`, `approval.rejected`, … (the status, lower case).
    public static func approval(_ status: Approval.Status) -> AuditAction {
        AuditAction(rawValue: "approval.\(status.rawValue.lowercased())")
    }
    public static let actionTokenUse = AuditAction(rawValue: "action_token.use")
    public static let actionTokenUsed = AuditAction(rawValue: "action_token.used")

    // MARK: Identity processes

    public static let processCreated = AuditAction(rawValue: "process.created")
    public static let processExchanged = AuditAction(rawValue: "process.exchanged")
    public static let processExchangeRefused = AuditAction(rawValue: "process.exchange_refused")
    public static let processInvalidated = AuditAction(rawValue: "process.invalidated")
    public static let processDeleted = AuditAction(rawValue: "process.deleted")

    // MARK: PowerAuth (Wultra's PowerAuth documents)

    public static let powerAuthApplicationCreated = AuditAction(rawValue: "powerauth.application.created")
    public static let powerAuthIntegrationUserCreated = AuditAction(rawValue: "powerauth.integration_user.created")
    public static let powerAuthIntegrationUserAuthentication = AuditAction(rawValue: "powerauth.integration_user.authentication")
    public static let powerAuthRegistrationCreated = AuditAction(rawValue: "powerauth.registration.created")
    /// A commit refused for a wrong activation OTP (a successful one is `registration(.commit)`).
    public static let powerAuthRegistrationCommit = AuditAction(rawValue: "powerauth.registration.commit")
    /// A lifecycle action on a registration: `powerauth.registration.committed`, `….blocked`, `….unblocked`, `….removed`.
    public static func registration(_ action: DeviceAction) -> AuditAction {
        AuditAction(rawValue: "powerauth.registration.\(action.pastTense)")
    }
    public static let powerAuthActivationKeyExchange = AuditAction(rawValue: "powerauth.activation.key_exchange")
    public static let powerAuthSignature = AuditAction(rawValue: "powerauth.signature")
    public static let powerAuthVaultUnlocked = AuditAction(rawValue: "powerauth.vault.unlocked")
    public static let webhookRetried = AuditAction(rawValue: "webhook.retried")

    // MARK: Login sessions (ABN AMRO login protocol, docs/sessions.md)

    public static let sessionLogin = AuditAction(rawValue: "session.login")
    public static let sessionScenario = AuditAction(rawValue: "session.scenario")
    public static let sessionEnded = AuditAction(rawValue: "session.ended")
    public static let sessionAccessToolBlocked = AuditAction(rawValue: "session.access_tool.blocked")
    public static let sessionAccessToolUnblocked = AuditAction(rawValue: "session.access_tool.unblocked")

    // MARK: Back office and self-service (docs/web-ui.md)

    public static let operatorCreated = AuditAction(rawValue: "operator.created")
    public static let operatorSignIn = AuditAction(rawValue: "operator.signin")
    public static let operatorSignOut = AuditAction(rawValue: "operator.signout")
    public static let selfServiceSignIn = AuditAction(rawValue: "selfservice.signin")
    public static let selfServiceStepUp = AuditAction(rawValue: "selfservice.stepup")
    public static let selfServiceStepUpStarted = AuditAction(rawValue: "selfservice.stepup.started")
    public static let webCSRFRefused = AuditAction(rawValue: "web.csrf_refused")

    /// Every action the server writes, the functions expanded over their arguments: what the
    /// Core test lists, so that a rename is a visible diff. A new member belongs here too.
    /// A credential lifecycle change (CLI or `/admin/v1`, docs/admin-api.md): `client.disabled`,
    /// `user.locked`, `powerauth.integration_user.secret_rotated`, …
    public static func lifecycle(_ kind: ManagedKind, _ change: LifecycleChange) -> AuditAction {
        AuditAction(rawValue: "\(kind.actionName).\(change.rawValue)")
    }

    public static let all: [AuditAction] =
        [
            clientCreated, clientAuthentication, loginPassword, refreshReuseDetected, tokenRevoked, signingKeyRotated, auditVerified,
            realmCreated, userCreated, userDeleted, userUnlocked, userPasswordChanged, userPhoneChanged, deviceCreated, deviceApproval,
            deviceRejection,
        ] + DeviceAction.allCases.map(device) + Challenge.Kind.allCases.map(challengeAnswer)
        + [approvalCreated, approvalFailure] + Approval.Status.allCases.map(approval)
        + [
            actionTokenUse, actionTokenUsed, processCreated, processExchanged, processExchangeRefused, processInvalidated, processDeleted,
            powerAuthApplicationCreated, powerAuthIntegrationUserCreated, powerAuthIntegrationUserAuthentication,
            powerAuthRegistrationCreated, powerAuthRegistrationCommit,
        ] + DeviceAction.allCases.map(registration)
        + [
            powerAuthActivationKeyExchange, powerAuthSignature, powerAuthVaultUnlocked, webhookRetried, sessionLogin, sessionScenario,
            sessionEnded, sessionAccessToolBlocked, sessionAccessToolUnblocked, operatorCreated, operatorSignIn, operatorSignOut,
            selfServiceSignIn, selfServiceStepUp, selfServiceStepUpStarted, webCSRFRefused,
        ]
        + [signingKeyPruned, masterKeyRotated]
        + [authorizationLogin, authorizationCodeIssued, authorizationCodeReuseDetected]
        + [dpopProofReplayed]
        + [passkeyRegistered, passkeyAuthentication, passkeyCounterRegression]
}
