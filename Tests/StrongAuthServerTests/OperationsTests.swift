import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StrongAuthAPI
@testable import StrongAuthServer
import Testing

@Suite("Operations: health, readiness, metrics, request ids, OpenAPI")
struct OperationsTests {
    @Test("health, ready, metrics and the OpenAPI document answer")
    func endpoints() async throws {
        try await TestServer.with { server in
            try await server.test { client in
                let health = try await client.executeRequest(uri: "/health", method: .get, headers: [:], body: nil)
                #expect(health.status == .ok)
                #expect(try HTTP.json(health.body)["status"] as? String == "ok")
                // The version an operator sees is the released one: CHANGELOG.md's newest entry.
                #expect(try HTTP.json(health.body)["version"] as? String == Self.changelogVersion())
                let ready = try await client.executeRequest(uri: "/ready", method: .get, headers: [:], body: nil)
                #expect(ready.status == .ok)
                #expect(try HTTP.json(ready.body)["database"] as? String == "sqlite")
                let metrics = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
                #expect(metrics.status == .ok)
                #expect(String(buffer: metrics.body).contains("http_server_request"))
                let document = try await client.executeRequest(uri: "/openapi.yaml", method: .get, headers: [:], body: nil)
                #expect(document.status == .ok)
                #expect(String(buffer: document.body).hasPrefix("openapi: 3.1"))
            }
        }
    }

    @Test("additional routes (the benchmark's floor routes) sit behind the same middleware as every face's")
    func additionalRoutes() async throws {
        try await TestServer.with { server in
            let app = try buildApplication(
                runtime: server.runtime,
                additionalRoutes: { router in
                    router.post("/extra") { _, _ -> Response in Response(status: .ok) }
                    router.get("/extra/failing") { _, _ -> Response in throw HTTPError(.badRequest, message: "refused") }
                })
            try await app.test(.router) { client in
                let extra = try await client.executeRequest(uri: "/extra", method: .post, headers: [:], body: nil)
                #expect(extra.status == .ok)
                #expect(extra.headers[HTTPField.Name("X-Request-Id")!] != nil)
                // The problem+json middleware renders its errors as it does every face's.
                let failing = try await client.executeRequest(uri: "/extra/failing", method: .get, headers: [:], body: nil)
                #expect(failing.status == .badRequest)
                #expect(failing.headers[.contentType] == "application/problem+json")
            }
            // `strongauth serve`'s application has no such route.
            try await server.test { client in
                let absent = try await client.executeRequest(uri: "/extra", method: .post, headers: [:], body: nil)
                #expect(absent.status == .notFound)
            }
        }
    }

    @Test("request metrics: each answer counted by route, method and status, with its duration; errors counted by status")
    func requestMetrics() async throws {
        try await TestServer.with { server in
            try await server.test { client in
                func metrics() async throws -> [Substring] {
                    let answer = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
                    return String(buffer: answer.body).split(separator: "\n")
                }
                func value(_ lines: [Substring], _ name: String, _ labels: [String]) -> Double {
                    lines.filter { $0.hasPrefix(name + "{") && labels.allSatisfy($0.contains) }.compactMap {
                        $0.split(separator: " ").last.flatMap { Double($0) }
                    }
                    .reduce(0, +)
                }
                let health = ["http_route=\"/health\"", "http_request_method=\"GET\"", "http_response_status_code=\"200\""]
                let before = value(try await metrics(), "hb_requests", health)
                _ = try await client.executeRequest(uri: "/health", method: .get, headers: [:], body: nil)
                let missing = try await client.executeRequest(uri: "/no-such-route-\(UUID().uuidString)", method: .get, headers: [:], body: nil)
                #expect(missing.status == .notFound)
                let after = try await metrics()
                #expect(value(after, "hb_requests", health) >= before + 1)
                #expect(value(after, "http_server_request_duration_count", health) >= 1)
                #expect(value(after, "hb_request_errors", ["error_type=\"404\""]) >= 1)
            }
        }
    }

    /// The newest released version in CHANGELOG.md: the first `## [X.Y.Z]` heading that is not
    /// `[Unreleased]` (Keep a Changelog 1.1.0).
    static func changelogVersion() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let changelog = try String(contentsOf: root.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        for line in changelog.split(separator: "\n") where line.hasPrefix("## [") && !line.hasPrefix("## [Unreleased]") {
            return String(line.dropFirst(4).prefix { $0 != "]" })
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    @Test("the version constant is CHANGELOG.md's newest release")
    func versionMatchesChangelog() throws {
        #expect(StrongAuthVersion.current == (try Self.changelogVersion()))
        #expect(StrongAuthVersion.current.split(separator: ".").count == 3, "MAJOR.MINOR.PATCH")
    }

    @Test("every response carries a request id; a well-formed incoming one is kept")
    func requestIDs() async throws {
        try await TestServer.with { server in
            try await server.test { client in
                let plain = try await client.executeRequest(uri: "/health", method: .get, headers: [:], body: nil)
                #expect(plain.headers[HTTPField.Name("X-Request-Id")!]?.isEmpty == false)
                var headers = HTTPFields()
                headers[HTTPField.Name("X-Request-Id")!] = "gateway-1234"
                let forwarded = try await client.executeRequest(uri: "/nope", method: .get, headers: headers, body: nil)
                #expect(forwarded.status == .notFound)
                #expect(forwarded.headers[HTTPField.Name("X-Request-Id")!] == "gateway-1234")
                #expect(forwarded.headers[.contentType] == "application/problem+json")
                headers[HTTPField.Name("X-Request-Id")!] = "bad id with spaces"
                let replaced = try await client.executeRequest(uri: "/health", method: .get, headers: headers, body: nil)
                #expect(replaced.headers[HTTPField.Name("X-Request-Id")!] != "bad id with spaces")
            }
        }
    }

    @Test("/openapi.yaml documents exactly the routes the server serves")
    func openAPICoversEveryRoute() async throws {
        try await TestServer.with { server in
            let router = try buildRouter(runtime: server.runtime)
            // The HTML pages of the back office (/admin) and self-service (/self-service) are for
            // browsers, not API clients: docs/web-ui.md describes them, the OpenAPI document does not.
            // The admin JSON API (/admin/v1, docs/admin-api.md) is for API clients: documented.
            func isPage(_ path: String) -> Bool {
                (path.hasPrefix("/admin") && !path.hasPrefix("/admin/v1/")) || path.hasPrefix("/self-service")
            }
            let served = Set(
                router.routes.filter { !isPage($0.path.description) }
                    .map { "\($0.method.rawValue.lowercased()) \($0.path.description)" })
            let yaml = String(decoding: try OpenAPIDocument.yaml(), as: UTF8.self)
            var documented = Set<String>()
            var currentPath: String?
            for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("  /"), line.hasSuffix(":") {
                    currentPath = String(line.dropFirst(2).dropLast())
                } else if line.hasPrefix("components:") {
                    currentPath = nil
                } else if let path = currentPath, line.hasPrefix("    "), !line.hasPrefix("     "),
                    let method = ["get", "post", "put", "patch", "delete"].first(where: { line == "    \($0):" })
                {
                    documented.insert("\(method) \(path)")
                }
            }
            #expect(!served.isEmpty)
            #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
            #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
        }
    }

    /// The schema names of each documented route's JSON request body and 200 answer, read from
    /// `/openapi.yaml` (`"post /path"` → names; `nil` where the route has no JSON body).
    static func documentedBodies() throws -> [String: (request: String?, response: String?)] {
        let yaml = String(decoding: try OpenAPIDocument.yaml(), as: UTF8.self)
        var result: [String: (request: String?, response: String?)] = [:]
        var path: String?
        var route: String?
        var section = ""
        func schema(_ line: Substring) -> String? {
            guard let range = line.range(of: "#/components/schemas/") else { return nil }
            return String(line[range.upperBound...].prefix { $0.isLetter || $0.isNumber })
        }
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("components:") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
                route = nil
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "),
                let method = ["get", "post", "put", "patch", "delete"].first(where: { line == "    \($0):" })
            {
                route = "\(method) \(path)"
                result[route!] = (nil, nil)
                section = ""
            } else if let route {
                let trimmed = line.drop { $0 == " " }
                if line.hasPrefix("      "), !line.hasPrefix("       ") {
                    section = String(trimmed.prefix { $0 != ":" })
                } else if line.hasPrefix("        "), !line.hasPrefix("         "), section == "responses" {
                    section = trimmed.hasPrefix("'200'") ? "200" : "responses"
                }
                if let name = schema(trimmed) {
                    if section == "requestBody", result[route]?.request == nil { result[route]?.request = name }
                    if section == "200", result[route]?.response == nil { result[route]?.response = name }
                }
            }
        }
        return result
    }

    /// Full samples of the schemas a shared (`StrongAuthProtocol`) type stands for.
    static var sharedSamples: [String: [String: Any]] {
        [
            "EciesEncryptedRequest": [
                "temporaryKeyId": "5a3c5f1e-0000-4000-8000-000000000000", "ephemeralPublicKey": "AhntJuqdqTli2sOwb3GtGR7qD0jElYpVI2AlpyNGOiH4",
                "encryptedData": "AAECAwQFBgcICQoLDA0ODw==", "mac": "AAECAwQFBgcICQoLDA0ODwABAgMEBQYHCAkKCwwNDg8=",
                "nonce": "AAECAwQFBgcICQoLDA0ODw==", "timestamp": 1_700_000_000_000,
            ],
            "EciesEncryptedResponse": [
                "encryptedData": "AAECAwQFBgcICQoLDA0ODw==", "mac": "AAECAwQFBgcICQoLDA0ODwABAgMEBQYHCAkKCwwNDg8=",
                "nonce": "AAECAwQFBgcICQoLDA0ODw==", "timestamp": 1_700_000_000_000,
            ],
        ]
    }

    @Test("each PowerAuth enrollment route decodes and answers the very types /openapi.yaml documents")
    func routeBodiesAreTheDocumentedTypes() throws {
        let documented = try Self.documentedBodies().filter { $0.key.hasPrefix("post /enrollment-server/") }
        let registered = Dictionary(uniqueKeysWithValues: PowerAuthWireRoutes.all.map { ("\($0.method.rawValue.lowercased()) \($0.path)", $0) })
        #expect(!documented.isEmpty)
        #expect(Set(documented.keys) == Set(registered.keys), "documented \(documented.keys.sorted()), registered \(registered.keys.sorted())")
        let prefix = "StrongAuthAPI.Components.Schemas."
        for (route, bodies) in registered {
            guard let names = documented[route] else { continue }
            for (what, name, type) in [("request", names.request, bodies.request), ("response", names.response, Optional(bodies.response))] {
                #expect(
                    type?.schemaType == name.map { prefix + $0 },
                    "\(route) \(what): the handler's type is \(type.map { $0.sharedType ?? $0.schemaType } ?? "none"), the document's schema \(name ?? "none")"
                )
                guard let type, let name, let shared = type.sharedType else { continue }
                // A shared type must have exactly the schema's properties and required-ness.
                guard let sample = Self.sharedSamples[name] else {
                    Issue.record("\(route): \(shared) stands for \(name), which has no sample here")
                    continue
                }
                func keys(_ data: Data) throws -> Set<String> {
                    Set((try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]).keys)
                }
                let full = try JSONSerialization.data(withJSONObject: sample)
                #expect(throws: Never.self) { try type.accepts(full) }
                #expect(try keys(type.roundTrip(full)) == Set(sample.keys), "\(shared) drops or adds properties of \(name)")
                #expect(try keys(type.schemaRoundTrip(full)) == Set(sample.keys), "the sample of \(name) is not the schema's")
                for key in sample.keys {
                    var partial = sample
                    partial[key] = nil
                    let data = try JSONSerialization.data(withJSONObject: partial)
                    let server = (try? type.accepts(data)) != nil
                    let schema = (try? type.schemaRoundTrip(data)) != nil
                    #expect(
                        server == schema,
                        "\(route) without \(key): the server \(server ? "accepts" : "refuses"), \(name) says \(schema ? "optional" : "required")")
                }
            }
        }
    }
}
