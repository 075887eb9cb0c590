import Foundation
import SQLKit
import Testing

@testable import StrongAuthStore

/// A reference decoding of one column (SQLiteKit's decoder, PostgresKit's row) that a store's
/// direct row decoding must agree with.
protocol ReferenceDecoding {
    func decode<T: Decodable>(column: String, as type: T.Type) throws -> T
}

/// The row types' direct decodings (`SQLiteRowValues`, `PostgresRowValues`) checked against the
/// library decoding they replace: for every column and every type the store reads, equal values
/// or both refusing.
enum DecodingAgreement {
    static func expectAgreement(of row: any SQLRow, with reference: some ReferenceDecoding, columns: [String]) {
        func agree<T: Decodable & Equatable>(_ type: T.Type) {
            for column in columns {
                let direct = Result { try row.decode(column: column, as: T.self) }
                let expected = Result { try reference.decode(column: column, as: T.self) }
                switch (direct, expected) {
                case (.success(let a), .success(let b)): #expect(a == b, "\(column) as \(T.self)")
                case (.failure, .failure): break
                default: Issue.record("\(column) as \(T.self): \(direct) but the reference: \(expected)")
                }
            }
        }
        agree(String.self)
        agree(String?.self)
        agree(Int.self)
        agree(Int?.self)
        agree(Int64.self)
        agree(Int64?.self)
        agree(Bool.self)
        agree(Bool?.self)
        agree(Date.self)
        agree(Date?.self)
        agree(Double.self)
        agree(UUID.self)
        // The store's typed accessors (each engine's direct path) against the same reference
        // (dates: the stored milliseconds, as the store turns them into dates).
        func accessor<T: Decodable, U: Equatable>(_ name: String, _ read: (String) throws -> U, reference type: T.Type, _ map: (T) -> U) {
            for column in columns {
                let direct = Result { try read(column) }
                let expected = Result { map(try reference.decode(column: column, as: T.self)) }
                switch (direct, expected) {
                case (.success(let a), .success(let b)): #expect(a == b, "\(name)(\(column))")
                case (.failure, .failure): break
                default: Issue.record("\(name)(\(column)): \(direct) but the reference: \(expected)")
                }
            }
        }
        accessor("string", row.string, reference: String.self) { $0 }
        accessor("optionalString", row.optionalString, reference: String?.self) { $0 }
        accessor("int", row.int, reference: Int.self) { $0 }
        accessor("date", row.date, reference: Int64.self) { Date(epochMilliseconds: $0) }
        accessor("optionalDate", row.optionalDate, reference: Int64?.self) { $0.map(Date.init(epochMilliseconds:)) }
    }
}
