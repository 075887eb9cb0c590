import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: SigningKeyRepository {
    public func signingKeys() async throws -> [SealedSigningKey] {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM signing_keys ORDER BY created_at").all()
        }.map { row in
            SealedSigningKey(
                kid: try row.string("kid"), sealedPrivateKey: try row.string("sealed_private_key"),
                status: SigningKey.Status(rawValue: try row.string("status")) ?? .retired,
                createdAt: try row.date("created_at"))
        }
    }

    public func insertSigningKey(_ key: SealedSigningKey) async throws {
        try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO signing_keys (kid, sealed_private_key, status, created_at)
                VALUES (\(bind: key.kid), \(bind: key.sealedPrivateKey), \(bind: key.status.rawValue), \(bind: key.createdAt.epochMilliseconds))
                ON CONFLICT DO NOTHING
                """
            ).run()
        }
    }

    public func rotateSigningKey(to key: SealedSigningKey) async throws -> [String] {
        try await pool.withTransaction { db in
            let retired = try await db.sql(
                "UPDATE signing_keys SET status = 'retired', retired_at = \(bind: key.createdAt.epochMilliseconds) WHERE status = 'active' RETURNING kid"
            ).all().map { try $0.string("kid") }
            try await db.sql(
                """
                INSERT INTO signing_keys (kid, sealed_private_key, status, created_at)
                VALUES (\(bind: key.kid), \(bind: key.sealedPrivateKey), 'active', \(bind: key.createdAt.epochMilliseconds))
                """
            ).run()
            return retired
        }
    }

    /// Two single statements, each atomic, so several nodes pruning at once delete each key once
    /// and never the active one (`status = 'retired'` is part of every condition).
    public func pruneSigningKeys(retiredBefore cutoff: Date, now: Date) async throws -> [String] {
        try await pool.withWriteConnection { db in
            try await db.sql(
                "UPDATE signing_keys SET retired_at = \(bind: now.epochMilliseconds) WHERE status = 'retired' AND retired_at IS NULL"
            ).run()
            return try await db.sql(
                "DELETE FROM signing_keys WHERE status = 'retired' AND retired_at <= \(bind: cutoff.epochMilliseconds) RETURNING kid"
            ).all().map { try $0.string("kid") }
        }
    }
}
