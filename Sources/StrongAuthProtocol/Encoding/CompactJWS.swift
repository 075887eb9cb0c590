/// The syntax of a compact JWS (RFC 7515 §7.1): three base64url segments, split and decoded
/// once. Nothing here verifies or trusts anything — the DPoP proofs, private_key_jwt client
/// assertions and PowerAuth 3.3 temporary-key JWTs each pin their algorithms and check the
/// signature over `signingInput` themselves.
public struct CompactJWS: Sendable, Equatable {
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the signature covers.
    public let signingInput: [UInt8]
    public let header: [UInt8]
    public let payload: [UInt8]
    public let signature: [UInt8]

    /// `nil` unless `compact` is exactly three base64url segments (each may be empty).
    public init?(_ compact: String) {
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Base64URL.decode(String(parts[0])), let payload = Base64URL.decode(String(parts[1])),
            let signature = Base64URL.decode(String(parts[2]))
        else { return nil }
        self.signingInput = Array("\(parts[0]).\(parts[1])".utf8)
        self.header = header
        self.payload = payload
        self.signature = signature
    }
}
