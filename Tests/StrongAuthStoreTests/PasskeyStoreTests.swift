import Foundation
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthStore
import Testing

/// Passkeys on every database: a ceremony is answered once, a first passkey's "no ACTIVE device
/// yet" and its insert are one step, a credential ID exists once, and a signature counter only
/// grows — each decided by one conditional statement, so concurrent requests on several nodes
/// get exactly one winner.
@Suite("Store conformance: passkeys")
struct PasskeyStoreTests {
    static func ceremony(_ id: String, user: String, purpose: PasskeyCeremony.Purpose = .registration, now: Date = Fixtures.epoch)
        -> PasskeyCeremony
    {
        PasskeyCeremony(
            id: id, purpose: purpose, userID: user, realmID: Realm.defaultID, target: purpose == .approval ? "a1" : nil,
            challenge: Array(repeating: 7, count: 32), nonce: purpose == .approval ? Array(repeating: 9, count: 32) : nil, name: "Key",
            createdAt: now, expiresAt: now.addingTimeInterval(300))
    }

    static func passkey(user: String, credential: [UInt8], now: Date = Fixtures.epoch) -> (Device, PasskeyCredential) {
        let id = UUID().uuidString.lowercased()
        let device = Device(
            id: id, userID: user, kind: .passkey, name: "Key", publicKeyHex: "a5", status: .active, createdAt: now, activatedAt: now)
        let credential = PasskeyCredential(
            deviceID: id, userID: user, credentialID: credential, publicKey: [0xa5, 0x01], algorithm: .es256, signCount: 1,
            aaguid: Array(repeating: 0, count: 16), attestationFormat: "none", attestationCertified: false, backupEligible: true,
            backupState: false, transports: ["internal", "hybrid"])
        return (device, credential)
    }

    @Test("a ceremony is read back as written and used once, before it expires", arguments: TestDatabases.engines)
    func ceremonyOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let user = Fixtures.user()
            try await store.insertUser(user)
            let written = Self.ceremony("c1", user: user.id, purpose: .approval)
            try await store.insertPasskeyCeremony(written)
            try await store.insertPasskeyCeremony(Self.ceremony("c2", user: user.id))
            #expect(try await store.passkeyCeremony(id: "c1") == written)
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 { group.addTask { try await store.consumePasskeyCeremony(id: "c1", at: Fixtures.epoch) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
            #expect(try await store.passkeyCeremony(id: "c1") == nil)
            #expect(try await store.consumePasskeyCeremony(id: "c2", at: Fixtures.epoch.addingTimeInterval(300)) == false)
            #expect(try await store.deleteExpiredPasskeyCeremonies(before: Fixtures.epoch.addingTimeInterval(301)) == 2)
        }
    }

    @Test("wrong OTPs are counted on the ceremony; the last allowed one uses it up", arguments: TestDatabases.engines)
    func otpAttempts(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let user = Fixtures.user()
            try await store.insertUser(user)
            try await store.insertPasskeyCeremony(Self.ceremony("c1", user: user.id))
            #expect(try await store.countPasskeyCeremonyAttempt(id: "c1", maxAttempts: 3, at: Fixtures.epoch))
            #expect(try await store.countPasskeyCeremonyAttempt(id: "c1", maxAttempts: 3, at: Fixtures.epoch))
            #expect(try await store.passkeyCeremony(id: "c1")?.attempts == 2)
            #expect(try await store.countPasskeyCeremonyAttempt(id: "c1", maxAttempts: 3, at: Fixtures.epoch))
            #expect(try await store.passkeyCeremony(id: "c1") == nil)
            #expect(try await store.countPasskeyCeremonyAttempt(id: "c1", maxAttempts: 3, at: Fixtures.epoch) == false)
        }
    }

    @Test(
        "concurrent first passkeys with the OTP rule: exactly one is stored; one credential ID is stored once",
        arguments: TestDatabases.engines)
    func firstPasskeyRace(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let user = Fixtures.user()
            try await store.insertUser(user)
            for index in 0..<10 { try await store.insertPasskeyCeremony(Self.ceremony("c\(index)", user: user.id)) }
            let outcomes = try await withThrowingTaskGroup(of: PasskeyInsertOutcome.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        let (device, credential) = Self.passkey(user: user.id, credential: [UInt8(index), 1, 2, 3])
                        return try await store.insertPasskey(
                            device: device, credential: credential, ceremonyID: "c\(index)", requireNoActiveDevice: true, at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(into: [PasskeyInsertOutcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .inserted }.count == 1)
            #expect(outcomes.filter { $0 == .activeDeviceExists }.count == 9)
            #expect(try await store.passkeys(userID: user.id).count == 1)

            // Two stepped-up registrations of one credential at once: one row.
            let other = Fixtures.user("bob")
            try await store.insertUser(other)
            try await store.insertPasskeyCeremony(Self.ceremony("d1", user: other.id))
            try await store.insertPasskeyCeremony(Self.ceremony("d2", user: other.id))
            let duplicates = try await withThrowingTaskGroup(of: PasskeyInsertOutcome.self) { group in
                for ceremony in ["d1", "d2"] {
                    group.addTask {
                        let (device, credential) = Self.passkey(user: other.id, credential: [9, 9, 9])
                        return try await store.insertPasskey(
                            device: device, credential: credential, ceremonyID: ceremony, requireNoActiveDevice: false, at: Fixtures.epoch)
                    }
                }
                return try await group.reduce(into: [PasskeyInsertOutcome]()) { $0.append($1) }
            }
            #expect(duplicates.sorted { "\($0)" < "\($1)" } == [.duplicateCredential, .inserted])
            let stored = try #require(try await store.passkey(credentialID: [9, 9, 9]))
            #expect(stored.transports == ["internal", "hybrid"] && stored.backupEligible && !stored.backupState && stored.algorithm == .es256)
            // A used ceremony stores nothing (a refused insert rolls back, leaving its ceremony open).
            try await store.insertPasskeyCeremony(Self.ceremony("d3", user: other.id))
            #expect(try await store.consumePasskeyCeremony(id: "d3", at: Fixtures.epoch))
            let (device, credential) = Self.passkey(user: other.id, credential: [8])
            #expect(
                try await store.insertPasskey(
                    device: device, credential: credential, ceremonyID: "d3", requireNoActiveDevice: false, at: Fixtures.epoch)
                    == .ceremonyClosed)
            #expect(try await store.device(id: device.id) == nil)
        }
    }

    @Test("the signature counter only grows: of 20 assertions with one counter value, one is recorded", arguments: TestDatabases.engines)
    func counterOnlyGrows(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let user = Fixtures.user()
            try await store.insertUser(user)
            try await store.insertPasskeyCeremony(Self.ceremony("c1", user: user.id))
            let (device, credential) = Self.passkey(user: user.id, credential: [1, 2, 3])
            #expect(
                try await store.insertPasskey(
                    device: device, credential: credential, ceremonyID: "c1", requireNoActiveDevice: false, at: Fixtures.epoch)
                    == .inserted)
            let recorded = try await withThrowingTaskGroup(of: PasskeyCounterOutcome.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await store.recordPasskeyAssertion(deviceID: device.id, signCount: 5, backupState: true, at: Fixtures.epoch) }
                }
                return try await group.reduce(into: [PasskeyCounterOutcome]()) { $0.append($1) }
            }
            #expect(recorded.filter { $0 == .recorded }.count == 1)
            #expect(try await store.recordPasskeyAssertion(deviceID: device.id, signCount: 4, backupState: true, at: Fixtures.epoch) == .regressed)
            let stored = try #require(try await store.passkey(credentialID: [1, 2, 3]))
            #expect(stored.signCount == 5 && stored.backupState)
            #expect(try await store.device(id: device.id)?.lastUsedAt == Fixtures.epoch)
        }
    }
}
