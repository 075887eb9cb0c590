import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StrongAuthStore
import Testing

@testable import StrongAuthServer

/// Server pieces that several nodes share or that a database outage reaches (docs/architecture.md).
@Suite("Scale-out: shared notification file, database outages")
struct ScaleOutTests {
    @Test("concurrent appends to one notifications file keep every line (several nodes share it)")
    func notificationFileAppends() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-notify-\(UUID().uuidString)")
        let path = directory.appendingPathComponent("data/notifications.jsonl").path
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    let file = NotificationFile(path: path)  // one per node, each keeping its descriptor
                    for line in 0..<100 {
                        try file.append(Array("{\"writer\":\(writer),\"line\":\(line)}\n".utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 800)
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test("an unreachable database is a 503 with Retry-After, in RFC 9457 and in PowerAuth's shape")
    func databaseUnavailableIs503() async throws {
        let router = Router()
        router.add(middleware: ProblemMiddleware())
        router.get("/problem") { _, _ -> Response in throw DatabaseUnavailableError(reason: "test") }
        router.group("/powerauth").add(middleware: PowerAuthErrorMiddleware())
            .get("/call") { _, _ -> Response in throw DatabaseUnavailableError(reason: "test") }
        try await Application(router: router).test(.router) { client in
            let problem = try await client.executeRequest(uri: "/problem", method: .get, headers: [:], body: nil)
            #expect(problem.status == .serviceUnavailable)
            #expect(problem.headers[.retryAfter] == "1")
            #expect(problem.headers[.contentType] == "application/problem+json")
            #expect(String(buffer: problem.body).contains("\"status\":503"))
            let powerAuth = try await client.executeRequest(uri: "/powerauth/call", method: .get, headers: [:], body: nil)
            #expect(powerAuth.status == .serviceUnavailable)
            #expect(powerAuth.headers[.retryAfter] == "1")
            #expect(String(buffer: powerAuth.body).contains("ERROR_SERVICE_UNAVAILABLE"))
        }
    }
}
