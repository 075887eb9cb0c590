import Crypto
import Foundation
import StrongAuthProtocol

/// The outcome of a signature check: valid or not, and what the integrator needs to know.
public struct SignatureVerification: Sendable, Equatable {
    public var valid: Bool
    public var registrationID: String
    /// The integrator's user id.
    public var userID: String
    /// The registration's status after the check (BLOCKED when this failure blocked it).
    public var status: Device.Status
    public var blockedReason: String?
    public var signatureType: String
    public var remainingAttempts: Int
    /// The registration as read — `nil` when a verification in step took the fast path (only
    /// the integration API's; the phone's signed requests always read it).
    public var registration: Registration?
    /// Whether this refusal was counted as a failed attempt of the user's factor: the device's
    /// possession component was right and the knowledge or biometry one wrong (a wrong PIN).
    /// The mobile token API counts exactly these against the operation being authorized, as the
    /// enrollment server does; a replay or a signature without the device counts nothing.
    public var countedFailure = false
}

/// Request signatures (PowerAuth Cloud REST API, "Implement Protected API Resources"; `/v2/signature/verify` and
/// every signed enrollment endpoint).
extension PowerAuthService {
    /// Checks a signature over `method`, `uriID` and the raw `body` against the registration's
    /// keys and hash-based counter, looking up to `counterLookahead` values ahead.
    ///
    /// A match moves the counter past the matched value in one conditional update (so a counter
    /// value is accepted once, across every node); a miss with a knowledge or biometry factor
    /// counts a failure, and the failure that reaches the maximum blocks the registration with
    /// `MAX_FAILED_ATTEMPTS`. Possession-only misses are not counted towards the block (RTS art. 4
    /// limits guessing of the user's factors, and a remote guesser must not lock the user out);
    /// they are throttled per activation instead: `possessionAttemptLimit` failures per
    /// `possessionAttemptWindow`, after which possession-only signatures are refused until the
    /// window is over. A miss does not move the counter, so nobody who knows an activation id can
    /// push the phone out of the window.
    ///
    /// The possession component is checked first (a deliberate improvement over the reference,
    /// which counts any failed multi-factor signature): a multi-factor signature whose possession
    /// component matches none of the counter values ahead was not made with the device, so it is
    /// refused without counting a knowledge or biometry attempt — whoever merely knows an
    /// activation id cannot block it. Whoever has the device and guesses the PIN still counts,
    /// and is blocked at the maximum. The components are independent HMACs ("Computing and
    /// Validating Signatures": the possession component uses only `KEY_SIGNATURE_POSSESSION`), so
    /// the check reveals nothing about the other factors. In protocol 3.0's decimal format the
    /// possession component is 8 digits, so those signatures share the possession throttle (else
    /// a 2FA signature would be a free guess at a possession-only one); in Base64 it is 128 bits
    /// and nothing is throttled, so garbage cannot keep the user's own 2FA signatures out either.
    /// A signature without the possession factor proves no device and is refused uncounted.
    ///
    /// A signature of a lower protocol version than the activation's (`pa_version="3.0"` on a 3.3
    /// activation) is refused without being checked: 3.0 writes each factor as 8 decimal digits,
    /// which is what makes a possession factor guessable; the activation's own version never does.
    ///
    /// `caller` is the integration user's credentials (`/v2/signature/verify`), checked here so
    /// that the user, the registration and its application are one database read; `nil` for the
    /// phone's own signed requests. The caller's realm and application are decided before any of
    /// the registration's counters (possession attempts, failures, the counter itself) is
    /// touched: a caller of another realm naming an activation id is answered exactly as for an
    /// unknown one, and does not even briefly hold one of the phone's attempts (docs/security-model.md).
    public func verifySignature(
        _ presented: PowerAuthAuthorizationHeader, method: String, uriID: String, body: [UInt8], caller: IntegrationCredentials?,
        source: String?
    ) async throws -> SignatureVerification {
        let factors = presented.factors
        guard !factors.isEmpty else {
            throw PowerAuthServiceError.validation(field: "pa_signature_type", message: "unknown signature type")
        }
        // Without the device's factor a signature cannot tell the phone from a guesser.
        guard factors.first == .possession else {
            return try await refuseWithoutPossession(presented, caller: caller, source: source)
        }
        // Possession only, or 3.0's 8 decimal digits per factor: throttled per activation.
        let throttled = factors == [.possession] || presented.version == .v3_0
        // The fast path takes no attempt: its one conditional update requires the window's room.
        if let caller,
            let fast = try await verifyInStep(
                presented, factors: factors, method: method, uriID: uriID, body: body, caller: caller, throttled: throttled)
        {
            return fast
        }
        let context = try await signatureContext(presented, caller: caller, source: source)
        guard var registration = context.registration else { throw PowerAuthServiceError.registrationNotFound }
        guard let application = context.application else { throw PowerAuthServiceError.applicationNotFound }
        let now = time.now()
        func outcome(_ valid: Bool, _ registration: Registration) -> SignatureVerification {
            let status = registration.status(at: now)
            return SignatureVerification(
                valid: valid, registrationID: registration.id, userID: registration.externalUserID, status: status,
                blockedReason: status == .blocked ? registration.device.blockedReason : nil, signatureType: presented.signatureType,
                remainingAttempts: registration.counter.remainingAttempts, registration: registration)
        }
        // Only ACTIVE registrations sign; the app key must be the registration's application's.
        guard registration.status(at: now) == .active, presented.applicationKey == application.applicationKey else {
            return outcome(false, registration)
        }
        // No downgrade below the version the phone activated with; neither counted nor checked.
        if let activated = registration.activation.protocolVersion.flatMap(PowerAuthProtocolVersion.init(rawValue:)),
            presented.version < activated
        {
            try await audit(
                registration, action: .powerAuthSignature, actor: "device:\(registration.id)", source: source, outcome: .failure,
                details: ["type": presented.signatureType, "uri": String(uriID.prefix(128)), "reason": "version_downgrade"])
            return outcome(false, registration)
        }
        // Throttled: one attempt taken now, before the check and atomically (so that concurrent
        // guesses cannot all slip under the limit; a valid signature gives it back); refused
        // unchecked while the window is spent (the registration stays ACTIVE).
        if throttled {
            guard
                try await store.takePossessionAttempt(
                    id: registration.id, limit: configuration.possessionAttemptLimit, window: configuration.possessionAttemptWindow, at: now)
            else { return outcome(false, registration) }
        }
        let applicationSecret = try applicationSecret(of: application)
        let secrets = try openSecrets(of: registration)
        let matcher = SignatureMatcher(
            presented, method: method, uriID: uriID, body: body, applicationSecret: applicationSecret, keys: secrets,
            lookahead: configuration.counterLookahead)

        // A lost race (another request accepted a counter value first) re-reads and searches
        // again. Each loss moved the counter forward, so a signature still ahead is found again
        // at most `counterLookahead` times; once behind, it is a replay (never a counted failure).
        for _ in 0...max(1, configuration.counterLookahead) {
            guard let match = matcher.search(from: registration.counter.counterData, history: registration.counter.recentCounterData)
            else { break }
            let (steps, next, history) = (match.steps, match.next, match.history)
            let resets = factors != [.possession]
            if try await store.acceptSignature(
                id: registration.id, expected: registration.counter.counterData, next: next, steps: steps, history: history,
                resetFailures: resets, at: now)
            {
                registration.counter.recentCounterData = history
                registration.counter.counterData = next
                hints.remember(
                    SignatureHints.Hint(
                        applicationID: application.id, applicationKey: application.applicationKey, applicationSecret: applicationSecret,
                        secrets: secrets, externalUserID: registration.externalUserID, counterData: next, recentCounterData: history,
                        protocolVersion: registration.activation.protocolVersion.flatMap(PowerAuthProtocolVersion.init(rawValue:))),
                    for: registration.id)
                if throttled { try await store.returnPossessionAttempt(id: registration.id) }
                registration.counter.counter += steps
                if resets { registration.counter.failedAttempts = 0 }
                registration.device.lastUsedAt = now
                return outcome(true, registration)
            }
            guard let reloaded = try await store.registration(id: registration.id), reloaded.status(at: now) == .active else {
                return outcome(false, try await store.registration(id: registration.id) ?? registration)
            }
            registration = reloaded
        }

        // No match. A replay of an accepted signature (its counter value is behind us) is refused
        // but not counted: its factors were right, so it is no guess — and counting it would let
        // whoever sees one request block the user by sending it five times.
        guard factors != [.possession] else { return outcome(false, registration) }
        if registration.counter.recentCounterData.contains(where: matcher.matches) {
            if throttled { try await store.returnPossessionAttempt(id: registration.id) }
            try await audit(
                registration, action: .powerAuthSignature, actor: "device:\(registration.id)", source: source, outcome: .failure,
                details: ["type": presented.signatureType, "uri": String(uriID.prefix(128)), "reason": "replay"])
            return outcome(false, registration)
        }
        // Possession first: only a possession component made for a counter value ahead (the
        // device's next signatures) lets the other factors count; a captured older request's
        // component is behind the counter and counts nothing either.
        guard matcher.possessionMatchesAhead(of: registration.counter.counterData) else {
            try await audit(
                registration, action: .powerAuthSignature, actor: "device:\(registration.id)", source: source, outcome: .failure,
                details: ["type": presented.signatureType, "uri": String(uriID.prefix(128)), "reason": "possession_mismatch"])
            return outcome(false, registration)
        }
        if throttled { try await store.returnPossessionAttempt(id: registration.id) }
        var counted = false
        var blocked = registration
        blocked.device.status = .blocked
        blocked.device.blockedReason = BlockedReason.maxFailedAttempts
        let count = try await store.reserveAttempt(
            .powerAuthSignature,
            subject: .activation(
                id: registration.id,
                webhooksAtLimit: try registrationWebhooks(blocked, status: .blocked, application: application, at: now)),
            at: now)
        if let count {
            registration.counter.failedAttempts = count.attempts ?? registration.counter.failedAttempts + 1
            counted = true
            if count.limitReached {
                registration.device.status = .blocked
                registration.device.blockedReason = BlockedReason.maxFailedAttempts
            }
        } else if let latest = try await store.registration(id: registration.id) {
            // It left ACTIVE meanwhile (another request blocked it): report what it is now.
            return outcome(false, latest)
        }
        try await audit(
            registration, action: .powerAuthSignature, actor: "device:\(registration.id)", source: source, outcome: .failure,
            details: ["type": presented.signatureType, "uri": String(uriID.prefix(128)), "failed": String(registration.counter.failedAttempts)])
        if registration.device.status == .blocked {
            try await audit(
                registration, action: .registration(.block), actor: "device:\(registration.id)", source: source,
                details: ["reason": BlockedReason.maxFailedAttempts])
        }
        var result = outcome(false, registration)
        result.countedFailure = counted
        return result
    }

    /// The answer to a signature that cannot count (no possession factor): invalid, nothing changed.
    private func refusal(_ presented: PowerAuthAuthorizationHeader, _ registration: Registration) -> SignatureVerification {
        let status = registration.status(at: time.now())
        return SignatureVerification(
            valid: false, registrationID: registration.id, userID: registration.externalUserID, status: status,
            blockedReason: status == .blocked ? registration.device.blockedReason : nil, signatureType: presented.signatureType,
            remainingAttempts: registration.counter.remainingAttempts, registration: registration)
    }

    /// A signature without possession through the integration API: the caller's access is
    /// decided as for any other signature, then it is refused uncounted.
    private func refuseWithoutPossession(_ presented: PowerAuthAuthorizationHeader, caller: IntegrationCredentials?, source: String?)
        async throws -> SignatureVerification
    {
        let context = try await signatureContext(presented, caller: caller, source: source)
        guard let registration = context.registration else { throw PowerAuthServiceError.registrationNotFound }
        return refusal(presented, registration)
    }

    /// The registration, its application and the integration caller, read once, with the
    /// caller's access decided before any of the registration's counters is touched: an
    /// integration user of another realm or application changes nothing of it, not even for the
    /// duration of the request, and is answered exactly as for an unknown id (the same read, the
    /// same error).
    private func signatureContext(_ presented: PowerAuthAuthorizationHeader, caller: IntegrationCredentials?, source: String?)
        async throws -> SignatureContext
    {
        let context = try await store.signatureContext(registrationID: presented.activationID, integrationUserName: caller?.name)
        if let caller {
            let user = try await integrationUserCheck.user(context.integrationUser, presenting: caller, source: source)
            let mayAsk = user.map { user in context.registration.map { user.mayUse(applicationID: $0.activation.applicationID) } ?? true }
            guard let mayAsk else { throw PowerAuthServiceError.unauthorized }
            guard mayAsk else { throw PowerAuthServiceError.registrationNotFound }
        }
        return context
    }

    /// The fast path of the integration API: with this node's hint for the activation, the
    /// signature is searched from the hinted counter and accepted by one conditional update that
    /// also checks, in the database, that the registration is still ACTIVE at that counter, the
    /// application active, the integration user valid and — for a `throttled` signature — the
    /// activation's possession window not spent (a valid signature takes no attempt, so it takes
    /// none that another realm's caller or a guesser could see counted). `nil` sends the request down the full
    /// path (no hint, no match, or any condition failed) — which decides everything itself.
    private func verifyInStep(
        _ presented: PowerAuthAuthorizationHeader, factors: [PowerAuthSignature.Factor], method: String, uriID: String, body: [UInt8],
        caller: IntegrationCredentials, throttled: Bool
    ) async throws -> SignatureVerification? {
        guard let hint = hints[presented.activationID], presented.applicationKey == hint.applicationKey,
            presented.version >= hint.protocolVersion ?? presented.version
        else { return nil }
        let matcher = SignatureMatcher(
            presented, method: method, uriID: uriID, body: body, applicationSecret: hint.applicationSecret, keys: hint.secrets,
            lookahead: configuration.counterLookahead)
        guard let match = matcher.search(from: hint.counterData, history: hint.recentCounterData) else { return nil }
        guard
            let accepted = try await store.acceptSignatureIfCurrent(
                id: presented.activationID, expected: hint.counterData, next: match.next, steps: match.steps, history: match.history,
                resetFailures: factors != [.possession], applicationID: hint.applicationID,
                caller: (caller.name, secretHasher.hash(caller.password)),
                possessionThrottle: throttled ? (configuration.possessionAttemptLimit, configuration.possessionAttemptWindow) : nil,
                at: time.now())
        else {
            hints.forget(presented.activationID)
            return nil
        }
        var moved = hint
        moved.counterData = match.next
        moved.recentCounterData = match.history
        hints.remember(moved, for: presented.activationID)
        return SignatureVerification(
            valid: true, registrationID: presented.activationID, userID: hint.externalUserID, status: .active, blockedReason: nil,
            signatureType: presented.signatureType, remainingAttempts: max(0, accepted.maxFailedAttempts - accepted.failedAttempts),
            registration: nil)
    }

    /// The activation's shared keys (signature factors, transport, vault).
    public func openSecrets(of registration: Registration) throws -> PowerAuthDerivedKeys {
        guard let sealed = registration.activation.sealedDerivedKeys,
            let secrets = PowerAuthDerivedKeys(
                packed: try masterKey.open(sealed, purpose: Self.activationKeysPurpose, associatedData: registration.id))
        else { throw PowerAuthServiceError.registrationState(registration.device.status) }
        return secrets
    }

    /// The server's private key of the activation (activation-scope ECIES).
    public func openServerPrivateKey(of registration: Registration) throws -> P256.KeyAgreement.PrivateKey {
        guard let sealed = registration.activation.sealedServerPrivateKey else {
            throw PowerAuthServiceError.registrationState(registration.device.status)
        }
        return try P256.KeyAgreement.PrivateKey(
            rawRepresentation: try masterKey.open(sealed, purpose: Self.serverKeyPurpose, associatedData: registration.id))
    }
}

/// One presented signature, ready to be compared with counter values: the data it signs (the
/// request with the app secret) and the keys of its factors, computed once per request.
struct SignatureMatcher {
    /// Where in the window a signature matched: after how many steps, the counter data that
    /// follows, and the values moved past (newest first, with the earlier `history`).
    struct Match {
        var steps: Int
        var next: [UInt8]
        var history: [[UInt8]]
    }

    let signature: String
    let data: [UInt8]
    let keys: [[UInt8]]
    let format: PowerAuthSignature.Format
    let lookahead: Int

    init(
        _ presented: PowerAuthAuthorizationHeader, method: String, uriID: String, body: [UInt8], applicationSecret: String,
        keys: PowerAuthDerivedKeys, lookahead: Int
    ) {
        signature = presented.signature
        data = Array(
            PowerAuthSignature.baseString(method: method, uriID: uriID, nonce: presented.nonce, body: body, applicationSecret: applicationSecret)
                .utf8)
        self.keys = presented.factors.map(keys.key(for:))
        format = presented.version == .v3_0 ? .decimal(componentLength: 8) : .base64
        self.lookahead = max(1, lookahead)
    }

    /// Whether the presented signature's possession component (its first) was made with one of
    /// the `lookahead` counter values from `counterData`. Only meaningful when the signature has
    /// the possession factor, which is always computed first and from its own key alone.
    func possessionMatchesAhead(of counterData: [UInt8]) -> Bool {
        guard let presentedComponent = possessionComponent(of: signature) else { return false }
        var current = counterData
        var found = false
        for _ in 1...lookahead {
            let expected = PowerAuthSignature.compute(data: data, counterData: current, keys: [keys[0]], format: format)
            // No early exit: the time taken does not depend on where (or whether) it matched.
            if PowerAuthSignature.matches(presentedComponent, expected: expected) { found = true }
            current = PowerAuthStatusBlob.nextCounterData(current)
        }
        return found
    }

    /// The first component of a presented signature, written as a one-factor signature would be.
    private func possessionComponent(of signature: String) -> String? {
        switch format {
        case .decimal:
            return signature.split(separator: "-", omittingEmptySubsequences: false).first.map(String.init)
        case .base64:
            guard let raw = Data(base64Encoded: signature), raw.count == 16 * keys.count else { return nil }
            return Data(raw.prefix(16)).base64EncodedString()
        }
    }

    /// Whether the signature was made with `counterData`.
    func matches(_ counterData: [UInt8]) -> Bool {
        PowerAuthSignature.matches(signature, expected: PowerAuthSignature.compute(data: data, counterData: counterData, keys: keys, format: format))
    }

    /// The first of `lookahead` counter values from `counterData` that the signature was made
    /// with; `nil` when none.
    func search(from counterData: [UInt8], history: [[UInt8]]) -> Match? {
        var current = counterData
        var passed: [[UInt8]] = []
        for step in 1...lookahead {
            passed.insert(current, at: 0)
            if matches(current) {
                return Match(
                    steps: step, next: PowerAuthStatusBlob.nextCounterData(current), history: Array((passed + history).prefix(lookahead)))
            }
            current = PowerAuthStatusBlob.nextCounterData(current)
        }
        return nil
    }
}
