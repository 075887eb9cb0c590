import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import SQLKit
@testable import StrongAuthCore
import StrongAuthProtocol
import Testing

/// The last cross-realm leaks: across realms nothing is shared, found, counted or told
/// apart — not even for the duration of one request.
@Suite("Realms: nothing counted across realms")
struct RealmLeaksTests {
    /// Realm `bank-b` with its own application and integration user; returns B's Basic credentials.
    static func realmB(_ server: TestServer) async throws -> String {
        try await server.runtime.administration.createRealm(id: "bank-b", actor: "test")
        _ = try await server.runtime.powerAuth.createApplication(id: "b-app", name: nil, callbackURL: nil, realm: "bank-b", actor: "test")
        let user = try await server.runtime.powerAuth.createIntegrationUser(
            name: "integration-b", applicationIDs: ["b-app"], realm: "bank-b", actor: "test")
        return HTTP.basic(user.user.name, user.password)
    }

    /// The activation's possession throttle as stored: attempts in the window and the window's start.
    static func possessionThrottle(_ server: TestServer, _ id: String) async throws -> [Int64] {
        try await server.runtime.store.pool.withConnection { db in
            let row = try #require(
                try await db.raw(
                    "SELECT possession_attempts, possession_window_start FROM powerauth_activations WHERE device_id = \(bind: id)"
                ).first())
            return [try row.decode(column: "possession_attempts", as: Int64.self), try row.decode(column: "possession_window_start", as: Int64.self)]
        }
    }

    @Test("an integration user of another realm naming an activation touches none of its possession attempts, and is answered as for an unknown id")
    func otherRealmTakesNoPossessionAttempt() async throws {
        try await PowerAuthTests.withActive { server, client, basic, phone in
            var phone = phone
            let bBasic = try await Self.realmB(server)
            let before = try await Self.possessionThrottle(server, phone.registrationID)
            var unknownPhone = PowerAuthTestPhone(
                registrationID: UUID().uuidString.lowercased(), applicationKey: phone.applicationKey, applicationSecret: phone.applicationSecret,
                keys: phone.keys, counterData: phone.counterData)
            // Possession only and 3.0 are the throttled kinds; the phone's own valid signatures too.
            for (factors, version) in [([PowerAuthSignature.Factor.possession], PowerAuthProtocolVersion.v3_1), ([.possession, .knowledge], .v3_0)] {
                let counter = phone.counterData
                let (foreign, foreignJSON) = try await client.verify(phone.sign(factors: factors, version: version), basic: bBasic)
                phone.counterData = counter
                unknownPhone.counterData = counter
                let (unknown, unknownJSON) = try await client.verify(unknownPhone.sign(factors: factors, version: version), basic: bBasic)
                #expect(foreign.status == unknown.status && foreign.status == .notFound, "\(factors) \(version)")
                #expect(NSDictionary(dictionary: foreignJSON).isEqual(to: unknownJSON), "\(foreignJSON) \(unknownJSON)")
                #expect(try await Self.possessionThrottle(server, phone.registrationID) == before, "realm B touched A's throttle")
            }
            // The phone's own signature still verifies (the test can fail).
            #expect(try await client.verify(phone.sign(factors: [.possession]), basic: basic).1["signatureValid"] as? Bool == true)
        }
    }

    @Test("a flood from another realm naming an activation never throttles the phone's own possession signatures, however many at once")
    func otherRealmFloodDoesNotThrottle() async throws {
        try await PowerAuthTests.withActive(["powerauth.possessionAttemptLimit": .int(1)]) { server, client, basic, phone in
            var phone = phone
            let bBasic = try await Self.realmB(server)
            // Warm this node's fast path for the activation, as a busy installation would have it.
            #expect(try await client.verify(phone.sign(factors: [.possession]), basic: basic).1["signatureValid"] as? Bool == true)
            let floods = (0..<40).map { _ -> String in
                var stranger = phone
                stranger.counterData = SecureRandom.bytes(16)
                return stranger.sign(factors: [.possession])
            }
            let owns = (0..<10).map { _ in phone.sign(factors: [.possession]) }
            let refused = try await withThrowingTaskGroup(of: Int.self) { group in
                for header in floods {
                    group.addTask {
                        _ = try await client.verify(header, basic: bBasic); return 0
                    }
                }
                group.addTask {
                    var refused = 0
                    for header in owns where try await client.verify(header, basic: basic).1["signatureValid"] as? Bool != true { refused += 1 }
                    return refused
                }
                return try await group.reduce(0, +)
            }
            #expect(refused == 0, "realm B's guesses throttled A's phone")
        }
    }

    @Test(
        "one realm's users cannot spend another realm's per-number SMS budget for a shared phone number (nor learn from a 429 that it got codes there)"
    )
    func smsPhoneBudgetIsPerRealm() async throws {
        try await TestServer.with(["sms.otpPerPhonePerHour": .int(2), "sms.otpPerUserPerHour": .int(10)]) { server in
            try await server.runtime.administration.createRealm(id: "bank-b", actor: "test")
            let alice = try await server.createUser()  // +4915112345678, realm default
            let bMallory = try await server.runtime.administration.createUser(
                username: "mallory", password: "mallory password", phone: "+49 151 1234 5678", email: nil, ownerClientID: nil, realm: "bank-b",
                actor: "test"
            ).user
            let bCarol = try await server.runtime.administration.createUser(
                username: "carol", password: "carol password", phone: "+4915112345678", email: nil, ownerClientID: nil, realm: "bank-b",
                actor: "test"
            ).user
            func bind(_ userID: String) async throws {
                _ = try await server.runtime.devices.createDevice(
                    userID: userID, name: "phone", publicKeyHex: Hex.encode(P256.Signing.PrivateKey().publicKey.x963Representation), source: nil)
            }
            // Realm B's users spend B's budget for the number …
            try await bind(bMallory.id)
            try await bind(bMallory.id)
            await #expect(throws: DeviceError.self) { try await bind(bCarol.id) }
            // … and the default realm's alice, with the same number, still gets her codes.
            try await bind(alice.id)
            try await bind(alice.id)
            await #expect(throws: DeviceError.self) { try await bind(alice.id) }
        }
    }
}
