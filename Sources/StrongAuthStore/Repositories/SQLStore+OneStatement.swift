import Foundation
import SQLKit
import StrongAuthCore

/// A row to insert — its table, columns and values — run on its own (`run(on:)`) or as one part
/// of a single PostgreSQL statement (`SQLStore.oneStatement`). One definition of each row for both.
struct RowInsert: Sendable {
    var table: String
    var columns: String
    var values: StoreSQL
    /// What follows the values (`ON CONFLICT DO NOTHING`).
    var suffix: String = ""

    func run(on db: any SQLDatabase) async throws {
        try await db.sql("INSERT INTO \(unsafeRaw: table) (\(unsafeRaw: columns)) VALUES (\(values)) \(unsafeRaw: suffix)").run()
    }

    /// The CTE `name AS (INSERT …)` of a single PostgreSQL statement: its values once, or selected
    /// `FROM` another part (`source`, e.g. the decision) so that it is written only with it.
    func part(_ name: String, from source: String?) -> StoreSQL {
        let rows: StoreSQL = source.map { "SELECT \(values) FROM \(unsafeRaw: $0)" } ?? "VALUES (\(values))"
        return "\(unsafeRaw: name) AS (INSERT INTO \(unsafeRaw: table) (\(unsafeRaw: columns)) \(rows) \(unsafeRaw: suffix))"
    }
}

extension SQLStore {
    /// PostgreSQL: a unit of work as ONE statement of data-modifying CTEs — one round trip, where
    /// a transaction costs BEGIN, one round trip per statement, and COMMIT. The parts run in one
    /// snapshot and commit together. With a `decision` (an `UPDATE … RETURNING id`), every insert
    /// selects FROM it: nothing is written unless the conditional update happened, exactly as in
    /// the transaction that returns early; the statement returns the decided row's `id`, if any.
    /// Without one, every insert happens and the statement returns one row.
    ///
    /// In one snapshot, a part does not see another's rows: a subquery that looks up a row
    /// inserted beside it (the realm of an audit record's new subject) must be given its answer.
    static func oneStatement(decision: StoreSQL?, inserts: [RowInsert]) -> StoreSQL {
        var parts: [StoreSQL] = decision.map { ["decided AS (\($0))"] } ?? []
        parts += inserts.enumerated().map { index, insert in insert.part("part\(index)", from: decision == nil ? nil : "decided") }
        return "WITH \(parts.joined(separator: ",\n"))\n\(unsafeRaw: decision == nil ? "SELECT 1 AS id" : "SELECT id FROM decided")"
    }

}
