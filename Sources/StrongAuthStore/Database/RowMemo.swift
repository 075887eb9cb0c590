import Foundation
import NIOCore
import SQLKit
import SQLiteKit
import Synchronization

/// One column's value exactly as the database answered it: SQLite's value, PostgreSQL's bytes.
/// Two rows of one statement whose raw values are identical decode to equal values.
enum RawColumnValue: Sendable {
    case sqlite(SQLiteData)
    case postgres(ByteBuffer?)

    /// Byte for byte: `String`'s `==` would call two canonically equivalent texts (é as one
    /// scalar or as e and a combining accent) equal, and the database does not.
    func isIdentical(to other: RawColumnValue) -> Bool {
        switch (self, other) {
        case (.sqlite(.text(let lhs)), .sqlite(.text(let rhs))): return Self.sameBytes(lhs, rhs)
        case (.sqlite(.text), .sqlite), (.sqlite, .sqlite(.text)): return false
        case (.sqlite(let lhs), .sqlite(let rhs)): return lhs == rhs
        case (.postgres(let lhs), .postgres(let rhs)): return lhs == rhs
        default: return false
        }
    }

    /// The value with bytes of its own: a PostgreSQL cell is a slice of the buffer its message
    /// arrived in, which a kept slice would hold whole.
    var compacted: RawColumnValue {
        guard case .postgres(let bytes?) = self else { return self }
        return .postgres(ByteBuffer(bytes: bytes.readableBytesView))
    }

    /// Whether two texts have the same UTF-8 bytes (one `memcmp`: the texts SQLite answers are
    /// native, contiguous strings).
    private static func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in left.count == 0 || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0 }
        }
    }
}

/// Values decoded from rows, each kept beside the raw values of the row it came from, so that a
/// row read again unchanged is not decoded again — for a row read on nearly every request whose
/// decoding costs more than comparing it: a client's (its grants, scopes and redirect URIs parsed
/// into sets and lists), read by every grant, introspection and device challenge answer
/// (docs/benchmarks.md, twenty-sixth pass: 5–7 % of a client_credentials grant).
///
/// Nothing is trusted that the database did not just answer: every read still reads the row, and
/// a kept value is returned only for a row whose every column is byte for byte the one it was
/// decoded from. A row changed by anyone (this node, another, the CLI) is decoded anew and
/// replaces the kept one. Bounded: past `capacity` keys it starts over.
final class RowMemo<Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        let raw: [RawColumnValue]
        let value: Value
    }

    private let entries = Mutex<[String: Entry]>([:])
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The value of `row` (its `columns`, the ones `decode` reads), kept under `key`: the kept one
    /// if the row is identical to the one it was decoded from, else `decode()`'s, then kept. A row
    /// that cannot give its raw values (one of neither engine's row types) is decoded, not kept.
    func value(key: String, row: any SQLRow, columns: [String], decode: () throws -> Value) rethrows -> Value {
        guard let row = RawColumns(row) else { return try decode() }
        if let entry = entries.withLock({ $0[key] }), row.isIdentical(to: entry.raw, columns: columns) { return entry.value }
        let value = try decode()
        guard let raw = row.values(columns)?.map(\.compacted) else { return value }
        entries.withLock { entries in
            if entries.count >= capacity, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key] = Entry(raw: raw, value: value)
        }
        return value
    }

    /// How many values are kept (tests).
    var count: Int { entries.withLock { $0.count } }
}

/// A row of either engine, read as raw values.
private enum RawColumns {
    case sqlite(SQLiteRowValues)
    case postgres(PostgresRowValues)

    init?(_ row: any SQLRow) {
        if let row = row as? SQLiteRowValues {
            self = .sqlite(row)
        } else if let row = row as? PostgresRowValues {
            self = .postgres(row)
        } else {
            return nil
        }
    }

    func value(_ column: String) -> RawColumnValue? {
        switch self {
        case .sqlite(let row): return row.index(of: column).map { .sqlite(row.values[$0]) }
        case .postgres(let row): return row.index(of: column).map { .postgres(row.bytes(at: $0)) }
        }
    }

    func values(_ columns: [String]) -> [RawColumnValue]? {
        var values: [RawColumnValue] = []
        values.reserveCapacity(columns.count)
        for column in columns {
            guard let value = value(column) else { return nil }
            values.append(value)
        }
        return values
    }

    /// Whether the row's `columns` are `raw`, byte for byte (without copying them out).
    func isIdentical(to raw: [RawColumnValue], columns: [String]) -> Bool {
        guard raw.count == columns.count else { return false }
        for (index, column) in columns.enumerated() {
            guard let value = value(column), value.isIdentical(to: raw[index]) else { return false }
        }
        return true
    }
}
