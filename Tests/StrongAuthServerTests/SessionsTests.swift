import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// A browser-like client of the session face: keeps the session cookie the server sets and
/// sends it back, like `requests.Session` in the published Python clients.
struct CookieClient {
    let client: any TestClientProtocol
    var cookie: String?
    /// The `Set-Cookie` of the last response that had one.
    var lastSetCookie: String?

    init(_ client: any TestClientProtocol) { self.client = client }

    @discardableResult
    mutating func request(
        _ method: HTTPRequest.Method, _ uri: String, json: [String: Any]? = nil, rawBody: String? = nil,
        contentType: String = "application/json"
    ) async throws -> (TestResponse, [String: Any]) {
        var headers = HTTPFields()
        if let cookie { headers[.cookie] = "\(SessionsTests.cookieName)=\(cookie)" }
        headers[HTTPField.Name("x-aab-serviceversion")!] = "v4"
        var body: ByteBuffer?
        if let json { body = ByteBuffer(data: try JSONSerialization.data(withJSONObject: json)) }
        if let rawBody { body = ByteBuffer(string: rawBody) }
        if body != nil { headers[.contentType] = contentType }
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
        #expect(response.status.code < 500, "\(method) \(uri) → \(response.status)")
        if let setCookie = response.headers[.setCookie] {
            lastSetCookie = setCookie
            let pair = setCookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            cookie = pair.count == 2 && !pair[1].isEmpty ? String(pair[1]) : nil
        }
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
        return (response, json)
    }

    /// `GET /session/loginchallenge`; returns the `loginChallenge` object.
    mutating func challenge(
        account: String = "562813888", card: String = "23", tool: String = "SOFTTOKEN", deviceIndex: Int? = nil,
        expect status: HTTPResponse.Status = .ok
    ) async throws -> [String: Any] {
        var uri = "/session/loginchallenge?accountNumber=\(account)&cardNumber=\(card)&accessToolUsage=\(tool)"
        if let deviceIndex { uri += "&boundDeviceIndexNumber=\(deviceIndex)" }
        let (response, body) = try await request(.get, uri)
        #expect(response.status == status, "\(body)")
        return body["loginChallenge"] as? [String: Any] ?? body
    }

    /// `PUT /session/loginresponse` with the published clients' field types (numbers for
    /// account and card, as djc/abna sends them).
    mutating func respond(
        to challenge: [String: Any], response: String, account: Any = 562_813_888, card: Any = 23, tool: String = "SOFTTOKEN"
    ) async throws -> (TestResponse, [String: Any]) {
        try await request(
            .put, "/session/loginresponse",
            json: [
                "accountNumber": account, "cardNumber": card, "challengeHandle": challenge["challengeHandle"] ?? "",
                "response": response, "accessToolUsage": tool, "challengeDeviceDetails": challenge["challengeDeviceDetails"] ?? "",
                "appId": "SIMPLE_BANKING", "boundDeviceIndexNumber": 0, "isJailbrokenRooted": false, "isBound": false, "imei": "",
                "telephoneNo": "",
            ])
    }
}

@Suite("Challenge-response sessions (ABN AMRO)")
struct SessionsTests {
    static let cookieName = "strongauth_session"
    static let code = "12345"

    /// The soft token, written from the public description: decode the challenge's fields,
    /// encrypt {1: "1", 2, 3, 8: userId, 9: code} under its modulus and exponent.
    static func softToken(_ challenge: [String: Any], code: String = code) throws -> String {
        let bytes = try Self.bytes(of: challenge)
        // A scenario challenge's answer contains the scenario's hash (the client's own; here the stated one).
        return Hex.encode(
            try SoftTokenScheme.respond(
                toChallenge: bytes, userID: try #require(challenge["userId"] as? String), identificationCode: code,
                scenarioHash: (challenge["scenarioHash"] as? String).flatMap { Hex.decode($0) }))
    }

    static func withLoginUser(
        _ body: @escaping @Sendable (TestServer, inout CookieClient) async throws -> Void
    ) async throws {
        try await TestServer.with { server in
            _ = try await server.runtime.sessions.createUser(
                username: "bob", password: "correct horse", phone: "+4915112345678", email: nil, accountNumber: "0562813888",
                cardNumber: "23", identificationCode: code, actor: "test")
            try await server.test { client in
                var browser = CookieClient(client)
                try await body(server, &browser)
            }
        }
    }

    /// Logs in with the soft token; returns the session object.
    static func login(_ browser: inout CookieClient) async throws -> [String: Any] {
        let challenge = try await browser.challenge()
        let (response, body) = try await browser.respond(to: challenge, response: try softToken(challenge))
        #expect(response.status == .ok, "\(body)")
        return try #require(body["session"] as? [String: Any])
    }

    /// The challenge bytes of a challenge object.
    static func bytes(of challenge: [String: Any]) throws -> [UInt8] {
        let hex = try #require(challenge["challenge"] as? String)
        return try #require(Hex.decode(hex))
    }

    /// The text of the face's error (`messages[0].messageText`, the ABN AMRO API's shape).
    static func detail(_ body: [String: Any]) -> String {
        ((body["messages"] as? [[String: Any]])?.first?["messageText"] as? String) ?? ""
    }

    @Test("SOFTTOKEN: the ABN AMRO API's challenge, a client written from the public scheme logs in, the cookie session is authorized")
    func softTokenLogin() async throws {
        try await Self.withLoginUser { server, browser in
            let (before, _) = try await browser.request(.get, "/session")
            #expect(before.status == .unauthorized)

            let challenge = try await browser.challenge()
            #expect(challenge["userId"] as? String == "0562813888_23")
            #expect(challenge["attemptsLeft"] as? Int == 3)
            #expect(challenge["challengeDeviceDetails"] as? String == "/schemes/ATT_5_55/CH_1")
            for field in ["eigChallenge", "eigChallengeHandle", "eigChallengeDeviceDetails", "eigType"] {
                #expect(challenge[field] is NSNull, "\(field) must be present and null")
            }
            let handle = try #require(challenge["challengeHandle"] as? String)
            let numeric = handle.allSatisfy { $0.isNumber }
            #expect(numeric)
            let fields = try LoginTLV.decode(try Self.bytes(of: challenge))
            #expect(fields[2]?.count == 8)
            #expect(fields[3]?.count == 4)
            #expect(fields[4]?.count == 256)
            #expect(fields[5] == [0x01, 0x00, 0x01])
            #expect(Set(fields.keys) == [2, 3, 4, 5])
            let setCookie = try #require(browser.lastSetCookie)
            for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] { #expect(setCookie.contains(attribute), "\(setCookie)") }
            let anonymousCookie = try #require(browser.cookie)
            let (anonymous, _) = try await browser.request(.get, "/session")
            #expect(anonymous.status == .unauthorized)

            let (answered, body) = try await browser.respond(to: challenge, response: try Self.softToken(challenge))
            #expect(answered.status == .ok, "\(body)")
            let session = try #require(body["session"] as? [String: Any])
            let lastLogon = try #require(session["lastLogonDate"] as? Int64)
            #expect(lastLogon % 60_000 == 0)
            #expect(abs(lastLogon - server.time.now().epochMilliseconds) < 60_000)
            #expect(session["deviceType"] as? String == "SOFTTOKEN")
            #expect(session["selectedCustomer"] is NSNull)
            #expect(session["connectionType"] as? String == "ENDTOEND")
            #expect((session["representative"] as? [String: Any])?["reference"] as? String == session["representedCustomer"] as? String)
            // The token was rotated at login (session fixation): the anonymous cookie is dead.
            #expect(browser.cookie != anonymousCookie)
            let (current, summary) = try await browser.request(.get, "/session")
            #expect(current.status == .ok)
            #expect((summary["session"] as? [String: Any])?["lastLogonDate"] as? Int64 == lastLogon)
            var stale = browser
            stale.cookie = anonymousCookie
            #expect(try await stale.request(.get, "/session").0.status == .unauthorized)

            // The next logon reports this one.
            server.time.advance(by: 3600)
            var second = CookieClient(browser.client)
            let again = try await Self.login(&second)
            #expect(again["lastLogonDate"] as? Int64 == lastLogon)

            let events = try await server.runtime.store.auditEvents(after: 0, limit: 100)
            #expect(events.filter { $0.record.action.rawValue == "session.login" && $0.record.outcome == .success }.count == 2)
            #expect(!events.contains { $0.record.details.values.contains(Self.code) })
        }
    }

    @Test("wrong identification codes count 3 → 2 → 1 → 0, then the tool is blocked even for the right code, until an operator unblocks it")
    func wrongCodesBlock() async throws {
        try await Self.withLoginUser { server, browser in
            var challenges: [[String: Any]] = []
            for _ in 0..<4 { challenges.append(try await browser.challenge()) }
            for (index, expected) in [2, 1, 0].enumerated() {
                let (wrong, body) = try await browser.respond(to: challenges[index], response: try Self.softToken(challenges[index], code: "54321"))
                #expect(wrong.status == .forbidden)
                #expect(Self.detail(body).contains("\(expected) attempts left"), "\(body)")
                if expected > 0 { #expect(try await browser.challenge()["attemptsLeft"] as? Int == expected) }
            }
            let (blocked, body) = try await browser.respond(to: challenges[3], response: try Self.softToken(challenges[3]))
            #expect(blocked.status.code == 423, "\(body)")
            #expect(try await browser.request(.get, "/session").0.status == .unauthorized)
            _ = try await browser.challenge(expect: HTTPResponse.Status(code: 423))
            let events = try await server.runtime.store.auditEvents(after: 0, limit: 100)
            #expect(events.filter { $0.record.action.rawValue == "session.access_tool.blocked" }.count == 1)
            #expect(events.filter { $0.record.action.rawValue == "session.login" && $0.record.outcome == .failure }.count == 4)

            let unblocked = try await server.runtime.sessions.unblockAccessTool(
                accountNumber: "562813888", cardNumber: "023", tool: .softToken, actor: "test")
            #expect(unblocked.attemptsLeft == 3)
            #expect(try await browser.challenge()["attemptsLeft"] as? Int == 3)
            _ = try await Self.login(&browser)
        }
    }

    @Test("a challenge handle answers once and expires; replays and stale handles are refused without counting")
    func replayAndExpiry() async throws {
        try await Self.withLoginUser { server, browser in
            let challenge = try await browser.challenge()
            let response = try Self.softToken(challenge)
            #expect(try await browser.respond(to: challenge, response: response).0.status == .ok)
            let (replayed, body) = try await browser.respond(to: challenge, response: response)
            #expect(replayed.status == .conflict, "\(body)")

            // Another session cannot answer this session's challenge.
            var other = CookieClient(browser.client)
            let foreign = try await browser.challenge()
            _ = try await other.challenge()
            #expect(try await other.respond(to: foreign, response: try Self.softToken(foreign)).0.status == .conflict)

            // Expiry (2 minutes).
            var late = CookieClient(browser.client)
            let expiring = try await late.challenge()
            server.time.advance(by: 121)
            #expect(try await late.respond(to: expiring, response: try Self.softToken(expiring)).0.status == .conflict)
            #expect(try await late.challenge()["attemptsLeft"] as? Int == 3, "replays and expiry are not counted")
        }
    }

    @Test("a session ends after 5 minutes idle (sliding) and on DELETE /session")
    func idleAndDelete() async throws {
        try await Self.withLoginUser { server, browser in
            _ = try await Self.login(&browser)
            for _ in 0..<3 {
                server.time.advance(by: 299)
                #expect(try await browser.request(.get, "/session").0.status == .ok)
            }
            server.time.advance(by: 300)
            #expect(try await browser.request(.get, "/session").0.status == .unauthorized)
            #expect(try await browser.request(.delete, "/session").0.status == .unauthorized)

            var fresh = CookieClient(browser.client)
            _ = try await Self.login(&fresh)
            let cookie = fresh.cookie
            let (deleted, _) = try await fresh.request(.delete, "/session")
            #expect(deleted.status == .noContent)
            #expect(fresh.lastSetCookie?.contains("Max-Age=0") == true)
            fresh.cookie = cookie
            #expect(try await fresh.request(.get, "/session").0.status == .unauthorized)
            #expect(try await fresh.request(.delete, "/session").0.status == .unauthorized)
            #expect(try await server.runtime.sessions.purgeExpired() >= 2)
        }
    }

    @Test("scenario step-up: the signing method, a challenge for exactly this payee, other data refused, the same data signs")
    func scenarioStepUp() async throws {
        try await Self.withLoginUser { server, browser in
            let payee: [String: Any] = ["iban": "NL02ABNA0123456789", "name": "Alice", "limit": 250]
            #expect(
                try await browser.request(.post, "/usertokens/session/scenariochallenge", json: ["scenarioName": "ADD_PAYEE", "scenarioData": payee])
                    .0.status == .unauthorized)
            _ = try await Self.login(&browser)

            let (methodResponse, method) = try await browser.request(
                .post, "/usertokens/session/scenariosigningmethod", json: ["scenarioName": "ADD_PAYEE"])
            #expect(methodResponse.status == .ok)
            let signing = try #require(method["scenarioSigningMethod"] as? [String: Any])
            #expect(signing["accessToolUsage"] as? String == "SOFTTOKEN")
            #expect(signing["boundDeviceIndexNumber"] is NSNull)

            let (_, first) = try await browser.request(
                .post, "/usertokens/session/scenariochallenge", json: ["scenarioName": "ADD_PAYEE", "scenarioData": payee])
            let challenge = try #require(first["scenarioChallenge"] as? [String: Any])
            var changed = payee
            changed["iban"] = "NL91ABNA0417164300"
            let (mismatch, mismatchBody) = try await browser.request(
                .post, "/usertokens/session/scenarioresponse",
                json: [
                    "scenarioName": "ADD_PAYEE", "scenarioData": changed, "challengeHandle": challenge["challengeHandle"] ?? "",
                    "response": try Self.softToken(challenge),
                ])
            #expect(mismatch.status == .conflict, "\(mismatchBody)")

            let (_, second) = try await browser.request(
                .post, "/usertokens/session/scenariochallenge", json: ["scenarioName": "ADD_PAYEE", "scenarioData": payee])
            let again = try #require(second["scenarioChallenge"] as? [String: Any])
            let (wrong, wrongBody) = try await browser.request(
                .post, "/usertokens/session/scenarioresponse",
                json: [
                    "scenarioName": "ADD_PAYEE", "scenarioData": payee, "challengeHandle": again["challengeHandle"] ?? "",
                    "response": try Self.softToken(again, code: "00000"),
                ])
            #expect(wrong.status == .forbidden)
            #expect(Self.detail(wrongBody).contains("2 attempts left"))

            let (_, third) = try await browser.request(
                .post, "/usertokens/session/scenariochallenge", json: ["scenarioName": "ADD_PAYEE", "scenarioData": payee])
            let last = try #require(third["scenarioChallenge"] as? [String: Any])
            #expect(last["attemptsLeft"] as? Int == 2)
            // The same payee with its keys in another order is the same scenario (canonical JSON).
            let reordered =
                "{\"scenarioData\": {\"limit\": 250, \"name\": \"Alice\", \"iban\": \"NL02ABNA0123456789\"}, \"scenarioName\": \"ADD_PAYEE\", "
                + "\"challengeHandle\": \"\(last["challengeHandle"] ?? "")\", \"response\": \"\(try Self.softToken(last))\"}"
            let (signed, signedBody) = try await browser.request(.post, "/usertokens/session/scenarioresponse", rawBody: reordered)
            #expect(signed.status == .ok, "\(signedBody)")
            let result = try #require(signedBody["scenarioResponse"] as? [String: Any])
            #expect(result["status"] as? String == "SIGNED")
            #expect(result["scenarioHash"] as? String == last["scenarioHash"] as? String)
            #expect(try await browser.challenge()["attemptsLeft"] as? Int == 3, "a success gives the tool its attempts back")
            let events = try await server.runtime.store.auditEvents(after: 0, limit: 100)
            #expect(events.contains { $0.record.action.rawValue == "session.scenario" && $0.record.outcome == .success })
        }
    }

    @Test(
        "SOFTTOKEN scenario: the challenge carries the scenario's hash (field 10) and an answer that does not contain it — a login-shaped answer — is refused"
    )
    func softTokenScenarioAnswerCoversTheData() async throws {
        try await Self.withLoginUser { server, browser in
            _ = try await Self.login(&browser)
            let payee: [String: Any] = ["iban": "NL02ABNA0123456789", "name": "Mallory"]
            let (_, issued) = try await browser.request(
                .post, "/usertokens/session/scenariochallenge", json: ["scenarioName": "ADD_PAYEE", "scenarioData": payee])
            let challenge = try #require(issued["scenarioChallenge"] as? [String: Any])
            let fields = try LoginTLV.decode(try Self.bytes(of: challenge))
            #expect(fields[10].map { Hex.encode($0) } == challenge["scenarioHash"] as? String, "the challenge names the scenario")

            // The answer a login client computes (the same nonces, user and code, no field 10):
            // it proves the code, but not which data it approves.
            let loginShaped = try LoginTLV.encode([2, 3, 4, 5].map { (UInt8($0), try #require(fields[UInt8($0)])) })
            let answer = Hex.encode(
                try SoftTokenScheme.respond(
                    toChallenge: loginShaped, userID: try #require(challenge["userId"] as? String), identificationCode: Self.code))
            let (refused, body) = try await browser.request(
                .post, "/usertokens/session/scenarioresponse",
                json: ["scenarioName": "ADD_PAYEE", "scenarioData": payee, "challengeHandle": challenge["challengeHandle"] ?? "", "response": answer])
            #expect(refused.status == .forbidden, "\(body)")
            let events = try await server.runtime.store.auditEvents(after: 0, limit: 100)
            #expect(!events.contains { $0.record.action.rawValue == "session.scenario" && $0.record.outcome == .success })
        }
    }

    @Test("BOUNDDEVICE: a device bound through the Kontist face signs the login and a scenario; its counter is its own")
    func boundDeviceLogin() async throws {
        try await TestServer.with { server in
            let basic = HTTP.basic("shop", try await server.createClient())
            _ = try await server.runtime.sessions.createUser(
                username: "alice", password: "correct horse", phone: "+4915112345678", email: nil, accountNumber: "562813888",
                cardNumber: "23", identificationCode: nil, actor: "test")
            try await server.test { client in
                let (_, tokens) = try await client.token(
                    [("grant_type", "password"), ("username", "alice"), ("password", "correct horse")], basic: basic)
                let phone = TestPhone()
                _ = try await DevicesTests.bind(phone, server: server, client: client, token: try #require(tokens["access_token"] as? String))

                var browser = CookieClient(client)
                // No identification code, no device number 2: answered as an unknown account is (a
                // decoy challenge; AbuseResistanceTests.knownWithoutToolLooksUnknown).
                _ = try await browser.challenge(expect: .ok)
                _ = try await browser.challenge(tool: "BOUNDDEVICE_USERPIN", expect: .badRequest)
                _ = try await browser.challenge(tool: "BOUNDDEVICE_USERPIN", deviceIndex: 2, expect: .ok)

                func sign(_ challenge: [String: Any], with key: P256.Signing.PrivateKey = phone.key) throws -> String {
                    let bytes = try Self.bytes(of: challenge)
                    return Hex.encode(try key.signature(for: bytes).derRepresentation)
                }
                let challenge = try await browser.challenge(tool: "BOUNDDEVICE_USERPIN", deviceIndex: 1)
                #expect(challenge["challengeDeviceDetails"] as? String == "/schemes/ATT_9_62/CH_1")
                let fields = try LoginTLV.decode(try Self.bytes(of: challenge))
                #expect(fields[1] == Array("1".utf8))
                #expect(fields[8] == Array("0562813888_23".utf8))

                let stranger = try await browser.challenge(tool: "BOUNDDEVICE_USERPIN", deviceIndex: 1)
                let (wrong, wrongBody) = try await browser.respond(
                    to: stranger, response: try sign(stranger, with: P256.Signing.PrivateKey()), tool: "BOUNDDEVICE_USERPIN")
                #expect(wrong.status == .forbidden, "\(wrongBody)")
                let alice = try #require(try await server.runtime.store.user(realm: "default", username: "alice"))
                #expect(try await server.runtime.store.loginAttemptsLeft(userID: alice.id, tool: .boundDevice) == 2)
                #expect(try await server.runtime.store.loginAttemptsLeft(userID: alice.id, tool: .softToken) == 3)

                // The answer must name the tool it was challenged with.
                let (otherTool, _) = try await browser.respond(to: challenge, response: try sign(challenge), tool: "BOUNDDEVICE_TOUCHIDPIN")
                #expect(otherTool.status == .badRequest)
                let (answered, body) = try await browser.respond(to: challenge, response: try sign(challenge), tool: "BOUNDDEVICE_USERPIN")
                #expect(answered.status == .ok, "\(body)")
                #expect((body["session"] as? [String: Any])?["deviceType"] as? String == "BOUNDDEVICE_USERPIN")

                let (_, method) = try await browser.request(.post, "/usertokens/session/scenariosigningmethod", json: ["scenarioName": "ADD_PAYEE"])
                #expect((method["scenarioSigningMethod"] as? [String: Any])?["boundDeviceIndexNumber"] as? Int == 1)
                let payee = ["iban": "NL02ABNA0123456789", "name": "Carol"]
                let (_, issued) = try await browser.request(
                    .post, "/usertokens/session/scenariochallenge", json: ["scenarioName": "ADD_PAYEE", "scenarioData": payee])
                let scenario = try #require(issued["scenarioChallenge"] as? [String: Any])
                let scenarioFields = try LoginTLV.decode(try Self.bytes(of: scenario))
                #expect(scenarioFields[1] == Array("2".utf8))
                #expect(scenarioFields[10].map(Hex.encode) == scenario["scenarioHash"] as? String)
                // A login signature cannot sign a scenario: only a signature over this challenge does.
                let (signed, signedBody) = try await browser.request(
                    .post, "/usertokens/session/scenarioresponse",
                    json: [
                        "scenarioName": "ADD_PAYEE", "scenarioData": payee, "challengeHandle": scenario["challengeHandle"] ?? "",
                        "response": try sign(scenario),
                    ])
                #expect(signed.status == .ok, "\(signedBody)")
            }
        }
    }

    @Test("session handover: inside an authorized session, a challenge for the same user re-authorizes it with a new cookie")
    func handover() async throws {
        try await Self.withLoginUser { server, browser in
            #expect(try await browser.request(.get, "/session/sessionhandoverchallenge?accessToolUsage=SOFTTOKEN").0.status == .unauthorized)
            _ = try await Self.login(&browser)
            let before = browser.cookie
            let (issued, body) = try await browser.request(.get, "/session/sessionhandoverchallenge?accessToolUsage=SOFTTOKEN")
            #expect(issued.status == .ok)
            let challenge = try #require(body["loginChallenge"] as? [String: Any])
            #expect(challenge["userId"] as? String == "0562813888_23")
            #expect(try await browser.respond(to: challenge, response: try Self.softToken(challenge)).0.status == .ok)
            #expect(browser.cookie != before)
            #expect(try await browser.request(.get, "/session").0.status == .ok)
        }
    }

    @Test("bad input gets a 4xx in the face's error shape, never a 5xx")
    func badInput() async throws {
        try await Self.withLoginUser { server, browser in
            let (missing, missingBody) = try await browser.request(.get, "/session/loginchallenge?accountNumber=562813888")
            #expect(missing.status == .badRequest)
            #expect(missing.headers[.contentType] == "application/json")
            #expect((missingBody["messages"] as? [[String: Any]])?.first?["messageType"] as? String == "ERROR")
            _ = try await browser.challenge(account: "56281388x", expect: .badRequest)
            _ = try await browser.challenge(account: "12345678901", expect: .badRequest)
            _ = try await browser.challenge(card: "-1", expect: .badRequest)
            _ = try await browser.challenge(tool: "EDENTIFIER1", expect: .badRequest)
            // An unknown account gets a (decoy) challenge like a known one (AbuseResistanceTests).
            _ = try await browser.challenge(account: "123456789", expect: .ok)

            // No cookie: no session to authorize.
            let challenge = try await browser.challenge()
            var cookieless = browser
            cookieless.cookie = nil
            #expect(try await cookieless.respond(to: challenge, response: try Self.softToken(challenge)).0.status == .unauthorized)
            cookieless.cookie = "sa_ss_forged"
            #expect(try await cookieless.respond(to: challenge, response: try Self.softToken(challenge)).0.status == .unauthorized)

            #expect(try await browser.respond(to: challenge, response: "not hex").0.status == .badRequest)
            #expect(try await browser.respond(to: challenge, response: String(repeating: "ab", count: 2000)).0.status == .badRequest)
            #expect(try await browser.respond(to: challenge, response: try Self.softToken(challenge), account: true).0.status == .badRequest)
            #expect(try await browser.respond(to: challenge, response: try Self.softToken(challenge), account: 999).0.status == .badRequest)
            #expect(try await browser.request(.put, "/session/loginresponse", rawBody: "{not json").0.status == .badRequest)
            #expect(
                try await browser.request(.put, "/session/loginresponse", rawBody: "a=b", contentType: "application/x-www-form-urlencoded").0.status
                    == .unsupportedMediaType)
            #expect(
                try await browser.request(.put, "/session/loginresponse", rawBody: String(repeating: " ", count: 70_000)).0.status == .contentTooLarge
            )
            // Random bytes, a short ciphertext, a ciphertext of other data: a wrong answer like any other (no padding oracle).
            #expect(try await browser.respond(to: challenge, response: Hex.encode(SecureRandom.bytes(256))).0.status == .forbidden)
            let (short, shortBody) = try await browser.respond(to: try await browser.challenge(), response: "00")
            #expect(short.status == .forbidden)
            #expect(Self.detail(shortBody).contains("attempts left"))
            #expect(
                try await browser.request(.post, "/usertokens/session/scenariochallenge", json: ["scenarioName": "bad name!"]).0.status == .badRequest
            )
            #expect(try await browser.request(.post, "/usertokens/session/scenariosigningmethod", json: ["scenarioName": 5]).0.status == .badRequest)
            _ = server
        }
    }
}
