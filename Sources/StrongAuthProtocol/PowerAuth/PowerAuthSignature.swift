import Crypto
import Foundation

/// PowerAuth request signatures ("Computing and Validating Signatures"): one component per
/// factor, each an HMAC chain over the counter data and the request data.
public enum PowerAuthSignature {
    /// A signing factor, in the order the components are computed.
    public enum Factor: String, Sendable, CaseIterable, Comparable {
        case possession
        case knowledge
        case biometry

        public static func < (lhs: Factor, rhs: Factor) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// How components are written: protocol 3.0 and offline signatures use decimal groups,
    /// 3.1+ online signatures Base64.
    public enum Format: Sendable, Equatable {
        case decimal(componentLength: Int)
        case base64
    }

    /// The factors of a signature type such as `possession_knowledge`; `nil` for anything else.
    /// Each factor at most once, in the order possession, knowledge, biometry; knowledge or
    /// biometry only with possession unless alone (the reference's `PowerAuthSignatureTypes`).
    /// A switch: parsing the name cost ~2 % of a signature check.
    public static func factors(of signatureType: String) -> [Factor]? {
        switch signatureType.lowercased() {
        case "possession": [.possession]
        case "knowledge": [.knowledge]
        case "biometry": [.biometry]
        case "possession_knowledge": [.possession, .knowledge]
        case "possession_biometry": [.possession, .biometry]
        case "possession_knowledge_biometry": [.possession, .knowledge, .biometry]
        default: nil
        }
    }

    /// The signature of `data` at `counterData` with the keys of the chosen factors, in factor order.
    public static func compute(data: [UInt8], counterData: [UInt8], keys: [[UInt8]], format: Format) -> String {
        func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
            HMACSHA256.authenticationCode(for: message, key: key)
        }
        var components: [[UInt8]] = []
        for index in keys.indices {
            var derived = hmac(keys[index], counterData)
            // The reference implementation chains in the *following* keys (j + 1); the vectors agree.
            for inner in 0..<index {
                derived = hmac(hmac(keys[inner + 1], counterData), derived)
            }
            components.append(hmac(derived, data))
        }
        switch format {
        case .base64:
            return Data(components.flatMap { $0.suffix(16) }).base64EncodedString()
        case .decimal(let length):
            let modulus = (0..<length).reduce(UInt32(1)) { value, _ in value &* 10 }
            return components.map { component in
                let tail = component.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7FFF_FFFF
                let number = String(tail % modulus)
                return String(repeating: "0", count: max(0, length - number.count)) + number
            }.joined(separator: "-")
        }
    }

    /// Constant-time comparison of a presented signature with the expected one.
    public static func matches(_ presented: String, expected: String) -> Bool {
        ConstantTime.equals(presented, expected)
    }
}
