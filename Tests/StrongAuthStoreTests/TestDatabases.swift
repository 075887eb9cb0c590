import Foundation
import Logging
import SQLKit
import StrongAuthCore
import StrongAuthStore

/// The databases the store conformance suite runs on. SQLite always; PostgreSQL when
/// `STRONGAUTH_TEST_POSTGRES_URL` is set — and always in CI, where a missing URL fails.
enum TestDatabases {
    static let postgresURL = ProcessInfo.processInfo.environment["STRONGAUTH_TEST_POSTGRES_URL"]
    static let isCI = ProcessInfo.processInfo.environment["CI"] != nil
    /// The same server over its Unix-domain socket (`scripts/postgres.sh socket-url`; `scripts/test` sets it).
    static let postgresSocketURL = ProcessInfo.processInfo.environment["STRONGAUTH_TEST_POSTGRES_SOCKET_URL"].flatMap { $0.isEmpty ? nil : $0 }

    static let engines: [DatabaseEngine] = postgresURL != nil || isCI ? [.sqlite, .postgres] : [.sqlite]

    static let logger = Logger(label: "test")

    /// At most this many PostgreSQL stores at once. Swift Testing starts every test at once and a
    /// test waiting on the database holds no thread, so without a gate the suite opens up to nine
    /// connections per test case, all together, and on a fast machine runs past the server's
    /// `max_connections` (every store call then fails as "unavailable").
    static let postgresStores = TestGate(permits: 8)

    /// A fresh, migrated store of `engine`: a new SQLite file, or a new PostgreSQL schema.
    static func withStore<T>(
        _ engine: DatabaseEngine, migrate: Bool = true, attemptLimits: AttemptLimits = .standard, _ body: (SQLStore) async throws -> T
    ) async throws -> T {
        let store: SQLStore
        var cleanup: () async -> Void = {}
        switch engine {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-test-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            // Two readers: hundreds of stores are open at once (each connection holds two files).
            store = try await SQLStore.open(
                url: "sqlite:\(directory.path)/test.sqlite", sqliteReaders: 2, attemptLimits: attemptLimits, logger: logger)
            cleanup = { try? FileManager.default.removeItem(at: directory) }
        case .postgres:
            guard let url = postgresURL else {
                throw TestSetupError("CI must run the PostgreSQL store suite: set STRONGAUTH_TEST_POSTGRES_URL (scripts/test does)")
            }
            await postgresStores.acquire()
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let admin: PostgresPool
            do {
                admin = try PostgresPool(url: url, maximumConnections: 1, logger: logger)
                try await admin.withConnection { db in try await db.raw("CREATE SCHEMA \(unsafeRaw: schema)").run() }
            } catch {
                await postgresStores.release()
                throw error
            }
            store = SQLStore(
                pool: try PostgresPool(url: url, maximumConnections: 8, searchPath: schema, logger: logger), attemptLimits: attemptLimits)
            cleanup = {
                try? await admin.withConnection { db in try await db.raw("DROP SCHEMA \(unsafeRaw: schema) CASCADE").run() }
                await admin.shutdown()
                await postgresStores.release()
            }
        }
        do {
            if migrate { try await Migrator.migrate(store.pool) }
            let result = try await body(store)
            await store.pool.shutdown()
            await cleanup()
            return result
        } catch {
            await store.pool.shutdown()
            await cleanup()
            throw error
        }
    }
}

extension TestDatabases {
    /// Rows in `table`.
    static func count(_ table: String, in store: SQLStore) async throws -> Int {
        try await store.pool.withConnection { db in
            try await db.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Builders for test entities.
enum Fixtures {
    static let epoch = Date(timeIntervalSince1970: 1_800_000_000)

    static func client(_ id: String = "shop", status: OAuthClient.Status = .active) -> OAuthClient {
        OAuthClient(
            id: id, name: id, secretHash: "hash-\(id)", grants: [.clientCredentials, .password, .refreshToken],
            scopes: Scopes(["accounts", "transfers"]), status: status, createdAt: epoch)
    }

    static func user(_ username: String = "alice", id: String = UUID().uuidString.lowercased()) -> User {
        User(id: id, username: username, passwordHash: "$2b$04$notarealhash", phone: "+4915112345678", createdAt: epoch)
    }

    static func refreshToken(
        user: String, client: String = "shop", hash: String = UUID().uuidString, family: String = UUID().uuidString, expiresIn: TimeInterval = 3600
    ) -> RefreshTokenRecord {
        RefreshTokenRecord(
            id: UUID().uuidString, tokenHash: hash, familyID: family, clientID: client, userID: user,
            scopes: Scopes(["accounts"]), amr: ["pwd"], issuedAt: epoch, expiresAt: epoch.addingTimeInterval(expiresIn))
    }
}

/// A counting semaphore for tests: `acquire` waits (without holding a thread) until a permit is free.
actor TestGate {
    private var available: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) { available = permits }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            available += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
