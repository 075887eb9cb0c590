import Configuration
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SQLKit
import StrongAuthCore
import StrongAuthServer

/// Builds a whole StrongAuth (runtime + HTTP application) on a temporary SQLite database with a
/// manual clock and cheap bcrypt, the way `strongauth serve` builds it.
struct TestServer {
    let runtime: StrongAuthRuntime
    let time: ManualTimeSource
    let directory: URL

    static func with<T>(
        _ overrides: [String: ConfigContent] = [:], tickingClock: Bool = false, _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-server-\(UUID().uuidString)")
        var flags: [String: ConfigContent] = [
            "data.dir": .string(directory.path), "password.hashCost": .int(4), "http.port": .int(0),
            "issuer": .string("https://auth.test"),
            // Hundreds of test servers run at once: two readers each keep the open files low.
            "database.sqliteReaders": .int(2),
        ]
        flags.merge(overrides) { $1 }
        let settings = try ServerSettings(reader: try await ServerSettings.reader(flags: flags, environment: [:]))
        let time = ManualTimeSource(Date().wholeSeconds, ticking: tickingClock)
        let runtime = try await StrongAuthRuntime.start(settings: settings, logger: Logger(label: "test"), time: time)
        let server = TestServer(runtime: runtime, time: time, directory: directory)
        do {
            let result = try await body(server)
            await runtime.shutdown()
            try? FileManager.default.removeItem(at: directory)
            return result
        } catch {
            await runtime.shutdown()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Runs `body` against the in-process router.
    func test<T>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await buildApplication(runtime: runtime).test(.router, body)
    }

    /// A client with all three grants; returns its secret.
    @discardableResult
    func createClient(
        _ id: String = "shop", scopes: [String] = ["accounts", "transfers"],
        grants: Set<GrantType> = [.clientCredentials, .password, .refreshToken]
    ) async throws -> String {
        try await runtime.administration.createClient(
            id: id, name: nil, scopes: Scopes(scopes), grants: grants, actor: "test"
        ).secret
    }

    @discardableResult
    func createUser(_ username: String = "alice", password: String = "correct horse") async throws -> User {
        try await runtime.administration.createUser(
            username: username, password: password, phone: "+4915112345678", email: nil, ownerClientID: nil, actor: "test"
        ).user
    }

    /// Rows in `table` (for "nothing was written" checks).
    func count(_ table: String) async throws -> Int {
        try await runtime.store.pool.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()?.decode(column: "n", as: Int.self) ?? -1
        }
    }
}

enum HTTP {
    static func basic(_ id: String, _ secret: String) -> String {
        "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
    }

    static func formHeaders(basic: String? = nil) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-www-form-urlencoded"
        if let basic { headers[.authorization] = basic }
        return headers
    }

    static func form(_ pairs: [(String, String)]) -> ByteBuffer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return ByteBuffer(
            string: pairs.map {
                "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)"
            }.joined(separator: "&"))
    }

    static func bearer(_ token: String, json: Bool = false) -> HTTPFields {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        if json { headers[.contentType] = "application/json" }
        return headers
    }

    /// The JSON object in `buffer`; `[:]` for an empty body (RFC 7009's 200 has none).
    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        if buffer.readableBytes == 0 { return [:] }
        return try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] ?? [:]
    }
}

extension TestClientProtocol {
    /// POSTs a form to the token endpoint and returns the decoded JSON body and the response.
    func token(_ pairs: [(String, String)], basic: String?, path: String = "/oauth/token") async throws -> (TestResponse, [String: Any]) {
        let response = try await executeRequest(uri: path, method: .post, headers: HTTP.formHeaders(basic: basic), body: HTTP.form(pairs))
        return (response, try HTTP.json(response.body))
    }
}
