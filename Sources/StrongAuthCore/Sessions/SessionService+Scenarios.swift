import Crypto
import Foundation
import StrongAuthProtocol

/// Step-up signing of a scenario (adding a payee, raising a limit, …) inside an authorized
/// session (the ABN AMRO login protocol's `/usertokens/session/scenario*`). The ABN AMRO login protocol names the endpoints only; the
/// shapes are ours (docs/sessions.md). What is signed is bound to the scenario's name and exact
/// data (PSD2 RTS art. 5): the data sent with the answer must hash to what was challenged.
extension SessionService {
    /// How a scenario must be signed in this session.
    public struct SigningMethod: Sendable, Equatable {
        public var accessToolUsage: AccessToolUsage
        public var challengeDeviceDetails: String
        /// The bound device's number for `BOUNDDEVICE_*`.
        public var boundDeviceIndexNumber: Int?
        public var attemptsLeft: Int
    }

    /// A signed scenario.
    public struct SignedScenario: Sendable, Equatable {
        public var scenarioName: String
        /// Hex SHA-256 of `"<name>\n<canonical data>"`.
        public var scenarioHash: String
        public var signedAt: Date
    }

    /// `POST /usertokens/session/scenariosigningmethod`: the access tool the session logged in
    /// with signs scenarios too.
    public func scenarioSigningMethod(sessionToken: String?, scenarioName: String) async throws -> SigningMethod {
        try Self.validateScenarioName(scenarioName)
        let session = try await authorizedSession(sessionToken)
        guard let usage = session.accessToolUsage, let userID = session.userID else { throw SessionError.unauthorized }
        var index: Int?
        if let deviceID = session.deviceID { index = try await boundDeviceIndex(deviceID: deviceID, userID: userID) }
        let attemptsLeft = try await store.loginAttemptsLeft(userID: userID, tool: usage.tool) ?? 0
        return SigningMethod(
            accessToolUsage: usage, challengeDeviceDetails: usage.challengeDeviceDetails, boundDeviceIndexNumber: index,
            attemptsLeft: attemptsLeft)
    }

    /// `POST /usertokens/session/scenariochallenge`: a challenge that signs `scenarioData`
    /// (canonical JSON) under `scenarioName`, with the session's tool unless another is named.
    public func scenarioChallenge(
        sessionToken: String?, scenarioName: String, scenarioData: String, accessToolUsage: String?, boundDeviceIndexNumber: String?
    ) async throws -> IssuedChallenge {
        try Self.validateScenarioName(scenarioName)
        let session = try await authorizedSession(sessionToken)
        guard let userID = session.userID, let sessionUsage = session.accessToolUsage,
            let identity = try await store.loginIdentity(userID: userID)
        else { throw SessionError.unauthorized }
        let usage = try accessToolUsage.map(Self.usage) ?? sessionUsage
        let deviceID: String?
        if usage.tool == .boundDevice, boundDeviceIndexNumber == nil, let sessionDevice = session.deviceID {
            deviceID = sessionDevice
        } else {
            deviceID = try await boundDevice(for: usage, userID: userID, index: boundDeviceIndexNumber)
        }
        return try await issue(
            .scenario, session: session, identity: identity, usage: usage, deviceID: deviceID,
            scenario: (scenarioName, Self.scenarioHash(name: scenarioName, data: scenarioData)))
    }

    /// `POST /usertokens/session/scenarioresponse`: the answer, with the scenario it signs. A
    /// scenario other than the challenged one is refused (and uses the challenge up); a wrong
    /// answer counts against the tool like a wrong login.
    public func scenarioResponse(
        sessionToken: String?, challengeHandle: String, response: String, scenarioName: String, scenarioData: String, source: String?
    ) async throws -> SignedScenario {
        try Self.validateScenarioName(scenarioName)
        let bytes = try Self.responseBytes(response)
        let session = try await authorizedSession(sessionToken)
        // The challenge, its user's identity and device, in one read.
        let context = try await store.loginAnswerContext(
            tokenHash: tokenHasher.hash(sessionToken ?? ""), handle: challengeHandle, seenAfter: idleCutoff(time.now()))
        let challenge = try Self.sessionChallenge(context.challenge, handle: challengeHandle, session: session, kinds: [.scenario])
        guard let identity = context.identity, challenge.userID == session.userID else { throw SessionError.challengeClosed }
        let hash = Hex.encode(Self.scenarioHash(name: scenarioName, data: scenarioData))
        guard let expected = challenge.scenarioHash, ConstantTime.equals(hash, expected) else {
            _ = try await store.useLoginChallenge(handle: challenge.handle, sessionID: session.id, at: time.now())
            try await audit(
                identity, .sessionScenario, .failure, source: source,
                details: ["scenario": challenge.scenarioName ?? "", "reason": "scenario_mismatch"])
            throw SessionError.scenarioMismatch
        }
        try await answerChallenge(
            challenge, identity: identity, device: context.device, response: bytes, source: source, action: .sessionScenario,
            completion: LoginAnswerCompletion(
                authorization: nil,
                audit: AuditRecord(
                    actor: "user:\(identity.userID)", action: .sessionScenario, subject: "user:\(identity.userID)", sourceAddress: source,
                    outcome: .success, details: ["scenario": scenarioName, "scenarioHash": hash, "accessTool": challenge.accessToolUsage.rawValue])))
        return SignedScenario(scenarioName: scenarioName, scenarioHash: hash, signedAt: time.now())
    }

    /// SHA-256 of the scenario's name and canonical data: what a challenge is bound to.
    static func scenarioHash(name: String, data: String) -> [UInt8] {
        SoftTokenScheme.scenarioHash(name: name, canonicalData: data)
    }

    static func validateScenarioName(_ name: String) throws {
        guard (1...64).contains(name.utf8.count),
            name.utf8.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) || (48...57).contains($0) || $0 == 95 || $0 == 45 || $0 == 46 })
        else { throw SessionError.validation(field: "scenarioName", message: "must be 1–64 of A–Z, a–z, 0–9, '_', '-', '.'") }
    }
}
