import ArgumentParser
import Crypto
import Foundation
import StrongAuthClient
import StrongAuthProtocol

extension BenchCommand {
    /// Device challenge answers for wrk (bench/prepared_posts.lua): `count` challenges created
    /// through the API and signed with the bound device's key, one request per line (`PATH`, a
    /// tab, the JSON body). wrk then measures the verification alone, on the server's CPU only:
    /// the SDK's load generator (`device-challenges`) signs on the same cores as it measures.
    /// Prints the bearer token the challenges were created with (wrk must send the same one).
    struct DeviceChallengeAnswers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "device-challenge-answers",
            abstract: "Prepare signed device challenge answers for wrk; prints the user's bearer token.")

        @OptionGroup var phone: DeviceCommand.PhoneOptions
        @OptionGroup var prepared: PreparedRequestOptions
        @Option(help: "Challenges created at once.") var concurrency = 16

        func run() async throws {
            guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
            let key = try prepared.deviceKey(in: phone.keyStore)
            let (device, _, token) = try await phone.login()
            let (deviceID, count, concurrency) = (prepared.deviceID, prepared.count, concurrency)
            let lines = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var lines: [String] = []
                        for _ in stride(from: worker, to: count, by: concurrency) {
                            let challenge = try await device.createDeviceChallenge(deviceID)
                            let signature = Hex.encode(try key.signature(for: Array(challenge.stringToSign.utf8)).derRepresentation)
                            lines.append("/api/user/devices/\(deviceID)/challenges/\(challenge.id)/verify\t{\"signature\":\"\(signature)\"}")
                        }
                        return lines
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            try prepared.write(lines)
            try printJSON(["bearer": token, "answers": lines.count, "output": prepared.output])
        }
    }
}

/// What a command preparing requests for wrk takes: the bound device that signs them, how many,
/// and the file they go to (one request per line: `PATH`, a tab, the JSON body).
struct PreparedRequestOptions: ParsableArguments {
    @Option(name: .customLong("device-id"), help: "A bound device of the user whose key is in the key store.") var deviceID: String
    @Option(help: "How many requests to prepare.") var count = 20000
    @Option(help: "Where to write the requests (PATH<tab>BODY per line).") var output: String

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
    }

    /// The device's signing key from the simulated key store.
    func deviceKey(in keyStore: String) throws -> P256.Signing.PrivateKey {
        guard let key = try FileDeviceKeyStore(directory: URL(fileURLWithPath: keyStore)).loadKey(named: deviceID) else {
            throw ValidationError("no key for device \(deviceID) in \(keyStore)")
        }
        return key
    }

    func write(_ lines: [String]) throws {
        guard FileManager.default.createFile(atPath: output, contents: Data((lines.joined(separator: "\n") + "\n").utf8)) else {
            throw ValidationError("cannot write \(output)")
        }
    }
}
