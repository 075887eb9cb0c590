import Testing

@testable import StrongAuthProtocol

/// A shortest-form CBOR encoder for building test inputs (the product only decodes).
enum TestCBOR {
    static func head(_ major: UInt8, _ argument: UInt64) -> [UInt8] {
        switch argument {
        case 0..<24: [major << 5 | UInt8(argument)]
        case 24..<0x100: [major << 5 | 24, UInt8(argument)]
        case 0x100..<0x1_0000: [major << 5 | 25] + bigEndian(argument, width: 2)
        case 0x1_0000..<0x1_0000_0000: [major << 5 | 26] + bigEndian(argument, width: 4)
        default: [major << 5 | 27] + bigEndian(argument, width: 8)
        }
    }

    static func bigEndian(_ value: UInt64, width: Int) -> [UInt8] {
        (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    static func encode(_ value: CBORValue) -> [UInt8] {
        switch value {
        case .unsigned(let value): head(0, value)
        case .negative(let value): head(1, value)
        case .bytes(let bytes): head(2, UInt64(bytes.count)) + bytes
        case .text(let text): head(3, UInt64(text.utf8.count)) + Array(text.utf8)
        case .array(let elements): head(4, UInt64(elements.count)) + elements.flatMap(encode)
        case .map(let entries): head(5, UInt64(entries.count)) + entries.flatMap { encode($0.key) + encode($0.value) }
        case .bool(let flag): [flag ? 0xf5 : 0xf4]
        case .null: [0xf6]
        }
    }

    /// A map with integer keys (COSE) in the given order.
    static func map(_ entries: [(Int, CBORValue)]) -> CBORValue {
        .map(entries.map { CBORMapEntry(key: int($0.0), value: $0.1) })
    }

    static func int(_ value: Int) -> CBORValue {
        value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-1 - value))
    }
}

@Suite("CBOR decoder")
struct CBORTests {
    static func decode(_ hex: String) throws -> CBORValue {
        try CBOR.decode(try #require(Hex.decode(hex)))
    }

    static func refusal(_ hex: String) throws -> CBORError? {
        let bytes = try #require(Hex.decode(hex))
        do {
            _ = try CBOR.decode(bytes)
            return nil
        } catch {
            return error
        }
    }

    /// RFC 8949 Appendix A, every example in the supported subset (no floats, tags, undefined, simple values).
    @Test("RFC 8949 Appendix A examples decode")
    func appendixA() throws {
        let examples: [(String, CBORValue)] = [
            ("00", .unsigned(0)), ("01", .unsigned(1)), ("0a", .unsigned(10)), ("17", .unsigned(23)), ("1818", .unsigned(24)),
            ("1819", .unsigned(25)), ("1864", .unsigned(100)), ("1903e8", .unsigned(1000)), ("1a000f4240", .unsigned(1_000_000)),
            ("1b000000e8d4a51000", .unsigned(1_000_000_000_000)), ("1bffffffffffffffff", .unsigned(UInt64.max)),
            ("3bffffffffffffffff", .negative(UInt64.max)), ("20", .negative(0)), ("29", .negative(9)), ("3863", .negative(99)),
            ("3903e7", .negative(999)), ("f4", .bool(false)), ("f5", .bool(true)), ("f6", .null), ("40", .bytes([])),
            ("4401020304", .bytes([1, 2, 3, 4])), ("60", .text("")), ("6161", .text("a")), ("6449455446", .text("IETF")),
            ("62225c", .text("\"\\")), ("62c3bc", .text("\u{00fc}")), ("63e6b0b4", .text("\u{6c34}")),
            ("64f0908591", .text("\u{10151}")), ("80", .array([])), ("83010203", .array([.unsigned(1), .unsigned(2), .unsigned(3)])),
            (
                "8301820203820405",
                .array([.unsigned(1), .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])])
            ),
            (
                "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
                .array((1...25).map { .unsigned(UInt64($0)) })
            ),
            ("a0", .map([])),
            ("a201020304", TestCBOR.map([(1, .unsigned(2)), (3, .unsigned(4))])),
            (
                "a26161016162820203",
                .map([
                    CBORMapEntry(key: .text("a"), value: .unsigned(1)),
                    CBORMapEntry(key: .text("b"), value: .array([.unsigned(2), .unsigned(3)])),
                ])
            ),
            ("826161a161626163", .array([.text("a"), .map([CBORMapEntry(key: .text("b"), value: .text("c"))])])),
            (
                "a56161614161626142616361436164614461656145",
                .map(["a", "b", "c", "d", "e"].map { CBORMapEntry(key: .text($0), value: .text($0.uppercased())) })
            ),
        ]
        for (hex, expected) in examples {
            #expect(try Self.decode(hex) == expected, "\(hex)")
        }
        #expect(try Self.decode("3903e7").integer == -1000)
        #expect(try Self.decode("20").integer == -1)
    }

    @Test("the encodings of Appendix A outside the subset are refused: floats, tags, undefined, simple values")
    func appendixAOutsideTheSubset() throws {
        for hex in ["f90000", "fa47c35000", "fb3ff199999999999a", "c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0", "f7", "f0", "f8ff"]
        {
            let initialByte = try #require(Hex.decode(hex)?.first)
            #expect(try Self.refusal(hex)?.reason == .unsupported(initialByte: initialByte), "\(hex)")
        }
    }

    @Test("indefinite lengths are refused")
    func indefiniteLength() throws {
        for hex in ["5f42010243030405ff", "7f657374726561646d696e67ff", "9fff", "bf61610161629f0203ffff", "ff"] {
            #expect(try Self.refusal(hex) == CBORError(.indefiniteLength, at: 0), "\(hex)")
        }
    }

    @Test("bytes after the top-level item are refused")
    func trailingBytes() throws {
        #expect(try Self.refusal("0000") == CBORError(.trailingBytes, at: 1))
        #expect(try Self.refusal("a0f6") == CBORError(.trailingBytes, at: 1))
    }

    @Test("duplicate map keys are refused")
    func duplicateMapKeys() throws {
        #expect(try Self.refusal("a201020103") == CBORError(.duplicateMapKey, at: 3))
        #expect(try Self.refusal("a261610161610f") == CBORError(.duplicateMapKey, at: 4))
        // 1 and "1" differ: not a duplicate.
        #expect(try Self.refusal("a2010261310f") == nil)
    }

    @Test("integers, lengths and counts not in shortest form are refused")
    func nonCanonical() throws {
        for hex in ["1817", "190017", "1900ff", "1a0000ffff", "1b00000000ffffffff", "3817", "580100", "780161", "980100", "b80100"] {
            #expect(try Self.refusal(hex) == CBORError(.nonCanonicalEncoding, at: 0), "\(hex)")
        }
    }

    @Test("text that is not UTF-8 is refused")
    func invalidUTF8() throws {
        #expect(try Self.refusal("62c328") == CBORError(.invalidUTF8, at: 1))
        #expect(try Self.refusal("63eda080") == CBORError(.invalidUTF8, at: 1))  // a lone surrogate
        #expect(try Self.refusal("61ff") == CBORError(.invalidUTF8, at: 1))
    }

    @Test("nesting deeper than 16 is refused; 16 is accepted")
    func nestingDepth() throws {
        let sixteen = String(repeating: "81", count: 16) + "00"
        #expect(try Self.refusal(sixteen) == nil)
        #expect(try Self.refusal(String(repeating: "81", count: 17) + "00") == CBORError(.nestingTooDeep, at: 16))
        #expect(try Self.refusal(String(repeating: "a101", count: 17) + "00")?.reason == .nestingTooDeep)
    }

    @Test("lengths and counts beyond the remaining input are refused before anything is allocated")
    func lengthBeyondInput() throws {
        #expect(try Self.refusal("5affffffff00") == CBORError(.lengthExceedsInput, at: 0))
        #expect(try Self.refusal("7bffffffffffffffff") == CBORError(.lengthExceedsInput, at: 0))
        #expect(try Self.refusal("9bffffffffffffffff00") == CBORError(.lengthExceedsInput, at: 0))
        #expect(try Self.refusal("bb7fffffffffffffff0000") == CBORError(.lengthExceedsInput, at: 0))
        #expect(try Self.refusal("a2010203") == CBORError(.lengthExceedsInput, at: 0))
        #expect(try Self.refusal("4401") == CBORError(.lengthExceedsInput, at: 0))
    }

    @Test("input ending inside a head is refused as truncated")
    func truncated() throws {
        #expect(try Self.refusal("") == CBORError(.truncated, at: 0))
        #expect(try Self.refusal("1901") == CBORError(.truncated, at: 1))
        #expect(try Self.refusal("820119") == CBORError(.truncated, at: 3))
    }

    @Test("more than the maximum number of items is refused")
    func tooManyItems() throws {
        let within = TestCBOR.encode(.array(Array(repeating: .unsigned(0), count: CBOR.maximumItems - 1)))
        #expect(throws: Never.self) { try CBOR.decode(within) }
        let beyond = TestCBOR.encode(.array(Array(repeating: .unsigned(0), count: CBOR.maximumItems)))
        #expect(throws: CBORError(.tooManyItems, at: 3 + CBOR.maximumItems - 1)) { try CBOR.decode(beyond) }
    }

    @Test("decodePrefix reports how many bytes one item took and leaves the rest")
    func prefix() throws {
        let bytes = try #require(Hex.decode("a201020304a0ff"))
        let (value, length) = try CBOR.decodePrefix(bytes)
        #expect(length == 5)
        #expect(value == TestCBOR.map([(1, .unsigned(2)), (3, .unsigned(4))]))
        #expect(value[1] == .unsigned(2))
        #expect(value[3]?.integer == 4)
    }

    @Test("the test encoder and the decoder agree")
    func roundTrip() throws {
        let value = CBORValue.map([
            CBORMapEntry(key: .text("fmt"), value: .text("none")),
            CBORMapEntry(key: .negative(0), value: .array([.bytes(Array(repeating: 7, count: 300)), .null, .bool(true)])),
            CBORMapEntry(key: .unsigned(70000), value: .negative(1 << 40)),
        ])
        #expect(try CBOR.decode(TestCBOR.encode(value)) == value)
    }
}
