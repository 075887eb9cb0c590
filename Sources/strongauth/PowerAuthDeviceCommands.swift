import ArgumentParser
import Foundation
import StrongAuthClient
import StrongAuthProtocol

/// Options of the PowerAuth phone simulator: where its activations live and the PIN.
struct PowerAuthPhoneOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "Directory of the simulated phone's activations (files 0600 in a 0700 directory).")
    var stateDirectory = "data/powerauth"

    @Option(help: "The PIN (env STRONGAUTH_DEVICE_PIN); it unlocks the knowledge factor and is never stored.")
    var pin: String?

    var store: FilePowerAuthActivationStore {
        FilePowerAuthActivationStore(directory: URL(fileURLWithPath: stateDirectory))
    }

    /// `--pin`, else `STRONGAUTH_DEVICE_PIN`, else `nil` (the environment keeps it out of `ps`).
    var resolvedPIN: String? {
        if let pin, !pin.isEmpty { return pin }
        if let pin = ProcessInfo.processInfo.environment["STRONGAUTH_DEVICE_PIN"], !pin.isEmpty { return pin }
        return nil
    }

    func requiredPIN() throws -> String {
        guard let pin = resolvedPIN else { throw ValidationError("--pin or STRONGAUTH_DEVICE_PIN is required") }
        return pin
    }

    func device(activationID: String) throws -> PowerAuthDevice {
        try PowerAuthDevice.load(activationID: activationID, store: store)
    }
}

/// `strongauth device activate`: the PowerAuth key exchange with an activation code.
struct PowerAuthActivateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "PowerAuth: activate a simulated phone with an activation code; prints {activationId, fingerprint}.",
        discussion: """
            The app's configuration (appKey, appSecret, masterPublicKey) is what `strongauth apps create` printed.
            The activation is stored under --state-dir for the sign, status and token commands.
            """)

    @OptionGroup var phone: PowerAuthPhoneOptions
    @Option(help: "Base URL of the server; /enrollment-server is appended unless present.") var server = "http://127.0.0.1:8080"
    @Option(name: .customLong("app-key"), help: "The application key (Base64).") var appKey: String
    @Option(name: .customLong("app-secret"), help: "The application secret (Base64).") var appSecret: String
    @Option(name: .customLong("master-public-key"), help: "The application's master public key (Base64).") var masterPublicKey: String
    @Option(help: "The activation code, or the QR data CODE#SIGNATURE.") var code: String
    @Option(help: "The activation OTP, when the registration has one.") var otp: String?
    @Option(help: "Device name shown to the integrator.") var name = "Simulated phone"
    @Option(help: "Platform reported to the server.") var platform = "ios"
    @Option(name: .customLong("device-info"), help: "Device model reported to the server.") var deviceInfo = "StrongAuth simulator"
    @Option(name: .customLong("protocol"), help: "PowerAuth protocol version: 3.1, 3.2 or 3.3.") var protocolVersion = "3.1"

    func run() async throws {
        guard let version = PowerAuthProtocolVersion(rawValue: protocolVersion), version >= .v3_1 else {
            throw ValidationError("--protocol must be 3.1, 3.2 or 3.3")
        }
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        let enrollment = base.hasSuffix("/enrollment-server") ? base : base + "/enrollment-server"
        let device = PowerAuthDevice(
            configuration: PowerAuthDeviceConfiguration(
                enrollmentBaseURL: enrollment, applicationKey: appKey, applicationSecret: appSecret, masterPublicKey: masterPublicKey,
                protocolVersion: version),
            store: phone.store)
        let result = try await device.activate(
            code: code, otp: otp, name: name, platform: platform, deviceInfo: deviceInfo, pin: try phone.requiredPIN())
        try printJSON(["activationId": result.activationID, "fingerprint": result.fingerprint, "stateDir": phone.stateDirectory])
    }
}

/// `strongauth device sign`: an `X-PowerAuth-Authorization` header for a request.
struct PowerAuthSignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "PowerAuth: sign a request; prints the body of /powerauth-cloud/v2/signature/verify (authHeader, requestBody in Base64 …).",
        discussion: "Each signature moves the phone's hash-based counter; the new counter is stored before the header is printed.")

    @OptionGroup var phone: PowerAuthPhoneOptions
    @Option(name: .customLong("activation-id"), help: "The stored activation.") var activationID: String
    @Option(help: "HTTP method of the request.") var method = "POST"
    @Option(name: .customLong("uri-id"), help: "The URI identifier agreed with the server, e.g. /login.") var uriId: String
    @Option(help: "The exact request body (its UTF-8 bytes are signed).") var body = ""
    @Option(help: "possession, possession_knowledge, possession_biometry, possession_knowledge_biometry …")
    var factors = "possession_knowledge"

    func run() async throws {
        guard let parsed = PowerAuthSignature.factors(of: factors) else {
            throw ValidationError("--factors must be a PowerAuth signature type such as possession_knowledge")
        }
        let pin = parsed.contains(.knowledge) ? try phone.requiredPIN() : nil
        let bytes = Array(body.utf8)
        let header = try await phone.device(activationID: activationID).sign(
            method: method, uriId: uriId, body: bytes, factors: parsed, pin: pin)
        try printJSON([
            "method": method.uppercased(), "uriId": uriId, "authHeader": header, "requestBody": Data(bytes).base64EncodedString(),
        ])
    }
}

/// `strongauth device status`: the decrypted activation status.
struct PowerAuthStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "PowerAuth: the activation's status, failed attempts and counter, from the encrypted status blob.")

    @OptionGroup var phone: PowerAuthPhoneOptions
    @Option(name: .customLong("activation-id"), help: "The stored activation.") var activationID: String

    func run() async throws {
        let status = try await phone.device(activationID: activationID).status()
        let sync: String =
            switch status.counterSync {
            case .inSync: "IN_SYNC"
            case .caughtUp(let steps): "CAUGHT_UP_\(steps)"
            case .deviceAhead: "DEVICE_AHEAD"
            }
        try printJSON([
            "activationId": activationID, "status": status.state.rawValue, "failedAttempts": status.failedAttempts,
            "maxFailedAttempts": status.maxFailedAttempts, "remainingAttempts": status.remainingAttempts, "counter": sync,
        ])
    }
}

/// `strongauth device token`: a MAC token and a first `X-PowerAuth-Token` header.
struct PowerAuthTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "PowerAuth: create a MAC token (possession + knowledge with a PIN, else possession); prints {tokenId, tokenHeader}.")

    @OptionGroup var phone: PowerAuthPhoneOptions
    @Option(name: .customLong("activation-id"), help: "The stored activation.") var activationID: String

    func run() async throws {
        let device = try phone.device(activationID: activationID)
        let tokenID = try await device.createToken(pin: phone.resolvedPIN)
        try printJSON(["tokenId": tokenID, "tokenHeader": try await device.tokenHeader(for: tokenID)])
    }
}

/// `strongauth device vault-unlock`: `/pa/v3/vault/unlock`, as the SDKs call it to add biometry.
struct PowerAuthVaultUnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault-unlock",
        abstract:
            "PowerAuth: unlock the secure vault (possession + knowledge with a PIN, else possession + biometry); prints {activationId, reason, vaultUnlocked}.",
        discussion: """
            The server sends the vault key under the transport key; the simulator checks it against the key it derived at \
            activation. The key itself is not printed. A wrong PIN counts as a failed attempt.
            """)

    @OptionGroup var phone: PowerAuthPhoneOptions
    @Option(name: .customLong("activation-id"), help: "The stored activation.") var activationID: String
    @Option(help: "The reason the server records: ADD_BIOMETRY, FETCH_ENCRYPTION_KEY, SIGN_WITH_DEVICE_PRIVATE_KEY …")
    var reason = "NOT_SPECIFIED"

    func run() async throws {
        _ = try await phone.device(activationID: activationID).unlockVault(pin: phone.resolvedPIN, reason: reason)
        try printJSON(["activationId": activationID, "reason": reason, "vaultUnlocked": true])
    }
}
