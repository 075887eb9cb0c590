import Foundation
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// Writes an `Encodable` value as JSON straight into a `ByteBuffer`: the bytes Foundation's
/// `JSONEncoder` writes with `.withoutEscapingSlashes` and `.iso8601` dates, without
/// its tree of boxed values and the `Data` copied into the response (~3–5 % of a request's CPU in
/// the profiles, docs/benchmarks.md).
///
/// One difference, on purpose: object members come in the order they are encoded (declaration
/// order for synthesised `Codable`). Foundation on Linux writes them in its dictionary's hash order,
/// which changes from process to process, so no byte-for-byte contract over member order exists.
///
/// Whatever it cannot write exactly as Foundation would — a float that is not finite, a `Decimal`,
/// a date outside 1900–9999 or within a millisecond of the next second, a key encoded twice in one
/// object, a container written after a sibling value, `superEncoder`, a value that encodes nothing,
/// any thrown error — makes `encode` return `nil`, and the caller encodes that value with Foundation.
enum JSONBytesEncoder {
    /// `value` as JSON, or `nil` when only Foundation's `JSONEncoder` writes it faithfully.
    static func encode(_ value: some Encodable) -> ByteBuffer? {
        let sink = JSONByteSink()
        let slot = sink.newPendingSlot()
        do {
            try sink.writeValue(value, slot: slot, depth: 0)
        } catch {
            return nil
        }
        guard !sink.unsupported, sink.pendingSlot != slot else { return nil }
        sink.closeContainers(above: -1)
        return sink.buffer
    }
}

/// A value that writes its own JSON object's members, in its declaration order and omitting a
/// `nil` as synthesised `Encodable` does, without the `Encoder` machinery (a keyed container, a
/// boxed value and a duplicate-key check per member): for the longest hot answers, the device's
/// pending list (~14 % of its CPU through `Encoder`). `JSONResponse.make(objects:)` writes an
/// array of them; a debug build checks every such answer against Foundation's encoding of the
/// same `Encodable` value.
protocol JSONObjectWritable: Encodable {
    func writeMembers(to object: inout JSONDirectObject) throws
}

/// The members of one object written by a `JSONObjectWritable`.
struct JSONDirectObject {
    fileprivate let sink: JSONByteSink
    fileprivate var count = 0

    mutating func member(_ key: StaticString, _ value: String) {
        begin(key)
        sink.writeString(value)
    }

    /// The member's key (after a comma unless it is the first); its value follows.
    private mutating func begin(_ key: StaticString) {
        sink.beginDirectMember(key, first: count == 0)
        count += 1
    }

    mutating func member(_ key: StaticString, _ value: String?) {
        if let value { member(key, value) }
    }

    mutating func member(_ key: StaticString, _ value: Date) throws {
        begin(key)
        try sink.writeISO8601(value)
    }

    mutating func member(_ key: StaticString, _ value: some FixedWidthInteger) {
        begin(key)
        sink.writeInteger(value)
    }

    mutating func member(_ key: StaticString, _ value: Bool) {
        begin(key)
        sink.writeBool(value)
    }

    /// An array of strings.
    mutating func member(_ key: StaticString, strings: [String]) {
        begin(key)
        sink.writeStringArray(strings)
    }

    /// A nested object that writes its own members.
    mutating func member(_ key: StaticString, object: some JSONObjectWritable) throws {
        begin(key)
        try sink.writeDirectObject(object)
    }

    /// An object of string members (`additionalProperties` of strings), in the dictionary's order.
    mutating func member(_ key: StaticString, stringObject: [String: String]) {
        begin(key)
        sink.writeStringObject(stringObject)
    }
}

extension JSONBytesEncoder {
    /// `values` as a JSON array of objects, or `nil` when only Foundation writes one of them
    /// faithfully (a date out of `writeISO8601`'s range).
    static func encode<Object: JSONObjectWritable>(objects values: [Object]) -> ByteBuffer? {
        written { try $0.writeDirectArray(values) }
    }

    /// `value` as a JSON object, or `nil` when only Foundation writes it faithfully.
    static func encode<Object: JSONObjectWritable>(object value: Object) -> ByteBuffer? {
        written { try $0.writeDirectObject(value) }
    }

    /// What `write` wrote into a fresh sink, or `nil` if it refused.
    private static func written(_ write: (JSONByteSink) throws -> Void) -> ByteBuffer? {
        let sink = JSONByteSink()
        do {
            try write(sink)
        } catch {
            return nil
        }
        return sink.buffer
    }
}

/// Thrown inside the encoder when a value cannot be written as Foundation writes it.
struct JSONBytesUnsupported: Error {}

/// The output and the stack of open objects and arrays shared by every encoder and container of one
/// `JSONBytesEncoder.encode` call. Each value position ("slot") gets a number; a container remembers
/// the slot that opened it, so a second `container(keyedBy:)` on the same encoder (as
/// `encodeAdditionalProperties` does) continues the same object, and a container used after its
/// parent moved on is detected instead of writing out of place.
final class JSONByteSink {
    private struct OpenContainer {
        let slot: Int
        let isObject: Bool
        var count: Int
        /// Where this object's keys start in `keys` (duplicates fall back: Foundation keeps the last).
        let keysStart: Int
    }

    /// The mutable state, behind a pointer: stored properties of a class pay a dynamic exclusivity
    /// check on every access (~1.3 % of an operation flow's CPU in the profile), a pointee does not.
    /// Only this class touches it, from the one thread encoding the value.
    private struct State {
        var bytes: [UInt8] = []
        var unsupported = false
        var pendingSlot = 0
        var open: [OpenContainer] = []
        var keys: [String] = []
        var lastSlot = 0
    }

    private let state: UnsafeMutablePointer<State>

    init() {
        state = .allocate(capacity: 1)
        state.initialize(to: State())
        state.pointee.bytes.reserveCapacity(1024)
        state.pointee.open.reserveCapacity(8)
        state.pointee.keys.reserveCapacity(32)
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// The JSON written so far.
    var buffer: ByteBuffer { ByteBuffer(bytes: state.pointee.bytes) }

    /// Set by non-throwing entry points (`nestedContainer`, `superEncoder`) that cannot write faithfully.
    var unsupported: Bool {
        get { state.pointee.unsupported }
        set { state.pointee.unsupported = newValue }
    }

    /// The slot waiting for its value; 0 when none is.
    var pendingSlot: Int { state.pointee.pendingSlot }

    private func append(_ byte: UInt8) { state.pointee.bytes.append(byte) }

    private func append(_ text: StaticString) {
        text.withUTF8Buffer { state.pointee.bytes.append(contentsOf: $0) }
    }

    func newPendingSlot() -> Int {
        state.pointee.lastSlot += 1
        state.pointee.pendingSlot = state.pointee.lastSlot
        return state.pointee.lastSlot
    }

    // MARK: Containers

    /// Opens (or, for the same slot, continues) an object or array at `depth`; the slot number
    /// identifies it, or -1 when it cannot be written faithfully.
    func openContainer(slot: Int, depth: Int, isObject: Bool) -> Int {
        if depth < state.pointee.open.count, state.pointee.open[depth].slot == slot, state.pointee.open[depth].isObject == isObject {
            closeContainers(above: depth)
            return slot
        }
        guard pendingSlot == slot, state.pointee.open.count == depth else {
            state.pointee.unsupported = true
            return -1
        }
        state.pointee.pendingSlot = 0
        append(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
        state.pointee.open.append(OpenContainer(slot: slot, isObject: isObject, count: 0, keysStart: state.pointee.keys.count))
        return slot
    }

    /// Closes every container deeper than `depth`.
    func closeContainers(above depth: Int) {
        while state.pointee.open.count > depth + 1 {
            let closed = state.pointee.open.removeLast()
            state.pointee.keys.removeSubrange(closed.keysStart...)
            append(closed.isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    /// Writes the separator (and the key) before a member of the container `slot` at `depth`.
    func beginMember(slot: Int, depth: Int, key: String?) throws {
        guard depth >= 0, depth < state.pointee.open.count, state.pointee.open[depth].slot == slot, pendingSlot == 0 else {
            state.pointee.unsupported = true
            throw JSONBytesUnsupported()
        }
        closeContainers(above: depth)
        if state.pointee.open[depth].count > 0 { append(UInt8(ascii: ",")) }
        state.pointee.open[depth].count += 1
        if let key {
            for index in state.pointee.open[depth].keysStart..<state.pointee.keys.count where state.pointee.keys[index] == key {
                state.pointee.unsupported = true
                throw JSONBytesUnsupported()
            }
            state.pointee.keys.append(key)
            writeString(key)
            append(UInt8(ascii: ":"))
        }
    }

    /// Claims the pending `slot` for a single value written directly.
    func claim(slot: Int, depth: Int) throws {
        guard pendingSlot == slot, state.pointee.open.count == depth else {
            state.pointee.unsupported = true
            throw JSONBytesUnsupported()
        }
        state.pointee.pendingSlot = 0
    }

    // MARK: Values

    /// Writes `value` into the pending `slot`: Foundation's special cases (dates, data, URLs,
    /// decimals) and the scalars directly, anything else through its own `encode(to:)`.
    func writeValue<T: Encodable>(_ value: T, slot: Int, depth: Int) throws {
        if T.self == String.self {
            try claim(slot: slot, depth: depth)
            writeString(value as! String)
        } else if T.self == Int.self {
            try claim(slot: slot, depth: depth)
            writeInteger(value as! Int)
        } else if T.self == Bool.self {
            try claim(slot: slot, depth: depth)
            writeBool(value as! Bool)
        } else if T.self == Double.self {
            try claim(slot: slot, depth: depth)
            try writeFloatingPoint(value as! Double)
        } else if T.self == Date.self {
            try claim(slot: slot, depth: depth)
            try writeISO8601(value as! Date)
        } else if T.self == Data.self {
            try claim(slot: slot, depth: depth)
            writeString((value as! Data).base64EncodedString())
        } else if T.self == URL.self {
            try claim(slot: slot, depth: depth)
            writeString((value as! URL).absoluteString)
        } else if T.self == Int64.self {
            try claim(slot: slot, depth: depth)
            writeInteger(value as! Int64)
        } else if T.self == Float.self {
            try claim(slot: slot, depth: depth)
            try writeFloatingPoint(value as! Float)
        } else if T.self == Decimal.self {
            throw JSONBytesUnsupported()
        } else {
            try value.encode(to: JSONByteValueEncoder(sink: self, slot: slot, depth: depth))
            // A value that wrote nothing: Foundation writes `{}` or refuses; either way, let it decide.
            if pendingSlot == slot { throw JSONBytesUnsupported() }
        }
    }

    /// An array of objects that write their own members (`JSONObjectWritable`), into an empty sink.
    func writeDirectArray<Object: JSONObjectWritable>(_ values: [Object]) throws {
        append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { append(UInt8(ascii: ",")) }
            try writeDirectObject(value)
        }
        append(UInt8(ascii: "]"))
    }

    /// One object that writes its own members.
    func writeDirectObject<Object: JSONObjectWritable>(_ value: Object) throws {
        append(UInt8(ascii: "{"))
        var object = JSONDirectObject(sink: self)
        try value.writeMembers(to: &object)
        append(UInt8(ascii: "}"))
    }

    /// `["value",…]`.
    func writeStringArray(_ values: [String]) {
        append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { append(UInt8(ascii: ",")) }
            writeString(value)
        }
        append(UInt8(ascii: "]"))
    }

    /// `{"key":"value",…}` in the dictionary's order (Foundation's is its own hash order).
    func writeStringObject(_ members: [String: String]) {
        append(UInt8(ascii: "{"))
        for (index, (key, value)) in members.enumerated() {
            if index > 0 { append(UInt8(ascii: ",")) }
            writeString(key)
            append(UInt8(ascii: ":"))
            writeString(value)
        }
        append(UInt8(ascii: "}"))
    }

    /// The separator and the key of a `JSONDirectObject`'s member (a key the writer spells: plain
    /// ASCII, no escaping needed, as the debug build's comparison with Foundation checks).
    func beginDirectMember(_ key: StaticString, first: Bool) {
        if !first { append(UInt8(ascii: ",")) }
        append(UInt8(ascii: "\""))
        append(key)
        append("\":")
    }

    func writeNull() { append("null") }

    func writeBool(_ value: Bool) { append(value ? "true" : "false") }

    func writeInteger<I: FixedWidthInteger>(_ value: I) {
        if I.isSigned, value < 0 {
            append(UInt8(ascii: "-"))
            writeDigits(UInt64(value.magnitude))
        } else {
            writeDigits(UInt64(value))
        }
    }

    private func writeDigits(_ value: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var remaining = value
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
            state.pointee.bytes.append(contentsOf: UnsafeMutableBufferPointer(rebasing: digits[start..<20]))
        }
    }

    /// Foundation's form: Swift's shortest round-trip `description`, without a trailing `.0`;
    /// it refuses what is not finite.
    func writeFloatingPoint<F: BinaryFloatingPoint & LosslessStringConvertible>(_ value: F) throws {
        guard value.isFinite else { throw JSONBytesUnsupported() }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        state.pointee.bytes.append(contentsOf: text.utf8)
    }

    /// A JSON string as Foundation's `JSONEncoder` (`.withoutEscapingSlashes`) escapes it.
    func writeString(_ value: String) {
        JSONObjectWriter.append(string: value, to: &state.pointee.bytes, escaping: .foundationWithoutEscapingSlashes)
    }

    /// `.iso8601` (`yyyy-MM-ddTHH:mm:ssZ`, the second truncated) for years 1900–9999. Outside them
    /// Foundation's calendar (Julian before 1582, five-digit years) and within a millisecond of the
    /// next second (rounding) are left to Foundation.
    func writeISO8601(_ date: Date) throws {
        let sinceReference = date.timeIntervalSinceReferenceDate
        let wholeSeconds = sinceReference.rounded(.down)
        // 1900-01-01 and 10000-01-01 as seconds since 2001-01-01.
        guard wholeSeconds >= -3_187_296_000, wholeSeconds < 252_423_993_600, sinceReference - wholeSeconds < 0.999 else {
            throw JSONBytesUnsupported()
        }
        let seconds = Int64(wholeSeconds) + 978_307_200
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = InternetTimestamp.civilDate(daysSince1970: days)
        writeDateTime(year: Int(year), month: Int(month), day: Int(day), secondOfDay: secondOfDay)
    }

    private func writeDateTime(year: Int, month: Int, day: Int, secondOfDay: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 22) { text in
            func put(_ value: Int, at offset: Int, width: Int) {
                var remaining = value
                for position in stride(from: offset + width - 1, through: offset, by: -1) {
                    text[position] = UInt8(ascii: "0") &+ UInt8(remaining % 10)
                    remaining /= 10
                }
            }
            text[0] = UInt8(ascii: "\"")
            put(year, at: 1, width: 4)
            text[5] = UInt8(ascii: "-")
            put(month, at: 6, width: 2)
            text[8] = UInt8(ascii: "-")
            put(day, at: 9, width: 2)
            text[11] = UInt8(ascii: "T")
            put(secondOfDay / 3600, at: 12, width: 2)
            text[14] = UInt8(ascii: ":")
            put(secondOfDay / 60 % 60, at: 15, width: 2)
            text[17] = UInt8(ascii: ":")
            put(secondOfDay % 60, at: 18, width: 2)
            text[20] = UInt8(ascii: "Z")
            text[21] = UInt8(ascii: "\"")
            state.pointee.bytes.append(contentsOf: text)
        }
    }
}

/// The `Encoder` for one value position.
struct JSONByteValueEncoder: Encoder {
    let sink: JSONByteSink
    let slot: Int
    let depth: Int

    /// Not tracked: nothing we encode reads it, and on any error Foundation encodes the value again.
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let opened = sink.openContainer(slot: slot, depth: depth, isObject: true)
        return KeyedEncodingContainer(JSONByteKeyedContainer<Key>(sink: sink, slot: opened, depth: depth))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let opened = sink.openContainer(slot: slot, depth: depth, isObject: false)
        return JSONByteUnkeyedContainer(sink: sink, slot: opened, depth: depth)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONByteSingleValueContainer(sink: sink, slot: slot, depth: depth)
    }
}

struct JSONByteKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: JSONByteSink
    /// The slot that opened this object (-1: unusable).
    let slot: Int
    let depth: Int
    var codingPath: [any CodingKey] { [] }

    private func member(_ key: Key) throws { try sink.beginMember(slot: slot, depth: depth, key: key.stringValue) }

    mutating func encodeNil(forKey key: Key) throws {
        try member(key)
        sink.writeNull()
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try member(key)
        sink.writeBool(value)
    }

    mutating func encode(_ value: String, forKey key: Key) throws {
        try member(key)
        sink.writeString(value)
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        try member(key)
        try sink.writeFloatingPoint(value)
    }

    mutating func encode(_ value: Float, forKey key: Key) throws {
        try member(key)
        try sink.writeFloatingPoint(value)
    }

    mutating func encode(_ value: Int, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int8, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int16, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int32, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int64, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt8, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt16, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        try member(key)
        sink.writeInteger(value)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try member(key)
        try sink.writeValue(value, slot: sink.newPendingSlot(), depth: depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let began: Void? = try? member(key)
        let opened = began == nil ? -1 : sink.openContainer(slot: sink.newPendingSlot(), depth: depth + 1, isObject: true)
        return KeyedEncodingContainer(JSONByteKeyedContainer<NestedKey>(sink: sink, slot: opened, depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let began: Void? = try? member(key)
        let opened = began == nil ? -1 : sink.openContainer(slot: sink.newPendingSlot(), depth: depth + 1, isObject: false)
        return JSONByteUnkeyedContainer(sink: sink, slot: opened, depth: depth + 1)
    }

    mutating func superEncoder() -> any Encoder { JSONByteSink.unsupportedEncoder(sink) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { JSONByteSink.unsupportedEncoder(sink) }
}

struct JSONByteUnkeyedContainer: UnkeyedEncodingContainer {
    let sink: JSONByteSink
    /// The slot that opened this array (-1: unusable).
    let slot: Int
    let depth: Int
    private(set) var count = 0
    var codingPath: [any CodingKey] { [] }

    init(sink: JSONByteSink, slot: Int, depth: Int) {
        self.sink = sink
        self.slot = slot
        self.depth = depth
    }

    private mutating func element() throws {
        try sink.beginMember(slot: slot, depth: depth, key: nil)
        count += 1
    }

    mutating func encodeNil() throws {
        try element()
        sink.writeNull()
    }

    mutating func encode(_ value: Bool) throws {
        try element()
        sink.writeBool(value)
    }

    mutating func encode(_ value: String) throws {
        try element()
        sink.writeString(value)
    }

    mutating func encode(_ value: Double) throws {
        try element()
        try sink.writeFloatingPoint(value)
    }

    mutating func encode(_ value: Float) throws {
        try element()
        try sink.writeFloatingPoint(value)
    }

    mutating func encode(_ value: Int) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int8) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int16) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int32) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int64) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt8) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt16) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt32) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt64) throws {
        try element()
        sink.writeInteger(value)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try element()
        try sink.writeValue(value, slot: sink.newPendingSlot(), depth: depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let began: Void? = try? element()
        let opened = began == nil ? -1 : sink.openContainer(slot: sink.newPendingSlot(), depth: depth + 1, isObject: true)
        return KeyedEncodingContainer(JSONByteKeyedContainer<NestedKey>(sink: sink, slot: opened, depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let began: Void? = try? element()
        let opened = began == nil ? -1 : sink.openContainer(slot: sink.newPendingSlot(), depth: depth + 1, isObject: false)
        return JSONByteUnkeyedContainer(sink: sink, slot: opened, depth: depth + 1)
    }

    mutating func superEncoder() -> any Encoder { JSONByteSink.unsupportedEncoder(sink) }
}

struct JSONByteSingleValueContainer: SingleValueEncodingContainer {
    let sink: JSONByteSink
    let slot: Int
    let depth: Int
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeNull()
    }

    mutating func encode(_ value: Bool) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeBool(value)
    }

    mutating func encode(_ value: String) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeString(value)
    }

    mutating func encode(_ value: Double) throws {
        try sink.claim(slot: slot, depth: depth)
        try sink.writeFloatingPoint(value)
    }

    mutating func encode(_ value: Float) throws {
        try sink.claim(slot: slot, depth: depth)
        try sink.writeFloatingPoint(value)
    }

    mutating func encode(_ value: Int) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int8) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int16) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int32) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: Int64) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt8) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt16) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt32) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode(_ value: UInt64) throws {
        try sink.claim(slot: slot, depth: depth)
        sink.writeInteger(value)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        guard sink.pendingSlot == slot else {
            sink.unsupported = true
            throw JSONBytesUnsupported()
        }
        try sink.writeValue(value, slot: slot, depth: depth)
    }
}

extension JSONByteSink {
    /// `superEncoder` (no type of ours uses it): marks the value as Foundation's to write and
    /// returns an encoder whose every container is unusable.
    static func unsupportedEncoder(_ sink: JSONByteSink) -> any Encoder {
        sink.unsupported = true
        return JSONByteValueEncoder(sink: sink, slot: -1, depth: -1)
    }
}

/// Two JSON documents compared byte for byte except for the order of object members — the one
/// thing in which `JSONBytesEncoder` and Foundation's `JSONEncoder` (hash order) may differ.
/// Strings and numbers are compared as written, escapes included. Debug builds check every
/// response with it (`JSONResponse.body`); the tests use it directly.
enum JSONSameDocument {
    static func check(_ left: some Sequence<UInt8>, _ right: some Sequence<UInt8>) -> Bool {
        guard let left = canonical(Array(left)), let right = canonical(Array(right)) else { return false }
        return left == right
    }

    /// The document with every object's members sorted by their key's bytes; `nil` when it is not
    /// JSON as the encoders write it (no whitespace).
    static func canonical(_ bytes: [UInt8]) -> [UInt8]? {
        var index = 0
        var output: [UInt8] = []
        guard value(bytes, &index, into: &output), index == bytes.count else { return nil }
        return output
    }

    private static func value(_ bytes: [UInt8], _ index: inout Int, into output: inout [UInt8]) -> Bool {
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [(key: [UInt8], value: [UInt8])] = []
            while index < bytes.count, bytes[index] != UInt8(ascii: "}") {
                if !members.isEmpty {
                    guard bytes[index] == UInt8(ascii: ","), index + 1 < bytes.count else { return false }
                    index += 1
                }
                var key: [UInt8] = []
                var member: [UInt8] = []
                guard bytes[index] == UInt8(ascii: "\""), value(bytes, &index, into: &key),
                    index < bytes.count, bytes[index] == UInt8(ascii: ":")
                else { return false }
                index += 1
                guard value(bytes, &index, into: &member) else { return false }
                members.append((key, member))
            }
            guard index < bytes.count else { return false }
            index += 1
            output.append(UInt8(ascii: "{"))
            for (position, member) in members.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }).enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                output += member.key
                output.append(UInt8(ascii: ":"))
                output += member.value
            }
            output.append(UInt8(ascii: "}"))
            return true
        case UInt8(ascii: "["):
            index += 1
            output.append(UInt8(ascii: "["))
            var first = true
            while index < bytes.count, bytes[index] != UInt8(ascii: "]") {
                if !first {
                    guard bytes[index] == UInt8(ascii: ",") else { return false }
                    output.append(UInt8(ascii: ","))
                    index += 1
                }
                first = false
                guard value(bytes, &index, into: &output) else { return false }
            }
            guard index < bytes.count else { return false }
            index += 1
            output.append(UInt8(ascii: "]"))
            return true
        case UInt8(ascii: "\""):
            let start = index
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard index < bytes.count else { return false }
            index += 1
            output += bytes[start..<index]
            return true
        default:
            let start = index
            while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ":")].contains(bytes[index]) {
                index += 1
            }
            guard index > start else { return false }
            output += bytes[start..<index]
            return true
        }
    }
}
