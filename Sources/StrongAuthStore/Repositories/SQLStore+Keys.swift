import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: SigningKeyRepository {
    public func signingKeys() async throws -> [SealedSigningKey] {
        try await pool.withConnection { db in
            try await db.raw("SELECT * FROM signing_keys ORDER BY created_at").all()
        }.map { row in
            SealedSigningKey(
                kid: try row.string("kid"), sealedPrivateKey: try row.string("sealed_private_key"),
                status: SigningKey.Status(rawValue: try row.string("status")) ?? .retired,
                createdAt: try row.date("created_at"))
        }
    }

    public func insertSigningKey(_ key: SealedSigningKey) async throws {
        try await pool.withWriteConnection { db in
            try await db.raw(
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
            let retired = try await db.raw("UPDATE signing_keys SET status = 'retired' WHERE status = 'active' RETURNING kid").all()
                .map { try $0.string("kid") }
            try await db.raw(
                """
                INSERT INTO signing_keys (kid, sealed_private_key, status, created_at)
                VALUES (\(bind: key.kid), \(bind: key.sealedPrivateKey), 'active', \(bind: key.createdAt.epochMilliseconds))
                """
            ).run()
            return retired
        }
    }
}
