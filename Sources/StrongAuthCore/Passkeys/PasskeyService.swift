import Crypto
import Foundation
import StrongAuthProtocol

/// How the relying party is configured (`webauthn.*`, docs/passkeys.md).
public struct WebAuthnConfiguration: Sendable, Equatable {
    /// What registration asks for and accepts.
    public enum AttestationPolicy: String, Sendable, CaseIterable {
        /// Ask for no attestation; accept whatever comes (none, self, full).
        case none
        /// Ask for the authenticator's attestation; accept whatever comes, record whether it was certified.
        case direct
        /// Only authenticators whose packed attestation chains to `attestationRoots`.
        case required
    }

    /// The RP ID: a registrable domain suffix of every origin (WebAuthn §5.1.4).
    public var relyingPartyID: String
    public var relyingPartyName: String
    /// The exact origins (`https://bank.example`) ceremonies may run on.
    public var origins: Set<String>
    public var attestation: AttestationPolicy
    /// DER certificates that full attestations must chain to (`webauthn.attestationRootsFile`).
    public var attestationRoots: [[UInt8]]
    public var ceremonyLifetime: TimeInterval
    /// Wrong SMS OTPs a first passkey's registration allows before the ceremony is used up.
    public var maxOTPAttempts: Int

    public init(
        relyingPartyID: String = "localhost", relyingPartyName: String = "StrongAuth", origins: Set<String> = ["http://localhost:8080"],
        attestation: AttestationPolicy = .none, attestationRoots: [[UInt8]] = [], ceremonyLifetime: TimeInterval = 300,
        maxOTPAttempts: Int = 3
    ) {
        self.relyingPartyID = relyingPartyID
        self.relyingPartyName = relyingPartyName
        self.origins = origins
        self.attestation = attestation
        self.attestationRoots = attestationRoots
        self.ceremonyLifetime = ceremonyLifetime
        self.maxOTPAttempts = maxOTPAttempts
    }

    /// ES256 first (every authenticator), EdDSA, RS256 (Windows Hello).
    public static let algorithms: [COSEAlgorithm] = [.es256, .edDSA, .rs256]
}

/// Why a passkey ceremony was refused. The face maps each case to its status and message.
public enum PasskeyError: Error, Equatable, Sendable {
    case invalidName
    /// The user has a bound device: adding a passkey needs fresh two factors (RFC 9470 step-up).
    case stepUpRequired
    /// A first passkey with a one-factor token needs the SMS OTP, and the user has no phone.
    case noPhoneNumber
    case otpRequired
    case wrongOTP
    /// Too many wrong OTPs: binding is locked for a while.
    case locked
    case tooManySMS(retryAfter: Int)
    /// Unknown, used, expired, or for another user or purpose.
    case ceremonyClosed
    /// The WebAuthn response fails the relying party's checks (WebAuthn §7.1, §7.2).
    case invalidResponse(WebAuthnError)
    /// The credential is not a passkey this ceremony accepts.
    case unknownCredential
    case passkeyNotActive(Device.Status)
    /// The signature counter went backwards: the passkey is BLOCKED now.
    case counterRegression
    case duplicateCredential
    /// The user has no ACTIVE passkey.
    case noPasskey
    /// `webauthn.attestation` is `required` and the attestation did not chain to a configured root.
    case attestationNotTrusted
}

/// What an authentication ceremony is for.
public enum PasskeyAuthenticationPurpose: Sendable, Equatable {
    /// A second factor for `userID`'s API token (`POST /api/user/passkeys/authentication`).
    case stepUp(userID: String)
    /// Self-service sign-in with a discoverable credential of the realm.
    case signIn(realmID: String)
    /// The hosted login's second factor for authorization request `requestID`.
    case authorization(userID: String, requestID: String)
}

/// Passkeys as an SCA factor (docs/passkeys.md): registration and authentication ceremonies
/// (WebAuthn Level 3), and approvals with dynamic linking — the challenge a passkey signs to
/// approve is SHA-256 of the approval's message (`ApprovalService.approvalMessage`: its id and
/// exact data) and a server nonce, so the assertion approves that data of that approval, once.
/// A passkey is a device of the one device model (`Device.Kind.passkey`): it lists, blocks and
/// is removed like the others, and counts as a bound device (RTS art. 24).
public struct PasskeyService: Sendable {
    public typealias Repositories = PasskeyRepository & DeviceRepository & UserRepository & AuditLog & ApprovalRepository
        & PowerAuthRepository

    let store: any Repositories
    let approvals: ApprovalService
    let tokens: TokenService
    let masterKey: MasterKey
    let time: any TimeSource
    public let configuration: WebAuthnConfiguration
    /// The SMS budgets a first passkey's OTP is counted on (shared with device binding).
    let sms: SMSLimits
    static let otpPurpose = "passkey-otp"

    public init(
        store: any Repositories, approvals: ApprovalService, tokens: TokenService, masterKey: MasterKey, time: any TimeSource,
        configuration: WebAuthnConfiguration, sms: SMSLimits = SMSLimits()
    ) {
        self.store = store
        self.approvals = approvals
        self.tokens = tokens
        self.masterKey = masterKey
        self.time = time
        self.configuration = configuration
        self.sms = sms
    }

    var lifecycle: DeviceLifecycle { DeviceLifecycle(store: store, time: time) }

    /// The user handle (`user.id`) of a user's credentials: the internal user id (a UUID, never
    /// personal data), so a discoverable credential names its user.
    public static func userHandle(userID: String) -> String { Base64URL.encode(Array(userID.utf8)) }

    // MARK: Registration

    /// A registration ceremony: the options for `navigator.credentials.create`. With
    /// `assurance` below fresh two factors it is allowed only while the user has no ACTIVE
    /// device — and then it costs an SMS OTP, like binding a first device (the OTP is the second
    /// factor beside the password, `otpRequired`).
    public func registrationOptions(userID: String, name: String?, assurance: AssuranceLevel, source: String?) async throws
        -> (ceremony: PasskeyCeremony, options: PublicKeyCredentialCreationOptionsJSON, otpRequired: Bool)
    {
        let name = try Self.validName(name)
        guard let user = try await store.user(id: userID) else { throw PasskeyError.ceremonyClosed }
        let now = time.now()
        let hasActiveDevice = try await store.devices(userID: userID).contains { $0.status == .active }
        var ceremony = PasskeyCeremony(
            id: SecureRandom.uuid(), purpose: .registration, userID: userID, realmID: user.realmID,
            challenge: SecureRandom.bytes(32), name: name, createdAt: now, expiresAt: now.addingTimeInterval(configuration.ceremonyLifetime))
        var otpRequired = false
        if assurance < .twoFactor {
            guard !hasActiveDevice else { throw PasskeyError.stepUpRequired }
            guard let phone = user.phone else { throw PasskeyError.noPhoneNumber }
            if let until = user.bindingLockedUntil, until > now { throw PasskeyError.locked }
            let otp = DeviceService.generateOTP()
            ceremony.sealedOTP = try masterKey.seal(Array(otp.utf8), purpose: Self.otpPurpose, associatedData: ceremony.id)
            // Server-chosen text only (the passkey's name would make the SMS a free message).
            let message = "Your StrongAuth code to add a passkey is \(otp). It is valid for \(Int(configuration.ceremonyLifetime / 60)) minutes."
            let notification = OutboxNotification(
                id: SecureRandom.uuid(), kind: .smsOTP, userID: userID, recipient: phone,
                sealedBody: try masterKey.seal(Array(message.utf8), purpose: NotificationSealing.purpose, associatedData: "notification"),
                nextAttemptAt: now, createdAt: now)
            if let retryAt = try await store.insertPasskeyCeremony(
                ceremony, notification: notification,
                budgets: sms.budgets(userID: userID, realm: user.realmID, phone: phone, masterKey: masterKey), window: sms.window)
            {
                throw PasskeyError.tooManySMS(retryAfter: DeviceService.seconds(until: retryAt, from: now, atMost: sms.window))
            }
            otpRequired = true
        } else {
            try await store.insertPasskeyCeremony(ceremony)
        }
        let existing = try await store.passkeys(userID: userID)
        let options = PublicKeyCredentialCreationOptionsJSON(
            rp: RelyingPartyJSON(id: configuration.relyingPartyID, name: configuration.relyingPartyName),
            user: UserEntityJSON(id: Self.userHandle(userID: userID), name: user.username, displayName: user.username),
            challenge: Base64URL.encode(ceremony.challenge),
            pubKeyCredParams: WebAuthnConfiguration.algorithms.map { CredentialParametersJSON(alg: $0.rawValue) },
            timeout: Int(configuration.ceremonyLifetime * 1000),
            excludeCredentials: existing.map {
                CredentialDescriptorJSON(id: Base64URL.encode($0.credentialID), transports: $0.transports.nilIfEmpty)
            },
            authenticatorSelection: AuthenticatorSelectionJSON(residentKey: "required", requireResidentKey: true, userVerification: "required"),
            attestation: configuration.attestation == .none ? "none" : "direct")
        return (ceremony, options, otpRequired)
    }

    /// Finishes a registration: checks the OTP when the ceremony has one, verifies the response
    /// (WebAuthn §7.1: challenge, origin, RP ID, UV, attestation) and stores an ACTIVE passkey.
    public func register(userID: String, ceremonyID: String, otp: String?, response: RegistrationResponseJSON, source: String?)
        async throws -> Device
    {
        guard let ceremony = try await store.passkeyCeremony(id: ceremonyID), ceremony.purpose == .registration, ceremony.userID == userID,
            ceremony.expiresAt > time.now()
        else { throw PasskeyError.ceremonyClosed }
        if let sealedOTP = ceremony.sealedOTP {
            try await checkOTP(otp, sealed: sealedOTP, ceremony: ceremony, source: source)
        }
        let now = time.now()
        let verified: VerifiedRegistration
        do {
            guard response.type == "public-key", response.id == response.rawId else { throw WebAuthnError.malformedAttestationObject }
            verified = try await verifyRegistration(response, challenge: ceremony.challenge, at: now)
            guard Base64URL.encode(verified.credentialID) == response.rawId else { throw WebAuthnError.malformedAttestationObject }
        } catch let error as WebAuthnError {
            let reason = error == .untrustedAttestation ? "attestation_not_trusted" : error.description
            try await auditRegistration(userID: userID, deviceID: nil, outcome: .failure, details: ["reason": reason], source: source)
            throw error == .untrustedAttestation ? PasskeyError.attestationNotTrusted : PasskeyError.invalidResponse(error)
        }
        let certified = verified.attestationCertified
        if configuration.attestation == .required, !certified {
            try await auditRegistration(
                userID: userID, deviceID: nil, outcome: .failure, details: ["reason": "attestation_not_trusted"], source: source)
            throw PasskeyError.attestationNotTrusted
        }
        let device = Device(
            id: SecureRandom.uuid(), userID: userID, kind: .passkey, name: ceremony.name ?? "Passkey",
            publicKeyHex: Hex.encode(verified.credentialPublicKey), status: .active, createdAt: now, activatedAt: now)
        let credential = PasskeyCredential(
            deviceID: device.id, userID: userID, credentialID: verified.credentialID, publicKey: verified.credentialPublicKey,
            algorithm: verified.algorithm, signCount: verified.signCount, aaguid: verified.aaguid,
            attestationFormat: verified.attestationFormat.rawValue, attestationCertified: certified, backupEligible: verified.backupEligible,
            backupState: verified.backupState, transports: Self.transports(response.response.transports))
        switch try await store.insertPasskey(
            device: device, credential: credential, ceremonyID: ceremony.id, requireNoActiveDevice: ceremony.sealedOTP != nil, at: now)
        {
        case .inserted:
            break
        case .ceremonyClosed:
            throw PasskeyError.ceremonyClosed
        case .activeDeviceExists:
            throw PasskeyError.stepUpRequired
        case .duplicateCredential:
            throw PasskeyError.duplicateCredential
        }
        try await auditRegistration(
            userID: userID, deviceID: device.id, outcome: .success,
            details: [
                "aaguid": Hex.encode(verified.aaguid), "attestation": verified.attestationFormat.rawValue,
                "backupEligible": String(verified.backupEligible), "backupState": String(verified.backupState),
            ], source: source)
        return device
    }

    /// WebAuthn §7.1 with the attestation policy: `none` checks the attestation's form and
    /// signature only; `direct` and `required` also chain a full attestation to the configured
    /// roots — `direct` records an unchained one as uncertified, `required` refuses it (and every
    /// attestation that is not a certified full one).
    private func verifyRegistration(_ response: RegistrationResponseJSON, challenge: [UInt8], at now: Date) async throws(WebAuthnError)
        -> VerifiedRegistration
    {
        func verify(_ trust: AttestationTrust) async throws(WebAuthnError) -> VerifiedRegistration {
            try await WebAuthnVerifier.verifyRegistration(
                attestationObject: response.response.attestationObject, clientDataJSON: response.response.clientDataJSON,
                expectedChallenge: challenge, rpID: configuration.relyingPartyID, origins: configuration.origins,
                requireUserVerification: true, attestationTrust: trust)
        }
        // The roots were read and checked at start-up (`webauthn.attestationRootsFile`).
        guard configuration.attestation != .none, !configuration.attestationRoots.isEmpty,
            let trust = try? AttestationTrust(derEncodedRoots: configuration.attestationRoots, verificationTime: now)
        else { return try await verify(AttestationTrust()) }
        do {
            return try await verify(trust)
        } catch .untrustedAttestation where configuration.attestation == .direct {
            return try await verify(AttestationTrust())
        }
    }

    private func checkOTP(_ otp: String?, sealed: String, ceremony: PasskeyCeremony, source: String?) async throws {
        guard let otp, !otp.isEmpty else { throw PasskeyError.otpRequired }
        let now = time.now()
        guard let userID = ceremony.userID else { throw PasskeyError.ceremonyClosed }
        // Counted per user across ceremonies, like device binding: a new ceremony is no new guess budget.
        guard try await store.reserveAttempt(.bindingOTP, subject: .user(id: userID), at: now) != nil else { throw PasskeyError.locked }
        let expected = try masterKey.open(sealed, purpose: Self.otpPurpose, associatedData: ceremony.id)
        guard ConstantTime.equals(Array(otp.utf8), expected) else {
            _ = try await store.countPasskeyCeremonyAttempt(id: ceremony.id, maxAttempts: configuration.maxOTPAttempts, at: now)
            try await auditRegistration(userID: userID, deviceID: nil, outcome: .failure, details: ["reason": "wrong_otp"], source: source)
            throw PasskeyError.wrongOTP
        }
        try await store.resetAttempts(.bindingOTP, subject: .user(id: userID))
    }

    // MARK: Authentication

    /// An authentication ceremony: the options for `navigator.credentials.get`. For a known
    /// user, `allowCredentials` lists the ACTIVE passkeys; a sign-in lists none (discoverable).
    public func authenticationOptions(for purpose: PasskeyAuthenticationPurpose) async throws
        -> (ceremony: PasskeyCeremony, options: PublicKeyCredentialRequestOptionsJSON)
    {
        let now = time.now()
        var ceremony = PasskeyCeremony(
            id: SecureRandom.uuid(), purpose: .signIn, userID: nil, realmID: Realm.defaultID, challenge: SecureRandom.bytes(32),
            createdAt: now, expiresAt: now.addingTimeInterval(configuration.ceremonyLifetime))
        var allowed: [PasskeyCredential] = []
        switch purpose {
        case .signIn(let realmID):
            ceremony.realmID = realmID
        case .stepUp(let userID), .authorization(let userID, _):
            guard let user = try await store.user(id: userID) else { throw PasskeyError.noPasskey }
            ceremony.userID = userID
            ceremony.realmID = user.realmID
            allowed = try await activePasskeys(userID: userID)
            guard !allowed.isEmpty else { throw PasskeyError.noPasskey }
            if case .authorization(_, let requestID) = purpose {
                ceremony.purpose = .authorization
                ceremony.target = requestID
            } else {
                ceremony.purpose = .stepUp
            }
        }
        try await store.insertPasskeyCeremony(ceremony)
        return (ceremony, requestOptions(ceremony, allowed: allowed))
    }

    /// Verifies an assertion answering an authentication ceremony started for `purpose`: the
    /// ceremony is used up first (one conditional update), then the credential must be an
    /// ACTIVE passkey of the expected user (or, for a sign-in, of the realm, with the user
    /// handle matching) whose signature verifies with a growing counter. Returns who signed.
    public func authenticate(ceremonyID: String, response: AuthenticationResponseJSON, for purpose: PasskeyAuthenticationPurpose, source: String?)
        async throws -> (user: User, device: Device)
    {
        guard let ceremony = try await store.passkeyCeremony(id: ceremonyID), Self.matches(ceremony, purpose) else {
            throw PasskeyError.ceremonyClosed
        }
        guard try await store.consumePasskeyCeremony(id: ceremony.id, at: time.now()) else { throw PasskeyError.ceremonyClosed }
        let (credential, device) = try await ownedPasskey(response: response, ceremony: ceremony)
        guard let user = try await store.user(id: device.userID), user.realmID == ceremony.realmID else { throw PasskeyError.unknownCredential }
        // A discoverable credential's sign-in names its user by the user handle (checked in `ownedPasskey`).
        if ceremony.userID == nil, response.response.userHandle == nil { throw PasskeyError.unknownCredential }
        try await verifyAssertion(response, credential: credential, device: device, challenge: ceremony.challenge, source: source)
        try await store.append(
            AuditRecord(
                actor: "user:\(device.userID)", action: .passkeyAuthentication, subject: "device:\(device.id)", sourceAddress: source,
                outcome: .success, details: ["purpose": ceremony.purpose.rawValue]),
            at: time.now())
        return (user, device)
    }

    /// The API step-up (`POST /api/user/passkeys/authentication`): a verified assertion yields
    /// confirmed tokens bound to the passkey, for the client and within the scopes of the token
    /// the user came with (as a device challenge's verification does).
    public func stepUp(
        userID: String, client: OAuthClient, scopes: Scopes, ceremonyID: String, response: AuthenticationResponseJSON, source: String?,
        dpopKeyThumbprint: String?
    ) async throws -> IssuedTokens {
        let (_, device) = try await authenticate(ceremonyID: ceremonyID, response: response, for: .stepUp(userID: userID), source: source)
        return try await tokens.issueUserTokens(
            userID: userID, client: client, scopes: scopes.intersection(client.scopes), amr: Self.amr(afterPassword: true),
            withRefreshToken: client.grants.contains(.refreshToken), confirmationDeviceID: device.id, dpopKeyThumbprint: dpopKeyThumbprint)
    }

    /// RFC 8176 methods of a passkey assertion: a hardware-secured key (`hwk`) and user
    /// verification (`user`); after a password also `pwd`.
    public static func amr(afterPassword: Bool) -> [String] { afterPassword ? ["pwd", "hwk", "user"] : ["hwk", "user"] }

    // MARK: Approvals (dynamic linking)

    /// An approval ceremony: the challenge is SHA-256(`approve:<id>:<data>` ‖ nonce) — the
    /// passkey's signature commits to exactly the data shown, of exactly this approval.
    public func approvalOptions(approvalID: String, userID: String) async throws
        -> (ceremony: PasskeyCeremony, options: PublicKeyCredentialRequestOptionsJSON, approval: Approval)
    {
        let approval = try await pendingApproval(id: approvalID, userID: userID)
        let allowed = try await activePasskeys(userID: userID)
        guard !allowed.isEmpty else { throw PasskeyError.noPasskey }
        guard let user = try await store.user(id: userID) else { throw ApprovalError.notFound }
        let now = time.now()
        let nonce = SecureRandom.bytes(32)
        let ceremony = PasskeyCeremony(
            id: SecureRandom.uuid(), purpose: .approval, userID: userID, realmID: user.realmID, target: approval.id,
            challenge: Self.approvalChallenge(approvalID: approval.id, data: approval.data, nonce: nonce), nonce: nonce, createdAt: now,
            expiresAt: min(approval.expiresAt, now.addingTimeInterval(configuration.ceremonyLifetime)))
        try await store.insertPasskeyCeremony(ceremony)
        return (ceremony, requestOptions(ceremony, allowed: allowed), approval)
    }

    /// The challenge of an approval ceremony.
    public static func approvalChallenge(approvalID: String, data: String, nonce: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array(ApprovalService.approvalMessage(id: approvalID, data: data).utf8) + nonce))
    }

    /// Approves with a passkey assertion over the approval ceremony's challenge, recomputed
    /// from `data` (what the page showed): an assertion over other data, for another approval's
    /// ceremony, by a passkey that is not the user's, or with a bad signature counts a failure
    /// on the approval, as a wrong device signature does (at `maxFailureCount` it FAILS).
    public func approve(approvalID: String, userID: String, ceremonyID: String, data: String, response: AuthenticationResponseJSON, source: String?)
        async throws -> Approval
    {
        let approval = try await pendingApproval(id: approvalID, userID: userID)
        guard let ceremony = try await store.passkeyCeremony(id: ceremonyID), ceremony.purpose == .approval, ceremony.userID == userID,
            let nonce = ceremony.nonce
        else { throw PasskeyError.ceremonyClosed }
        guard try await store.consumePasskeyCeremony(id: ceremony.id, at: time.now()) else { throw PasskeyError.ceremonyClosed }
        let failureActor = "passkey:\(Base64URL.encode(Self.credentialID(response) ?? []).prefix(32))"
        // Another approval's ceremony: the assertion signed that approval's data, not this one's.
        guard ceremony.target == approval.id else { return try await approvals.countFailure(approval, deviceID: failureActor, source: source) }
        let credential: PasskeyCredential
        let device: Device
        do {
            (credential, device) = try await ownedPasskey(response: response, ceremony: ceremony)
        } catch PasskeyError.unknownCredential {
            return try await approvals.countFailure(approval, deviceID: failureActor, source: source)
        }
        let challenge = Self.approvalChallenge(approvalID: approval.id, data: data, nonce: nonce)
        do {
            try await verifyAssertion(response, credential: credential, device: device, challenge: challenge, source: source)
        } catch PasskeyError.invalidResponse(let error) where error == .challengeMismatch || error == .invalidSignature {
            return try await approvals.countFailure(approval, deviceID: device.id, source: source)
        }
        let signatureType = ["possession_knowledge", "possession_biometry"].first { approval.signatureTypes.contains($0) } ?? "possession_knowledge"
        return try await approvals.approve(
            id: approval.id, userID: userID, deviceID: device.id, data: data, signatureType: signatureType, source: source)
    }

    /// Deletes ceremonies that expired over an hour ago.
    @discardableResult
    public func sweep() async throws -> Int {
        try await store.deleteExpiredPasskeyCeremonies(before: time.now().addingTimeInterval(-3600))
    }

    // MARK: Shared

    private func pendingApproval(id: String, userID: String) async throws -> Approval {
        guard let approval = try await store.approval(id: id), approval.userID == userID else { throw ApprovalError.notFound }
        let status = approval.status(at: time.now())
        guard status == .pending else { throw ApprovalError.state(status) }
        return approval
    }

    /// The user's credentials whose device is ACTIVE.
    func activePasskeys(userID: String) async throws -> [PasskeyCredential] {
        let active = Set(try await store.devices(userID: userID).filter { $0.kind == .passkey && $0.status == .active }.map(\.id))
        return try await store.passkeys(userID: userID).filter { active.contains($0.deviceID) }
    }

    private func requestOptions(_ ceremony: PasskeyCeremony, allowed: [PasskeyCredential]) -> PublicKeyCredentialRequestOptionsJSON {
        PublicKeyCredentialRequestOptionsJSON(
            challenge: Base64URL.encode(ceremony.challenge), timeout: Int(configuration.ceremonyLifetime * 1000),
            rpId: configuration.relyingPartyID,
            allowCredentials: allowed.map { CredentialDescriptorJSON(id: Base64URL.encode($0.credentialID), transports: $0.transports.nilIfEmpty) },
            userVerification: "required")
    }

    private static func matches(_ ceremony: PasskeyCeremony, _ purpose: PasskeyAuthenticationPurpose) -> Bool {
        switch purpose {
        case .signIn(let realmID): ceremony.purpose == .signIn && ceremony.realmID == realmID && ceremony.userID == nil
        case .stepUp(let userID): ceremony.purpose == .stepUp && ceremony.userID == userID
        case .authorization(let userID, let requestID):
            ceremony.purpose == .authorization && ceremony.userID == userID && ceremony.target == requestID
        }
    }

    private static func credentialID(_ response: AuthenticationResponseJSON) -> [UInt8]? {
        guard response.id == response.rawId, !response.rawId.contains("=") else { return nil }
        return Base64URL.decode(response.rawId)
    }

    /// The credential an assertion names, if it is a passkey of the ceremony's user (any user of
    /// its realm for a sign-in) in the ceremony's allow list, with its device.
    private func ownedPasskey(response: AuthenticationResponseJSON, ceremony: PasskeyCeremony) async throws -> (PasskeyCredential, Device) {
        guard response.type == "public-key", let credentialID = Self.credentialID(response),
            (1...AuthenticatorData.maximumCredentialIDLength).contains(credentialID.count),
            let credential = try await store.passkey(credentialID: credentialID),
            let device = try await store.device(id: credential.deviceID), device.kind == .passkey
        else { throw PasskeyError.unknownCredential }
        if let userID = ceremony.userID, device.userID != userID { throw PasskeyError.unknownCredential }
        // WebAuthn §7.2 step 6: a user handle, whenever the authenticator returns one, must be the credential's user's.
        if let handle = response.response.userHandle, handle != Self.userHandle(userID: device.userID) {
            throw PasskeyError.unknownCredential
        }
        guard device.status == .active else { throw PasskeyError.passkeyNotActive(device.status) }
        return (credential, device)
    }

    /// WebAuthn §7.2 over the stored credential, then the counter stored by one conditional
    /// update. A counter that did not grow — in the response, or against a concurrent assertion
    /// that stored first — means two authenticators hold the key: the passkey is blocked.
    private func verifyAssertion(
        _ response: AuthenticationResponseJSON, credential: PasskeyCredential, device: Device, challenge: [UInt8], source: String?
    ) async throws {
        let verified: VerifiedAssertion
        do {
            verified = try WebAuthnVerifier.verifyAssertion(
                credentialPublicKey: credential.publicKey, storedSignCount: credential.signCount,
                authenticatorData: response.response.authenticatorData, clientDataJSON: response.response.clientDataJSON,
                signature: response.response.signature, expectedChallenge: challenge, rpID: configuration.relyingPartyID,
                origins: configuration.origins, requireUserVerification: true)
        } catch .counterRegression(let stored, let received) {
            try await blockClone(device: device, stored: stored, received: received, source: source)
        } catch {
            try await store.append(
                AuditRecord(
                    actor: "user:\(device.userID)", action: .passkeyAuthentication, subject: "device:\(device.id)", sourceAddress: source,
                    outcome: .failure, details: ["reason": error.description]),
                at: time.now())
            throw PasskeyError.invalidResponse(error)
        }
        let outcome = try await store.recordPasskeyAssertion(
            deviceID: device.id, signCount: verified.signCount, backupState: verified.backupState, at: time.now())
        if outcome == .regressed {
            try await blockClone(device: device, stored: credential.signCount, received: verified.signCount, source: source)
        }
    }

    private func blockClone(device: Device, stored: UInt32, received: UInt32, source: String?) async throws -> Never {
        _ = try? await lifecycle.apply(.block, to: device, reason: "COUNTER_REGRESSION", actor: "system:webauthn", source: source)
        try await store.append(
            AuditRecord(
                actor: "user:\(device.userID)", action: .passkeyCounterRegression, subject: "device:\(device.id)", sourceAddress: source,
                outcome: .failure, details: ["stored": String(stored), "received": String(received)]),
            at: time.now())
        throw PasskeyError.counterRegression
    }

    private func auditRegistration(userID: String, deviceID: String?, outcome: AuditRecord.Outcome, details: [String: String], source: String?)
        async throws
    {
        try await store.append(
            AuditRecord(
                actor: "user:\(userID)", action: .passkeyRegistered, subject: deviceID.map { "device:\($0)" } ?? "user:\(userID)",
                sourceAddress: source, outcome: outcome, details: details),
            at: time.now())
    }

    static func validName(_ name: String?) throws -> String {
        guard let name else { return "Passkey" }
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmed.count), !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PasskeyError.invalidName
        }
        return trimmed
    }

    /// The transports a browser reported (`usb`, `nfc`, `ble`, `internal`, `hybrid`, …): kept as
    /// hints for `allowCredentials`, at most 8 short tokens.
    static func transports(_ reported: [String]?) -> [String] {
        (reported ?? []).filter { (1...16).contains($0.utf8.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0 == "-") } }.prefix(8).map {
            $0
        }
    }
}

extension Array {
    fileprivate var nilIfEmpty: Self? { isEmpty ? nil : self }
}
