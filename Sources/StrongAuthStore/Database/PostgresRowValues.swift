import Foundation
import PostgresKit
import PostgresNIO
import SQLKit

/// A PostgreSQL row for SQLKit that decodes the store's common column types (text, integers,
/// booleans, timestamps, doubles and their optionals) with PostgresNIO's own decoders directly.
///
/// PostgresKit's row reaches the same decoders through `PostgresDataTranslation`, after a dynamic
/// cast and a coding path built per column — ~6 % of an introspection's CPU on PostgreSQL in the
/// profile (docs/benchmarks.md). Any other type, and any user-defined column type (where
/// PostgresKit rewrites the cell first), goes to PostgresKit's row, so every value decodes
/// exactly as before.
struct PostgresRowValues: SQLRow {
    let row: PostgresRow
    private let cells: PostgresRandomAccessRow

    init(_ row: PostgresRow) {
        self.row = row
        cells = PostgresRandomAccessRow(row)
    }

    var allColumns: [String] { cells.map(\.columnName) }

    func contains(column: String) -> Bool { cells.contains(column) }

    func decodeNil(column: String) throws -> Bool { !cells.contains(column) || cells[column].bytes == nil }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard cells.contains(column) else { throw MissingColumn(column: column) }
        let cell = cells[column]
        if !cell.dataType.isUserDefined, let decoded: D = try Self.decodedDirectly(cell) { return decoded }
        return try row.sql().decode(column: column, as: D.self)
    }

    @inline(__always)
    private static func decodedDirectly<D>(_ cell: PostgresCell) throws -> D? {
        if D.self == String.self { return try cell.decode(String.self) as? D }
        if D.self == String?.self { return try cell.decode(String?.self) as? D }
        if D.self == Int.self { return try cell.decode(Int.self) as? D }
        if D.self == Int?.self { return try cell.decode(Int?.self) as? D }
        if D.self == Int64.self { return try cell.decode(Int64.self) as? D }
        if D.self == Int64?.self { return try cell.decode(Int64?.self) as? D }
        if D.self == Bool.self { return try cell.decode(Bool.self) as? D }
        if D.self == Bool?.self { return try cell.decode(Bool?.self) as? D }
        if D.self == Date.self { return try cell.decode(Date.self) as? D }
        if D.self == Date?.self { return try cell.decode(Date?.self) as? D }
        if D.self == Double.self { return try cell.decode(Double.self) as? D }
        return nil
    }
}
