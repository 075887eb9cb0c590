import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import StrongAuthAPI
import StrongAuthServer
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
            let served = Set(
                router.routes.filter { !$0.path.description.hasPrefix("/admin") && !$0.path.description.hasPrefix("/self-service") }
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
}
