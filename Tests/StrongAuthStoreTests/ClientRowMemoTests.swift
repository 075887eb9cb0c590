import Foundation
import NIOCore
import SQLKit
import SQLiteKit
import StrongAuthCore
import Testing

@testable import StrongAuthStore

/// A client row is decoded once per distinct row (`RowMemo`): every read still reads the row, and
/// a decoded client is reused only for a row identical to the one it came from. These tests
/// change each column the decoding reads and expect the change read back at once, on both engines.
@Suite("Store conformance: a client decoded once per distinct row")
struct ClientRowMemoTests {
    /// A client with every column set, in a realm that exists.
    static func client(_ id: String) -> OAuthClient {
        OAuthClient(
            id: id, name: "Shop", secretHash: "hash-\(id)", grants: [.clientCredentials, .refreshToken],
            scopes: Scopes(["accounts", "transfers"]), status: .active, createdAt: Fixtures.epoch,
            webhookURL: "https://shop.example/hook", sealedWebhookSecret: "sealed-1", isResourceServer: false,
            realmID: Realm.defaultID, redirectURIs: ["https://shop.example/a"], isPublic: false, jwks: #"{"keys":[]}"#,
            requiresDPoP: false, requiresPushedAuthorizationRequests: false, defaultACR: AssuranceLevel.oneFactor.rawValue)
    }

    /// For each column but the id: a new value, and the client as it must read afterwards.
    static let changes: [(column: String, value: any Encodable & Sendable, change: @Sendable (inout OAuthClient) -> Void)] = [
        ("name", "Shöp", { $0.name = "Shöp" }),
        ("secret_hash", "hash-rotated", { $0.secretHash = "hash-rotated" }),
        ("grants", "client_credentials", { $0.grants = [.clientCredentials] }),
        ("scopes", "accounts", { $0.scopes = Scopes(["accounts"]) }),
        ("status", "disabled", { $0.status = .disabled }),
        ("created_at", Fixtures.epoch.epochMilliseconds + 1000, { $0.createdAt = Fixtures.epoch.addingTimeInterval(1) }),
        ("webhook_url", "https://shop.example/other", { $0.webhookURL = "https://shop.example/other" }),
        ("sealed_webhook_secret", "sealed-2", { $0.sealedWebhookSecret = "sealed-2" }),
        ("resource_server", 1, { $0.isResourceServer = true }),
        ("realm_id", "other", { $0.realmID = "other" }),
        (
            "redirect_uris", "https://shop.example/a\nhttps://shop.example/b",
            { $0.redirectURIs = ["https://shop.example/a", "https://shop.example/b"] }
        ),
        ("public_client", 1, { $0.isPublic = true }),
        ("jwks", #"{"keys":[{}]}"#, { $0.jwks = #"{"keys":[{}]}"# }),
        ("dpop_required", 1, { $0.requiresDPoP = true }),
        ("require_par", 1, { $0.requiresPushedAuthorizationRequests = true }),
        ("default_acr", AssuranceLevel.twoFactor.rawValue, { $0.defaultACR = AssuranceLevel.twoFactor.rawValue }),
    ]

    @Test("a change to any one column is read at once, by the client's own read and by introspection's", arguments: TestDatabases.engines)
    func everyColumnChangeIsRead(engine: DatabaseEngine) async throws {
        #expect(Set(Self.changes.map(\.column) + ["id"]) == Set(SQLStore.clientColumns), "every column the decoding reads is changed once")
        try await TestDatabases.withStore(engine) { store in
            try await store.insertRealm(id: "other", at: Fixtures.epoch)
            let id = "memo-\(UUID().uuidString)"
            var expected = Self.client(id)
            try await store.insertClient(expected)
            for (column, value, change) in Self.changes {
                // Read twice unchanged (the second from the memo), then changed.
                #expect(try await store.client(id: id) == expected)
                #expect(try await store.client(id: id) == expected)
                try await store.pool.withWriteConnection { db in
                    try await db.raw("UPDATE clients SET \(ident: column) = \(bind: value) WHERE id = \(bind: id)").run()
                }
                change(&expected)
                #expect(try await store.client(id: id) == expected, "after \(column) changed")
                let token = AccessTokenLivenessQuery(jti: UUID().uuidString, familyID: nil, userID: nil, clientID: id, deviceID: nil)
                #expect(try await store.introspectionContext(introspectingClientID: id, token: token).client == expected, "\(column), introspection")
            }
        }
    }

    @Test("a text that differs only in its bytes (é composed, or e and an accent) is a changed row", arguments: TestDatabases.engines)
    func canonicallyEquivalentTextIsAChange(engine: DatabaseEngine) async throws {
        let composed = "Caf\u{E9}"
        let decomposed = "Cafe\u{301}"
        #expect(composed == decomposed, "Swift's == calls them equal; the database does not")
        try await TestDatabases.withStore(engine) { store in
            let id = "memo-\(UUID().uuidString)"
            var client = Self.client(id)
            client.name = composed
            try await store.insertClient(client)
            #expect(try await store.client(id: id).map { Array($0.name.utf8) } == Array(composed.utf8))
            try await store.pool.withWriteConnection { db in
                try await db.raw("UPDATE clients SET name = \(bind: decomposed) WHERE id = \(bind: id)").run()
            }
            #expect(try await store.client(id: id).map { Array($0.name.utf8) } == Array(decomposed.utf8))
        }
    }

    @Test("the memo's columns are exactly the ones the decoding reads")
    func columnsAreTheDecodingsOwn() throws {
        let values: [String: SQLiteData] = [
            "id": .text("memo-columns"), "name": .text("Shop"), "secret_hash": .text("hash"), "grants": .text("client_credentials"),
            "scopes": .text("accounts"), "status": .text("active"), "created_at": .integer(0), "webhook_url": .null,
            "sealed_webhook_secret": .null, "resource_server": .integer(0), "realm_id": .text(Realm.defaultID),
            "redirect_uris": .text(""), "public_client": .integer(0), "jwks": .null, "dpop_required": .integer(0),
            "require_par": .integer(0), "default_acr": .null,
        ]
        #expect(Set(values.keys) == Set(SQLStore.clientColumns))
        func row(without missing: String?) -> SQLiteRowValues {
            let columns = SQLStore.clientColumns.filter { $0 != missing }
            return SQLiteRowValues(columns: columns, values: columns.map { values[$0]! })
        }
        #expect(try SQLStore.client(from: row(without: nil)).id == "memo-columns")
        // The decoding reads every one of them: without any one, a row does not decode (and
        // so the memo compares no column the decoding ignores, and ignores none it reads).
        for column in SQLStore.clientColumns {
            #expect(throws: (any Error).self, "without \(column)") { try SQLStore.client(from: row(without: column)) }
        }
    }

    @Test("a kept PostgreSQL cell holds its own bytes, not the buffer its message arrived in")
    func keptCellsAreCompact() throws {
        var message = ByteBuffer(repeating: 0x61, count: 65_536)
        message.setString("hash-shop", at: 1_000)
        let cell = try #require(message.getSlice(at: 1_000, length: 9))
        #expect(cell.storageCapacity >= 65_536, "a slice shares its message's storage")
        guard case .postgres(let kept?) = RawColumnValue.postgres(cell).compacted else {
            Issue.record("not a PostgreSQL value")
            return
        }
        #expect(kept == cell)
        #expect(kept.storageCapacity < 1_024)
        #expect(RawColumnValue.postgres(cell).isIdentical(to: .postgres(kept)))
        #expect(!RawColumnValue.postgres(cell).isIdentical(to: .postgres(nil)))
    }

    @Test("RowMemo: an identical row is not decoded again; a changed one is, and replaces it; bounded")
    func rowMemo() throws {
        let memo = RowMemo<String>(capacity: 2)
        var decodings = 0
        func read(_ key: String, _ values: [SQLiteData]) -> String {
            memo.value(key: key, row: SQLiteRowValues(columns: ["a", "b"], values: values), columns: ["a", "b"]) {
                decodings += 1
                return "\(values)"
            }
        }
        #expect(read("k", [.text("x"), .integer(1)]) == "\([SQLiteData.text("x"), .integer(1)])")
        #expect(read("k", [.text("x"), .integer(1)]) == "\([SQLiteData.text("x"), .integer(1)])")
        #expect(decodings == 1)
        #expect(read("k", [.text("x"), .integer(2)]) == "\([SQLiteData.text("x"), .integer(2)])")
        #expect(read("k", [.text("x"), .null]) == "\([SQLiteData.text("x"), .null])")
        #expect(read("k", [.integer(0), .null]) == "\([SQLiteData.integer(0), .null])")
        #expect(decodings == 4)
        _ = read("k", [.integer(0), .null])
        #expect(decodings == 4)
        _ = read("l", [.integer(0), .null])
        #expect(memo.count == 2)
        _ = read("m", [.integer(0), .null])
        #expect(memo.count == 1, "full: started over")
        // A row of another type is decoded every time and not kept.
        struct OtherRow: SQLRow {
            var allColumns: [String] { ["a"] }
            func contains(column: String) -> Bool { column == "a" }
            func decodeNil(column: String) throws -> Bool { false }
            func decode<D: Decodable>(column: String, as: D.Type) throws -> D { fatalError("not read") }
        }
        var others = 0
        for _ in 0..<2 {
            _ = memo.value(key: "o", row: OtherRow(), columns: ["a"]) {
                others += 1; return ""
            }
        }
        #expect(others == 2)
    }
}
