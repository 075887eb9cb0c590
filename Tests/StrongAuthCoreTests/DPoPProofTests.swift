import Crypto
import CryptoExtras
import Foundation
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// A replay guard in memory (the store's is tested on both databases in StrongAuthStoreTests).
final class MemoryReplayGuard: ReplayGuardRepository, @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String: Date] = [:]

    func rememberOnce(scope: String, keyHash: String, until expiresAt: Date, at now: Date) async throws -> Bool {
        lock.withLock {
            if let until = seen[scope + "|" + keyHash], until > now { return false }
            seen[scope + "|" + keyHash] = expiresAt
            return true
        }
    }

    func sweepReplayGuard(at now: Date) async throws -> Int { 0 }
}

/// Builds DPoP proofs, right or wrong in exactly one way.
struct ProofMaker {
    var key = P256.Signing.PrivateKey()

    var jwk: [String: Any] {
        let raw = Array(key.publicKey.rawRepresentation)
        return ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(raw[0..<32]), "y": Base64URL.encode(raw[32..<64])]
    }

    var thumbprint: String { DPoPPublicKey(p256: key.publicKey).thumbprint }

    func claims(method: String = "POST", uri: String = "https://auth.test/oauth/token", at time: Date, token: String? = nil) -> [String: Any] {
        var claims: [String: Any] = ["jti": UUID().uuidString, "htm": method, "htu": uri, "iat": Int(time.timeIntervalSince1970)]
        if let token { claims["ath"] = Base64URL.encode(SHA256.hash(data: Array(token.utf8))) }
        return claims
    }

    func proof(header: [String: Any]? = nil, claims: [String: Any], signature: ((String) throws -> [UInt8])? = nil) throws -> String {
        let header = header ?? ["typ": "dpop+jwt", "alg": "ES256", "jwk": jwk]
        let input =
            Base64URL.encode(try JSONSerialization.data(withJSONObject: header, options: .sortedKeys)) + "."
            + Base64URL.encode(try JSONSerialization.data(withJSONObject: claims, options: .sortedKeys))
        let bytes = try signature?(input) ?? Array(try key.signature(for: Array(input.utf8)).rawRepresentation)
        return input + "." + Base64URL.encode(bytes)
    }
}

@Suite("DPoP proofs (RFC 9449 §4.3) and JWK thumbprints (RFC 7638)")
struct DPoPProofTests {
    static let rfc9449Proof =
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
    static let rfc9449Thumbprint = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

    let time = ManualTimeSource(Date(timeIntervalSince1970: 1_800_000_000))

    func verifier(requireNonce: Bool = false, time: ManualTimeSource? = nil) -> DPoPVerifier {
        DPoPVerifier(
            configuration: DPoPConfiguration(proofMaxAge: 60, requireNonce: requireNonce),
            nonces: DPoPNonces(key: SymmetricKey(data: Array(repeating: UInt8(7), count: 32))), replay: MemoryReplayGuard(),
            time: time ?? self.time)
    }

    func refusal(
        _ verifier: DPoPVerifier, _ proof: String, method: String = "POST", uri: String = "https://auth.test/oauth/token",
        token: String? = nil, boundTo: String? = nil
    ) async -> DPoPError? {
        do {
            _ = try await verifier.verify(proof, method: method, uri: uri, accessToken: token, boundTo: boundTo)
            return nil
        } catch {
            return error as? DPoPError
        }
    }

    // MARK: Vectors

    @Test("RFC 7638 §3.1: the RSA example key's thumbprint")
    func rfc7638Vector() throws {
        let jwk: [String: Any] = [
            "kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n":
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        ]
        let key = try #require(DPoPPublicKey(jwk: jwk, algorithm: .rs256))
        #expect(key.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test("RFC 9449 §4.1 and §6.1: the example proof verifies at its iat, and its key's thumbprint is the example jkt")
    func rfc9449Vector() async throws {
        let atIssue = ManualTimeSource(Date(timeIntervalSince1970: 1_562_262_616))
        let verified = try await verifier(time: atIssue).verify(Self.rfc9449Proof, method: "POST", uri: "https://server.example.com/token")
        #expect(verified.keyThumbprint == Self.rfc9449Thumbprint)
        #expect(verified.jti == "-BwC3ESc6acc2lTc")
        // The same proof, one bit of its signature changed: refused.
        var tampered = Array(Self.rfc9449Proof)
        tampered[tampered.count - 2] = tampered[tampered.count - 2] == "L" ? "M" : "L"
        #expect(await refusal(verifier(time: atIssue), String(tampered), uri: "https://server.example.com/token")?.kind == .invalidProof)
    }

    @Test("RFC 9449 §4.2: ath of the example access token")
    func athVector() {
        let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
        #expect(Base64URL.encode(SHA256.hash(data: Array(token.utf8))) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo")
    }

    @Test("htu comparison normalises case, default port, percent-encoding and dot segments; query and fragment are ignored")
    func uriNormalisation() {
        #expect(DPoPURI.normalized("HTTPS://Auth.Test:443/oauth/%74oken") == "https://auth.test/oauth/token")
        #expect(DPoPURI.normalized("https://auth.test/a/./b/../oauth/token?x=1#f") == "https://auth.test/a/oauth/token")
        #expect(DPoPURI.normalized("http://auth.test:80") == "http://auth.test/")
        #expect(DPoPURI.normalized("http://auth.test:8080/x%2fy") == "http://auth.test:8080/x%2Fy")
        #expect(DPoPURI.normalized("ftp://auth.test/token") == nil)
        #expect(DPoPURI.normalized("https://user@auth.test/token") == nil)
        #expect(DPoPURI.normalized("/oauth/token") == nil)
    }

    // MARK: Refusals

    @Test("a good proof passes once; the same jti again is a replay")
    func replay() async throws {
        let maker = ProofMaker()
        let verifier = verifier()
        let proof = try maker.proof(claims: maker.claims(at: time.now()))
        let verified = try await verifier.verify(proof, method: "POST", uri: "https://auth.test/oauth/token")
        #expect(verified.keyThumbprint == maker.thumbprint)
        #expect(await refusal(verifier, proof)?.description.contains("jti") == true)
        // Another key may use the same jti: the replay key is the pair.
        let other = ProofMaker()
        var claims = other.claims(at: time.now())
        claims["jti"] = verified.jti
        #expect(await refusal(verifier, try other.proof(claims: claims)) == nil)
    }

    @Test("typ other than dpop+jwt is refused")
    func wrongType() async throws {
        let maker = ProofMaker()
        let proof = try maker.proof(header: ["typ": "JWT", "alg": "ES256", "jwk": maker.jwk], claims: maker.claims(at: time.now()))
        #expect(await refusal(verifier(), proof)?.description.contains("typ") == true)
    }

    @Test("alg none and HS256 are refused", arguments: ["none", "HS256"])
    func symmetricOrNone(alg: String) async throws {
        let maker = ProofMaker()
        let header: [String: Any] = ["typ": "dpop+jwt", "alg": alg, "jwk": ["kty": "oct", "k": "c2VjcmV0"]]
        let proof = try maker.proof(header: header, claims: maker.claims(at: time.now())) { input in
            alg == "none" ? [] : Array(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array("secret".utf8))))
        }
        #expect(await refusal(verifier(), proof)?.description.contains("alg") == true)
    }

    @Test("a jwk with private members is refused")
    func privateKeyInJWK() async throws {
        let maker = ProofMaker()
        var jwk = maker.jwk
        jwk["d"] = Base64URL.encode(maker.key.rawRepresentation)
        let proof = try maker.proof(header: ["typ": "dpop+jwt", "alg": "ES256", "jwk": jwk], claims: maker.claims(at: time.now()))
        #expect(await refusal(verifier(), proof)?.description.contains("jwk") == true)
    }

    @Test("a signature by another key than the jwk is refused")
    func foreignSignature() async throws {
        let maker = ProofMaker()
        let stranger = P256.Signing.PrivateKey()
        let proof = try maker.proof(claims: maker.claims(at: time.now())) { input in
            Array(try stranger.signature(for: Array(input.utf8)).rawRepresentation)
        }
        #expect(await refusal(verifier(), proof)?.description.contains("signature") == true)
    }

    @Test("wrong htm, wrong htu are refused")
    func wrongRequest() async throws {
        let maker = ProofMaker()
        let verifier = verifier()
        #expect(await refusal(verifier, try maker.proof(claims: maker.claims(method: "GET", at: time.now())))?.description.contains("htm") == true)
        let wrongPath = try maker.proof(claims: maker.claims(uri: "https://auth.test/api/v2/oauth/token", at: time.now()))
        #expect(await refusal(verifier, wrongPath)?.description.contains("htu") == true)
        let wrongHost = try maker.proof(claims: maker.claims(uri: "https://evil.test/oauth/token", at: time.now()))
        #expect(await refusal(verifier, wrongHost)?.description.contains("htu") == true)
        // Query and fragment of htu are ignored (§4.3 step 9).
        #expect(await refusal(verifier, try maker.proof(claims: maker.claims(uri: "https://AUTH.test/oauth/token?a=b", at: time.now()))) == nil)
    }

    @Test("stale and future iat are refused; the edges of the window pass", arguments: [-61, 61])
    func iatWindow(offset: Int) async throws {
        let maker = ProofMaker()
        let verifier = verifier()
        let outside = try maker.proof(claims: maker.claims(at: time.now().addingTimeInterval(TimeInterval(offset))))
        #expect(await refusal(verifier, outside)?.description.contains("iat") == true)
        let edge = try maker.proof(claims: maker.claims(at: time.now().addingTimeInterval(TimeInterval(offset > 0 ? 60 : -60))))
        #expect(await refusal(verifier, edge) == nil)
    }

    @Test("a missing or wrong ath on a resource request is refused, and a key other than the bound one")
    func resourceChecks() async throws {
        let maker = ProofMaker()
        let verifier = verifier()
        let uri = "https://auth.test/api/user/devices"
        let noAth = try maker.proof(claims: maker.claims(method: "GET", uri: uri, at: time.now()))
        #expect(await refusal(verifier, noAth, method: "GET", uri: uri, token: "token-a")?.description.contains("ath") == true)
        let wrongAth = try maker.proof(claims: maker.claims(method: "GET", uri: uri, at: time.now(), token: "token-b"))
        #expect(await refusal(verifier, wrongAth, method: "GET", uri: uri, token: "token-a")?.description.contains("ath") == true)
        let right = try maker.proof(claims: maker.claims(method: "GET", uri: uri, at: time.now(), token: "token-a"))
        #expect(
            await refusal(verifier, right, method: "GET", uri: uri, token: "token-a", boundTo: ProofMaker().thumbprint)?.description
                .contains("another key") == true)
        #expect(await refusal(verifier, right, method: "GET", uri: uri, token: "token-a", boundTo: maker.thumbprint) == nil)
    }

    @Test("nonces: required and missing → use_dpop_nonce; the offered nonce passes on any node; a stale or forged one → use_dpop_nonce")
    func nonces() async throws {
        let maker = ProofMaker()
        let verifier = verifier(requireNonce: true)
        #expect(await refusal(verifier, try maker.proof(claims: maker.claims(at: time.now())))?.kind == .useNonce)
        let nonce = verifier.freshNonce()
        var claims = maker.claims(at: time.now())
        claims["nonce"] = nonce
        // Another node (another verifier, same key) accepts it.
        #expect(await refusal(self.verifier(requireNonce: true), try maker.proof(claims: claims)) == nil)
        claims["jti"] = UUID().uuidString
        claims["nonce"] = "forged" + nonce.dropFirst(6)
        #expect(await refusal(verifier, try maker.proof(claims: claims))?.kind == .useNonce)
        // Two steps later the nonce is stale, even where nonces are optional: a nonce sent must be valid.
        time.advance(by: 600)
        claims = maker.claims(at: time.now())
        claims["nonce"] = nonce
        #expect(await refusal(self.verifier(requireNonce: false), try maker.proof(claims: claims))?.kind == .useNonce)
    }

    // MARK: The other algorithms

    @Test("ES384, EdDSA, RS256 and PS256 proofs verify; an RSA key under 2048 bits does not")
    func otherAlgorithms() async throws {
        let maker = ProofMaker()
        let verifier = verifier()
        func check(_ alg: String, _ jwk: [String: Any], _ sign: @escaping (String) throws -> [UInt8]) async throws -> DPoPError? {
            await refusal(
                verifier, try maker.proof(header: ["typ": "dpop+jwt", "alg": alg, "jwk": jwk], claims: maker.claims(at: time.now()), signature: sign))
        }
        let p384 = P384.Signing.PrivateKey()
        let raw384 = Array(p384.publicKey.rawRepresentation)
        #expect(
            try await check("ES384", ["kty": "EC", "crv": "P-384", "x": Base64URL.encode(raw384[0..<48]), "y": Base64URL.encode(raw384[48...])]) {
                Array(try p384.signature(for: Array($0.utf8)).rawRepresentation)
            } == nil)
        let ed = Curve25519.Signing.PrivateKey()
        #expect(
            try await check("EdDSA", ["kty": "OKP", "crv": "Ed25519", "x": Base64URL.encode(ed.publicKey.rawRepresentation)]) {
                Array(try ed.signature(for: Array($0.utf8)))
            } == nil)
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let (n, e) = try Self.rsaComponents(rsa.publicKey)
        let rsaJWK: [String: Any] = ["kty": "RSA", "n": Base64URL.encode(n), "e": Base64URL.encode(e)]
        #expect(
            try await check("RS256", rsaJWK) {
                Array(try rsa.signature(for: SHA256.hash(data: Array($0.utf8)), padding: .insecurePKCS1v1_5).rawRepresentation)
            } == nil)
        #expect(
            try await check("PS256", rsaJWK) { Array(try rsa.signature(for: SHA256.hash(data: Array($0.utf8)), padding: .PSS).rawRepresentation) }
                == nil)
        // PKCS#1 v1.5 signature presented as PS256: refused.
        #expect(
            try await check("PS256", rsaJWK) {
                Array(try rsa.signature(for: SHA256.hash(data: Array($0.utf8)), padding: .insecurePKCS1v1_5).rawRepresentation)
            }?.kind == .invalidProof)
        // RSA keys under 2048 bits, and exponents over 32 bits: refused before any verification.
        var modulus = (0..<128).map { _ in UInt8.random(in: 0...255) }
        modulus[0] |= 0x80
        #expect(
            try await check("RS256", ["kty": "RSA", "n": Base64URL.encode(modulus), "e": "AQAB"]) { _ in [] }?.description.contains("jwk") == true)
        let hugeExponent: [String: Any] = ["kty": "RSA", "n": Base64URL.encode(n), "e": Base64URL.encode([1, 0, 0, 0, 0, 0, 0, 1] as [UInt8])]
        #expect(try await check("RS256", hugeExponent) { _ in [] }?.description.contains("jwk") == true)
        // An EC key under an RSA alg: refused.
        #expect(try await check("RS256", maker.jwk) { _ in [] }?.description.contains("jwk") == true)
    }

    /// Modulus and exponent of an RSA public key, from its PKCS#1 DER.
    static func rsaComponents(_ key: _RSA.Signing.PublicKey) throws -> ([UInt8], [UInt8]) {
        let der = Array(key.pkcs1DERRepresentation)
        var index = 0
        func readLength() -> Int {
            let first = Int(der[index])
            index += 1
            guard first & 0x80 != 0 else { return first }
            var length = 0
            for _ in 0..<(first & 0x7F) {
                length = length << 8 | Int(der[index])
                index += 1
            }
            return length
        }
        func readInteger() -> [UInt8] {
            index += 1  // INTEGER tag
            let length = readLength()
            var value = Array(der[index..<index + length])
            index += length
            while value.first == 0 { value.removeFirst() }
            return value
        }
        index += 1  // SEQUENCE tag
        _ = readLength()
        return (readInteger(), readInteger())
    }
}
