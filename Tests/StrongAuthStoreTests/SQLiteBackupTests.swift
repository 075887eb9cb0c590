import Foundation
import Logging
import SQLKit
import StrongAuthCore
import StrongAuthStore
import Testing

/// `strongauth backup` / `strongauth restore` on SQLite (docs/backup.md): a backup is a whole,
/// private copy; a restore takes only a StrongAuth database this binary knows, and replaces a
/// database holding data only when forced.
@Suite("SQLite backup and restore")
struct SQLiteBackupTests {
    static let logger = Logger(label: "test")

    /// A temporary directory, removed afterwards.
    static func inDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory)
    }

    /// A migrated database at `path` holding one user; returns nothing, closes it.
    static func strongAuthDatabase(_ path: String, user: String = "alice") async throws {
        let pool = try await SQLitePool.open(path: path, readers: 1, logger: logger)
        do {
            try await Migrator.migrate(pool)
            try await SQLStore(pool: pool).insertUser(Fixtures.user(user))
        } catch {
            await pool.shutdown()
            throw error
        }
        await pool.shutdown()
    }

    static func usernames(_ path: String) async throws -> [String] {
        let pool = try await SQLitePool.open(path: path, readers: 1, logger: logger)
        let names = try await pool.withConnection { db in
            try await db.raw("SELECT username FROM users ORDER BY username").all().map { try $0.decode(column: "username", as: String.self) }
        }
        await pool.shutdown()
        return names
    }

    @Test("a backup taken while writes go on is a whole database of mode 0600 that restores; an existing file is never overwritten")
    func backupWhileWritingAndRestore() async throws {
        try await Self.inDirectory { directory in
            let live = directory + "/live.sqlite"
            try await Self.strongAuthDatabase(live)
            let pool = try await SQLitePool.open(path: live, readers: 2, logger: Self.logger)
            let store = SQLStore(pool: pool)
            let backup = directory + "/backup.sqlite"
            do {
                let summary = try await withThrowingTaskGroup(of: SQLiteBackup.Summary?.self) { group in
                    group.addTask {
                        for index in 0..<50 { try await store.insertUser(Fixtures.user("writer-\(index)")) }
                        return nil
                    }
                    group.addTask { try await SQLiteBackup.backup(pool, to: backup) }
                    return try await group.reduce(nil) { $0 ?? $1 }
                }
                #expect(summary?.schemaVersion == SQLiteBackup.knownSchemaVersion)
                await #expect(throws: SQLiteBackup.Refusal.targetExists(path: backup)) { try await SQLiteBackup.backup(pool, to: backup) }
            } catch {
                await pool.shutdown()
                throw error
            }
            await pool.shutdown()
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? NSNumber)
            #expect(mode.intValue & 0o777 == 0o600)
            let restored = directory + "/fresh/strongauth.sqlite"
            try FileManager.default.createDirectory(atPath: directory + "/fresh", withIntermediateDirectories: true)
            try await SQLiteBackup.restore(from: backup, to: restored, force: false)
            let names = try await Self.usernames(restored)
            #expect(names.contains("alice"))
            // A snapshot: whichever writes had committed when it began, in order, none torn.
            let writers = names.filter { $0.hasPrefix("writer-") }
            #expect(Set(writers) == Set((0..<writers.count).map { "writer-\($0)" }))
        }
    }

    @Test("restore refuses a file that is not SQLite, a SQLite file that is not StrongAuth, and a schema newer than the binary")
    func restoreRefusesForeignFiles() async throws {
        try await Self.inDirectory { directory in
            let target = directory + "/strongauth.sqlite"
            let text = directory + "/notes.txt"
            try Data("not a database at all, just text".utf8).write(to: URL(fileURLWithPath: text))
            await #expect(throws: SQLiteBackup.Refusal.notSQLite(path: text)) { try await SQLiteBackup.restore(from: text, to: target, force: true) }

            let missing = directory + "/missing.sqlite"
            await #expect(throws: SQLiteBackup.Refusal.missing(path: missing)) {
                try await SQLiteBackup.restore(from: missing, to: target, force: true)
            }

            let foreign = directory + "/foreign.sqlite"
            let pool = try await SQLitePool.open(path: foreign, readers: 1, logger: Self.logger)
            try await pool.withWriteConnection { db in try await db.raw("CREATE TABLE photos (id INTEGER PRIMARY KEY)").run() }
            await pool.shutdown()
            await #expect(throws: SQLiteBackup.Refusal.notStrongAuth(path: foreign)) {
                try await SQLiteBackup.restore(from: foreign, to: target, force: true)
            }

            let newer = directory + "/newer.sqlite"
            try await Self.strongAuthDatabase(newer)
            let future = SQLiteBackup.knownSchemaVersion + 1
            let newerPool = try await SQLitePool.open(path: newer, readers: 1, logger: Self.logger)
            try await newerPool.withWriteConnection { db in
                try await db.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: future), 'from-the-future', 0)").run()
            }
            await newerPool.shutdown()
            await #expect(throws: SQLiteBackup.Refusal.newerSchema(path: newer, found: future, known: future - 1)) {
                try await SQLiteBackup.restore(from: newer, to: target, force: true)
            }
            #expect(!FileManager.default.fileExists(atPath: target), "nothing was written by a refused restore")
        }
    }

    @Test(
        "restore refuses to replace a database holding data unless forced, and a database a process has open even then; forced, the backup replaces it whole"
    )
    func restoreRefusesANonEmptyTargetUnlessForced() async throws {
        try await Self.inDirectory { directory in
            let source = directory + "/backup.sqlite"
            try await Self.strongAuthDatabase(source, user: "from-backup")
            let target = directory + "/strongauth.sqlite"
            try await Self.strongAuthDatabase(target, user: "already-here")
            await #expect(throws: SQLiteBackup.Refusal.targetNotEmpty(path: target)) {
                try await SQLiteBackup.restore(from: source, to: target, force: false)
            }
            #expect(try await Self.usernames(target) == ["already-here"])

            // Not even forced while a node has the database open: it would write on into the replaced file.
            let node = try await SQLitePool.open(path: target, readers: 1, logger: Self.logger)
            await #expect(throws: SQLiteBackup.Refusal.inUse(path: target, pid: getpid())) {
                try await SQLiteBackup.restore(from: source, to: target, force: true)
            }
            await node.shutdown()
            try await SQLiteBackup.restore(from: source, to: target, force: true)
            #expect(try await Self.usernames(target) == ["from-backup"])
            // An empty file (a database opened once, never migrated) is not data: no --force needed.
            let empty = directory + "/empty.sqlite"
            #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
            try await SQLiteBackup.restore(from: source, to: empty, force: false)
            #expect(try await Self.usernames(empty) == ["from-backup"])
        }
    }
}
