import Foundation
import SQLKit
import StrongAuthCore

extension SQLStore: ClientRepository {
    public func insertClient(_ client: OAuthClient) async throws {
        let inserted = try await pool.withWriteConnection { db in
            try await db.sql(
                """
                INSERT INTO clients (id, name, secret_hash, grants, scopes, status, created_at, webhook_url, sealed_webhook_secret,
                                     resource_server, realm_id, redirect_uris, public_client, jwks, dpop_required, require_par,
                                     default_acr)
                VALUES (\(bind: client.id), \(bind: client.name), \(bind: client.secretHash),
                        \(bind: client.grants.map(\.rawValue).sorted().joined(separator: " ")), \(bind: client.scopes.wire),
                        \(bind: client.status.rawValue), \(bind: client.createdAt.epochMilliseconds),
                        \(bind: client.webhookURL), \(bind: client.sealedWebhookSecret), \(bind: client.isResourceServer ? 1 : 0),
                        \(bind: client.realmID), \(bind: client.redirectURIs.joined(separator: "\n")), \(bind: client.isPublic ? 1 : 0),
                        \(bind: client.jwks), \(bind: client.requiresDPoP ? 1 : 0),
                        \(bind: client.requiresPushedAuthorizationRequests ? 1 : 0), \(bind: client.defaultACR))
                ON CONFLICT DO NOTHING RETURNING id
                """
            ).first()
        }
        guard inserted != nil else { throw StoreError.conflict("client '\(client.id)'") }
    }

    public func client(id: String) async throws -> OAuthClient? {
        try await pool.withConnection { db in
            try await db.sql("SELECT * FROM clients WHERE id = \(bind: id)").first()
        }.map(Self.client(from:))
    }

    static func client(from row: any SQLRow) throws -> OAuthClient { try client(from: row, prefix: "") }

    /// A client from columns named `prefix` + the column (a client joined to other tables),
    /// decoded once per distinct row (`RowMemo`: the row is still read every time; only an
    /// identical one is not decoded again).
    static func client(from row: any SQLRow, prefix: String) throws -> OAuthClient {
        let columns = prefix.isEmpty ? clientColumns : prefix == "k_" ? clientColumnsPrefixedK : clientColumns.map { prefix + $0 }
        return try decodedClients.value(key: try row.string(columns[0]), row: row, columns: columns) {
            try decodedClient(from: row, prefix: prefix)
        }
    }

    /// A client's columns, the id first: what `decodedClient(from:prefix:)` reads
    /// (`ClientRowMemoTests`: no other, and a change to any one of them is read) and what the
    /// reads joining a client select (`prefixedClientColumns`, `selectedClientColumns`).
    static let clientColumns = [
        "id", "name", "secret_hash", "grants", "scopes", "status", "created_at", "webhook_url", "sealed_webhook_secret",
        "resource_server", "realm_id", "redirect_uris", "public_client", "jwks", "dpop_required", "require_par", "default_acr",
    ]
    private static let clientColumnsPrefixedK = clientColumns.map { "k_" + $0 }
    /// The columns of `clients k`, each named `k_` + the column (a client joined to other tables).
    static let prefixedClientColumns = clientColumns.map { "k.\($0) AS k_\($0)" }.joined(separator: ", ")
    /// The columns of `clients c`, under their own names (introspection's read).
    static let selectedClientColumns = clientColumns.map { "c.\($0)" }.joined(separator: ", ")

    /// Clients decoded, by id (rows are compared by column name, so a joined row's `k_` columns
    /// meet the client's own). A node has tens of clients, rarely thousands.
    static let decodedClients = RowMemo<OAuthClient>(capacity: 4096)

    private static func decodedClient(from row: any SQLRow, prefix: String) throws -> OAuthClient {
        OAuthClient(
            id: try row.string(prefix + "id"), name: try row.string(prefix + "name"), secretHash: try row.string(prefix + "secret_hash"),
            grants: Set(try row.words(prefix + "grants").compactMap(GrantType.init(rawValue:))),
            scopes: Scopes(stored: try row.string(prefix + "scopes")),
            status: OAuthClient.Status(rawValue: try row.string(prefix + "status")) ?? .disabled,
            createdAt: try row.date(prefix + "created_at"), webhookURL: try row.optionalString(prefix + "webhook_url"),
            sealedWebhookSecret: try row.optionalString(prefix + "sealed_webhook_secret"),
            isResourceServer: try row.decode(column: prefix + "resource_server", as: Int.self) != 0, realmID: try row.string(prefix + "realm_id"),
            redirectURIs: try row.string(prefix + "redirect_uris").split(separator: "\n").map(String.init),
            isPublic: try row.decode(column: prefix + "public_client", as: Int.self) != 0, jwks: try row.optionalString(prefix + "jwks"),
            requiresDPoP: try row.decode(column: prefix + "dpop_required", as: Int.self) != 0,
            requiresPushedAuthorizationRequests: try row.decode(column: prefix + "require_par", as: Int.self) != 0,
            defaultACR: try row.optionalString(prefix + "default_acr"))
    }
}
