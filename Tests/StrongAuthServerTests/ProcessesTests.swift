import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import StrongAuthCore
import StrongAuthServer
import Testing

/// finAPI's process controller (finAPI's API documentation, docs/processes.md): process tokens exchanged for access tokens
/// of transparently created identities, a limited number of times, then deleted.
@Suite("finAPI process controller (/api/v1/processes)")
struct ProcessesTests {
    static func create(_ client: any TestClientProtocol, _ body: [String: Any]) async throws -> (TestResponse, [String: Any]) {
        try await create(client, json: try JSONSerialization.data(withJSONObject: body))
    }

    static func create(_ client: any TestClientProtocol, json: Data) async throws -> (TestResponse, [String: Any]) {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let response = try await client.executeRequest(uri: "/api/v1/processes", method: .post, headers: headers, body: ByteBuffer(data: json))
        return (response, try HTTP.json(response.body))
    }

    /// finAPI's request for `references` of client `clientID`.
    static func body(_ clientID: String, _ secret: String, references: [String] = ["customer-reference"]) -> [String: Any] {
        ["clientId": clientID, "clientSecret": secret, "clientReferences": references.map { ["clientReference": $0] }, "processId": "USER_ONLY"]
    }

    /// Creates processes and returns their tokens, in the order of `references`.
    static func tokens(_ client: any TestClientProtocol, _ clientID: String, _ secret: String, references: [String] = ["customer-reference"])
        async throws -> [String]
    {
        let (response, json) = try await create(client, body(clientID, secret, references: references))
        try #require(response.status == .created)
        let processes = try #require(json["processes"] as? [[String: Any]])
        return try processes.map { try #require($0["processToken"] as? String) }
    }

    static func exchange(_ client: any TestClientProtocol, _ token: String, query: String = "") async throws -> (TestResponse, [String: Any]) {
        let response = try await client.executeRequest(uri: "/api/v1/processes/\(token)\(query)", method: .get, headers: [:], body: nil)
        return (response, try HTTP.json(response.body))
    }

    static func auditActions(_ server: TestServer) async throws -> [String] {
        try await server.runtime.store.auditEvents(after: 0, limit: 10_000).map(\.record.action.rawValue)
    }

    @Test("finAPI's flow: create, exchange for a working access token, 10 exchanges and no 11th")
    func seedFlow() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.test { client in
                let (created, json) = try await Self.create(client, Self.body("shop", secret, references: ["ref-a", "ref-b"]))
                #expect(created.status == .created)
                #expect(created.headers[.cacheControl] == "no-store")
                let processes = try #require(json["processes"] as? [[String: Any]])
                #expect(processes.map { $0["clientReference"] as? String } == ["ref-a", "ref-b"])
                let token = try #require(processes[0]["processToken"] as? String)
                #expect(token.hasPrefix("sa_pt_") && token.count == 6 + 43)
                #expect(processes[1]["processToken"] as? String != token)

                let (first, firstJSON) = try await Self.exchange(client, token)
                #expect(first.status == .ok)
                #expect(first.headers[.cacheControl] == "no-store")
                #expect(Set(firstJSON.keys) == ["accessToken"])
                let accessToken = try #require(firstJSON["accessToken"] as? String)

                // The access token is the identity's: the finAPI user face and introspection say so.
                let me = try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(accessToken), body: nil)
                #expect(me.status == .ok)
                let username = try #require(try HTTP.json(me.body)["id"] as? String)
                #expect(username.hasPrefix("process:"))
                let (_, introspection) = try await client.token(
                    [("token", accessToken)], basic: HTTP.basic("shop", secret), path: "/oauth/introspect")
                #expect(introspection["active"] as? Bool == true)
                #expect(introspection["client_id"] as? String == "shop")
                #expect(introspection["scope"] as? String == "accounts transfers")
                let identity = try #require(try await server.runtime.store.user(realm: "default", username: username))
                #expect(introspection["sub"] as? String == identity.id)
                #expect(identity.ownerClientId == "shop")

                for _ in 2...10 {
                    #expect(try await Self.exchange(client, token).0.status == .ok)
                }
                let (eleventh, refusal) = try await Self.exchange(client, token)
                #expect(eleventh.status == .notFound)
                #expect(eleventh.headers[.contentType] == "application/problem+json")
                #expect((refusal["detail"] as? String)?.contains("maximum") == true)
                // The other reference's process is untouched.
                #expect(try await Self.exchange(client, try #require(processes[1]["processToken"] as? String)).0.status == .ok)
            }
            let actions = try await Self.auditActions(server)
            #expect(actions.filter { $0 == "process.created" }.count == 2)
            #expect(actions.filter { $0 == "process.exchanged" }.count == 11)
            let refused = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).filter {
                $0.record.action.rawValue == "process.exchange_refused"
            }
            #expect(refused.map { $0.record.details["reason"] } == ["exhausted"])
            #expect(try await server.count("users WHERE process_identity = 1") == 2)
        }
    }

    @Test("invalidate=true returns a token once more and ends the process; unknown tokens get the same 404")
    func invalidation() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            try await server.test { client in
                let token = try await Self.tokens(client, "shop", secret)[0]
                #expect(try await Self.exchange(client, token, query: "?invalidate=false").0.status == .ok)
                #expect(try await Self.exchange(client, token, query: "?invalidate=maybe").0.status == .badRequest)
                let (last, lastJSON) = try await Self.exchange(client, token, query: "?invalidate=true")
                #expect(last.status == .ok)
                let accessToken = try #require(lastJSON["accessToken"] as? String)
                let (after, afterJSON) = try await Self.exchange(client, token)
                #expect(after.status == .notFound)
                #expect(try await Self.exchange(client, token, query: "?invalidate=true").0.status == .notFound)
                // An access token issued before the end lives on until it expires.
                #expect(
                    try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(accessToken), body: nil).status == .ok)

                // Unknown, malformed: the very same answer as the ended process.
                let unknown = "sa_pt_" + String(repeating: "A", count: 43)
                for other in [unknown, "sa_pt_short", "not-a-token", String(repeating: "x", count: 500)] {
                    let (response, json) = try await Self.exchange(client, other)
                    #expect(response.status == .notFound)
                    #expect(json["detail"] as? String == afterJSON["detail"] as? String)
                }
            }
            let refused = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).filter {
                $0.record.action.rawValue == "process.exchange_refused"
            }
            #expect(refused.map { $0.record.details["reason"] } == ["invalidated", "invalidated"])
            #expect(try await Self.auditActions(server).contains("process.invalidated"))
        }
    }

    @Test("a process expires processes.lifetimeDays after its creation (injected clock)")
    func expiry() async throws {
        try await TestServer.with(["processes.lifetimeDays": .int(2), "processes.retentionDays": .int(3)]) { server in
            let secret = try await server.createClient()
            try await server.test { client in
                let token = try await Self.tokens(client, "shop", secret)[0]
                server.time.advance(by: 2 * 86_400 - 1)
                #expect(try await Self.exchange(client, token).0.status == .ok)
                server.time.advance(by: 1)
                #expect(try await Self.exchange(client, token).0.status == .notFound)
            }
            let refused = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).filter {
                $0.record.action.rawValue == "process.exchange_refused"
            }
            #expect(refused.map { $0.record.details["reason"] } == ["expired"])
        }
    }

    @Test("the retention job deletes exactly the identities whose retention passed, with their tokens; the service runs it")
    func retention() async throws {
        // Access tokens outlive the retention here, so that their death is the deletion's doing.
        let settings: [String: ConfigContent] = [
            "processes.lifetimeDays": .int(1), "processes.retentionDays": .int(2), "tokens.accessLifetimeSeconds": .int(30 * 86_400),
        ]
        try await TestServer.with(settings) { server in
            let secret = try await server.createClient()
            let person = try await server.createUser()
            try await server.test { client in
                let early = try await Self.tokens(client, "shop", secret, references: ["a", "b"])
                let (_, exchanged) = try await Self.exchange(client, early[0])
                let earlyAccess = try #require(exchanged["accessToken"] as? String)
                server.time.advance(by: 86_400)
                let late = try await Self.tokens(client, "shop", secret, references: ["c"])
                let (_, lateExchanged) = try await Self.exchange(client, late[0])
                let lateAccess = try #require(lateExchanged["accessToken"] as? String)
                #expect(try await server.count("users WHERE process_identity = 1") == 3)

                server.time.advance(by: 86_400 - 1)
                #expect(try await server.runtime.processes.deleteExpired() == 0)
                #expect(
                    try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(earlyAccess), body: nil).status == .ok)
                server.time.advance(by: 1)
                // The application's ProcessSweeper (every 60 s) may have come first on a slow run:
                // the rows below are what must hold either way.
                #expect(try await server.runtime.processes.deleteExpired() <= 2)
                #expect(try await server.runtime.processes.deleteExpired() == 0)
                #expect(try await server.count("users WHERE process_identity = 1") == 1)
                #expect(try await server.count("processes") == 1)
                #expect(try await server.runtime.store.user(id: person.id) != nil)
                // The deleted identity's access token is dead at once; the other's lives.
                #expect(
                    try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(earlyAccess), body: nil).status
                        == .unauthorized)
                #expect(
                    try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(lateAccess), body: nil).status == .ok)
                #expect(try await Self.exchange(client, early[1]).0.status == .notFound)

                // The background service does the same on its own.
                let sweeper = ProcessSweeper(processes: server.runtime.processes, logger: Logger(label: "test"), interval: .milliseconds(10))
                let running = Task { try await sweeper.run() }
                server.time.advance(by: 86_400)
                var remaining = -1
                for _ in 0..<500 {
                    remaining = try await server.count("processes")
                    if remaining == 0 { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                running.cancel()
                _ = await running.result
                #expect(remaining == 0)
                #expect(try await server.count("users WHERE process_identity = 1") == 0)
            }
            let deleted = try await server.runtime.store.auditEvents(after: 0, limit: 10_000).filter {
                $0.record.action.rawValue == "process.deleted"
            }
            #expect(deleted.count == 3)
            #expect(deleted.allSatisfy { $0.record.actor == "system:retention" })
        }
    }

    @Test("bad input: every case a 4xx problem and nothing written")
    func badInput() async throws {
        try await TestServer.with { server in
            let secret = try await server.createClient()
            let valid = Self.body("shop", secret)
            func with(_ key: String, _ value: Any?) -> [String: Any] {
                var body = valid
                body[key] = value
                return body
            }
            let table: [(String, [String: Any], HTTPResponse.Status)] = [
                ("missing processId", with("processId", nil), .badRequest),
                ("empty processId", with("processId", ""), .badRequest),
                ("processId with spaces", with("processId", "USER ONLY"), .badRequest),
                ("processId not a string", with("processId", 7), .badRequest),
                ("missing clientReferences", with("clientReferences", nil), .badRequest),
                ("no references", with("clientReferences", [[String: Any]]()), .badRequest),
                ("references not an array", with("clientReferences", "ref"), .badRequest),
                ("a reference without clientReference", with("clientReferences", [[String: Any]()]), .badRequest),
                ("an empty reference", with("clientReferences", [["clientReference": ""]]), .badRequest),
                ("a reference with a control character", with("clientReferences", [["clientReference": "a\u{0}b"]]), .badRequest),
                ("a reference too long", with("clientReferences", [["clientReference": String(repeating: "r", count: 257)]]), .badRequest),
                ("a numeric reference", with("clientReferences", [["clientReference": 12]]), .badRequest),
                ("duplicate references", with("clientReferences", [["clientReference": "r"], ["clientReference": "r"]]), .badRequest),
                ("101 references", with("clientReferences", (0...100).map { ["clientReference": "r\($0)"] }), .badRequest),
                ("missing clientSecret", with("clientSecret", nil), .badRequest),
                ("wrong clientSecret", with("clientSecret", "sa_cs_wrong"), .unauthorized),
                ("unknown client", with("clientId", "nobody"), .unauthorized),
            ]
            let cases = try table.map { ($0.0, try JSONSerialization.data(withJSONObject: $0.1), $0.2) }
            let validJSON = try JSONSerialization.data(withJSONObject: valid)
            try await server.test { client in
                for (name, body, status) in cases {
                    let (response, json) = try await Self.create(client, json: body)
                    #expect(response.status == status, "\(name)")
                    #expect(response.headers[.contentType] == "application/problem+json", "\(name)")
                    #expect(json["status"] as? Int == Int(status.code), "\(name)")
                }
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                let malformed = try await client.executeRequest(
                    uri: "/api/v1/processes", method: .post, headers: headers, body: ByteBuffer(string: "{\"clientId\":"))
                #expect(malformed.status == .badRequest)
                let array = try await client.executeRequest(uri: "/api/v1/processes", method: .post, headers: headers, body: ByteBuffer(string: "[]"))
                #expect(array.status == .badRequest)
                let huge = try await client.executeRequest(
                    uri: "/api/v1/processes", method: .post, headers: headers, body: ByteBuffer(repeating: UInt8(ascii: " "), count: 70_000))
                #expect(huge.status == .contentTooLarge)
                headers[.contentType] = "text/plain"
                let wrongType = try await client.executeRequest(
                    uri: "/api/v1/processes", method: .post, headers: headers, body: ByteBuffer(data: validJSON))
                #expect(wrongType.status == .unsupportedMediaType)
                // 100 references are fine.
                let hundred = try await Self.tokens(client, "shop", secret, references: (0..<100).map { "r\($0)" })
                #expect(Set(hundred).count == 100)
            }
            #expect(try await server.count("processes") == 100)
            #expect(try await server.count("users") == 100)
        }
    }

    @Test("processes belong to their client: its grant, its secret, its identities; disabling it ends them")
    func clientOwnership() async throws {
        try await TestServer.with { server in
            let secretA = try await server.createClient("client-a")
            let secretB = try await server.createClient("client-b")
            let secretC = try await server.createClient("password-only", grants: [.password])
            try await server.test { client in
                // The secret of another client does not authenticate this one.
                #expect(try await Self.create(client, Self.body("client-a", secretB)).0.status == .unauthorized)
                // Without the client_credentials grant a client may not create processes.
                let (forbidden, _) = try await Self.create(client, Self.body("password-only", secretC))
                #expect(forbidden.status == .forbidden)

                let tokens = try await Self.tokens(client, "client-a", secretA, references: ["x", "y"])
                let (_, exchanged) = try await Self.exchange(client, tokens[0])
                let accessToken = try #require(exchanged["accessToken"] as? String)
                let claims = try #require(try await server.runtime.tokens.validateAccessToken(accessToken))
                #expect(claims.clientID == "client-a" && claims.subjectType == .user && claims.amr == ["process"])
                let identity = try #require(try await server.runtime.store.user(id: claims.sub.value))

                // Nobody logs the identity in with a password: not another client, not its owner.
                for (id, secret) in [("client-b", secretB), ("client-a", secretA)] {
                    let (login, body) = try await client.token(
                        [("grant_type", "password"), ("username", identity.username), ("password", "!")], basic: HTTP.basic(id, secret))
                    #expect(login.status == .badRequest)
                    #expect(body["error"] as? String == "invalid_grant")
                }

                // A disabled client's processes are no longer exchanged, and its tokens are dead.
                try await server.runtime.store.pool.withWriteConnection { db in
                    try await db.raw("UPDATE clients SET status = 'disabled' WHERE id = 'client-a'").run()
                }
                #expect(try await Self.exchange(client, tokens[1]).0.status == .notFound)
                #expect(
                    try await client.executeRequest(uri: "/api/v2/users", method: .get, headers: HTTP.bearer(accessToken), body: nil).status
                        == .unauthorized)
            }
            #expect(try await server.count("processes") == 2)
        }
    }

    @Test("processes.* settings: finAPI's defaults, overrides, and no retention shorter than the lifetime")
    func settings() async throws {
        func read(_ flags: [String: ConfigContent]) async throws -> ProcessConfiguration {
            try ServerSettings(reader: try await ServerSettings.reader(flags: flags, environment: [:])).processes
        }
        #expect(try await read([:]) == ProcessConfiguration(maxExchanges: 10, lifetime: 86_400, retention: 7 * 86_400))
        let configured = try await read(["processes.maxExchanges": .int(3), "processes.lifetimeDays": .int(2), "processes.retentionDays": .int(2)])
        #expect(configured == ProcessConfiguration(maxExchanges: 3, lifetime: 2 * 86_400, retention: 2 * 86_400))
        for bad: [String: ConfigContent] in [
            ["processes.maxExchanges": .int(0)], ["processes.lifetimeDays": .int(0)], ["processes.lifetimeDays": .int(9999)],
            ["processes.lifetimeDays": .int(3), "processes.retentionDays": .int(2)],
        ] {
            await #expect(throws: SettingsError.self) { _ = try await read(bad) }
        }
    }

    @Test("process tokens never reach the log or the audit trail")
    func tokensNeverLogged() async throws {
        let recorder = LogRecorder()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-server-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let settings = try ServerSettings(
            reader: try await ServerSettings.reader(
                flags: ["data.dir": .string(directory.path), "password.hashCost": .int(4), "http.port": .int(0)], environment: [:]))
        let runtime = try await StrongAuthRuntime.start(
            settings: settings, logger: Logger(label: "test") { _ in RecordingLogHandler(recorder: recorder) })
        do {
            let secret = try await runtime.administration.createClient(
                id: "shop", name: nil, scopes: Scopes(["accounts"]), grants: [.clientCredentials], actor: "test"
            ).secret
            let token = try await buildApplication(runtime: runtime).test(.router) { client in
                let token = try await Self.tokens(client, "shop", secret)[0]
                #expect(try await Self.exchange(client, token, query: "?invalidate=true").0.status == .ok)
                let (refused, _) = try await Self.exchange(client, token)
                #expect(refused.status == .notFound)
                // Nor the answer: the problem's `instance` names the route, not the request's path.
                let body = String(buffer: refused.body)
                #expect(!body.contains(token), "\(body)")
                #expect(body.contains("/api/v1/processes/{processToken}"), "\(body)")
                return token
            }
            let lines = recorder.lines
            #expect(lines.contains { $0.contains("/api/v1/processes/{processToken}") })
            #expect(!lines.contains { $0.contains(token) })
            let audit = try await runtime.store.auditEvents(after: 0, limit: 1000)
            #expect(!audit.contains { "\($0.record)".contains(token) })
            await runtime.shutdown()
        } catch {
            await runtime.shutdown()
            throw error
        }
    }
}

/// Every log line, rendered with its metadata, for "never logged" checks.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []

    var lines: [String] { lock.withLock { stored } }

    func append(_ line: String) { lock.withLock { stored.append(line) } }
}

struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.append("\(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })")
    }
}
