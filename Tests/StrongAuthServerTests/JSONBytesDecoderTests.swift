import Foundation
import OpenAPIRuntime
import StrongAuthAPI
import Testing

@testable import StrongAuthServer

/// `JSONBytesDecoder` decodes what Foundation's `JSONDecoder` decodes, to an equal value, or
/// leaves the body to Foundation (`nil`). Debug builds also check every JSON body of every other
/// test (`JSONBody`, `PhoneAuthentication`).
@Suite("JSON request decoder")
struct JSONBytesDecoderTests {
    private func ours<T: Decodable>(_ type: T.Type, _ json: String) -> T? {
        ours(type, Array(json.utf8))
    }

    private func ours<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        bytes.withUnsafeBytes { JSONBytesDecoder.decode(type, from: $0) }
    }

    private func foundation<T: Decodable>(_ type: T.Type, _ json: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(json.utf8))
    }

    /// Decoded here, and equal to Foundation's value.
    private func expectDecided<T: Decodable & Equatable>(
        _ type: T.Type, _ json: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let theirs = foundation(type, json)
        #expect(theirs != nil, "Foundation refuses \(json)", sourceLocation: sourceLocation)
        #expect(ours(type, json) == theirs, "\(json)", sourceLocation: sourceLocation)
    }

    /// Left to Foundation (whatever Foundation then answers).
    private func expectLeft<T: Decodable>(_ type: T.Type, _ json: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(ours(type, json) == nil, "\(json)", sourceLocation: sourceLocation)
    }

    private struct Scalars: Decodable, Equatable {
        var text: String
        var int: Int
        var int8: Int8?
        var uint64: UInt64?
        var flag: Bool
        var optional: String?
        var list: [Int]?
        var nested: [String: [String]]?
    }

    @Test("an operation creation body, as the PowerAuth integration sends it")
    func operationCreation() {
        typealias Body = Components.Schemas.OperationCreateRequest
        expectDecided(Body.self, #"{"userId":"alice","template":"payment","parameters":{"amount":"100","iban":"DE89 3704"}}"#)
        expectDecided(
            Body.self,
            #" { "template" : "login" , "userId":"b\u00f6b", "externalId":"x-1", "timestampExpires": 1764950400000, "unknown": [1, {"a": null}] } "#)
        expectDecided(Body.self, #"{"userId":"u","template":"t","parameters":{}}"#)
        expectDecided(Body.self, #"{"userId":"u","template":"t","parameters":null,"externalId":null}"#)
    }

    @Test("integers at their types' limits, booleans, null, nested arrays and objects")
    func scalars() {
        expectDecided(Scalars.self, #"{"text":"","int":0,"flag":true}"#)
        expectDecided(Scalars.self, #"{"text":"a","int":-9223372036854775808,"int8":-128,"uint64":9223372036854775807,"flag":false}"#)
        expectDecided(Scalars.self, #"{"text":"a","int":9223372036854775807,"int8":127,"flag":false,"optional":null,"list":[]}"#)
        expectDecided(Scalars.self, #"{"text":"a","int":1,"flag":true,"list":[1,-2,30],"nested":{"k":["v","w"],"e":[]}}"#)
        expectDecided([String: Int].self, #"{"a":1,"b":2}"#)
        expectDecided([[Bool?]].self, #"[[true,null],[],[false]]"#)
    }

    @Test("escapes: the standard ones and four hex digits, surrogate pairs, non-ASCII text")
    func strings() {
        expectDecided([String].self, #"["\"\\\/\b\f\n\r\t", "\u0000\u001f\u00e9\u20ac", "\ud83d\ude00", "grüße 😀", "a\u0041b"]"#)
        expectDecided(String.self, #""plain""#)
    }

    @Test("what only Foundation decides is left to it")
    func leftToFoundation() {
        // Numbers other than plain integers within range.
        expectLeft(Scalars.self, #"{"text":"a","int":1.0,"flag":true}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":1e3,"flag":true}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":-0,"flag":true}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":9223372036854775808,"flag":true}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":1,"int8":128,"flag":true}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":1,"uint64":-1,"flag":true}"#)
        expectLeft([Double].self, "[1]")
        expectLeft([Date].self, "[0]")
        expectLeft([Data].self, #"["AA=="]"#)
        expectLeft([URL].self, #"["https://example.com"]"#)
        // A repeated key, a lone surrogate, a raw control character, a byte that is not UTF-8.
        expectLeft([String: String].self, #"{"a":"1","a":"2"}"#)
        expectLeft([String].self, #"["\ud83d"]"#)
        expectLeft([String].self, #"["\ude00"]"#)
        expectLeft([String].self, "[\"a\u{01}b\"]")
        #expect(ours([String].self, [0x5B, 0x22, 0xFF, 0x22, 0x5D] as [UInt8]) == nil)
        // Wrong types, missing keys, malformed JSON, trailing text, too deep.
        expectLeft(Scalars.self, #"{"text":1,"int":1,"flag":true}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":1,"flag":1}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":1}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":1,"flag":true,}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":01,"flag":true}"#)
        expectLeft(Scalars.self, #"{"text":"a","int":1,"flag":true} x"#)
        expectLeft(Scalars.self, #"{"text":'a',"int":1,"flag":true}"#)
        expectLeft([String].self, String(repeating: "[", count: 70) + String(repeating: "]", count: 70))
        expectLeft(Scalars.self, "")
    }

    /// Tries one shape, then another: a refusal it caught must still send the body to Foundation,
    /// which might decode the first shape where this decoder could not.
    private enum EitherShape: Decodable, Equatable {
        case number(Double)
        case text(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else {
                self = .text(try container.decode(String.self))
            }
        }
    }

    @Test("a number sent as a string or as an integer (the ABN AMRO API's) is decided here, as Foundation decides it")
    func stringOrInteger() {
        struct Numbers: Decodable, Equatable {
            var accountNumber: LoginResponseBody.Digits
            var cardNumber: LoginResponseBody.Digits
            var boundDeviceIndexNumber: LoginResponseBody.Digits?
        }
        expectDecided(Numbers.self, #"{"accountNumber":562813888,"cardNumber":23}"#)
        expectDecided(Numbers.self, #"{"accountNumber":"0562813888","cardNumber":"23","boundDeviceIndexNumber":1}"#)
        expectDecided(Numbers.self, #"{"accountNumber":0,"cardNumber":"","boundDeviceIndexNumber":null}"#)
        expectDecided(Numbers.self, #"{"accountNumber":9223372036854775807,"cardNumber":1}"#)
        // Foundation's answer (an error, or a UInt64 beyond Int64) is left to it.
        for json in [
            #"{"accountNumber":-1,"cardNumber":1}"#, #"{"accountNumber":1.5,"cardNumber":1}"#, #"{"accountNumber":true,"cardNumber":1}"#,
            #"{"accountNumber":18446744073709551615,"cardNumber":1}"#,
        ] {
            expectLeft(Numbers.self, json)
        }
        #expect(foundation(Numbers.self, #"{"accountNumber":18446744073709551615,"cardNumber":1}"#)?.accountNumber.text == "18446744073709551615")
    }

    @Test("a refusal caught inside init(from:) still leaves the whole body to Foundation")
    func caughtRefusal() {
        expectLeft(EitherShape.self, "1.5")
        expectLeft(EitherShape.self, #""text""#)
        #expect(foundation(EitherShape.self, "1.5") == .number(1.5))
    }

    /// Random bodies built from pieces that are valid, invalid or only Foundation's: whenever the
    /// decoder answers, Foundation answers the same.
    @Test("random bodies: every answer is Foundation's")
    func randomBodies() {
        var generator = SystemRandomNumberGenerator()
        let anything = [
            #""a""#, #""\u00e9\n""#, "1", "-1", "0", "-0", "1.5", "1e2", "128", "-129", "18446744073709551616", "true", "false", "null",
            "[]", "[1,2]", "[\"x\"]", #"{"k":["v"]}"#, "{}", #"{"k":"v"}"#, #""\ud800""#, "01", "\"", "[1,]",
        ]
        // Mostly what the member's type takes, sometimes anything.
        let likely: [String: [String]] = [
            "text": [#""a""#, #""""#, #""\u00e9\"\\""#, #""😀""#], "int": ["0", "42", "-7", "9223372036854775807"],
            "int8": ["1", "-128", "127", "null"], "uint64": ["0", "18446744073709551615", "null"], "flag": ["true", "false"],
            "optional": [#""x""#, "null"], "list": ["[]", "[1,2,3]", "null"], "nested": [#"{"a":["b"]}"#, "{}", "null"],
            "extra": ["[1.5, {\"deep\": [null]}]", #""ignored""#],
        ]
        var decided = 0
        for _ in 0..<2_000 {
            var members: [String] = []
            for (key, pool) in likely where Int.random(in: 0..<10, using: &generator) < 8 {
                let value =
                    Int.random(in: 0..<10, using: &generator) < 9
                    ? pool.randomElement(using: &generator)! : anything.randomElement(using: &generator)!
                members.append("\"\(key)\":\(value)")
            }
            if Int.random(in: 0..<10, using: &generator) == 0, let repeated = members.first { members.append(repeated) }
            members.shuffle(using: &generator)
            let json = "{" + members.joined(separator: ",") + "}"
            guard let value = ours(Scalars.self, json) else { continue }
            decided += 1
            #expect(value == foundation(Scalars.self, json), "\(json)")
        }
        #expect(decided > 0)
    }

    @Test("the JSON media types: application/json and +json, any case, with parameters")
    func mediaTypes() {
        for accepted in ["application/json", "Application/JSON", " application/json ; charset=utf-8", "application/problem+json", "text/x+JSON;a=b"] {
            #expect(JSONBody.namesJSON(accepted), "\(accepted)")
        }
        for refused in [
            "", "application/jsonx", "application/x-www-form-urlencoded", "json", "+jso", "application\u{0F}json", "x\u{0B}json", "xapplication/json",
        ] {
            #expect(!JSONBody.namesJSON(refused), "\(refused)")
        }
    }
}
