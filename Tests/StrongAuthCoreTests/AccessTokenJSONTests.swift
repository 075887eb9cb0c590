import Foundation
import JWTKit
import StrongAuthProtocol
import Testing

@testable import StrongAuthCore

/// The hand-written JSON of access tokens says what Foundation's `JSONEncoder` (jwt-kit's
/// default) would: the same members and values, and it decodes back to the same claims.
@Suite("Access token JSON without JSONEncoder")
struct AccessTokenJSONTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static let claims: [AccessTokenClaims] = [
        AccessTokenClaims(
            issuer: "https://auth.example", subject: "shop", clientID: "shop", scope: "accounts", subjectType: .client, issuedAt: now,
            expiresAt: now.addingTimeInterval(900), id: "j1"),
        AccessTokenClaims(
            issuer: "https://auth.example", subject: "3f1c…", clientID: "app", scope: "accounts transfers", subjectType: .user,
            issuedAt: now, expiresAt: now.addingTimeInterval(900), id: "j2", familyID: "f1", amr: ["pwd", "hwk", "user"],
            confirmationDeviceID: "d1", authTime: now.addingTimeInterval(-30), resources: ["https://api.example", "https://b.example"],
            realm: "bank-a", dpopKeyThumbprint: "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
        // Every character class a string can hold: quotes, backslashes, controls, non-ASCII, slashes.
        AccessTokenClaims(
            issuer: "https://auth.example/realms/a\"b", subject: "line\nbreak\ttab\u{01}\u{1f}", clientID: "c\\d",
            scope: "é 漢字 😀 </script>", subjectType: .user, issuedAt: now, expiresAt: now.addingTimeInterval(1), id: "j3",
            amr: [], resources: ["https://api.example"]),
    ]

    @Test("the same JSON object as JSONEncoder's, and it decodes to the same claims", arguments: claims)
    func sameAsJSONEncoder(_ claims: AccessTokenClaims) throws {
        let handWritten = Data(claims.jsonBytes())
        let reference = try (JSONEncoder.defaultForJWT as any JWTJSONEncoder).encode(claims)
        let ours = try #require(try JSONSerialization.jsonObject(with: handWritten) as? NSDictionary)
        let theirs = try #require(try JSONSerialization.jsonObject(with: reference) as? NSDictionary)
        #expect(ours == theirs)
        let decoded = try (JSONDecoder.defaultForJWT as any JWTJSONDecoder).decode(AccessTokenClaims.self, from: handWritten)
        #expect(decoded == claims)
    }

    @Test("our header is written by hand; a header with other kinds of fields falls back to JSONEncoder")
    func header() throws {
        var header = JWTHeader()
        header.alg = "ES256"
        header.typ = "at+jwt"
        header.kid = "k1"
        #expect(AccessTokenJSONEncoder.jsonBytes(header) == Array(#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#.utf8))
        header.fields["crit"] = .array([.string("exp")])
        #expect(AccessTokenJSONEncoder.jsonBytes(header) == nil)
        let fallback = try #require(try JSONSerialization.jsonObject(with: try AccessTokenJSONEncoder().encode(header)) as? [String: Any])
        #expect(fallback["crit"] as? [String] == ["exp"] && fallback["kid"] as? String == "k1")
    }

    @Test("the signer's tokens carry exactly the hand-written header and claims (jwt-kit takes the encoder per key)")
    func signerUsesTheHandWrittenJSON() async throws {
        let key = SigningKey.generate(now: Self.now)
        let signer = try await AccessTokenSigner(keys: [key])
        for claims in Self.claims {
            let parts = try await signer.sign(claims).split(separator: ".").map(String.init)
            try #require(parts.count == 3)
            let expectedHeader = #"{"alg":"ES256","kid":"\#(key.kid)","typ":"at+jwt"}"#
            #expect(Base64URL.decode(parts[0]).map { String(decoding: $0, as: UTF8.self) } == expectedHeader)
            #expect(Base64URL.decode(parts[1]) == claims.jsonBytes())
        }
    }

    @Test("the signer's own JWS is what jwt-kit signs (same header and claims segments), and jwt-kit verifies it")
    func signerMatchesJWTKit() async throws {
        let key = SigningKey.generate(now: Self.now)
        let signer = try await AccessTokenSigner(keys: [key])
        let serializer = DefaultJWTSerializer(jsonEncoder: AccessTokenJSONEncoder())
        let jwtKit = JWTKeyCollection(defaultJWTSerializer: serializer)
        await jwtKit.add(ecdsa: try ES256PrivateKey(backing: key.privateKey), kid: JWKIdentifier(string: key.kid), serializer: serializer)
        let verifier = await JWTKeyCollection().add(ecdsa: try ES256PublicKey(backing: key.privateKey.publicKey), kid: JWKIdentifier(string: key.kid))
        var header = JWTHeader()
        header.typ = "at+jwt"
        for claims in Self.claims {
            let ours = try await signer.sign(claims)
            let theirs = try await jwtKit.sign(claims, kid: JWKIdentifier(string: key.kid), header: header)
            #expect(ours.split(separator: ".").prefix(2) == theirs.split(separator: ".").prefix(2))
            #expect(try await verifier.verify(ours, as: AccessTokenClaims.self) == claims)
            // One changed byte of the claims, and the signature no longer verifies.
            var parts = ours.split(separator: ".").map(String.init)
            parts[1] = Base64URL.encode(Array(claims.jsonBytes().dropLast()) + Array("}".utf8) + Array(" ".utf8))
            await #expect(throws: (any Error).self) { try await verifier.verify(parts.joined(separator: "."), as: AccessTokenClaims.self) }
        }
    }
}
