import Foundation
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// A PostgreSQL row for SQLKit that decodes the store's common column types (text, integers,
/// booleans, timestamps, doubles and their optionals) with PostgresNIO's own decoders directly.
///
/// PostgresKit's row reaches the same decoders through `PostgresDataTranslation`, after a dynamic
/// cast and a coding path built per column — ~6 % of an introspection's CPU on PostgreSQL in the
/// profile (docs/benchmarks.md). Any other type, and any user-defined column type (where
/// PostgresKit rewrites the cell first), goes to PostgresKit's row, so every value decodes
/// exactly as before.
///
/// A class, so that the existential `any SQLRow` holds a reference rather than boxing and copying
/// the row and its cells; columns are found by name as `RowColumnNames` says, then by position.
final class PostgresRowValues: NamedColumnsRow {
    let row: PostgresRow
    private let cells: PostgresRandomAccessRow
    let columnNames: RowColumnNames
    /// Where the next lookup starts.
    private let nextColumn = Atomic<Int>(0)

    /// `columns`: the names of the statement's earlier rows (the same for every row of a result).
    init(_ row: PostgresRow, columns: RowColumnNames? = nil) {
        self.row = row
        let cells = PostgresRandomAccessRow(row)
        self.cells = cells
        columnNames = columns ?? RowColumnNames(cells.map(\.columnName))
    }

    @inline(__always)
    func index(of column: String) -> Int? { columnNames.index(of: column, next: nextColumn) }

    func decodeNil(column: String) throws -> Bool {
        guard let index = index(of: column) else { return true }
        return cells[index].bytes == nil
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = index(of: column) else { throw MissingColumn(column: column) }
        let cell = cells[index]
        if !cell.dataType.isUserDefined, let decoded: D = try Self.decodedDirectly(cell) { return decoded }
        return try row.sql().decode(column: column, as: D.self)
    }

    /// A column of a type PostgresNIO decodes itself, without `decode(column:as:)`'s dynamic
    /// casts: the store's typed accessors (`SQLRow.string(_:)` and the others).
    @inline(__always)
    func value<T: PostgresDecodable & Decodable>(_ column: String, as type: T.Type) throws -> T {
        guard let index = index(of: column) else { throw MissingColumn(column: column) }
        let cell = cells[index]
        if cell.dataType.isUserDefined { return try row.sql().decode(column: column, as: T.self) }
        return try cell.decode(T.self)
    }

    /// Column `index`'s bytes as PostgreSQL sent them (`RowMemo` compares rows by them).
    func bytes(at index: Int) -> ByteBuffer? { cells[index].bytes }

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
