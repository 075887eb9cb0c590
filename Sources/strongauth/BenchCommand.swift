import ArgumentParser
import Foundation
import NIOCore
import StrongAuthClient
import StrongAuthServer

/// `strongauth bench …`: load generators for flows wrk cannot drive (they need a device key to
/// sign each challenge). Used by `bench/run.sh`; prints one JSON object with the figures.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Load generators for multi-step flows (see bench/run.sh).",
        subcommands: [
            DeviceChallenges.self, PowerAuthSignatures.self, OperationFlows.self, PasswordHash.self, AuthorizationCodes.self,
            DPoPTokens.self, DeviceChallengeAnswers.self, OperationAnswers.self, FloorServer.self, SessionLogins.self, ActionTokens.self,
        ])

    /// Device challenge create + sign + verify pairs per second (target in docs/benchmarks.md: ≥ 3,000/s).
    struct DeviceChallenges: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "device-challenges", abstract: "Create + verify device challenges in a loop and report pairs/s.")

        @OptionGroup var phone: DeviceCommand.PhoneOptions
        @Option(name: .customLong("device-id"), help: "A bound device whose key is in the key store.") var deviceID: String
        @Option(help: "Concurrent phones.") var concurrency = 32
        @Option(help: "Seconds to run.") var duration = 10.0
        @Option(help: "Comma-separated base URLs of several nodes: each request goes to the next (default: --server).")
        var servers: String?

        func run() async throws {
            let (device, _, token) = try await phone.login()
            let devices = try Nodes.urls(servers, default: phone.server).map {
                DeviceClient(baseURL: $0, accessToken: token, keyStore: FileDeviceKeyStore(directory: URL(fileURLWithPath: phone.keyStore)))
            }
            _ = try await device.confirm(deviceId: deviceID)  // warm up, and fail early if it does not work
            let next = Nodes.Rotation(count: devices.count)
            let deviceID = deviceID
            let figures = try await LoadRun.measure(concurrency: concurrency, duration: duration) {
                // With several nodes the challenge is created on one and verified on the next.
                let challenge = try await devices[next()].createDeviceChallenge(deviceID)
                _ = try await devices[next()].verifyDeviceChallenge(deviceID, challenge: challenge)
            }
            try printJSON([
                "pairs": figures.completed, "failures": figures.failures, "seconds": figures.seconds,
                "pairsPerSecond": figures.perSecond, "p50": figures.p50, "p99": figures.p99,
            ])
            if figures.failures > 0 { throw ExitCode(1) }
        }
    }
}

extension BenchCommand {
    /// bcrypt verifications per second alone, through the server's own hasher (its thread pool,
    /// one thread per core): the ceiling of the password grant (target in docs/benchmarks.md: the grant within 10 %).
    struct PasswordHash: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "password-hash", abstract: "Verify one bcrypt hash in a loop and report verifications/s.")

        @Option(help: "bcrypt cost, as the server's passwordHashCost.") var cost: UInt8 = 10
        @Option(help: "Concurrent verifications (more than the cores: the thread pool has one per core).") var concurrency = 16
        @Option(help: "Seconds to run.") var duration = 10.0

        func validate() throws {
            guard (4...31).contains(cost) else { throw ValidationError("--cost is between 4 and 31") }
        }

        func run() async throws {
            let hasher = BcryptPasswordHasher(cost: cost)
            let hash = try await hasher.hash("bench-password")
            struct WrongAnswer: Error {}
            let figures = try await LoadRun.measure(concurrency: concurrency, duration: duration) {
                guard try await hasher.verify("bench-password", hash: hash) else { throw WrongAnswer() }
            }
            try printJSON([
                "verifications": figures.completed, "failures": figures.failures, "seconds": figures.seconds,
                "perSecond": figures.perSecond, "p50": figures.p50, "p99": figures.p99, "cost": Int(cost),
            ])
            if figures.failures > 0 { throw ExitCode(1) }
        }
    }
}

/// The base URLs a load generator spreads its requests over (`--servers a,b,c`), and a rotation
/// over them shared by all its loops: consecutive requests go to consecutive nodes.
enum Nodes {
    static func urls(_ list: String?, default server: String) throws -> [String] {
        guard let list else { return [server] }
        let urls = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !urls.isEmpty, urls.allSatisfy({ $0.hasPrefix("http://") || $0.hasPrefix("https://") }) else {
            throw ValidationError("--servers takes comma-separated base URLs (http://host:port,…)")
        }
        return urls
    }

    final class Rotation: @unchecked Sendable {
        private let count: Int
        private let lock = NSLock()
        private var next = 0
        init(count: Int) { self.count = max(1, count) }
        func callAsFunction() -> Int {
            lock.lock()
            defer { lock.unlock() }
            next = (next + 1) % count
            return next
        }
    }
}

/// `concurrency` loops running `body` until `duration` seconds have passed: how many completed,
/// how many failed, per second, and the latency percentiles — what every load generator prints.
enum LoadRun {
    struct Figures {
        var completed: Int
        var failures: Int
        var seconds: Double
        var perSecond: Int
        var p50: String
        var p99: String
    }

    /// Thrown by a loop's body when there is no more work (a finite set of prepared requests):
    /// that loop ends early, and the run is measured up to when the last loop ended.
    struct Done: Error {}

    static func measure(concurrency: Int, duration: Double, _ body: @escaping @Sendable () async throws -> Void) async throws -> Figures {
        let deadline = ContinuousClock.now + .seconds(duration)
        let start = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: ([Duration], Int).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var latencies: [Duration] = []
                    var failures = 0
                    while ContinuousClock.now < deadline {
                        let begin = ContinuousClock.now
                        do {
                            try await body()
                            latencies.append(ContinuousClock.now - begin)
                        } catch is Done {
                            break
                        } catch {
                            failures += 1
                        }
                    }
                    return (latencies, failures)
                }
            }
            return try await group.reduce(into: ([Duration](), 0)) {
                $0.0 += $1.0; $0.1 += $1.1
            }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let sorted = results.0.sorted()
        func percentile(_ p: Double) -> String {
            guard !sorted.isEmpty else { return "-" }
            let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            let ms = Double(value.components.seconds) * 1000 + Double(value.components.attoseconds) / 1e15
            return String(format: "%.2fms", ms)
        }
        return Figures(
            completed: sorted.count, failures: results.1, seconds: seconds, perSecond: Int(Double(sorted.count) / seconds),
            p50: percentile(0.5), p99: percentile(0.99))
    }
}
