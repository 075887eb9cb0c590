import ArgumentParser
import Crypto
import Foundation
import StrongAuthClient
import StrongAuthProtocol

extension BenchCommand {
    /// Operation approvals for wrk (bench/prepared_posts.lua): `count` operations created through
    /// the integration API and approved ahead of time with the bound device's key, one request per
    /// line (`PATH`, a tab, the JSON body). wrk then measures the approval alone, on the server's
    /// CPU only, as the device challenge answers do for the pair: the SDK's flow generator
    /// (`operation-flows`) signs and decodes on the same cores it measures. The operations stay
    /// PENDING until wrk sends their approvals, so `--count 18` alone leaves the user 18 pending
    /// operations for a list benchmark. Prints the user's bearer token and one operation id.
    struct OperationAnswers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "operation-answers",
            abstract: "Create operations and prepare their signed approvals for wrk; prints the user's bearer token.")

        @OptionGroup var phone: DeviceCommand.PhoneOptions
        @OptionGroup var prepared: PreparedRequestOptions
        @OptionGroup var integration: IntegrationUserOptions

        /// Operations created at once; each batch is then read back from the user's pending list,
        /// which answers the newest 100, so a batch must stay below that.
        static let batch = 50

        func run() async throws {
            let cloud = try integration.client(of: phone.server)
            let key = try prepared.deviceKey(in: phone.keyStore)
            let (device, _, token) = try await phone.login()
            let (user, deviceID, count) = (phone.username, prepared.deviceID, prepared.count)
            var lines: [String] = []
            lines.reserveCapacity(count)
            while lines.count < count {
                let ids = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<min(Self.batch, count - lines.count) {
                        group.addTask {
                            try await cloud.createOperation(
                                userId: user, template: "default.payment",
                                parameters: ["amount": "63.99", "currency": "EUR", "account": "CZ32493745"]
                            ).operationId
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                let pending = Dictionary(try await device.approvals().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                for id in ids {
                    guard let approval = pending[id] else { throw ValidationError("operation \(id) is not in the user's pending list") }
                    let signature = Hex.encode(try key.signature(for: Array(approval.stringToSign.utf8)).derRepresentation)
                    let body = try String(
                        decoding: JSONEncoder().encode(["deviceId": deviceID, "data": approval.data, "signature": signature]), as: UTF8.self)
                    lines.append("/api/user/approvals/\(id)/approve\t\(body)")
                }
            }
            try prepared.write(lines)
            let firstID = lines.first.map { String($0.split(separator: "/")[3]) } ?? ""
            try printJSON(["bearer": token, "answers": lines.count, "output": prepared.output, "operationId": firstID])
        }
    }
}
