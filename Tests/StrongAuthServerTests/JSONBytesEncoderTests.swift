import Foundation
import NIOCore
import OpenAPIRuntime
import StrongAuthAPI
import Testing

@testable import StrongAuthServer

/// `JSONBytesEncoder` writes what Foundation's `JSONEncoder` (`.withoutEscapingSlashes`, `.iso8601`)
/// writes, byte for byte up to the order of object members (Foundation's is its dictionary's hash
/// order, different in every process), or leaves the value to Foundation. Debug builds also check
/// every response of every other test (`JSONResponse.body`).
@Suite("JSON response encoder")
struct JSONBytesEncoderTests {
    /// Our bytes, Foundation's, and whether ours were written at all (not left to Foundation).
    private func both(_ value: some Encodable) throws -> (ours: String?, foundation: String) {
        let foundation = try JSONResponse.foundationEncoder().encode(value)
        return (JSONBytesEncoder.encode(value).map { String(buffer: $0) }, String(decoding: foundation, as: UTF8.self))
    }

    /// Written directly, and the same document as Foundation's.
    private func expectSame(_ value: some Encodable, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (ours, foundation) = try both(value)
        guard let ours else {
            Issue.record("left to Foundation: \(foundation)", sourceLocation: sourceLocation)
            return
        }
        #expect(
            JSONSameDocument.check(Array(ours.utf8), Array(foundation.utf8)), "ours \(ours), Foundation \(foundation)", sourceLocation: sourceLocation
        )
    }

    private struct Scalars: Encodable {
        var text = "plain"
        var int = Int.min
        var int8 = Int8.min
        var int16 = Int16.max
        var int32 = Int32.min
        var int64 = Int64.max
        var uint = UInt.max
        var uint8 = UInt8.max
        var uint16 = UInt16.max
        var uint32 = UInt32.max
        var uint64 = UInt64.max
        var zero = 0
        var yes = true
        var no = false
        var absent: String?
        var present: String? = "here"
        var presentNumber: Int? = 7
    }

    @Test("integers at their limits, booleans, optionals absent and present")
    func scalars() throws {
        try expectSame(Scalars())
        try expectSame(Scalars(text: "", int: 0, int8: 0, absent: "now", present: nil, presentNumber: nil))
        try expectSame([Int.max, Int.min, 0, -1, 1, 10, 100, 999_999_999_999])
    }

    private struct Texts: Encodable {
        var escapes = "quote \" backslash \\ slash / tab \t newline \n return \r backspace \u{8} feed \u{c}"
        var controls = String(decoding: Array(0..<0x20) + [0x7F], as: UTF8.self)
        var unicode = "Grüße, 日本語, emoji 😀👍🏽, RTL عربى, separators \u{2028}\u{2029}, BOM \u{FEFF}, replacement \u{FFFD}"
        var urlish = "https://example.com/a/b?c=d&e=/f#g"
        var empty = ""
        var list = ["a", "", "\"", "\\\\", "/"]
    }

    @Test("strings: Foundation's escapes, slashes and non-ASCII as they are")
    func strings() throws {
        try expectSame(Texts())
        try expectSame("a top-level string with / and \u{1}")
        let (ours, foundation) = try both("\u{0}\u{1f}\"\\/\u{7f}\u{8}\u{c}\n\r\t")
        #expect(ours == foundation)
        #expect(ours == #""\u0000\u001f\"\\/\#u{7f}\b\f\n\r\t""#)
    }

    @Test("random strings from an alphabet of escapes, controls, ASCII and multi-byte characters")
    func randomStrings() throws {
        let alphabet: [Character] = [
            "a", "Z", "0", " ", "/", "\"", "\\", "\u{0}", "\u{1}", "\u{8}", "\t", "\n", "\u{b}", "\u{c}", "\r", "\u{1f}", "\u{7f}", "é", "€", "😀",
            "\u{2028}", "\u{FEFF}", "e\u{301}",
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...24, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            let (ours, foundation) = try both(["key \(text)": [text]])
            #expect(ours == foundation, "\(Array(text.unicodeScalars))")
        }
    }

    private struct Numbers: Encodable {
        var values: [Double] = [
            0, -0.0, 1, -1, 0.1, 0.5, 1.5, 100, 1e15, 1e16, 1e17, 1e21, 1.2345678901234568e+17, 1e-7, 2.5e-5,
            123.456, .pi, -.pi, .leastNonzeroMagnitude, .greatestFiniteMagnitude, Double(Int64.max), 9007199254740992,
        ]
        var floats: [Float] = [0, 0.1, 0.3, 1e16, 3.4e38, -2.5, .leastNonzeroMagnitude]
        var single: Double = 3
        var optional: Double? = 0.25
    }

    @Test("doubles and floats: Swift's shortest form without a trailing .0, exponents as Foundation writes them")
    func floatingPoint() throws {
        try expectSame(Numbers())
        for _ in 0..<2_000 {
            let value = Double(bitPattern: UInt64.random(in: 0...UInt64.max))
            guard value.isFinite else { continue }
            let (ours, foundation) = try both([value])
            #expect(ours == foundation)
        }
    }

    @Test("what is not finite is Foundation's to refuse")
    func notFinite() {
        for value in [Double.nan, .infinity, -.infinity] {
            #expect(JSONBytesEncoder.encode(["x": value]) == nil)
            #expect(throws: EncodingError.self) { try JSONResponse.body(["x": value]) }
        }
    }

    private struct Dated: Encodable {
        var at: Date
        var maybe: Date?
        var many: [Date]
    }

    @Test("dates as .iso8601 writes them: UTC, the second truncated, leap days, 1900 to 9999")
    func dates() throws {
        let instants: [TimeInterval] = [
            0, -1, -1.5, 0.999, 1_700_000_000, 1_700_000_000.5, 1_700_000_000.9989, 951_782_400, 951_868_799.25, 4_107_542_400,
            -2_208_988_800, 253_402_300_799, 1_709_251_199.75, 1_735_689_599.1,
        ]
        for instant in instants {
            let date = Date(timeIntervalSince1970: instant)
            try expectSame(
                Dated(
                    at: date, maybe: date, many: [date, Date(timeIntervalSince1970: 951_782_400 + instant.truncatingRemainder(dividingBy: 86_400))]))
        }
        for _ in 0..<3_000 {
            let date = Date(timeIntervalSince1970: Double.random(in: -2_208_988_800..<253_402_300_800))
            let (ours, foundation) = try both([date])
            if let ours { #expect(ours == foundation) }
        }
        try expectSame(Dated(at: Date(timeIntervalSince1970: 0), maybe: nil, many: []))
    }

    @Test("dates before 1900, after 9999 or a hair before the next second are Foundation's")
    func datesLeftToFoundation() throws {
        for instant: TimeInterval in [-2_208_988_801, 253_402_300_800, -62_135_596_800 - 86_400, 1_700_000_000.9995] {
            #expect(JSONBytesEncoder.encode([Date(timeIntervalSince1970: instant)]) == nil)
        }
    }

    /// The device's pending list writes its objects itself (`JSONObjectWritable`): byte for byte
    /// what its `Encodable` conformance writes through Foundation, with and without the optional
    /// members, with strings that need escaping; a date only Foundation writes leaves the whole
    /// list to it.
    @Test("objects that write their own members: the pending list, as Foundation writes it")
    func directlyWrittenObjects() throws {
        typealias Pending = UserApprovalsController.Pending
        let created = Date(timeIntervalSince1970: 1_764_950_400.25)
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", " ", "/", "\"", "\\", "\u{0}", "\n", "\u{1f}", "é", "😀", "*", ":"]
        func text() -> String { String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }) }
        var list: [Pending] = []
        for index in 0..<50 {
            list.append(
                Pending(
                    id: "id-\(index)", kind: text(), type: text(), data: text(), stringToSign: text(), status: "PENDING", createdAt: created,
                    expiresAt: created.addingTimeInterval(Double(index) * 86_400 * 31), title: index % 2 == 0 ? nil : text(),
                    message: index % 3 == 0 ? nil : text()))
        }
        for objects in [[], Array(list.prefix(1)), list] {
            let ours = try #require(JSONBytesEncoder.encode(objects: objects))
            let foundation = try JSONResponse.foundationEncoder().encode(objects)
            #expect(JSONSameDocument.check(ours.readableBytesView, foundation), "\(String(buffer: ours))")
            // The members in declaration order: the same bytes as our `Encoder` writes.
            #expect(ours == JSONBytesEncoder.encode(objects))
        }
        var late = list[0]
        late.expiresAt = Date(timeIntervalSince1970: 253_402_300_800)
        #expect(JSONBytesEncoder.encode(objects: list + [late]) == nil)
    }

    /// The integration face's operation answer writes itself too: the document Foundation writes
    /// for the generated type, the same bytes as our `Encoder` where members' order is fixed.
    @Test("the operation answer writes its own members, as Foundation writes the generated type")
    func operationObject() throws {
        typealias Operation = Components.Schemas.Operation
        var operation = Operation(
            operationId: "op-1", userId: "alice", externalId: nil, status: .pending, template: "payment", operationType: "payment",
            parameters: .init(additionalProperties: ["amount": "100 €", "note": "a \"quoted\" /path\n", "": "empty key"]),
            additionalData: nil, failureCount: 0, maxFailureCount: 5, timestampCreated: 1_764_950_400_000, timestampExpires: Int64.max)
        for additionalData: Operation.AdditionalDataPayload? in [nil, .init(), .init(additionalProperties: ["k": "v"])] {
            for externalId in [nil, "x-1"] {
                operation.additionalData = additionalData
                operation.externalId = externalId
                operation.failureCount = Int.random(in: -5...5)
                let ours = try #require(JSONBytesEncoder.encode(object: operation))
                let foundation = try JSONResponse.foundationEncoder().encode(operation)
                #expect(JSONSameDocument.check(ours.readableBytesView, foundation), "\(String(buffer: ours))")
            }
        }
        operation.parameters = .init()
        let direct = try #require(JSONBytesEncoder.encode(object: operation))
        #expect(direct == JSONBytesEncoder.encode(operation))
    }

    private struct Special: Encodable {
        var data = Data([0, 1, 2, 250, 251, 252, 253, 254, 255])
        var empty = Data()
        var url = URL(string: "https://example.com/a%20b/c?d=/e")!
    }

    @Test("Data as base64, URLs as their absolute string, a Decimal left to Foundation")
    func foundationTypes() throws {
        try expectSame(Special())
        #expect(JSONBytesEncoder.encode(["amount": Decimal(string: "12.50")!]) == nil)
        #expect(try JSONResponse.body(["amount": Decimal(string: "12.50")!]).readableBytes > 0)
    }

    private struct Nested: Encodable {
        struct Inner: Encodable {
            var name: String
            var tags: [String]
        }
        var empty: [String] = []
        var emptyObject: [String: Int] = [:]
        var nestedArrays: [[Int]] = [[], [1], [2, 3], []]
        var objects: [Inner] = [Inner(name: "a", tags: []), Inner(name: "b", tags: ["x", "y"])]
        var dictionary = ["one": 1, "two": 2, "three": 3]
        var deep = [["a": [["b": ["c"]]]]]
        var intKeys = [1: "one", 2: "two"]
    }

    @Test("empty and nested arrays and objects, dictionaries, integer-keyed dictionaries")
    func nesting() throws {
        try expectSame(Nested())
        try expectSame([Nested(), Nested()])
        try expectSame([String]())
        try expectSame([String: String]())
        try expectSame(["a", nil, "c"] as [String?])
        try expectSame(["k": nil, "l": 1] as [String: Int?])
        try expectSame([Components.Schemas.Device.StatusPayload.active, .removed])
    }

    private struct ManualContainers: Encodable {
        enum Keys: String, CodingKey { case first, nested, list, after }
        enum InnerKeys: String, CodingKey { case x, y }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode("1", forKey: .first)
            var nested = container.nestedContainer(keyedBy: InnerKeys.self, forKey: .nested)
            try nested.encode(1, forKey: .x)
            try nested.encodeNil(forKey: .y)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode(true)
            try list.encodeNil()
            var inList = list.nestedContainer(keyedBy: InnerKeys.self)
            try inList.encode(Int8(-3), forKey: .x)
            var listInList = list.nestedUnkeyedContainer()
            try listInList.encode(UInt16(9))
            _ = list.nestedUnkeyedContainer()
            try container.encode([1.5], forKey: .after)
        }
    }

    @Test("nested containers, explicit nulls, an empty nested array")
    func manualContainers() throws {
        try expectSame(ManualContainers())
        #expect(
            JSONBytesEncoder.encode(ManualContainers()).map { String(buffer: $0) }
                == #"{"first":"1","nested":{"x":1,"y":null},"list":[true,null,{"x":-3},[9],[]],"after":[1.5]}"#)
    }

    private struct OutOfOrder: Encodable {
        enum Keys: String, CodingKey { case a, b }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var late = container.nestedUnkeyedContainer(forKey: .a)
            try container.encode(1, forKey: .b)
            try late.encode(2)  // after a sibling: cannot be streamed
        }
    }

    private struct TwiceTheKey: Encodable {
        enum Keys: String, CodingKey { case a }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .a)
            try container.encode(2, forKey: .a)
        }
    }

    private struct Nothing: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    private struct WithSuper: Encodable {
        enum Keys: String, CodingKey { case a }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try "base".encode(to: container.superEncoder())
        }
    }

    @Test("a container written after a sibling, a key written twice, a value that writes nothing, superEncoder: Foundation's")
    func leftToFoundation() throws {
        #expect(JSONBytesEncoder.encode(OutOfOrder()) == nil)
        #expect(JSONBytesEncoder.encode(TwiceTheKey()) == nil)
        #expect(JSONBytesEncoder.encode(["x": Nothing()]) == nil)
        #expect(JSONBytesEncoder.encode(WithSuper()) == nil)
        #expect(String(buffer: try JSONResponse.body(OutOfOrder())).contains("\"b\":1"))
        #expect(String(buffer: try JSONResponse.body(TwiceTheKey())) == #"{"a":2}"#)
    }

    @Test("members in the order they are encoded (declaration order), not Foundation's hash order")
    func memberOrder() throws {
        let body = Components.Schemas.TokenResponse(accessToken: "t", tokenType: .bearer, expiresIn: 300, refreshToken: "r", scope: "a b")
        #expect(
            JSONBytesEncoder.encode(body).map { String(buffer: $0) }
                == #"{"access_token":"t","token_type":"Bearer","expires_in":300,"refresh_token":"r","scope":"a b"}"#)
    }

    @Test("OpenAPI free-form values and objects, and additionalProperties")
    func openAPIContainers() throws {
        let free: [String: (any Sendable)?] = [
            "s": "x/y", "i": 42, "d": 2.5, "b": true, "n": nil,
            "a": [1, "two", [3.0] as [any Sendable], ["k": "v"] as [String: any Sendable]] as [any Sendable],
            "o": ["nested": ["deeper": [] as [any Sendable]] as [String: any Sendable]] as [String: any Sendable],
        ]
        let value = try OpenAPIValueContainer(unvalidatedValue: free)
        try expectSame(value)
        try expectSame(try OpenAPIObjectContainer(unvalidatedValue: ["a": 1, "b": ["c": "d"] as [String: any Sendable], "e": [] as [any Sendable]]))
        try expectSame(OpenAPIObjectContainer())
        let operation = Components.Schemas.Operation(
            operationId: "op-1", userId: "u", externalId: nil, status: .pending, template: "payment", operationType: "payment",
            parameters: .init(additionalProperties: ["amount": "100.00", "currency": "EUR", "iban": "DE89 3704/0044"]),
            additionalData: .init(additionalProperties: [:]), failureCount: 0, maxFailureCount: 5,
            timestampCreated: 1_700_000_000_000, timestampExpires: Int64.max)
        try expectSame(operation)
        try expectSame(Components.Schemas.OperationList(operations: [operation, operation]))
    }

    @Test("the response types of the hot paths: pending approvals, devices, tokens, introspection, problems")
    func responseTypes() throws {
        let now = Date()
        try expectSame([
            UserApprovalsController.Pending(
                id: "ap_1", kind: "operation", type: "payment", data: "A1*R100EUR*IDE89", stringToSign: "approve:ap_1:A1*R100EUR*IDE89",
                status: "pending", createdAt: now, expiresAt: now.addingTimeInterval(300), title: "Pay 100 €", message: nil)
        ])
        try expectSame([UserApprovalsController.Pending]())
        try expectSame(
            Components.Schemas.Device(
                id: "d", name: "Phone \"work\"", kind: .ecdsaP256, publicKey: "04ab", status: .active, createdAt: now, activatedAt: now,
                lastUsedAt: nil))
        try expectSame(Components.Schemas.DeviceCreated(deviceId: "d", challengeId: "c"))
        try expectSame(Components.Schemas.TokenResponse(accessToken: "eyJ.x.y", tokenType: .dPoP, expiresIn: 300))
        try expectSame(Components.Schemas.IntrospectionResponse(active: false))
        try expectSame(
            Components.Schemas.IntrospectionResponse(
                active: true, scope: "openid payments", clientId: "c", sub: "u", subjectType: .user, tokenType: .bearer, exp: 1_700_000_300,
                iat: 1_700_000_000, aud: ["https://api.example.com/"], iss: "https://as.example.com", jti: "j", amr: ["pwd", "hwk"],
                acr: "sca", authTime: 1_700_000_000, cnf: .init(kid: "k", jkt: nil)))
        try expectSame(Components.Schemas.OAuthErrorResponse(error: .invalidClient, errorDescription: "Client authentication failed."))
        try expectSame(
            Components.Schemas.Problem(
                _type: "about:blank", title: "Bad Request", status: 400, detail: "The name must be 1–100 printable characters.",
                instance: "/api/v1/devices/{deviceId}", errors: [.init(field: "name", message: "invalid")]))
        try expectSame(Components.Schemas.Health(status: .ok, version: "1.0.0"))
        try expectSame(["id": "ap_1", "status": "approved"])
    }

    @Test("the document comparison ignores member order only: values, escapes, array order and nesting count")
    func sameDocument() {
        func same(_ left: String, _ right: String) -> Bool { JSONSameDocument.check(Array(left.utf8), Array(right.utf8)) }
        #expect(same(#"{"a":1,"b":{"d":[1,{"f":2,"e":"x"}],"c":null}}"#, #"{"b":{"c":null,"d":[1,{"e":"x","f":2}]},"a":1}"#))
        #expect(same(#"[]"#, #"[]"#) && same(#"{}"#, #"{}"#) && same(#""a\"b""#, #""a\"b""#))
        #expect(!same(#"{"a":1}"#, #"{"a":1.0}"#))
        #expect(!same(#"[1,2]"#, #"[2,1]"#))
        #expect(!same(#""a/b""#, #""a\/b""#))
        #expect(!same(#""\u001f""#, #""\u001F""#))
        #expect(!same(#"{"a":1}"#, #"{"a":1,"a":1}"#))
        #expect(!same(#"{"a":[1]}"#, #"{"a":[1]"#))
        #expect(!same(#"{"a":1} "#, #"{"a":1}"#))
    }
}
