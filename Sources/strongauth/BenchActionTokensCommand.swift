import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import StrongAuthClient

extension BenchCommand {
    /// Shine's short-lived tokens for wrk (bench/prepared_posts.lua): `count` action requests
    /// created with the client's credentials, confirmed ahead of time by the user's bound device
    /// (its pending list, its key) and polled for their tokens; one verification request per line
    /// (`PATH`, a tab, the JSON body `{token, action, payload}`). wrk then measures the token's use
    /// alone, on the server's CPU only. The server must let the tokens live longer than this
    /// preparation takes (`approvals.actionTokenLifetimeSeconds`). Prints one action request's id
    /// (for a poll benchmark) and the client's HTTP Basic credentials.
    struct ActionTokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "action-tokens",
            abstract: "Create Shine action requests, confirm them on the bound device, write their token verifications for wrk.")

        @OptionGroup var phone: DeviceCommand.PhoneOptions
        @OptionGroup var prepared: PreparedRequestOptions

        /// Action requests created at once; each batch is then read back from the user's pending
        /// list, which answers the newest 100, so a batch must stay below that.
        static let batch = 50
        static let action = "bank:transfers:create"
        static let verifyPath = "/v2/authentication/oauth2/action_request/verify"

        /// A transfer as Shine's documentation shows one, different for each request.
        static func payload(_ index: Int) -> [String: Any] {
            [
                "amount": 234 + index % 1000, "currency": "EUR", "bankTransferRecipientId": "BANK_TRANSFER_RECIPIENT_\(index)",
                "reference": "Invoice \(index)",
            ]
        }

        func run() async throws {
            guard let secret = phone.clientSecret ?? ProcessInfo.processInfo.environment["STRONGAUTH_CLIENT_SECRET"] else {
                throw ValidationError("--client-secret or STRONGAUTH_CLIENT_SECRET is required")
            }
            let basic = Data("\(phone.clientID):\(secret)".utf8).base64EncodedString()
            let shine = ShineClient(server: phone.server, basic: basic)
            let (device, _, _) = try await phone.login()
            let (uid, deviceID, count) = (phone.username, prepared.deviceID, prepared.count)
            var lines: [String] = []
            lines.reserveCapacity(count)
            var firstID = ""
            while lines.count < count {
                let start = lines.count
                let created = try await withThrowingTaskGroup(of: (String, Int).self) { group in
                    for index in start..<min(start + Self.batch, count) {
                        group.addTask {
                            let data = try await shine.post(
                                "/v2/authentication/oauth2/action_request",
                                ["action": Self.action, "uid": uid, "payload": Self.payload(index)])
                            guard let id = data["authenticationActionRequestId"] as? String else {
                                throw ValidationError("the action request was not created: \(data)")
                            }
                            return (id, index)
                        }
                    }
                    return try await group.reduce(into: [(String, Int)]()) { $0.append($1) }
                }
                if firstID.isEmpty { firstID = created.first?.0 ?? "" }
                let pending = Dictionary(try await device.approvals().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                let batchLines = try await withThrowingTaskGroup(of: String.self) { group in
                    for (id, index) in created {
                        guard let approval = pending[id] else { throw ValidationError("action request \(id) is not in the user's pending list") }
                        group.addTask {
                            try await device.approve(approval, deviceId: deviceID)
                            let polled = try await shine.get("/v2/authentication/oauth2/action_request/\(id)/poll")
                            guard let token = polled["token"] as? String else { throw ValidationError("no token for \(id): \(polled)") }
                            let body = try JSONSerialization.data(
                                withJSONObject: ["token": token, "action": Self.action, "payload": Self.payload(index)],
                                options: [.withoutEscapingSlashes])
                            return "\(Self.verifyPath)\t\(String(decoding: body, as: UTF8.self))"
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                lines += batchLines
            }
            try prepared.write(lines)
            try printJSON(["tokens": lines.count, "output": prepared.output, "actionRequestId": firstID, "basic": basic])
        }
    }

    /// The client side of Shine's action requests, as a bank's backend calls them (HTTP Basic).
    struct ShineClient: Sendable {
        let server: String
        let basic: String

        /// POSTs `body` as JSON; returns the envelope's `data`.
        func post(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
            try await send(.POST, path, body: try JSONSerialization.data(withJSONObject: body))
        }

        func get(_ path: String) async throws -> [String: Any] {
            try await send(.GET, path, body: nil)
        }

        private func send(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> [String: Any] {
            var request = HTTPClientRequest(url: server + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Basic \(basic)")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(data: body))
            }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            guard (200..<300).contains(response.status.code),
                let envelope = try JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any],
                let data = envelope["data"] as? [String: Any]
            else { throw ValidationError("\(method) \(path): \(response.status) \(String(buffer: bytes))") }
            return data
        }
    }
}
