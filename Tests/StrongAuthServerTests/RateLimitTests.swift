import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthServer
import Testing

/// Rate limits on the credential endpoints (docs/architecture.md): 429 with Retry-After in each face's error
/// format, per source address and per client, on top of the lockouts.
@Suite("Rate limits")
struct RateLimitTests {
    @Test("a bucket admits its burst, then refuses with the seconds until the next token, and refills")
    func bucket() async throws {
        let limiter = RateLimiter()
        let limit = RateLimiter.Limit(perMinute: 600, burst: 3)  // 10 per second
        #expect((0..<3).map { _ in limiter.take("k", limit: limit) } == [nil, nil, nil])
        #expect(limiter.take("k", limit: limit) == 1)
        #expect(limiter.take("other", limit: limit) == nil, "keys do not share a bucket")
        try await Task.sleep(for: .milliseconds(250))
        #expect(limiter.take("k", limit: limit) == nil, "refilled at 10 per second")
        let slow = RateLimiter.Limit(perMinute: 1, burst: 1)
        #expect(limiter.take("slow", limit: slow) == nil)
        #expect(limiter.take("slow", limit: slow) == 60)
    }

    @Test("full buckets are dropped when there are too many keys, so a flood of addresses cannot grow memory")
    func bounded() {
        let limiter = RateLimiter(maximumKeys: 10)
        let limit = RateLimiter.Limit(perMinute: 60_000, burst: 1)
        for index in 0..<1_000 { #expect(limiter.take("address-\(index)", limit: limit) == nil) }
    }

    @Test(
        "per source address: the token endpoint answers RFC 6749 JSON, device endpoints problem+json, the ABN AMRO session face its messages shape, the PowerAuth phone face its own shape — all 429 with Retry-After"
    )
    func perAddress() async throws {
        try await TestServer.with(["rateLimits.addressPerMinute": .int(1), "rateLimits.addressBurst": .int(2)]) { server in
            let secret = try await server.createClient()
            let basic = HTTP.basic("shop", secret)
            try await server.test { client in
                for _ in 0..<2 {
                    #expect(try await client.token([("grant_type", "client_credentials")], basic: basic).0.status == .ok)
                }
                let (limited, body) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                #expect(limited.status == .tooManyRequests && body["error"] as? String == "temporarily_unavailable")
                #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)

                // Another class of endpoint has its own bucket; after its burst, it is refused too.
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<3 {
                    statuses.append(
                        try await client.executeRequest(
                            uri: "/enrollment-server/pa/v3/activation/create", method: .post, headers: headers, body: ByteBuffer(string: "{}")
                        ).status)
                }
                #expect(statuses.prefix(2).allSatisfy { $0 != .tooManyRequests } && statuses[2] == .tooManyRequests)
                let powerAuth = try await client.executeRequest(
                    uri: "/enrollment-server/pa/v3/activation/create", method: .post, headers: headers, body: ByteBuffer(string: "{}"))
                let powerAuthJSON = try HTTP.json(powerAuth.body)
                #expect(powerAuthJSON["status"] as? String == "ERROR" && powerAuth.headers[.retryAfter] != nil)
                #expect((powerAuthJSON["responseObject"] as? [String: Any])?["code"] as? String == "ERROR_TOO_MANY_REQUESTS")

                for _ in 0..<2 {
                    _ = try await client.executeRequest(
                        uri: "/session/loginchallenge?accountNumber=1&cardNumber=2&accessToolUsage=SOFTTOKEN", method: .get, headers: [:], body: nil)
                }
                let session = try await client.executeRequest(
                    uri: "/session/loginchallenge?accountNumber=1&cardNumber=2&accessToolUsage=SOFTTOKEN", method: .get, headers: [:], body: nil)
                #expect(session.status == .tooManyRequests && session.headers[.contentType] == "application/json")
                #expect(session.headers[.retryAfter] != nil)

                // Endpoints that present no credential are not limited.
                for _ in 0..<5 {
                    #expect(try await client.executeRequest(uri: "/health", method: .get, headers: [:], body: nil).status == .ok)
                }
            }
        }
    }

    @Test("per client at the token endpoint: one client's flood does not refuse another client")
    func perClient() async throws {
        try await TestServer.with(["rateLimits.clientPerMinute": .int(1), "rateLimits.clientBurst": .int(2)]) { server in
            let shop = HTTP.basic("shop", try await server.createClient("shop"))
            let other = HTTP.basic("other", try await server.createClient("other"))
            try await server.test { client in
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<3 { statuses.append(try await client.token([("grant_type", "client_credentials")], basic: shop).0.status) }
                #expect(statuses == [.ok, .ok, .tooManyRequests])
                #expect(try await client.token([("grant_type", "client_credentials")], basic: other).0.status == .ok)
            }
        }
    }

    @Test("rate limits can be switched off (benchmarks)")
    func disabled() async throws {
        try await TestServer.with(["rateLimits.enabled": .bool(false), "rateLimits.addressBurst": .int(1), "rateLimits.clientBurst": .int(1)]) {
            server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.test { client in
                for _ in 0..<5 {
                    let (response, _) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                    #expect(response.status == .ok)
                }
            }
        }
    }

    // MARK: Behind a proxy

    @Test("the client address is the peer unless the peer is a trusted proxy; then the right-most untrusted forwarded address")
    func clientAddress() throws {
        let trusted = try TrustedProxies(parsing: ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"])
        func address(_ peer: String?, _ fields: [(String, String)]) -> String? {
            var headers = HTTPFields()
            for (name, value) in fields { headers.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
            return trusted.clientAddress(peer: peer, headers: headers)
        }
        // An untrusted peer cannot choose its address.
        #expect(address("203.0.113.9", [("X-Forwarded-For", "198.51.100.1")]) == "203.0.113.9")
        #expect(address("203.0.113.9", [("Forwarded", "for=198.51.100.1")]) == "203.0.113.9")
        #expect(TrustedProxies.none.clientAddress(peer: "127.0.0.1", headers: [HTTPField.Name("X-Forwarded-For")!: "1.2.3.4"]) == "127.0.0.1")
        // A trusted peer: the right-most untrusted entry; what the client wrote left of it is ignored.
        #expect(address("10.1.2.3", [("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.9.9.9")]) == "198.51.100.7")
        #expect(address("10.1.2.3", [("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7")]) == "198.51.100.7")
        #expect(address("::ffff:10.1.2.3", [("X-Forwarded-For", "198.51.100.7")]) == "198.51.100.7")
        #expect(address("2001:db8::5", [("Forwarded", #"for="[2001:DB8:1::9]:4711";proto=https, for="[2001:db8::1]""#)]) == "2001:db8:1::9")
        #expect(address("10.1.2.3", [("Forwarded", #"for=192.0.2.60;proto=http;by=203.0.113.43, for="198.51.100.17:8080""#)]) == "198.51.100.17")
        // Forwarded wins over X-Forwarded-For when both are present.
        #expect(address("10.1.2.3", [("Forwarded", "for=192.0.2.60"), ("X-Forwarded-For", "198.51.100.1")]) == "192.0.2.60")
        // No header, garbage, obfuscated or all-trusted chains.
        #expect(address("10.1.2.3", []) == "10.1.2.3")
        #expect(address("10.1.2.3", [("X-Forwarded-For", "1.2.3.4, not-an-address")]) == "10.1.2.3")
        #expect(address("10.1.2.3", [("Forwarded", "for=_hidden, for=10.4.4.4")]) == "10.4.4.4")
        #expect(address("10.1.2.3", [("X-Forwarded-For", "10.7.7.7, 10.8.8.8")]) == "10.7.7.7")
        #expect(address(nil, [("X-Forwarded-For", "1.2.3.4")]) == nil)
        // Prefix boundaries.
        let narrow = try TrustedProxies(parsing: ["192.168.1.128/25", "::1"])
        #expect(narrow.contains("192.168.1.200") && !narrow.contains("192.168.1.127") && narrow.contains("::1") && !narrow.contains("::2"))
        #expect(try TrustedProxies(parsing: ["0.0.0.0/0"]).contains("8.8.8.8"))
        for invalid in ["10.0.0.0/33", "10.0.0/8", "example.com", "::1/129", "10.0.0.0/-1", "10.0.0.0/"] {
            #expect(throws: TrustedProxies.InvalidEntry.self, "\(invalid)") { try TrustedProxies(parsing: [invalid]) }
        }
    }

    @Test("http.trustedProxies is read from the settings, and a bad entry refuses to start")
    func trustedProxiesSetting() async throws {
        let settings = try ServerSettings(
            reader: try await ServerSettings.reader(flags: [:], environment: ["STRONGAUTH_HTTP_TRUSTED_PROXIES": "10.0.0.0/8, ::1"]))
        #expect(settings.trustedProxies.contains("10.200.0.1") && settings.trustedProxies.contains("::1"))
        #expect(!settings.trustedProxies.contains("11.0.0.1"))
        #expect(try ServerSettings(reader: try await ServerSettings.reader(flags: [:], environment: [:])).trustedProxies.isEmpty)
        await #expect(throws: (any Error).self) {
            try ServerSettings(reader: try await ServerSettings.reader(flags: [:], environment: ["STRONGAUTH_HTTP_TRUSTED_PROXIES": "10.0.0.0/99"]))
        }
    }

    /// Token requests over real TCP (the router test transport has no peer address).
    static func liveTokens(_ server: TestServer, forwardedFor: [String], basic: String) async throws -> [HTTPResponse.Status] {
        try await buildApplication(runtime: server.runtime).test(.live) { client in
            var statuses: [HTTPResponse.Status] = []
            for address in forwardedFor {
                var headers = HTTPFields()
                headers[.contentType] = "application/x-www-form-urlencoded"
                headers[.authorization] = basic
                headers[HTTPField.Name("X-Forwarded-For")!] = address
                statuses.append(
                    try await client.executeRequest(
                        uri: "/oauth/token", method: .post, headers: headers, body: ByteBuffer(string: "grant_type=client_credentials")
                    ).status)
            }
            return statuses
        }
    }

    @Test("behind a trusted proxy each forwarded client has its own bucket and the audit names it; from an untrusted peer the header is ignored")
    func behindProxy() async throws {
        let addresses = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]
        try await TestServer.with([
            "rateLimits.addressBurst": .int(1), "rateLimits.addressPerMinute": .int(1), "http.trustedProxies": .stringArray(["127.0.0.1", "::1"]),
        ]) { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            #expect(try await Self.liveTokens(server, forwardedFor: addresses, basic: basic) == [.ok, .ok, .ok, .ok])
            // The audit names the forwarded client, not the proxy (in the records the counted
            // windows are sealed into).
            let guessers = ["192.0.2.1", "192.0.2.2"]
            let wrong = HTTP.basic("shop", "wrong")
            #expect(try await Self.liveTokens(server, forwardedFor: guessers, basic: wrong) == [.unauthorized, .unauthorized])
            try await server.runtime.store.sealFailureWindows(closedBy: server.time.now().addingTimeInterval(3600))
            let events = try await server.runtime.store.auditEvents(after: 0, limit: 100).filter {
                $0.record.action.rawValue == "client.authentication"
            }
            #expect(Set(events.map(\.record.sourceAddress)) == Set(guessers) && events.count == 2)
        }
        try await TestServer.with(["rateLimits.addressBurst": .int(1), "rateLimits.addressPerMinute": .int(1)]) { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            #expect(
                try await Self.liveTokens(server, forwardedFor: addresses, basic: basic) == [
                    .ok, .tooManyRequests, .tooManyRequests, .tooManyRequests,
                ])
        }
        try await TestServer.with() { server in
            _ = try await server.createClient()
            #expect(try await Self.liveTokens(server, forwardedFor: ["192.0.2.1"], basic: HTTP.basic("shop", "wrong")) == [.unauthorized])
            try await server.runtime.store.sealFailureWindows(closedBy: server.time.now().addingTimeInterval(3600))
            let events = try await server.runtime.store.auditEvents(after: 0, limit: 100).filter {
                $0.record.action.rawValue == "client.authentication"
            }
            #expect(events.count == 1 && events.allSatisfy { $0.record.sourceAddress == "127.0.0.1" })
        }
    }

    @Test("wrong secrets under a victim's client_id do not spend its quota; they are limited per client id and address")
    func failedClientAuthentication() async throws {
        try await TestServer.with([
            "rateLimits.clientBurst": .int(2), "rateLimits.clientPerMinute": .int(1), "rateLimits.clientFailureBurst": .int(3),
            "rateLimits.clientFailurePerMinute": .int(1),
        ]) { server in
            let shop = HTTP.basic("shop", try await server.createClient("shop"))
            let wrong = HTTP.basic("shop", "not-the-secret")
            try await server.test { client in
                var guesses: [HTTPResponse.Status] = []
                for _ in 0..<5 { guesses.append(try await client.token([("grant_type", "client_credentials")], basic: wrong).0.status) }
                #expect(guesses == [.unauthorized, .unauthorized, .unauthorized, .tooManyRequests, .tooManyRequests])
            }
            // The real client, from elsewhere, still has its whole quota (new address: live transport).
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<3 { statuses.append(try await client.token([("grant_type", "client_credentials")], basic: shop).0.status) }
                #expect(statuses == [.ok, .ok, .tooManyRequests])
            }
        }
    }

    @Test("the back-office and self-service sign-in forms (bcrypt per try) are limited per address")
    func webLogins() async throws {
        for path in ["/admin/login", "/self-service/login"] {
            try await TestServer.with(["rateLimits.addressBurst": .int(2), "rateLimits.addressPerMinute": .int(1)]) { server in
                try await server.test { client in
                    var headers = HTTPFields()
                    headers[.contentType] = "application/x-www-form-urlencoded"
                    var statuses: [HTTPResponse.Status] = []
                    for _ in 0..<3 {
                        statuses.append(
                            try await client.executeRequest(
                                uri: path, method: .post, headers: headers, body: ByteBuffer(string: "username=nobody&password=wrong")
                            ).status)
                    }
                    #expect(!statuses.prefix(2).contains(.tooManyRequests) && statuses[2] == .tooManyRequests, "\(path): \(statuses)")
                }
            }
        }
    }

    /// The integration routes that authenticate in their middleware, and those whose core checks
    /// the credentials with its own read (an operation's creation — with a good body and a
    /// malformed one — and its status).
    static let integrationRoutes: [String] = [
        "GET /powerauth-cloud/v2/registrations/none", "GET /powerauth-cloud/v2/operations/none", "POST /powerauth-cloud/v2/operations",
        "POST /powerauth-cloud/v2/operations (malformed)",
    ]

    @Test(
        "wrong integration-user passwords are limited per name and address; the back end elsewhere is not refused",
        arguments: integrationRoutes)
    func failedIntegrationAuthentication(route: String) async throws {
        try await TestServer.with(["rateLimits.clientFailureBurst": .int(2), "rateLimits.clientFailurePerMinute": .int(1)]) { server in
            let (_, basic) = try await server.powerAuthSetup()
            let name = String(decoding: Data(base64Encoded: String(basic.dropFirst("Basic ".count)))!, as: UTF8.self).split(separator: ":")[0]
            let wrong = HTTP.basic(String(name), "wrong")
            let parts = route.split(separator: " ")
            let method: HTTPRequest.Method = parts[0] == "GET" ? .get : .post
            let body: ByteBuffer? =
                route.hasSuffix("(malformed)")
                ? ByteBuffer(string: "{not json")
                : method == .post ? ByteBuffer(bytes: try PowerAuthOperationsTests.json(PowerAuthOperationsTests.seedBody)) : nil
            try await server.test { client in
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<4 {
                    var headers: HTTPFields = [.authorization: wrong]
                    if body != nil { headers[.contentType] = "application/json" }
                    let response = try await client.executeRequest(uri: String(parts[1]), method: method, headers: headers, body: body)
                    statuses.append(response.status)
                    if response.status == .unauthorized { #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true) }
                }
                #expect(statuses == [.unauthorized, .unauthorized, .tooManyRequests, .tooManyRequests], "\(route)")
            }
            // Nothing was created for a wrong caller, not even the user an operation would have created.
            #expect(try await server.runtime.store.user(realm: "default", username: "end-user-1234") == nil)
            try await buildApplication(runtime: server.runtime).test(.live) { client in
                let status = try await client.integration(.get, "/powerauth-cloud/v2/registrations/none", basic: basic).0.status
                #expect(status == .notFound)
            }
        }
    }
}
