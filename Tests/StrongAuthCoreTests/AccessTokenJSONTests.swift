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

    @Test("the header names the algorithm, the key and the type, in sorted order")
    func header() {
        #expect(AccessTokenSigner.headerJSON(kid: "k1") == Array(#"{"alg":"ES256","kid":"k1","typ":"at+jwt"}"#.utf8))
    }

    @Test("the signer's tokens carry exactly the hand-written header and claims")
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

    /// The JSON object a base64url segment of a compact JWS holds.
    static func object(_ segment: Substring) throws -> NSDictionary {
        let bytes = try #require(Base64URL.decode(String(segment)))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
    }

    @Test("the signer's own JWS says what jwt-kit's would (the same header and claims), and jwt-kit verifies it")
    func signerMatchesJWTKit() async throws {
        let key = SigningKey.generate(now: Self.now)
        let signer = try await AccessTokenSigner(keys: [key])
        let jwtKit = await JWTKeyCollection().add(ecdsa: try ES256PrivateKey(backing: key.privateKey), kid: JWKIdentifier(string: key.kid))
        let verifier = await JWTKeyCollection().add(ecdsa: try ES256PublicKey(backing: key.privateKey.publicKey), kid: JWKIdentifier(string: key.kid))
        var header = JWTHeader()
        header.typ = "at+jwt"
        for claims in Self.claims {
            let ours = try await signer.sign(claims).split(separator: ".")
            let theirs = try await jwtKit.sign(claims, kid: JWKIdentifier(string: key.kid), header: header).split(separator: ".")
            try #require(ours.count == 3 && theirs.count == 3)
            #expect(try Self.object(ours[0]) == Self.object(theirs[0]))
            #expect(try Self.object(ours[1]) == Self.object(theirs[1]))
            #expect(try await verifier.verify(ours.joined(separator: "."), as: AccessTokenClaims.self) == claims)
            // One byte added to the claims (a space after them), and the signature no longer verifies.
            let altered = [ours[0], Substring(Base64URL.encode(claims.jsonBytes() + Array(" ".utf8))), ours[2]].joined(separator: ".")
            await #expect(throws: (any Error).self) { try await verifier.verify(altered, as: AccessTokenClaims.self) }
        }
    }
}
