import ArgumentParser
import Foundation
import StrongAuthClient

extension BenchCommand {
    /// Operation create → approve → status flows per second (SPEC 4: ≥ 2,000/s): the integrator
    /// creates a `default.payment` operation, the user's ECDSA-bound phone lists its pending
    /// approvals and approves that one (signing the exact data), the integrator reads APPROVED.
    /// Four HTTP requests per flow, `concurrency` flows at once.
    struct OperationFlows: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "operation-flows", abstract: "Create → approve → status flows in a loop; report flows/s.")

        @OptionGroup var phone: DeviceCommand.PhoneOptions
        @Option(name: .customLong("device-id"), help: "A bound device of the user whose key is in the key store.") var deviceID: String
        @Option(name: .customLong("integration-user"), help: "An integration user of an application.") var integrationUser: String
        @Option(name: .customLong("integration-password"), help: "Its password (env STRONGAUTH_INTEGRATION_PASSWORD).")
        var integrationPassword: String?
        @Option(help: "Concurrent flows.") var concurrency = 32
        @Option(help: "Seconds to run.") var duration = 10.0

        func run() async throws {
            guard let password = integrationPassword ?? ProcessInfo.processInfo.environment["STRONGAUTH_INTEGRATION_PASSWORD"] else {
                throw ValidationError("--integration-password or STRONGAUTH_INTEGRATION_PASSWORD is required")
            }
            let (device, _, _) = try await phone.login()
            let cloud = PowerAuthIntegrationClient(baseURL: "\(phone.server)/powerauth-cloud", username: integrationUser, password: password)
            let user = phone.username
            let deviceID = deviceID
            @Sendable func flow() async throws {
                let created = try await cloud.createOperation(
                    userId: user, template: "default.payment", parameters: ["amount": "63.99", "currency": "EUR", "account": "CZ32493745"])
                guard let pending = try await device.approvals().first(where: { $0.id == created.operationId }) else {
                    throw ValidationError("the operation did not reach the phone")
                }
                try await device.approve(pending, deviceId: deviceID)
                guard try await cloud.operation(id: created.operationId).status == .approved else {
                    throw ValidationError("the operation is not APPROVED")
                }
            }
            try await flow()  // warm up, and fail early if it does not work
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
                                try await flow()
                                latencies.append(ContinuousClock.now - begin)
                            } catch {
                                failures += 1
                            }
                        }
                        return (latencies, failures)
                    }
                }
                return try await group.reduce(into: ([Duration](), 0)) { $0.0 += $1.0; $0.1 += $1.1 }
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
            try printJSON([
                "flows": sorted.count, "failures": results.1, "seconds": seconds, "flowsPerSecond": Int(Double(sorted.count) / seconds),
                "p50": percentile(0.5), "p99": percentile(0.99),
            ])
            if results.1 > 0 { throw ExitCode(1) }
        }
    }
}
