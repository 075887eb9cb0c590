import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import StrongAuthCore
import Testing

/// The sensitive actions of the policy table that an OAuth-token face offers, and how a test
/// performs each with a given token.
enum TwoFactorRoute: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case removeDevice
    case approveDevice
    case deleteAccount

    var testDescription: String { rawValue }

    var action: SensitiveAction {
        switch self {
        case .removeDevice: .removeDevice
        case .approveDevice: .approveDevice
        case .deleteAccount: .deleteAccount
        }
    }
}

@Suite("Assurance levels and step-up (RFC 9470 on the Kontist devices and finAPI users faces)")
struct AssuranceTests {
    static let stepUp =
        #"Bearer error="insufficient_user_authentication", error_description="This action needs two-factor authentication within the last 300 seconds.", acr_values="urn:strongauth:acr:2fa", max_age=300"#

    /// A user with a bound device, the password (1fa) token and a fresh confirmed (2fa) token.
    struct Bound: Sendable {
        let server: TestServer
        let client: any TestClientProtocol
        let basic: String
        let passwordToken: String
        let phone: TestPhone
        let deviceID: String
    }

    static func withBoundDevice(
        _ overrides: [String: ConfigContent] = [:], _ body: @escaping @Sendable (Bound) async throws -> Void
    ) async throws {
        try await DevicesTests.withUserToken(overrides) { server, client, token, basic in
            let phone = TestPhone()
            let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
            try await body(Bound(server: server, client: client, basic: basic, passwordToken: token, phone: phone, deviceID: deviceID))
        }
    }

    /// Signs a device challenge: the confirmed access token and its refresh token.
    static func confirm(_ bound: Bound, deviceID: String? = nil, phone: TestPhone? = nil) async throws -> (access: String, refresh: String) {
        let deviceID = deviceID ?? bound.deviceID
        let phone = phone ?? bound.phone
        let (_, challenge) = try await bound.client.postJSON("/api/user/devices/\(deviceID)/challenges", token: bound.passwordToken)
        let challengeID = try #require(challenge["id"] as? String)
        let stringToSign = try #require(challenge["stringToSign"] as? String)
        let (verified, confirmed) = try await bound.client.postJSON(
            "/api/user/devices/\(deviceID)/challenges/\(challengeID)/verify", token: bound.passwordToken,
            ["signature": try phone.signDER(stringToSign)])
        #expect(verified.status == .ok)
        return (try #require(confirmed["token"] as? String), try #require(confirmed["refresh_token"] as? String))
    }

    /// Binds a new first device for the user behind `token` and signs a challenge with it: a
    /// fresh confirmed (two-factor) access token and its refresh token.
    static func twoFactorToken(server: TestServer, client: any TestClientProtocol, token: String) async throws
        -> (access: String, refresh: String, deviceID: String)
    {
        let phone = TestPhone()
        let deviceID = try await DevicesTests.bind(phone, server: server, client: client, token: token)
        let (_, challenge) = try await client.postJSON("/api/user/devices/\(deviceID)/challenges", token: token)
        let challengeID = try #require(challenge["id"] as? String)
        let (_, confirmed) = try await client.postJSON(
            "/api/user/devices/\(deviceID)/challenges/\(challengeID)/verify", token: token,
            ["signature": try phone.signDER(try #require(challenge["stringToSign"] as? String))])
        return (try #require(confirmed["token"] as? String), try #require(confirmed["refresh_token"] as? String), deviceID)
    }

    /// Performs `route` with `token`; returns the response. `approveDevice` first creates a
    /// second device waiting in PENDING_COMMIT for the bound one's approval.
    static func perform(_ route: TwoFactorRoute, _ bound: Bound, token: String) async throws -> TestResponse {
        switch route {
        case .removeDevice:
            return try await bound.client.executeRequest(
                uri: "/api/user/devices/\(bound.deviceID)", method: .delete, headers: HTTP.bearer(token), body: nil)
        case .approveDevice:
            let newPhone = TestPhone()
            let newID = try await DevicesTests.bind(newPhone, server: bound.server, client: bound.client, token: bound.passwordToken)
            let signature = try bound.phone.signDER(DeviceService.approvalMessage(deviceID: newID, publicKeyHex: newPhone.publicKeyHex))
            let (response, _) = try await bound.client.postJSON(
                "/api/user/devices/\(newID)/approve", token: token, ["approverDeviceId": bound.deviceID, "signature": signature])
            return response
        case .deleteAccount:
            return try await bound.client.executeRequest(uri: "/api/v2/users", method: .delete, headers: HTTP.bearer(token), body: nil)
        }
    }

    static func expectStepUp(_ response: TestResponse) throws {
        #expect(response.status == .unauthorized)
        #expect(response.headers[.wwwAuthenticate] == stepUp)
        #expect(response.headers[.contentType] == "application/problem+json")
        let problem = try HTTP.json(response.body)
        #expect(problem["status"] as? Int == 401)
    }

    @Test("the policy table: 2fa within max_age for the sensitive actions, 1fa for blocking and the first binding")
    func policyTable() {
        let policy = AssurancePolicy(maxAge: 300)
        let now = Date(timeIntervalSince1970: 2_000_000_000)
        for action in SensitiveAction.allCases {
            let requirement = policy.requirement(for: action)
            switch action {
            case .removeDevice, .approveDevice, .deleteAccount, .changePhoneNumber, .changePassword:
                #expect(requirement == AssuranceRequirement(level: .twoFactor, maxAge: 300))
                #expect(!requirement.isSatisfied(acr: "urn:strongauth:acr:1fa", authTime: now, now: now))
                #expect(!requirement.isSatisfied(acr: nil, authTime: now, now: now))
                #expect(!requirement.isSatisfied(acr: "urn:strongauth:acr:2fa", authTime: nil, now: now))
                #expect(!requirement.isSatisfied(acr: "urn:strongauth:acr:2fa", authTime: now.addingTimeInterval(-301), now: now))
                #expect(requirement.isSatisfied(acr: "urn:strongauth:acr:2fa", authTime: now.addingTimeInterval(-300), now: now))
            case .blockDevice, .bindFirstDevice:
                #expect(requirement == AssuranceRequirement(level: .oneFactor))
                #expect(requirement.isSatisfied(acr: "urn:strongauth:acr:1fa", authTime: nil, now: now))
                #expect(!requirement.isSatisfied(acr: "urn:other", authTime: now, now: now))
            }
        }
        #expect(policy.freshTwoFactor.challenge == Self.stepUp)
    }

    @Test("user tokens carry acr and auth_time; a refresh keeps the original auth_time")
    func tokensCarryAuthTime() async throws {
        try await Self.withBoundDevice { bound in
            let password = try await bound.server.runtime.signer.verify(bound.passwordToken)
            #expect(password.acr == "urn:strongauth:acr:1fa")
            let passwordAuthTime = try #require(password.authTime)
            #expect(passwordAuthTime == password.iat.value)

            bound.server.time.advance(by: 60)
            let (access, refresh) = try await Self.confirm(bound)
            let confirmed = try await bound.server.runtime.signer.verify(access)
            #expect(confirmed.acr == "urn:strongauth:acr:2fa")
            let confirmedAuthTime = try #require(confirmed.authTime)
            #expect(confirmedAuthTime == passwordAuthTime.addingTimeInterval(60))

            bound.server.time.advance(by: 400)
            let (_, refreshed) = try await bound.client.token(
                [("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: bound.basic)
            let refreshedClaims = try await bound.server.runtime.signer.verify(try #require(refreshed["access_token"] as? String))
            #expect(refreshedClaims.authTime == confirmedAuthTime)
            #expect(refreshedClaims.iat.value == confirmedAuthTime.addingTimeInterval(400))

            let (_, introspection) = try await bound.client.token(
                [("token", try #require(refreshed["access_token"] as? String))], basic: bound.basic, path: "/oauth/introspect")
            #expect(introspection["auth_time"] as? Int == Int(confirmedAuthTime.timeIntervalSince1970))
            #expect(introspection["acr"] as? String == "urn:strongauth:acr:2fa")
        }
    }

    @Test("a password-only token gets the RFC 9470 refusal", arguments: TwoFactorRoute.allCases)
    func oneFactorRefused(_ route: TwoFactorRoute) async throws {
        try await Self.withBoundDevice { bound in
            try Self.expectStepUp(try await Self.perform(route, bound, token: bound.passwordToken))
            // Nothing changed.
            #expect(try await bound.server.runtime.store.device(id: bound.deviceID)?.status == .active)
            #expect(try await bound.server.count("users") == 1)
        }
    }

    @Test("a two-factor token older than max_age gets the RFC 9470 refusal", arguments: TwoFactorRoute.allCases)
    func staleTwoFactorRefused(_ route: TwoFactorRoute) async throws {
        try await Self.withBoundDevice { bound in
            let (access, _) = try await Self.confirm(bound)
            bound.server.time.advance(by: 301)  // the access token (15 minutes) is still live
            try Self.expectStepUp(try await Self.perform(route, bound, token: access))
            #expect(try await bound.server.count("users") == 1)
        }
    }

    @Test("a fresh two-factor token is allowed", arguments: TwoFactorRoute.allCases)
    func freshTwoFactorAllowed(_ route: TwoFactorRoute) async throws {
        try await Self.withBoundDevice { bound in
            let (access, _) = try await Self.confirm(bound)
            bound.server.time.advance(by: 299)
            let response = try await Self.perform(route, bound, token: access)
            switch route {
            case .removeDevice, .approveDevice: #expect(response.status == .noContent)
            case .deleteAccount:
                #expect(response.status == .ok)
                #expect(try await bound.server.count("users") == 0)
            }
        }
    }

    @Test("max_age follows assurance.maxAgeSeconds")
    func configurableMaxAge() async throws {
        try await Self.withBoundDevice(["assurance.maxAgeSeconds": .int(30)]) { bound in
            let (access, _) = try await Self.confirm(bound)
            bound.server.time.advance(by: 31)
            let response = try await Self.perform(.removeDevice, bound, token: access)
            #expect(response.status == .unauthorized)
            #expect(response.headers[.wwwAuthenticate]?.hasSuffix(#"acr_values="urn:strongauth:acr:2fa", max_age=30"#) == true)
        }
    }

    @Test("attack 3: a password-only token can neither remove the bound device nor so bind its own device as ACTIVE")
    func passwordOnlyTakeover() async throws {
        try await Self.withBoundDevice { bound in
            // The attacker has the password (and intercepts SMS), not the phone.
            let removal = try await Self.perform(.removeDevice, bound, token: bound.passwordToken)
            try Self.expectStepUp(removal)
            let attackerPhone = TestPhone()
            let attackerDevice = try await DevicesTests.bind(
                attackerPhone, server: bound.server, client: bound.client, token: bound.passwordToken)
            #expect(try await bound.server.runtime.store.device(id: attackerDevice)?.status == .pendingCommit)
            // Its own (pending) device cannot be removed with one factor either, nor can it approve itself.
            let (approval, _) = try await bound.client.postJSON(
                "/api/user/devices/\(attackerDevice)/approve", token: bound.passwordToken,
                ["approverDeviceId": bound.deviceID, "signature": try attackerPhone.signDER("approve")])
            try Self.expectStepUp(approval)
            #expect(try await bound.server.runtime.store.device(id: attackerDevice)?.status == .pendingCommit)
            let deletion = try await Self.perform(.deleteAccount, bound, token: bound.passwordToken)
            try Self.expectStepUp(deletion)
        }
    }

    @Test("blocking a device revokes its token families: unblocked, its old refresh token stays invalid")
    func blockRevokesFamilies() async throws {
        try await Self.withBoundDevice { bound in
            let (access, refresh) = try await Self.confirm(bound)
            let backOffice = bound.server.runtime.backOffice
            try await backOffice.blockDevice(id: bound.deviceID, realm: "default", reason: "LOST", actor: "user", source: nil)
            try await backOffice.unblockDevice(id: bound.deviceID, realm: "default", actor: "operator:test", source: nil)
            #expect(try await bound.server.runtime.store.device(id: bound.deviceID)?.status == .active)
            let (refused, body) = try await bound.client.token(
                [("grant_type", "refresh_token"), ("refresh_token", refresh)], basic: bound.basic)
            #expect(refused.status == .badRequest)
            #expect(body["error"] as? String == "invalid_grant")
            let (_, introspection) = try await bound.client.token([("token", access)], basic: bound.basic, path: "/oauth/introspect")
            #expect(introspection["active"] as? Bool == false)
            // A new challenge on the unblocked device yields working tokens again.
            let (_, fresh) = try await Self.confirm(bound)
            let (refreshed, _) = try await bound.client.token(
                [("grant_type", "refresh_token"), ("refresh_token", fresh)], basic: bound.basic)
            #expect(refreshed.status == .ok)
        }
    }

    @Test("20 first bindings verified at once: exactly one ACTIVE, the rest PENDING_COMMIT")
    func concurrentFirstBindings() async throws {
        // The binding factor counts answers in flight (10 by default); room for all 20 here, and
        // for 20 binding SMS and unfinished devices (the caps, 5 and 3 by default).
        try await DevicesTests.withUserToken([
            "devices.bindingMaxFailures": .int(50), "sms.otpPerUserPerHour": .int(100), "sms.otpPerPhonePerHour": .int(100),
            "devices.maxPendingPerUser": .int(50),
        ]) { server, client, token, _ in
            var pending: [(id: String, challenge: String, signature: String)] = []
            for _ in 0..<20 {
                let phone = TestPhone()
                let (_, device) = try await client.postJSON("/api/user/devices", token: token, ["name": "Phone", "key": phone.publicKeyHex])
                let deviceID = try #require(device["deviceId"] as? String)
                let challengeID = try #require(device["challengeId"] as? String)
                pending.append((deviceID, challengeID, try phone.signDER(try await server.latestOTP())))
            }
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for binding in pending {
                    group.addTask {
                        let (response, _) = try await client.postJSON(
                            "/api/user/devices/\(binding.id)/verify", token: token,
                            ["challengeId": binding.challenge, "signature": binding.signature])
                        return response.status
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .noContent }, "\(statuses)")
            let devices = try await server.runtime.store.devices(
                userID: try #require(try await server.runtime.store.user(realm: "default", username: "alice")).id)
            #expect(devices.filter { $0.status == .active }.count == 1)
            #expect(devices.filter { $0.status == .pendingCommit }.count == 19)
        }
    }
}
