import SQLKit
import Synchronization

/// The column names of one execution of a statement, shared by its rows (`SQLiteRowValues`,
/// `PostgresRowValues`), and how a row finds a column among them.
///
/// The store's decoders mostly read a row's columns in the order its statement names them, so a
/// lookup starts just after the column the previous lookup of that row found, and wraps around:
/// one comparison instead of a scan from the first column (~45 % of decoding an approval with its
/// device and application on SQLite, and two hash lookups per column on PostgreSQL). The answer is
/// the first column of that name, as a scan from the start finds it, because names are looked up
/// this way only when none repeats; otherwise (a join's `SELECT *` naming `id` twice) every lookup
/// scans from the start.
final class RowColumnNames: Sendable {
    let names: [String]
    let unique: Bool

    init(_ names: [String]) {
        self.names = names
        unique = names.count < 2 || Set(names).count == names.count
    }

    /// The first column named `column`; `next` is the row's hint (relaxed: only a hint, and a row
    /// is decoded by one task), moved past the column found.
    @inline(__always)
    func index(of column: String, next: borrowing Atomic<Int>) -> Int? {
        guard unique else { return names.firstIndex(of: column) }
        let count = names.count
        var index = next.load(ordering: .relaxed)
        if index >= count { index = 0 }
        for _ in 0..<count {
            if names[index] == column {
                next.store(index + 1, ordering: .relaxed)
                return index
            }
            index += 1
            if index == count { index = 0 }
        }
        return nil
    }
}

/// A row whose columns are found by name through its statement's `RowColumnNames`
/// (`SQLiteRowValues`, `PostgresRowValues`).
protocol NamedColumnsRow: SQLRow {
    var columnNames: RowColumnNames { get }
    /// The first column named `column` (`RowColumnNames.index(of:next:)` with the row's hint).
    func index(of column: String) -> Int?
}

extension NamedColumnsRow {
    var allColumns: [String] { columnNames.names }

    func contains(column: String) -> Bool { index(of: column) != nil }
}
