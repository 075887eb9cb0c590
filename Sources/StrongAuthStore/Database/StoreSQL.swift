import SQLKit

/// A statement of the store written as SQLKit's `SQLQueryString` is (`"… WHERE id = \(bind: id)"`),
/// but kept as its finished text: the SQL with `?` where each bind goes, and the binds in order.
///
/// Why: SQLKit keeps a query string as a list of boxed fragments and serializes them anew at every
/// execution — a protocol call, a boxed placeholder and a string append per fragment, ~4 % of the
/// CPU of each write request (docs/benchmarks.md, tenth pass). The store's statements are static
/// text with binds, so the text can be finished as it is written: SQLite runs it as it is
/// (`GRDBSQLDatabase`), and any other database gets it through SQLKit's serializer, each `?` that
/// stands for a bind written as that dialect's placeholder (`$1` on PostgreSQL).
///
/// Only the placeholders the binds put there are placeholders: a `?` in the text itself (in a
/// string literal, say) is text, because each bind's offset is recorded.
public struct StoreSQL: SQLExpression, ExpressibleByStringInterpolation, StringInterpolationProtocol, Sendable {
    /// The SQL, each bind's place written `?` (SQLite's placeholder).
    public private(set) var text: String
    /// The values bound, in order.
    public private(set) var binds: [any Encodable & Sendable]
    /// Where each bind's `?` is in `text`, as UTF-8 offsets.
    private var bindOffsets: [Int]

    public init(_ text: String) {
        self.text = text
        binds = []
        bindOffsets = []
    }

    public init(stringLiteral value: String) { self.init(value) }

    public init(literalCapacity: Int, interpolationCount: Int) {
        text = ""
        text.reserveCapacity(literalCapacity + interpolationCount * 2)
        // At most one bind per interpolation: one allocation each instead of one per doubling.
        binds = []
        binds.reserveCapacity(interpolationCount)
        bindOffsets = []
        bindOffsets.reserveCapacity(interpolationCount)
    }

    public init(stringInterpolation: StoreSQL) { self = stringInterpolation }

    public mutating func appendLiteral(_ literal: String) { text += literal }

    /// A value, bound (never part of the text).
    public mutating func appendInterpolation(bind value: any Encodable & Sendable) {
        bindOffsets.append(text.utf8.count)
        binds.append(value)
        text += "?"
    }

    /// Values bound one each, separated by `, ` (for `IN (…)`).
    public mutating func appendInterpolation(binds values: [any Encodable & Sendable]) {
        for (index, value) in values.enumerated() {
            if index > 0 { text += ", " }
            appendInterpolation(bind: value)
        }
    }

    /// Text written as it is: only the store's own SQL (column lists, table names), never input.
    public mutating func appendInterpolation(unsafeRaw text: String) { self.text += text }

    /// Another statement's text and binds, in place.
    public mutating func appendInterpolation(_ other: StoreSQL) { self += other }

    public static func += (lhs: inout StoreSQL, rhs: StoreSQL) {
        let shift = lhs.text.utf8.count
        lhs.text += rhs.text
        lhs.binds += rhs.binds
        lhs.bindOffsets += rhs.bindOffsets.map { $0 + shift }
    }

    public static func + (lhs: StoreSQL, rhs: StoreSQL) -> StoreSQL {
        var joined = lhs
        joined += rhs
        return joined
    }

    /// The text with numbered placeholders (`$1`, `$2`, … at the binds' places): what SQLKit's
    /// serializer writes for PostgreSQL's dialect, written here in one pass (`PostgresStatementCache`).
    func numberedText(prefix: UInt8 = UInt8(ascii: "$")) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + bindOffsets.count * 3)
        forEachSegment { segment, bindIndex in
            output.append(contentsOf: segment)
            if let bindIndex {
                output.append(prefix)
                output.append(contentsOf: String(bindIndex + 1).utf8)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Through SQLKit's serializer, for databases other than SQLite: the text between binds as it
    /// is, each bind as the dialect writes it.
    public func serialize(to serializer: inout SQLSerializer) {
        forEachSegment { segment, bindIndex in
            serializer.write(String(decoding: segment, as: UTF8.self))
            if let bindIndex { serializer.write(bind: binds[bindIndex]) }
        }
    }

    /// The text between binds, in order, each with the index of the bind after it (`nil` after
    /// the last segment).
    private func forEachSegment(_ body: (UnsafeBufferPointer<UInt8>, Int?) -> Void) {
        var source = text
        source.withUTF8 { utf8 in
            var start = 0
            for (index, offset) in bindOffsets.enumerated() {
                body(UnsafeBufferPointer(rebasing: utf8[start..<offset]), index)
                start = offset + 1
            }
            body(UnsafeBufferPointer(rebasing: utf8[start...]), nil)
        }
    }
}

extension Sequence<StoreSQL> {
    /// The statements one after the other, `separator` between each two.
    public func joined(separator: String = "") -> StoreSQL {
        var result: StoreSQL = ""
        for (index, part) in enumerated() {
            if index > 0 { result += StoreSQL(separator) }
            result += part
        }
        return result
    }
}

/// Runs a `StoreSQL` with SQLKit's fetchers (`first()`, `all()`, `run()`), as `SQLRawBuilder`
/// runs a `SQLQueryString`.
public final class StoreSQLBuilder: SQLQueryBuilder, SQLQueryFetcher {
    public let database: any SQLDatabase
    let statement: StoreSQL
    public var query: any SQLExpression { statement }

    init(_ statement: StoreSQL, on database: any SQLDatabase) {
        self.statement = statement
        self.database = database
    }
}

extension SQLDatabase {
    /// The store's statement, ready to run.
    public func sql(_ statement: StoreSQL) -> StoreSQLBuilder { StoreSQLBuilder(statement, on: self) }
}
