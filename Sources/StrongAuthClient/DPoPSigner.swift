import Crypto
import Foundation
import StrongAuthProtocol

/// Signs DPoP proofs (RFC 9449 §4) with an ES256 key: a fresh one, or the P-256 key a device
/// bound through the Kontist face keeps in its `DeviceKeyStore` — the tokens are then bound to
/// the key in the phone. Remembers the last server nonce it was offered (`DPoP-Nonce`) and puts
/// it in the next proof; the SDK's clients retry once when the server answers `use_dpop_nonce`.
///
/// ```swift
/// let signer = try DPoPSigner(keyStore: keys, keyName: deviceId)     // or DPoPSigner()
/// let tokens = try await integrator.withDPoP(signer).password(username: u, password: p)
/// // tokens.tokenType == .dPoP; the access token's cnf.jkt == signer.thumbprint
/// ```
public struct DPoPSigner: Sendable {
    private let key: P256.Signing.PrivateKey
    private let nonce = NonceMemory()

    /// A signer over a new P-256 key (kept in memory only).
    public init() {
        self.init(key: P256.Signing.PrivateKey())
    }

    public init(key: P256.Signing.PrivateKey) {
        self.key = key
    }

    /// A signer over the key `keyName` of `keyStore` (a bound device's key: its device id).
    public init(keyStore: any DeviceKeyStore, keyName: String) throws {
        guard let key = try keyStore.loadKey(named: keyName) else { throw DeviceClientError.noKey(deviceId: keyName) }
        self.init(key: key)
    }

    /// The public key as the proof's `jwk` header carries it.
    public var publicJWK: [String: String] {
        let raw = Array(key.publicKey.rawRepresentation)
        return ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(raw[0..<32]), "y": Base64URL.encode(raw[32..<64])]
    }

    /// The RFC 7638 thumbprint of the key: the `cnf.jkt` of the tokens bound to it.
    public var thumbprint: String {
        let jwk = publicJWK
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(jwk["x"]!)","y":"\#(jwk["y"]!)"}"#
        return Base64URL.encode(SHA256.hash(data: Array(canonical.utf8)))
    }

    /// The server nonce the next proof will carry, if one was offered.
    public var currentNonce: String? { nonce.value }

    /// Remembers a nonce the server offered in `DPoP-Nonce`.
    public func remember(nonce value: String?) {
        if let value, !value.isEmpty { nonce.value = value }
    }

    /// A proof for one request: `htm` `method`, `htu` `url` without query and fragment, a fresh
    /// `jti`, `iat` now, `ath` when the request carries `accessToken`, and the remembered nonce.
    public func proof(method: String, url: String, accessToken: String? = nil, issuedAt: Date = Date()) throws -> String {
        var htu = url
        if let cut = htu.firstIndex(where: { $0 == "?" || $0 == "#" }) { htu = String(htu[..<cut]) }
        var claims: [String: Any] = [
            "jti": SecureRandom.uuid(), "htm": method, "htu": htu, "iat": Int(issuedAt.timeIntervalSince1970),
        ]
        if let accessToken { claims["ath"] = Base64URL.encode(SHA256.hash(data: Array(accessToken.utf8))) }
        if let current = nonce.value { claims["nonce"] = current }
        let header: [String: Any] = ["typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK]
        let signingInput =
            Base64URL.encode(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) + "."
            + Base64URL.encode(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let signature = try key.signature(for: Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature.rawRepresentation)
    }

    /// The last nonce, shared by the copies of a signer (it is a value type used from many tasks).
    private final class NonceMemory: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: String?
        var value: String? {
            get { lock.withLock { stored } }
            set { lock.withLock { stored = newValue } }
        }
    }
}
