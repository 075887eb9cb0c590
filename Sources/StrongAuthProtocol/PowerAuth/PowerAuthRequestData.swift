import Crypto
import Foundation

extension PowerAuthSignature {
    /// The application secret that offline signatures use in place of the real one
    /// (`PA_OFFLINE_APP_SECRET` in wultra/powerauth-mobile-sdk `src/PowerAuth/protocol/Constants.cpp`):
    /// the device signs QR data without the server in the loop, so the secret cannot bind the app.
    public static let offlineApplicationSecret = "offline"

    /// The normalized request data (`PowerAuthHttpBody.getSignatureBaseString` of the reference):
    /// `METHOD&Base64(UTF8(uriId))&Base64(nonce)&Base64(body)`, method upper-cased, an empty body
    /// giving an empty field. This is what an intermediate server forwards to a signature service.
    public static func requestData(method: String, uriID: String, nonce: [UInt8], body: [UInt8]) -> String {
        [method.uppercased(), PowerAuthBase64.encode(Array(uriID.utf8)), PowerAuthBase64.encode(nonce), PowerAuthBase64.encode(body)]
            .joined(separator: "&")
    }

    /// The string whose UTF-8 bytes are signed, identical for protocol 3.0–3.3:
    /// `requestData&APP_SECRET`, the application secret appended as its Base64 text (the server
    /// side does `(data + "&" + applicationSecret).getBytes(UTF_8)`). Pass
    /// ``offlineApplicationSecret`` for offline signatures.
    public static func baseString(method: String, uriID: String, nonce: [UInt8], body: [UInt8], applicationSecret: String) -> String {
        requestData(method: method, uriID: uriID, nonce: nonce, body: body) + "&" + applicationSecret
    }

    /// The signed data of a GET request: its query parameters sorted by name then value,
    /// form-encoded (`application/x-www-form-urlencoded`: space as `+`, only `A–Z a–z 0–9 - . _ *`
    /// left as they are) and joined by `&` — the reference's `canonizeGetParameters`. Server and
    /// SDK must build the same bytes, so the rule lives here. Both halves are Java's: the order
    /// is `String.compareTo` (UTF-16 code units, not Swift's Unicode-aware `<`), and every
    /// non-ASCII character is percent-encoded as UTF-8, as `URLEncoder.encode(_, UTF_8)` does.
    public static func canonicalQuery(_ parameters: [String: String]) -> String {
        parameters.sorted { left, right in
            left.key == right.key
                ? left.value.utf16.lexicographicallyPrecedes(right.value.utf16)
                : left.key.utf16.lexicographicallyPrecedes(right.key.utf16)
        }
        .map { "\(formEncode($0.key))=\(formEncode($0.value))" }
        .joined(separator: "&")
    }

    /// The characters `URLEncoder` leaves as they are: ASCII letters and digits and `- . _ *`.
    private static let formUnreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._*")

    private static func formEncode(_ text: String) -> String {
        (text.addingPercentEncoding(withAllowedCharacters: formUnreserved) ?? text).replacingOccurrences(of: "%20", with: "+")
    }
}

/// MAC-token digests (`TokenUtils.computeTokenDigest` of the reference, protocol 3.x).
public enum PowerAuthTokenDigest {
    /// HMAC-SHA256(tokenSecret, nonce ‖ "&" ‖ UTF8(decimal timestamp) [‖ "&" ‖ UTF8(version)]).
    ///
    /// The version suffix is present from 3.2 on: the reference code adds it although the
    /// MAC-token prose still shows only `nonce&timestamp`; the code is what clients run.
    /// The nonce is the raw 16 bytes (the header carries them in Base64), the timestamp the
    /// decimal string of the milliseconds without leading zeros.
    public static func compute(tokenSecret: [UInt8], nonce: [UInt8], timestamp: UInt64, version: PowerAuthProtocolVersion) -> [UInt8] {
        var data = nonce + Array("&".utf8) + Array(String(timestamp).utf8)
        if version >= .v3_2 {
            data += Array("&".utf8) + Array(version.rawValue.utf8)
        }
        return Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: tokenSecret)))
    }

    /// Constant-time check of a presented digest (from ``PowerAuthTokenHeader``).
    public static func verify(_ header: PowerAuthTokenHeader, tokenSecret: [UInt8]) -> Bool {
        ConstantTime.equals(
            compute(tokenSecret: tokenSecret, nonce: header.nonce, timestamp: header.timestamp, version: header.version), header.tokenDigest)
    }
}
