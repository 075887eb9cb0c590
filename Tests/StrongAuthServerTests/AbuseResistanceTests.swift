import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import Testing

/// At the router: oversized PowerAuth headers answered at once in the face's format, and
/// the ABN AMRO face's documented error shape and its uniform answer for unknown accounts.
@Suite("Abuse resistance: header parsers, ABN AMRO error parity")
struct AbuseResistanceTests {
    /// 60 KB of the shapes that made the old backtracking parser take seconds per request.
    static let oversized: [String] = [
        "PowerAuth " + String(repeating: "a", count: 60_000),
        "PowerAuth " + String(repeating: "a=\"b ", count: 12_000),
        "PowerAuth " + String(repeating: "_1", count: 30_000) + "=",
    ]

    /// 40 KB of the same shapes, so that a JSON body carrying one stays under the 64 KiB body
    /// limit (and reaches the parser): ten times the cap, seconds of work for the old parser.
    static let oversizedForBodies: [String] = [
        "PowerAuth " + String(repeating: "a", count: 40_000),
        "PowerAuth " + String(repeating: "a=\"b ", count: 6_000),
        "PowerAuth " + String(repeating: "_1", count: 20_000) + "=",
    ]

    @Test("60 KB PowerAuth headers are refused with 431 in PowerAuth's shape, on the token, signature and encryption paths, unauthenticated")
    func oversizedHeadersAre431() async throws {
        try await TestServer.with { server in
            try await server.test { client in
                for value in Self.oversized {
                    for (uri, name) in [
                        ("/enrollment-server/api/auth/token/app/operation/list", "X-PowerAuth-Token"),
                        ("/enrollment-server/api/auth/token/app/operation/authorize", "X-PowerAuth-Authorization"),
                        ("/enrollment-server/pa/v3/activation/create", "X-PowerAuth-Encryption"),
                    ] {
                        var headers = HTTPFields()
                        headers[.contentType] = "application/json"
                        headers[HTTPField.Name(name)!] = value
                        let response = try await client.executeRequest(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: "{}"))
                        let json = try HTTP.json(response.body)
                        expectPowerAuthError(response, json, status: .init(code: 431))
                        let message = (json["responseObject"] as? [String: Any])?["message"] as? String ?? ""
                        #expect(message.contains(name) && message.contains("longer than"), "\(uri): \(message)")
                    }
                }
            }
        }
    }

    @Test("a 40 KB authHeader in a /powerauth-cloud/v2/signature/verify body is a 400 in PowerAuth's shape, before the credentials are checked")
    func oversizedAuthHeaderInBody() async throws {
        try await TestServer.with { server in
            try await server.test { client in
                for value in Self.oversizedForBodies {
                    let (response, json) = try await client.verify(value, basic: HTTP.basic("nobody", "wrong"))
                    expectPowerAuthError(response, json, status: .badRequest, code: "ERROR_REQUEST")
                    let message = (json["responseObject"] as? [String: Any])?["message"] as? String
                    #expect(message?.contains("authHeader") == true, "\(json)")
                }
            }
        }
    }

    @Test("a 40 KB tokenHeader in a /powerauth-cloud/v2/token/verify body is a 400 in PowerAuth's shape")
    func oversizedTokenHeaderInBody() async throws {
        try await PowerAuthTests.withActive { _, client, basic, _ in
            for value in Self.oversizedForBodies {
                let (response, json) = try await client.integration(
                    .post, "/powerauth-cloud/v2/token/verify", basic: basic, ["tokenHeader": value, "requestBody": "e30="])
                expectPowerAuthError(response, json, status: .badRequest, code: "ERROR_REQUEST")
            }
        }
    }

    @Test("the other header parsers (Basic, Bearer, cookies, request id, content type) answer 60 KB values of each shape with their 4xx, never a 5xx")
    func otherHeaderParsers() async throws {
        let shapes =
            Self.oversized.map { String($0.dropFirst("PowerAuth ".count)) } + [
                String(repeating: "=", count: 60_000), String(repeating: " ", count: 30_000) + "x", String(repeating: "%", count: 60_000),
            ]
        try await TestServer.with { server in
            try await server.test { client in
                for junk in shapes {
                    let cases: [(String, HTTPRequest.Method, HTTPField.Name, String, [Int])] = [
                        ("/oauth/token", .post, .authorization, "Basic " + junk, [400, 401]),
                        ("/oauth/token", .post, .authorization, "Basic " + Data(junk.utf8).base64EncodedString(), [400, 401]),
                        ("/powerauth-cloud/v2/registrations", .get, .authorization, "Basic " + junk, [401]),
                        ("/api/user/devices", .get, .authorization, "Bearer " + junk, [401]),
                        ("/session", .get, .cookie, "strongauth_session=sa_ss_" + junk, [401]),
                        ("/session/loginresponse", .put, .contentType, "application/json;" + junk, [400, 413]),
                        ("/health", .get, HTTPField.Name("X-Request-Id")!, junk, [200]),
                    ]
                    for (uri, method, name, value, statuses) in cases {
                        var headers = HTTPFields()
                        headers[name] = value
                        if name != .contentType { headers[.contentType] = "application/x-www-form-urlencoded" }
                        let body = method == .get ? nil : ByteBuffer(string: name == .contentType ? "{}" : "grant_type=client_credentials")
                        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
                        #expect(statuses.contains(response.status.code), "\(method) \(uri) \(name): \(response.status)")
                    }
                }
            }
        }
    }

    // MARK: ABN AMRO

    /// The wiki's error shape: `{"messages": [{"messageKey", "messageType": "ERROR", "messageText", "params"}]}`, as JSON.
    static func expectABNError(
        _ response: TestResponse, _ json: [String: Any], status: HTTPResponse.Status, key: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.status == status, "\(json)", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        let messages = json["messages"] as? [[String: Any]] ?? []
        #expect(messages.count == 1 && json.count == 1, "\(json)", sourceLocation: sourceLocation)
        let message = messages.first ?? [:]
        #expect(message["messageType"] as? String == "ERROR", sourceLocation: sourceLocation)
        #expect((message["messageKey"] as? String)?.hasPrefix("MESSAGE_") == true, sourceLocation: sourceLocation)
        #expect(message["messageText"] is String, sourceLocation: sourceLocation)
        #expect(message.keys.contains("params") && message["params"] is NSNull, sourceLocation: sourceLocation)
        if let key { #expect(message["messageKey"] as? String == key, sourceLocation: sourceLocation) }
    }

    @Test("every error of the ABN AMRO face is the API's messages shape with its HTTP status kept")
    func abnErrorShape() async throws {
        try await SessionsTests.withLoginUser { _, browser in
            var anonymous = browser
            let (noSession, noSessionBody) = try await anonymous.request(.get, "/session")
            Self.expectABNError(noSession, noSessionBody, status: .unauthorized, key: "MESSAGE_NO_SESSION")
            let (missing, missingBody) = try await browser.request(.get, "/session/loginchallenge?accountNumber=562813888")
            Self.expectABNError(missing, missingBody, status: .badRequest, key: "MESSAGE_INVALID_REQUEST")
            let (badTool, badToolBody) = try await browser.request(
                .get, "/session/loginchallenge?accountNumber=562813888&cardNumber=23&accessToolUsage=EDENTIFIER1")
            Self.expectABNError(badTool, badToolBody, status: .badRequest, key: "MESSAGE_INVALID_REQUEST")

            let challenge = try await browser.challenge()
            let (wrong, wrongBody) = try await browser.respond(to: challenge, response: "00")
            Self.expectABNError(wrong, wrongBody, status: .forbidden, key: "MESSAGE_WRONG_RESPONSE")
            let (replayed, replayedBody) = try await browser.respond(to: challenge, response: "00")
            Self.expectABNError(replayed, replayedBody, status: .conflict, key: "MESSAGE_CHALLENGE_CLOSED")
            let (notJSON, notJSONBody) = try await browser.request(.put, "/session/loginresponse", rawBody: "{not json")
            Self.expectABNError(notJSON, notJSONBody, status: .badRequest)
            let (form, formBody) = try await browser.request(
                .put, "/session/loginresponse", rawBody: "a=b", contentType: "application/x-www-form-urlencoded")
            Self.expectABNError(form, formBody, status: .unsupportedMediaType)
            let (large, largeBody) = try await browser.request(.put, "/session/loginresponse", rawBody: String(repeating: " ", count: 70_000))
            Self.expectABNError(large, largeBody, status: .contentTooLarge)
            let (scenario, scenarioBody) = try await browser.request(
                .post, "/usertokens/session/scenariochallenge", json: ["scenarioName": "bad name!"])
            Self.expectABNError(scenario, scenarioBody, status: .badRequest)
            let (deleted, deletedBody) = try await anonymous.request(.delete, "/session")
            Self.expectABNError(deleted, deletedBody, status: .unauthorized)
        }
    }

    @Test("loginchallenge answers an unknown account/card as a known one, and a wrong answer to either the same way")
    func unknownAccountsLookKnown() async throws {
        try await SessionsTests.withLoginUser { _, known in
            var unknown = known
            unknown.cookie = nil
            for (account, card) in [("123456789", "23"), ("562813888", "24")] {  // unknown account; known account, wrong card
                let real = try await known.challenge()
                let knownCookie = known.lastSetCookie
                let decoy = try await unknown.challenge(account: account, card: card)
                #expect(Set(decoy.keys) == Set(real.keys))
                #expect(decoy["attemptsLeft"] as? Int == real["attemptsLeft"] as? Int)
                #expect(decoy["challengeDeviceDetails"] as? String == real["challengeDeviceDetails"] as? String)
                #expect((decoy["challenge"] as? String)?.count == (real["challenge"] as? String)?.count)
                #expect((decoy["challengeHandle"] as? String)?.count == (real["challengeHandle"] as? String)?.count)
                #expect(decoy["userId"] as? String == "\(String(repeating: "0", count: 10 - account.count) + account)_\(card)")
                #expect(unknown.lastSetCookie != nil && knownCookie != nil)

                // A wrong answer to each: 403 with the same attempts left (the first wrong answer of each).
                let (knownWrong, knownWrongBody) = try await known.respond(to: real, response: "00")
                let (decoyWrong, decoyWrongBody) = try await unknown.respond(
                    to: decoy, response: "00", account: Int(account)!, card: Int(card)!)
                Self.expectABNError(knownWrong, knownWrongBody, status: .forbidden, key: "MESSAGE_WRONG_RESPONSE")
                Self.expectABNError(decoyWrong, decoyWrongBody, status: .forbidden, key: "MESSAGE_WRONG_RESPONSE")
                let text = { (body: [String: Any]) in ((body["messages"] as? [[String: Any]])?.first?["messageText"] as? String) ?? "" }
                #expect(text(knownWrongBody) == text(decoyWrongBody))
                // Both handles are used once.
                let (replayed, replayedBody) = try await unknown.respond(to: decoy, response: "00", account: Int(account)!, card: Int(card)!)
                Self.expectABNError(replayed, replayedBody, status: .conflict, key: "MESSAGE_CHALLENGE_CLOSED")
                // The known user's count is back to full after a correct login, for the next round.
                _ = try await SessionsTests.login(&known)
            }
        }
    }

    @Test("a decoy challenge checks the numbers like a real one: another account or card in the answer is a mismatch, not a login")
    func decoyMismatch() async throws {
        try await SessionsTests.withLoginUser { _, browser in
            let decoy = try await browser.challenge(account: "123456789", card: "23")
            let (other, otherBody) = try await browser.respond(
                to: decoy, response: try SessionsTests.softToken(decoy), account: 562_813_888, card: 23)
            Self.expectABNError(other, otherBody, status: .badRequest, key: "MESSAGE_CHALLENGE_MISMATCH")
            // Even an answer computed by the published scheme (with any code) is wrong.
            let (answered, answeredBody) = try await browser.respond(
                to: decoy, response: try SessionsTests.softToken(decoy), account: 123_456_789, card: 23)
            Self.expectABNError(answered, answeredBody, status: .forbidden, key: "MESSAGE_WRONG_RESPONSE")
            #expect(try await browser.request(.get, "/session").0.status == .unauthorized)
        }
    }

    /// What a login-guessing client observes of one account/card: each challenge's attempts
    /// left, each wrong answer's status and text, until the challenge itself is refused.
    static func observe(
        _ browser: inout CookieClient, account: String, card: String = "23", tool: String = "SOFTTOKEN", deviceIndex: Int? = nil
    ) async throws -> [String] {
        var seen: [String] = []
        for _ in 0..<4 {
            var uri = "/session/loginchallenge?accountNumber=\(account)&cardNumber=\(card)&accessToolUsage=\(tool)"
            if let deviceIndex { uri += "&boundDeviceIndexNumber=\(deviceIndex)" }
            let (issued, body) = try await browser.request(.get, uri)
            guard issued.status == .ok, let challenge = body["loginChallenge"] as? [String: Any] else {
                seen.append("challenge \(issued.status.code) \(SessionsTests.detail(body))")
                break
            }
            seen.append(
                "challenge attemptsLeft=\(challenge["attemptsLeft"] as? Int ?? -1) handle=\((challenge["challengeHandle"] as? String)?.count ?? 0)")
            let (answered, answeredBody) = try await browser.respond(
                to: challenge, response: "00", account: Int(account)!, card: Int(card)!, tool: tool)
            seen.append("answer \(answered.status.code) \(SessionsTests.detail(answeredBody))")
            let (replayed, replayedBody) = try await browser.respond(
                to: challenge, response: "00", account: Int(account)!, card: Int(card)!, tool: tool)
            seen.append("replay \(replayed.status.code) \(SessionsTests.detail(replayedBody))")
        }
        return seen
    }

    @Test("an unknown account's wrong answers count down and block it exactly as a known account's do")
    func decoyAttemptsCountDown() async throws {
        try await SessionsTests.withLoginUser { _, known in
            var unknown = known
            unknown.cookie = nil
            let real = try await Self.observe(&known, account: "562813888")
            let decoy = try await Self.observe(&unknown, account: "123456789")
            #expect(real.count == 10 && real.last?.hasPrefix("challenge 423") == true, "\(real)")
            #expect(decoy == real)
            // A blocked decoy stays blocked for a new browser too (the count is the account's, not the session's).
            var other = unknown
            other.cookie = nil
            _ = try await other.challenge(account: "123456789", expect: .init(code: 423))
        }
    }

    @Test("a known user without the access tool (no identification code, no such bound device) is answered as an unknown account")
    func knownWithoutToolLooksUnknown() async throws {
        try await TestServer.with { server in
            _ = try await server.runtime.sessions.createUser(
                username: "alice", password: "correct horse", phone: "+4915112345678", email: nil, accountNumber: "562813888",
                cardNumber: "23", identificationCode: nil, actor: "test")
            try await server.test { client in
                // The two bound-device usages share one counter (blocked by the second round), for both.
                for (tool, index, opening) in [
                    ("SOFTTOKEN", nil, "challenge attemptsLeft=3"), ("BOUNDDEVICE_USERPIN", 1, "challenge attemptsLeft=3"),
                    ("BOUNDDEVICE_TOUCHIDPIN", 3, "challenge 423"),
                ] as [(String, Int?, String)] {
                    var first = CookieClient(client)
                    var second = CookieClient(client)
                    let known = try await Self.observe(&first, account: "562813888", tool: tool, deviceIndex: index)
                    let unknown = try await Self.observe(&second, account: "123456789", tool: tool, deviceIndex: index)
                    #expect(known.first?.hasPrefix(opening) == true, "\(tool): \(known)")
                    #expect(known == unknown, "\(tool)")
                }
            }
        }
    }

    @Test("decoy challenges store nothing: many of them leave no challenge rows; a made-up handle is closed as for a known account")
    func decoysAreStateless() async throws {
        try await SessionsTests.withLoginUser { server, browser in
            for _ in 0..<5 { _ = try await browser.challenge(account: "123456789") }
            let far = Date().addingTimeInterval(86_400 * 365)
            // Only the browser's one anonymous session is left to purge, no challenge row.
            #expect(try await server.runtime.store.purgeLoginState(idleCutoff: far, at: far) == 1)

            let decoy = try await browser.challenge(account: "123456789")
            var forged = decoy
            let handle = try #require(decoy["challengeHandle"] as? String)
            forged["challengeHandle"] = String(handle.dropLast()) + (handle.last == "1" ? "2" : "1")
            let (made, madeBody) = try await browser.respond(to: forged, response: "00", account: 123_456_789, card: 23)
            Self.expectABNError(made, madeBody, status: .conflict, key: "MESSAGE_CHALLENGE_CLOSED")
            let real = try await browser.challenge()
            let realHandle = try #require(real["challengeHandle"] as? String)
            // Another last digit (a fixed "0" was the real handle itself one time in ten).
            forged["challengeHandle"] = String(realHandle.dropLast()) + (realHandle.last == "0" ? "1" : "0")
            let (madeKnown, madeKnownBody) = try await browser.respond(to: forged, response: "00")
            Self.expectABNError(madeKnown, madeKnownBody, status: .conflict, key: "MESSAGE_CHALLENGE_CLOSED")
            // The decoy itself is still answered as a wrong answer, from another browser's session it is closed.
            var stranger = browser
            stranger.cookie = nil
            _ = try await stranger.challenge()
            let (foreign, foreignBody) = try await stranger.respond(to: decoy, response: "00", account: 123_456_789, card: 23)
            Self.expectABNError(foreign, foreignBody, status: .conflict, key: "MESSAGE_CHALLENGE_CLOSED")
            let (wrong, wrongBody) = try await browser.respond(to: decoy, response: "00", account: 123_456_789, card: 23)
            Self.expectABNError(wrong, wrongBody, status: .forbidden, key: "MESSAGE_WRONG_RESPONSE")
        }
    }
}
