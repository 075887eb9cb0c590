import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthServer
import Testing

/// Rate limits on the credential endpoints (issue 7): 429 with Retry-After in each face's error
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

    @Test("per source address: the token endpoint answers RFC 6749 JSON, device endpoints problem+json, the ABN AMRO session face its messages shape, the PowerAuth phone face its own shape — all 429 with Retry-After")
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
                    _ = try await client.executeRequest(uri: "/session/loginchallenge?accountNumber=1&cardNumber=2&accessToolUsage=SOFTTOKEN", method: .get, headers: [:], body: nil)
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
        try await TestServer.with(["rateLimits.enabled": .bool(false), "rateLimits.addressBurst": .int(1), "rateLimits.clientBurst": .int(1)]) { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            try await server.test { client in
                for _ in 0..<5 {
                    let (response, _) = try await client.token([("grant_type", "client_credentials")], basic: basic)
                    #expect(response.status == .ok)
                }
            }
        }
    }
}
