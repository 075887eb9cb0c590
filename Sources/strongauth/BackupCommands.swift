import ArgumentParser
import Foundation
import Logging
import StrongAuthStore

/// `strongauth backup --to FILE`: a consistent copy of a SQLite database while the server
/// serves (docs/backup.md). PostgreSQL is backed up with `pg_dump -Fc`: this command says so
/// instead of half-doing it (a dump needs the server's own tools and their version rules).
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the SQLite database while the server runs (PostgreSQL: pg_dump -Fc, see docs/backup.md).",
        discussion: """
            The copy is one consistent snapshot (SQLite's VACUUM INTO), written to a new file with
            mode 0600. Its sealed secrets open only with the master key: back the master key up
            separately (docs/keys.md) — a backup without it restores tokens and counters but no
            signing key, PowerAuth key or TOTP secret.
            """)

    @OptionGroup var common: CommonOptions
    @Option(help: "The backup file to create (never overwritten).") var to: String

    func run() async throws {
        let settings = try await common.settings()
        let path = try sqlitePath(settings.databaseURL, purpose: "backup")
        guard FileManager.default.fileExists(atPath: path) else { throw SQLiteBackup.Refusal.missing(path: path) }
        let logger = bootstrapLogging(format: settings.logFormat, level: .warning)
        // No migration: a backup copies the database as the running nodes use it.
        let pool = try await SQLitePool.open(path: path, readers: 1, logger: logger)
        let summary: SQLiteBackup.Summary
        do {
            summary = try await SQLiteBackup.backup(pool, to: to)
            await pool.shutdown()
        } catch {
            await pool.shutdown()
            throw error
        }
        try printJSON([
            "backup": to, "database": path, "engine": "sqlite", "schemaVersion": summary.schemaVersion, "bytes": summary.bytes,
            "masterKey": "not in the backup: keep a copy of the master key apart from it (docs/keys.md)",
        ])
    }
}

/// `strongauth restore --from FILE [--force]`: puts a backup in place of a stopped instance's
/// SQLite database; the next `serve` migrates it forward if it is older than the binary.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a SQLite backup into a stopped instance's data directory (PostgreSQL: pg_restore, see docs/backup.md).",
        discussion: """
            Stop every node first. The file must be a StrongAuth database at a migration level this
            binary knows; a database that already holds data is replaced only with --force. Start
            the nodes with the master key the backup was made under.
            """)

    @OptionGroup var common: CommonOptions
    @Option(help: "The backup file (from strongauth backup).") var from: String
    @Flag(help: "Replace a database that already holds data.") var force = false

    func run() async throws {
        let settings = try await common.settings()
        let path = try sqlitePath(settings.databaseURL, purpose: "restore")
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let summary = try await SQLiteBackup.restore(from: from, to: path, force: force)
        try printJSON([
            "restored": path, "from": from, "engine": "sqlite", "schemaVersion": summary.schemaVersion,
            "pendingMigrations": max(0, SQLiteBackup.knownSchemaVersion - summary.schemaVersion),
            "masterKey": "start the nodes with the master key the backup was made under; no other key opens it (docs/backup.md)",
        ])
    }
}

/// The SQLite file of `url`, or a refusal that tells a PostgreSQL operator what to run instead.
private func sqlitePath(_ url: String, purpose: String) throws -> String {
    if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
        let tool = purpose == "backup" ? "pg_dump -Fc --file FILE" : "pg_restore --clean --if-exists --no-owner --dbname URL FILE"
        throw ValidationError(
            "strongauth \(purpose) handles SQLite only; for PostgreSQL use \(tool) (docs/backup.md)")
    }
    return url.hasPrefix("sqlite:") ? String(url.dropFirst("sqlite:".count)) : url
}
