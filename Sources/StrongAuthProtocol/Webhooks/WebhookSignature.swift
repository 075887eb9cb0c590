import Crypto
import Foundation

/// The signature of a webhook (docs/webhooks.md): `X-StrongAuth-Signature: t=<unix seconds>,v1=<hex
/// HMAC-SHA256(secret, "<t>.<body>")>`. The server signs with it; a receiver (the SDK, an
/// integrator's Swift service) verifies with it.
///
/// What a receiver must check, and why (SECURITY.md): the MAC in constant time; `t` within
/// `tolerance` (±5 minutes) of its own clock, so a captured delivery cannot be replayed later; and
/// it must drop repeats by the `eventId` *inside the signed body* — the `Idempotency-Key` header
/// carries the same value but is not signed, so an attacker replaying within the tolerance could
/// change it to slip past a dedupe keyed on the header.
public enum WebhookSignature {
    /// How far `t` may be from the receiver's clock, either way.
    public static let defaultTolerance: TimeInterval = 300

    public enum Failure: Error, Equatable, Sendable {
        /// No `t=` and `v1=`, or not numbers and hex.
        case malformedHeader
        /// `t` is more than the tolerance before or after now.
        case outsideTolerance
        /// The MAC does not verify under the secret.
        case badSignature
        /// The signed body is not a JSON object with a string `eventId`.
        case noEventID
    }

    /// The header value for `body` signed at `timestamp` (unix seconds).
    public static func header(secret: [UInt8], body: some Collection<UInt8>, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(Hex.encode(mac(secret: secret, body: body, timestamp: String(timestamp))))"
    }

    /// Verifies `header` over `body` and returns the signed body's `eventId`, the key to drop a
    /// repeated delivery by.
    public static func verify(
        header: String, body: [UInt8], secret: [UInt8], now: Date = Date(), tolerance: TimeInterval = defaultTolerance
    ) throws(Failure) -> String {
        var timestamp: String?
        var signature: [UInt8]?
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = pair[1]
            case "v1": signature = Hex.decode(pair[1])
            default: continue
            }
        }
        guard let timestamp, let seconds = Int64(timestamp), let signature else { throw .malformedHeader }
        guard ConstantTime.equals(signature, mac(secret: secret, body: body, timestamp: timestamp)) else { throw .badSignature }
        guard abs(Double(seconds) - now.timeIntervalSince1970) <= tolerance else { throw .outsideTolerance }
        guard let event = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let id = event["eventId"] as? String
        else { throw .noEventID }
        return id
    }

    static func mac(secret: [UInt8], body: some Collection<UInt8>, timestamp: String) -> [UInt8] {
        var message = Array(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message.append(contentsOf: body)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
    }
}
