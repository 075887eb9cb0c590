import ArgumentParser
import Crypto
import Foundation
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthServer

extension BenchCommand {
    /// Prepares the PowerAuth signature-verification benchmark (target in docs/benchmarks.md: ≥ 6,000/s through the
    /// integration API). wrk cannot sign, and every valid signature is good exactly once, so the
    /// signatures are made ahead: an application, an integration user and `activations` ACTIVE
    /// registrations (key exchange in process, as a phone would do it), then `count` request
    /// bodies for `/powerauth-cloud/v2/signature/verify`, one JSON per line, round-robin over the
    /// activations with each activation's counter in order. `bench/powerauth_verify.lua` replays
    /// them; each wrk thread takes the activations of its own parity, so one activation's
    /// signatures arrive in order (well within the counter lookahead).
    struct PowerAuthSignatures: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "powerauth-signatures",
            abstract: "Prepare signed /v2/signature/verify requests for wrk; prints the integration user's Basic credentials.")

        @OptionGroup var common: CommonOptions
        @Option(help: "ACTIVE registrations to spread the load over (even: one half per wrk thread).") var activations = 64
        @Option(help: "Signed requests to prepare.") var count = 200_000
        @Option(help: "Where to write the request bodies (one JSON per line).") var output: String

        func run() async throws {
            guard activations > 0, activations % 2 == 0, count > 0 else { throw ValidationError("activations must be even and positive") }
            let (activations, count, output) = (activations, count, output)
            let suffix = String(UUID().uuidString.prefix(8)).lowercased()
            let prepared = try await withRuntime(common) { runtime in
                let powerAuth = runtime.powerAuth
                let appID = "bench-\(suffix)"
                let application = try powerAuth.openApplication(
                    try await powerAuth.createApplication(id: appID, name: nil, callbackURL: nil, actor: "operator:bench").application)
                let user = try await powerAuth.createIntegrationUser(name: "bench-\(suffix)", applicationIDs: [appID], actor: "operator:bench")
                var phones: [(id: String, keys: PowerAuthDerivedKeys, counterData: [UInt8])] = []
                for index in 0..<activations {
                    let registration = try await powerAuth.createRegistration(
                        by: user.user, userID: "bench-user-\(suffix)-\(index)", applicationID: appID, otp: nil, otpValidation: nil,
                        commitPhase: .onKeyExchange, flags: nil, source: nil)
                    let device = P256.KeyAgreement.PrivateKey()
                    let result = try await powerAuth.exchangeKeys(
                        KeyExchangeRequest(
                            activationCode: registration.activation.activationCode ?? "", activationOTP: nil,
                            devicePublicKey: device.publicKey, activationName: "bench", platform: "bench", deviceInfo: nil, extras: nil,
                            protocolVersion: "3.1"),
                        application: application, source: nil)
                    let secret = try PowerAuthDerivedKeys.masterSecret(privateKey: device, publicKey: result.serverPublicKey)
                    phones.append((result.registration.id, try PowerAuthDerivedKeys(masterSecret: secret), result.counterData))
                }
                guard FileManager.default.createFile(atPath: output, contents: nil), let file = FileHandle(forWritingAtPath: output) else {
                    throw ValidationError("cannot write \(output)")
                }
                defer { try? file.close() }
                let body = Array("{}".utf8)
                var buffer = Data()
                for index in 0..<count {
                    let slot = index % phones.count
                    let nonce = SecureRandom.bytes(16)
                    let data = Array(
                        PowerAuthSignature.baseString(
                            method: "POST", uriID: "/login", nonce: nonce, body: body, applicationSecret: application.applicationSecret
                        ).utf8)
                    let keys = phones[slot].keys
                    let signature = PowerAuthSignature.compute(
                        data: data, counterData: phones[slot].counterData, keys: [keys.possession, keys.knowledge], format: .base64)
                    phones[slot].counterData = PowerAuthStatusBlob.nextCounterData(phones[slot].counterData)
                    let header = PowerAuthAuthorizationHeader(
                        activationID: phones[slot].id, applicationKey: application.application.applicationKey, nonce: nonce,
                        signatureType: "possession_knowledge", signature: signature, version: .v3_1)
                    let request: [String: String] = [
                        "method": "POST", "uriId": "/login", "authHeader": header.headerValue, "requestBody": PowerAuthBase64.encode(body),
                    ]
                    buffer.append(try JSONSerialization.data(withJSONObject: request, options: [.sortedKeys, .withoutEscapingSlashes]))
                    buffer.append(0x0A)
                    if buffer.count > 1 << 20 {
                        try file.write(contentsOf: buffer)
                        buffer.removeAll(keepingCapacity: true)
                    }
                }
                try file.write(contentsOf: buffer)
                return (user.user.name, user.password)
            }
            try printJSON([
                "basic": Data("\(prepared.0):\(prepared.1)".utf8).base64EncodedString(), "requests": count, "activations": activations,
                "output": output,
            ])
        }
    }
}
