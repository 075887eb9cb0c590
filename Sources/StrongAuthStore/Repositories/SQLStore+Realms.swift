import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: RealmRepository {
    public func insertRealm(id: String, at now: Date) async throws {
        let inserted = try await pool.withWriteConnection { db in
            try await db.sql(
                "INSERT INTO realms (id, created_at) VALUES (\(bind: id), \(bind: now.epochMilliseconds)) ON CONFLICT DO NOTHING RETURNING id"
            ).first()
        }
        guard inserted != nil else { throw StoreError.conflict("realm '\(id)'") }
    }

    public func realmExists(id: String) async throws -> Bool {
        try await pool.withConnection { db in
            try await db.sql("SELECT id FROM realms WHERE id = \(bind: id)").first()
        } != nil
    }
}
