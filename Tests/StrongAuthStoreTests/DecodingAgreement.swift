import Foundation
import SQLKit
import Testing

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
    }
}
