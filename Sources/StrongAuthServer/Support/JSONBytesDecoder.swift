import Foundation
import StrongAuthProtocol

/// Decodes a request body's `Decodable` type straight from its bytes: the counterpart of
/// `JSONBytesEncoder` for what comes in. Foundation's `JSONDecoder` spends most of an operation
/// creation's body decode (~22 µs, ~5 % of the request's CPU, docs/benchmarks.md) in generic
/// metadata lookups and boxed containers around a five-member object.
///
/// It answers only where it decides exactly as `JSONDecoder` with its default strategies would:
/// well-formed JSON whose objects repeat no key, nested at most `JSONBytesParser.maximumDepth` levels, strings of
/// valid UTF-8 (the standard escapes, surrogate pairs whole), integers written as plain JSON
/// integers within their type's range, booleans, null, arrays. Anything else — a fraction or an
/// exponent, a `Date`, `Data`, `URL` or `Decimal`, a floating-point type, a value of another type
/// than asked, a missing key, `superDecoder`, any error at all, even one the value's own
/// `init(from:)` caught and recovered from — makes `decode` return `nil`, and the caller asks
/// `JSONDecoder`, which then also words the error. So no body reads differently than it did, and a
/// debug build checks each answer against `JSONDecoder`'s (`JSONBody`).
enum JSONBytesDecoder {
    static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) -> T? {
        var parser = JSONBytesParser(bytes: bytes.bindMemory(to: UInt8.self))
        guard let root = parser.document() else { return nil }
        let run = JSONDecodingRun()
        guard let value = try? run.decode(type, from: root, codingPath: []), !run.refused else { return nil }
        return value
    }

    /// `type` from `bytes`, decided here where it can be, else by Foundation's `JSONDecoder`
    /// (whose errors the callers word). A debug build decodes with both and checks they agree.
    static func decodeFallingBack<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        guard let value = decode(type, from: bytes) else {
            return try JSONDecoder().decode(type, from: Data(bytes))
        }
        #if DEBUG
            if let equatable = value as? any Equatable {
                assert(agreesWithFoundation(equatable, bytes: bytes), "JSONBytesDecoder and JSONDecoder disagree on \(T.self)")
            }
        #endif
        return value
    }

    static func decodeFallingBack<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decodeFallingBack(type, from: $0) }
    }

    /// Whether Foundation decodes `bytes` to a value equal to `value` (for the debug check and
    /// the tests).
    static func agreesWithFoundation<E: Equatable>(_ value: E, bytes: UnsafeRawBufferPointer) -> Bool {
        guard let decodable = E.self as? any Decodable.Type,
            let theirs = try? JSONDecoder().decode(decodable, from: Data(bytes))
        else { return false }
        return (theirs as? E) == value
    }
}

/// One decode: whether anything along the way was refused. Sticky, so that a refusal an
/// `init(from:)` caught (trying one shape, then another) still sends the whole body to Foundation.
/// A value a JSON body may send as a string or as a non-negative integer (the ABN AMRO API's
/// account, card and handle numbers). Its `init(from:)` must decode a string as `init(jsonText:)`
/// does, and a `UInt64` as `init(jsonText: String(number))`: `JSONBytesDecoder` then decides it
/// without that `init(from:)`'s try-one-shape-then-the-other.
protocol JSONStringOrUnsignedInteger: Decodable {
    init(jsonText: String)
}

final class JSONDecodingRun {
    private(set) var refused = false

    struct Refused: Error {}

    func refuse() -> Refused {
        refused = true
        return Refused()
    }

    func decode<T: Decodable>(_ type: T.Type, from value: JSONParsedValue, codingPath: @autoclosure () -> [any CodingKey]) throws -> T {
        // The types JSONDecoder treats specially, or whose text it reads its own way.
        if T.self == String.self {
            guard case .string(let text) = value else { throw refuse() }
            return text as! T
        }
        if T.self == Bool.self {
            guard case .bool(let flag) = value else { throw refuse() }
            return flag as! T
        }
        if let integer = T.self as? any FixedWidthInteger.Type {
            guard case .integer(let number) = value, let exact = integer.init(exactly: number) else { throw refuse() }
            return exact as! T
        }
        // A number the API takes as a string or as an integer: read as its `init(from:)` would,
        // without trying one shape and catching the refusal (which leaves the body to Foundation).
        if let flexible = T.self as? any JSONStringOrUnsignedInteger.Type {
            switch value {
            case .string(let text): return flexible.init(jsonText: text) as! T
            case .integer(let number) where number >= 0: return flexible.init(jsonText: String(number)) as! T
            default: throw refuse()
            }
        }
        if T.self is any BinaryFloatingPoint.Type || T.self == Date.self || T.self == Data.self || T.self == URL.self
            || T.self == Decimal.self
        {
            throw refuse()
        }
        return try T(from: JSONValueDecoder(value: value, codingPath: codingPath(), run: self))
    }
}

private struct JSONValueDecoder: Decoder {
    let value: JSONParsedValue
    let codingPath: [any CodingKey]
    let run: JSONDecodingRun
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw run.refuse() }
        return KeyedDecodingContainer(JSONKeyedContainer<Key>(members: members, codingPath: codingPath, run: run))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw run.refuse() }
        return JSONUnkeyedContainer(elements: elements, codingPath: codingPath, run: run)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { JSONSingleValueContainer(decoder: self) }
}

private struct JSONKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONParsedValue]
    let codingPath: [any CodingKey]
    let run: JSONDecodingRun

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func member(_ key: Key) throws -> JSONParsedValue {
        guard let value = members[key.stringValue] else { throw run.refuse() }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try member(key) { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try run.decode(type, from: try member(key), codingPath: codingPath + [key])
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { throw run.refuse() }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { throw run.refuse() }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try run.decode(type, from: try member(key), codingPath: []) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try run.decode(type, from: try member(key), codingPath: []) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoder(value: try member(key), codingPath: codingPath + [key], run: run).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONValueDecoder(value: try member(key), codingPath: codingPath + [key], run: run).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { throw run.refuse() }
    func superDecoder(forKey key: Key) throws -> any Decoder { throw run.refuse() }
}

private struct JSONUnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONParsedValue]
    let codingPath: [any CodingKey]
    let run: JSONDecodingRun
    private(set) var currentIndex = 0

    init(elements: [JSONParsedValue], codingPath: [any CodingKey], run: JSONDecodingRun) {
        self.elements = elements
        self.codingPath = codingPath
        self.run = run
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private struct Index: CodingKey {
        let intValue: Int?
        var stringValue: String { "Index \(intValue ?? 0)" }
        init(_ index: Int) { intValue = index }
        init?(stringValue: String) { nil }
        init?(intValue: Int) { self.intValue = intValue }
    }

    private mutating func next() throws -> JSONParsedValue {
        guard !isAtEnd else { throw run.refuse() }
        defer { currentIndex += 1 }
        return elements[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { throw run.refuse() }
        guard case .null = elements[currentIndex] else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let index = currentIndex
        return try run.decode(type, from: try next(), codingPath: codingPath + [Index(index)])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let index = currentIndex
        return try JSONValueDecoder(value: try next(), codingPath: codingPath + [Index(index)], run: run).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let index = currentIndex
        return try JSONValueDecoder(value: try next(), codingPath: codingPath + [Index(index)], run: run).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { throw run.refuse() }
}

private struct JSONSingleValueContainer: SingleValueDecodingContainer {
    let decoder: JSONValueDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool {
        if case .null = decoder.value { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.run.decode(type, from: decoder.value, codingPath: decoder.codingPath)
    }
}
