import Foundation
import NIOCore
import StrongAuthCore

/// `application/x-www-form-urlencoded` bodies as RFC 6749 §3.2 and Appendix B define them:
/// UTF-8, percent-encoding with `+` for space, and no parameter more than once.
enum FormBody {
    /// The media type every OAuth endpoint accepts.
    static let mediaType = "application/x-www-form-urlencoded"

    /// Parses `body`; any malformed byte, bad escape or repeated parameter is `invalid_request`.
    static func parse(_ body: ByteBuffer) throws -> [String: String] {
        var parameters: [String: String] = [:]
        guard let text = String(bytes: body.readableBytesView, encoding: .utf8) else {
            throw OAuthError.invalidRequest("The request body is not UTF-8.")
        }
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), !name.isEmpty else {
                throw OAuthError.invalidRequest("The request body is not a well-formed form.")
            }
            guard let value = parts.count == 2 ? decode(parts[1]) : "" else {
                throw OAuthError.invalidRequest("The request body is not a well-formed form.")
            }
            guard parameters.updateValue(value, forKey: name) == nil else {
                throw OAuthError.invalidRequest("The parameter '\(Self.printable(name))' is included more than once.")
            }
        }
        return parameters
    }

    /// Percent-decodes one component; `nil` for bad escapes or invalid UTF-8.
    static func decode(_ component: Substring) -> String? {
        component.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            .flatMap { $0.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) ? nil : $0 }
    }

    /// A parameter name safe to echo in an error description.
    static func printable(_ name: String) -> String {
        String(name.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 && $0 != "\"" }.prefix(40).map(Character.init))
    }
}
