import Foundation
import GRDB
import SQLKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Backup and restore of a SQLite database (`strongauth backup` / `strongauth restore`,
/// docs/backup.md). PostgreSQL is backed up with its own tools (`pg_dump -Fc`, `pg_restore`).
///
/// A backup is `VACUUM INTO` (SQLite documentation, "VACUUM INTO"): one read transaction, so
/// the copy is a consistent snapshot even while every node of the server keeps writing — WAL
/// readers never block the writer, and the copy holds everything committed when it began. The
/// file is a complete database on its own (no `-wal` beside it) and is created 0600, because
/// it holds sealed secrets and the keyed hashes of every bearer secret.
///
/// A restore checks that the file is a StrongAuth database at a migration level this binary
/// knows (a newer one would be migrated by nobody and read wrongly), refuses to replace a
/// database that holds anything unless forced, and replaces the file in one `rename`.
public enum SQLiteBackup {
    /// What a backup file holds.
    public struct Summary: Sendable, Equatable {
        /// The newest migration applied to it (`schema_migrations`).
        public var schemaVersion: Int
        public var bytes: Int
    }

    /// Why a backup or restore was refused; nothing was changed.
    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case missing(path: String)
        case notSQLite(path: String)
        case corrupt(path: String, detail: String)
        case notStrongAuth(path: String)
        case newerSchema(path: String, found: Int, known: Int)
        case targetNotEmpty(path: String)
        case targetExists(path: String)
        case inUse(path: String, pid: Int32)

        public var description: String {
            switch self {
            case .missing(let path): "\(path) does not exist"
            case .notSQLite(let path): "\(path) is not a SQLite database"
            case .corrupt(let path, let detail): "\(path) fails SQLite's integrity check: \(detail)"
            case .notStrongAuth(let path): "\(path) is a SQLite database, but not a StrongAuth one (it has no schema_migrations)"
            case .newerSchema(let path, let found, let known):
                "\(path) is at migration \(found), newer than this binary knows (\(known)): restore it with the release that wrote it"
            case .targetNotEmpty(let path):
                "\(path) already holds a StrongAuth database; stop every node and pass --force to replace it"
            case .targetExists(let path): "\(path) already exists; a backup never overwrites a file"
            case .inUse(let path, let pid):
                "\(path) is open in process \(pid): stop every node (and anything else using the database) before a restore"
            }
        }
    }

    /// The newest migration this binary applies.
    public static var knownSchemaVersion: Int { Migrator.all.map(\.version).max() ?? 0 }

    /// Copies the database behind `pool` to `path` (a new file, mode 0600) while it serves.
    @discardableResult
    public static func backup(_ pool: SQLitePool, to path: String) async throws -> Summary {
        try createEmptyPrivateFile(path)
        do {
            // An empty file is allowed as VACUUM INTO's target; its 0600 mode is kept.
            try await pool.withConnection { db in try await db.sql("VACUUM INTO \(bind: path)").run() }
            return try await inspect(path)
        } catch {
            unlink(path)
            throw error
        }
    }

    /// Checks that `path` is an intact StrongAuth database this binary can serve; opens it
    /// without writing to it.
    public static func inspect(_ path: String) async throws -> Summary {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Refusal.missing(path: path) }
        let header = (try? handle.read(upToCount: 16)) ?? nil
        let bytes = Int((try? handle.seekToEnd()) ?? 0)
        try? handle.close()
        guard header == Data("SQLite format 3\0".utf8) else { throw Refusal.notSQLite(path: path) }
        return try withReadOnlyConnection(path) { db in
            let check = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "no answer"
            guard check == "ok" else { throw Refusal.corrupt(path: path, detail: check) }
            guard try db.tableExists("schema_migrations") else { throw Refusal.notStrongAuth(path: path) }
            let version = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM schema_migrations") ?? 0
            guard version > 0 else { throw Refusal.notStrongAuth(path: path) }
            guard version <= knownSchemaVersion else {
                throw Refusal.newerSchema(path: path, found: version, known: knownSchemaVersion)
            }
            return Summary(schemaVersion: version, bytes: bytes)
        }
    }

    /// Replaces the database at `target` by the backup at `source`. The server must be stopped
    /// (every node on this file): its open connections would keep writing the replaced file.
    /// A `target` that holds tables is replaced only when `force` is set.
    @discardableResult
    public static func restore(from source: String, to target: String, force: Bool) async throws -> Summary {
        let summary = try await inspect(source)
        if let pid = processHoldingOpen(target) { throw Refusal.inUse(path: target, pid: pid) }
        if !force, try await holdsTables(target) { throw Refusal.targetNotEmpty(path: target) }
        let staging = target + ".restore-\(UUID().uuidString.prefix(8))"
        try createEmptyPrivateFile(staging)
        do {
            // Through SQLite rather than a byte copy: the staged file is checked to be whole.
            try withReadOnlyConnection(source) { db in try db.execute(sql: "VACUUM INTO ?", arguments: [staging]) }
            _ = try await inspect(staging)
            // The old file's write-ahead log and shared memory belong to the old file: SQLite
            // would otherwise replay the old log into the restored database on the next open.
            for suffix in ["-wal", "-shm", "-journal"] { unlink(target + suffix) }
            guard rename(staging, target) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target, "errno": errno])
            }
        } catch {
            unlink(staging)
            throw error
        }
        return summary
    }

    /// Whether `path` is a database with at least one table (a fresh, never migrated one is empty).
    static func holdsTables(_ path: String) async throws -> Bool {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            (attributes[.size] as? NSNumber)?.intValue ?? 0 > 0
        else { return false }
        return try withReadOnlyConnection(path) { db in
            try String.fetchOne(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 1") != nil
        }
    }

    /// A process that has the database at `path` (or its write-ahead log) open, seen in
    /// `/proc/<pid>/fd` (Linux): a node still running would go on writing the replaced file and
    /// lose everything it wrote. Every SQLite node runs on this machine (one file), so this sees
    /// them — unless they run as another user whose `/proc` entries are hidden from this one,
    /// hence docs/backup.md still says to stop them first. `nil` when none is seen.
    static func processHoldingOpen(_ path: String) -> Int32? {
        let files = FileManager.default
        guard files.fileExists(atPath: path) else { return nil }
        let database = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let held: Set<String> = [database, database + "-wal"]
        for entry in (try? files.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry) else { continue }
            for fd in (try? files.contentsOfDirectory(atPath: "/proc/\(entry)/fd")) ?? [] {
                if let target = try? files.destinationOfSymbolicLink(atPath: "/proc/\(entry)/fd/\(fd)"), held.contains(target) {
                    return pid
                }
            }
        }
        return nil
    }

    /// `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600: never over an existing file or a planted symlink.
    static func createEmptyPrivateFile(_ path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw Refusal.targetExists(path: path) }
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, "errno": errno])
        }
        close(descriptor)
    }

    /// One connection to `path`, opened read-only, closed afterwards.
    static func withReadOnlyConnection<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try SQLiteLibrary.queue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.inDatabase(body)
    }
}
