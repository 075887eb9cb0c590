import Foundation
import SQLKit
import StrongAuthCore

/// A row to insert — its table, columns and values — run on its own (`run(on:)`) or as one part
/// of a single PostgreSQL statement (`SQLStore.oneStatement`). One definition of each row for both.
struct RowInsert: Sendable {
    var table: String
    var columns: String
    var values: SQLQueryString
    /// What follows the values (`ON CONFLICT DO NOTHING`).
    var suffix: String = ""

    func run(on db: any SQLDatabase) async throws {
        try await db.raw("INSERT INTO \(unsafeRaw: table) (\(unsafeRaw: columns)) VALUES (\(values)) \(unsafeRaw: suffix)").run()
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
    static func oneStatement(decision: SQLQueryString?, inserts: [RowInsert]) -> SQLQueryString {
        var parts: [SQLQueryString] = []
        if let decision { parts.append("decided AS (\(decision))") }
        for (index, insert) in inserts.enumerated() {
            let source: SQLQueryString = decision == nil ? "VALUES (\(insert.values))" : "SELECT \(insert.values) FROM decided"
            parts.append(
                "part\(unsafeRaw: String(index)) AS (INSERT INTO \(unsafeRaw: insert.table) (\(unsafeRaw: insert.columns)) \(source) \(unsafeRaw: insert.suffix))"
            )
        }
        var statement: SQLQueryString = "WITH "
        for (index, part) in parts.enumerated() {
            if index > 0 { statement.appendInterpolation(unsafeRaw: ",\n") }
            statement.appendInterpolation(part)
        }
        statement.appendInterpolation(unsafeRaw: decision == nil ? "\nSELECT 1 AS id" : "\nSELECT id FROM decided")
        return statement
    }
}
