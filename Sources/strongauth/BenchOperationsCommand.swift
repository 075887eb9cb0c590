import ArgumentParser
import Foundation
import StrongAuthClient
import Synchronization

extension BenchCommand {
    /// Operation create → approve → status flows per second (target in docs/benchmarks.md: ≥ 2,000/s): the integrator
    /// creates a `default.payment` operation, the user's ECDSA-bound phone lists its pending
    /// approvals and approves that one (signing the exact data), the integrator reads APPROVED.
    /// Four HTTP requests per flow, `concurrency` flows at once.
    struct OperationFlows: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "operation-flows", abstract: "Create → approve → status flows in a loop; report flows/s.")

        @OptionGroup var phone: DeviceCommand.PhoneOptions
        @Option(name: .customLong("device-id"), help: "A bound device of the user whose key is in the key store.") var deviceID: String
        @OptionGroup var integration: IntegrationUserOptions
        @Option(help: "Concurrent flows.") var concurrency = 32
        @Option(help: "Seconds to run.") var duration = 10.0
        @Option(help: "Comma-separated base URLs of several nodes: each request goes to the next (default: --server).")
        var servers: String?

        func run() async throws {
            let (_, _, token) = try await phone.login()
            let urls = try Nodes.urls(servers, default: phone.server)
            let clouds = try urls.map { try integration.client(of: $0) }
            let devices = urls.map {
                DeviceClient(baseURL: $0, accessToken: token, keyStore: FileDeviceKeyStore(directory: URL(fileURLWithPath: phone.keyStore)))
            }
            let next = Nodes.Rotation(count: urls.count)
            // How long the phone's pending list is when it looks (the wrk row of the list alone
            // is measured at about this length).
            let listed = Mutex((lists: 0, approvals: 0))
            let user = phone.username
            let deviceID = deviceID
            // With several nodes, each of the four requests of a flow goes to the next node.
            @Sendable func flow() async throws {
                let created = try await clouds[next()].createOperation(
                    userId: user, template: "default.payment", parameters: ["amount": "63.99", "currency": "EUR", "account": "CZ32493745"])
                let list = try await devices[next()].approvals()
                listed.withLock { $0 = ($0.lists + 1, $0.approvals + list.count) }
                guard let pending = list.first(where: { $0.id == created.operationId }) else {
                    throw ValidationError("the operation did not reach the phone")
                }
                try await devices[next()].approve(pending, deviceId: deviceID)
                guard try await clouds[next()].operation(id: created.operationId).status == .approved else {
                    throw ValidationError("the operation is not APPROVED")
                }
            }
            try await flow()  // warm up, and fail early if it does not work
            let figures = try await LoadRun.measure(concurrency: concurrency, duration: duration, flow)
            try printJSON([
                "flows": figures.completed, "failures": figures.failures, "seconds": figures.seconds,
                "flowsPerSecond": figures.perSecond, "p50": figures.p50, "p99": figures.p99,
                "meanPendingListed": listed.withLock { $0.lists == 0 ? 0 : Double($0.approvals) / Double($0.lists) },
            ])
            if figures.failures > 0 { throw ExitCode(1) }
        }
    }
}

/// The integration user a benchmark creates operations as (PowerAuth Cloud REST API, HTTP Basic).
struct IntegrationUserOptions: ParsableArguments {
    @Option(name: .customLong("integration-user"), help: "An integration user of an application.") var name: String
    @Option(name: .customLong("integration-password"), help: "Its password (env STRONGAUTH_INTEGRATION_PASSWORD).")
    var password: String?

    /// Its client for the node at `server`.
    func client(of server: String) throws -> PowerAuthIntegrationClient {
        guard let password = password ?? ProcessInfo.processInfo.environment["STRONGAUTH_INTEGRATION_PASSWORD"] else {
            throw ValidationError("--integration-password or STRONGAUTH_INTEGRATION_PASSWORD is required")
        }
        return PowerAuthIntegrationClient(baseURL: "\(server)/powerauth-cloud", username: name, password: password)
    }
}
