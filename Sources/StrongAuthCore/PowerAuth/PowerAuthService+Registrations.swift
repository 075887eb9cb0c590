import Crypto
import Foundation
import StrongAuthProtocol

/// A change an integrator asks for with `PUT /v2/registrations/{id}`.
public enum RegistrationChange: String, Sendable {
    case block = "BLOCK"
    case unblock = "UNBLOCK"
}

/// The integration API's registrations (Wultra PowerAuth Cloud, "Implement Mobile Device
/// Registration" and "Self-Service"). Their statuses are those of every device (the diagram on
/// `Device.Status`); commit, block, unblock and remove go through `DeviceLifecycle`.
extension PowerAuthService {
    /// `POST /v2/registrations`: a CREATED registration with a fresh activation code signed by
    /// the application's master key.
    public func createRegistration(
        by integrationUser: IntegrationUser, userID externalUserID: String, applicationID: String, otp: String?,
        otpValidation: ActivationOTPValidation?, commitPhase: ActivationCommitPhase?, flags: [String]?, source: String?
    ) async throws -> Registration {
        do {
            try Validate.username(externalUserID)
        } catch {
            throw PowerAuthServiceError.validation(field: "userId", message: "must be 1–128 printable characters without spaces")
        }
        let flags = flags ?? []
        guard flags.count <= 32, flags.allSatisfy({ (1...64).contains($0.utf8.count) && !$0.contains(where: \.isWhitespace) }) else {
            throw PowerAuthServiceError.validation(field: "flags", message: "at most 32 flags of 1–64 characters without spaces")
        }
        // Explicit, as in PowerAuth: an OTP says when it is checked, and a check needs an OTP.
        let validation = otpValidation ?? .none
        if otp != nil, otpValidation == nil {
            throw PowerAuthServiceError.validation(field: "otpValidation", message: "ON_KEY_EXCHANGE or ON_COMMIT is required with an otp")
        }
        if validation != .none {
            guard let otp, (4...64).contains(otp.utf8.count) else {
                throw PowerAuthServiceError.validation(
                    field: "otp", message: "an OTP of 4–64 characters is required with otpValidation \(validation.rawValue)")
            }
        } else if otp != nil {
            throw PowerAuthServiceError.validation(field: "otpValidation", message: "ON_KEY_EXCHANGE or ON_COMMIT is required with an otp")
        }
        let application = try await allowedApplication(applicationID, for: integrationUser)
        return try await insertRegistration(
            externalUserID: externalUserID, application: application, otp: otp, otpValidation: validation, commitPhase: commitPhase,
            flags: flags, actor: "integration-user:\(integrationUser.name)", source: source)
    }

    /// A CREATED registration of `application` for the user `externalUserID`, with a fresh signed
    /// activation code, its callback and its audit record; shared by the integration API and the
    /// back office (which checks who may create it before calling this).
    func insertRegistration(
        externalUserID: String, application: PowerAuthApplication, otp: String?, otpValidation validation: ActivationOTPValidation,
        commitPhase: ActivationCommitPhase?, flags: [String], actor: String, source: String?
    ) async throws -> Registration {
        let opened = try openApplication(application)
        let signingKey = try P256.Signing.PrivateKey(rawRepresentation: opened.masterPrivateKey.rawRepresentation)
        let now = time.now()
        // PowerAuth's userId is a username of the application's realm.
        let userID = try await store.ensureUser(realm: application.realmID, externalUserID: externalUserID, at: now)
        let counter = PowerAuthCounter(
            counterData: [], counter: 0, failedAttempts: 0, maxFailedAttempts: configuration.maxFailedAttempts)

        // 80 random bits per code: a clash with a live code is astronomically rare, but retried.
        for _ in 0..<3 {
            let code = PowerAuthActivationCode.generate()
            let device = Device(
                id: SecureRandom.uuid(), userID: userID, kind: .powerauth, name: "", publicKeyHex: "",
                status: .created, createdAt: now)
            let activation = PowerAuthActivation(
                deviceID: device.id, applicationID: application.id, activationCode: code,
                activationCodeSignature: try PowerAuthActivationCode.sign(code, masterKey: signingKey),
                expiresAt: now.addingTimeInterval(configuration.activationLifetime),
                otpHash: otp.map { secretHasher.hash("activation-otp:\(device.id):\($0)") }, otpValidation: validation,
                commitPhase: commitPhase ?? .onCommit, flags: flags)
            let registration = Registration(device: device, activation: activation, counter: counter, externalUserID: externalUserID)
            do {
                try await store.insertRegistration(
                    device: device, activation: activation, counter: counter,
                    webhooks: try registrationWebhooks(registration, status: .created, application: application, at: now))
            } catch StoreError.conflict {
                continue
            }
            try await audit(registration, action: .powerAuthRegistrationCreated, actor: actor, source: source)
            return registration
        }
        throw StoreError.conflict("activation code")
    }

    /// `GET /v2/registrations/{id}`: the registration, if the integration user may see it.
    public func registration(id: String, for integrationUser: IntegrationUser) async throws -> Registration {
        guard let registration = try await store.registration(id: id),
            integrationUser.mayUse(applicationID: registration.activation.applicationID)
        else { throw PowerAuthServiceError.registrationNotFound }
        return registration
    }

    /// `GET /v2/registrations?userId=…`: the user's registrations in the integration user's
    /// applications; REMOVED (and expired) ones only with `includeRemoved`.
    public func registrations(externalUserID: String, includeRemoved: Bool, for integrationUser: IntegrationUser) async throws
        -> [Registration]
    {
        let now = time.now()
        return try await store.registrations(
            realm: integrationUser.realmID, externalUserID: externalUserID, includeRemoved: includeRemoved
        ).filter {
            integrationUser.mayUse(applicationID: $0.activation.applicationID) && (includeRemoved || $0.status(at: now) != .removed)
        }
    }

    /// `POST /v2/registrations/{id}/commit`: PENDING_COMMIT → ACTIVE; with `otpValidation`
    /// ON_COMMIT the OTP must match (a wrong one counts as a failure).
    public func commit(id: String, otp: String?, by integrationUser: IntegrationUser, source: String?) async throws -> Registration {
        let registration = try await registration(id: id, for: integrationUser)
        let now = time.now()
        // Checked before the OTP, so that a wrong OTP is counted only against a committable one.
        guard DeviceAction.commit.allows(from: registration.status(at: now)) else {
            throw PowerAuthServiceError.registrationState(registration.status(at: now))
        }
        if registration.activation.otpValidation == .onCommit {
            guard let otp, otpMatches(otp, of: registration) else {
                let count = try await store.reserveAttempt(
                    .powerAuthActivationOTP,
                    subject: .activation(id: id, webhooksAtLimit: try registrationWebhooks(registration, status: .removed, at: now)),
                    at: now)
                try await audit(
                    registration, action: .powerAuthRegistrationCommit, actor: "integration-user:\(integrationUser.name)",
                    source: source, outcome: .failure, details: ["reason": "wrong_otp"])
                throw PowerAuthServiceError.wrongActivationOTP(remainingAttempts: count?.remaining ?? 0)
            }
        }
        return try await transition(.commit, registration, actor: "integration-user:\(integrationUser.name)", source: source)
    }

    /// `PUT /v2/registrations/{id}` with BLOCK (ACTIVE → BLOCKED, with a reason) or UNBLOCK
    /// (BLOCKED → ACTIVE, failures reset).
    public func change(
        id: String, change: RegistrationChange, blockedReason: String?, by integrationUser: IntegrationUser, source: String?
    ) async throws -> Registration {
        let registration = try await registration(id: id, for: integrationUser)
        let actor = "integration-user:\(integrationUser.name)"
        switch change {
        case .block:
            // The same rule as the back office's (`BlockedReason.isValid`): ASCII only.
            let reason = blockedReason ?? BlockedReason.notSpecified
            guard BlockedReason.isValid(reason) else {
                throw PowerAuthServiceError.validation(field: "blockedReason", message: "must be 1–64 of A–Z, 0–9, '_', '-'")
            }
            return try await transition(.block, registration, reason: reason, actor: actor, source: source)
        case .unblock:
            return try await transition(.unblock, registration, actor: actor, source: source)
        }
    }

    /// `DELETE /v2/registrations/{id}`: any status → REMOVED; its tokens and signatures die.
    public func remove(id: String, by integrationUser: IntegrationUser, source: String?) async throws -> Registration {
        let registration = try await registration(id: id, for: integrationUser)
        return try await transition(.remove, registration, actor: "integration-user:\(integrationUser.name)", source: source)
    }

    // MARK: Shared

    /// `action` through the lifecycle, refused in PowerAuth's terms: `registrationState` when the
    /// registration is not in the action's from-set (also when an unfinished one has expired).
    func transition(_ action: DeviceAction, _ registration: Registration, reason: String? = nil, actor: String, source: String?)
        async throws -> Registration
    {
        do {
            return try await lifecycle.apply(action, to: registration, reason: reason, actor: actor, source: source)
        } catch DeviceLifecycleError.state(let status) {
            throw PowerAuthServiceError.registrationState(status)
        }
    }

    func allowedApplication(_ id: String, for integrationUser: IntegrationUser) async throws -> PowerAuthApplication {
        // Another realm's application is unknown here, exactly like a missing one: application ids
        // are unique across the installation, and which exist elsewhere is not this realm's to learn.
        guard let application = try await store.application(id: id), application.status == .active,
            application.realmID == integrationUser.realmID
        else {
            throw PowerAuthServiceError.applicationNotFound
        }
        guard integrationUser.mayUse(applicationID: id) else { throw PowerAuthServiceError.applicationForbidden }
        return application
    }

    func otpMatches(_ otp: String, of registration: Registration) -> Bool {
        guard let stored = registration.activation.otpHash else { return false }
        return secretHasher.matches("activation-otp:\(registration.id):\(otp)", storedHash: stored)
    }

    /// The callback announcing that `registration` is now `status`, if its application has a
    /// callback URL (`application` saves a lookup when the caller has it).
    func registrationWebhooks(
        _ registration: Registration, status: Device.Status, application: PowerAuthApplication? = nil, at now: Date
    ) async throws -> [WebhookDelivery] {
        try await Self.registrationWebhooks(registration, status: status, application: application, store: store, at: now)
    }

    /// The callback announcing a registration's new status (shared with `DeviceLifecycle`).
    static func registrationWebhooks(
        _ registration: Registration, status: Device.Status, application: PowerAuthApplication? = nil, store: any PowerAuthRepository,
        at now: Date
    ) async throws -> [WebhookDelivery] {
        let owner: PowerAuthApplication?
        if let application {
            owner = application
        } else {
            owner = try await store.application(id: registration.activation.applicationID)
        }
        guard let owner, let url = owner.callbackURL else { return [] }
        var event: [String: String] = [
            "registrationId": registration.id, "registrationStatus": status.rawValue, "userId": registration.externalUserID,
            "applicationId": owner.id,
        ]
        if status == .blocked, let reason = registration.device.blockedReason { event["blockedReason"] = reason }
        return [try WebhookDelivery.event("REGISTRATION_STATUS_CHANGED", to: .application(owner.id), url: url, fields: event, at: now)]
    }

    func audit(
        _ registration: Registration, action: AuditAction, actor: String, source: String?, outcome: AuditRecord.Outcome = .success,
        details: [String: String] = [:]
    ) async throws {
        try await store.append(
            Self.auditRecord(registration, action: action, actor: actor, source: source, outcome: outcome, details: details), at: time.now())
    }

    /// A registration's audit record: subject `device:<id>`, its application in the details.
    static func auditRecord(
        _ registration: Registration, action: AuditAction, actor: String, source: String?, outcome: AuditRecord.Outcome = .success,
        details: [String: String] = [:]
    ) -> AuditRecord {
        AuditRecord(
            actor: actor, action: action, subject: "device:\(registration.id)", sourceAddress: source, outcome: outcome,
            details: details.merging(["application": registration.activation.applicationID]) { first, _ in first })
    }
}
