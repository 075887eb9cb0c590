import Foundation
import Testing

@testable import StrongAuthProtocol

/// RFC 7636 Appendix B through `PKCE` (the server's check and the SDK's pair share it), from
/// `shared/vectors/rfc/rfc7636_pkce.json`, with its negative cases.
@Suite("PKCE (RFC 7636 Appendix B)")
struct PKCEVectorTests {
    @Test("the verifier's S256 challenge is the RFC's; verify accepts it and refuses the padded and plain forms")
    func appendixB() throws {
        let vector = try #require(try TestVectors.load("rfc/rfc7636_pkce.json") as? [String: Any])
        let verifier = try #require(vector["code_verifier"] as? String)
        let challenge = try #require(vector["code_challenge"] as? String)
        let octets = try #require(vector["code_verifier_octets"] as? [Int])
        #expect(Base64URL.encode(octets.map(UInt8.init)) == verifier)
        #expect(PKCE.isValidVerifier(verifier))
        #expect(PKCE.challenge(for: verifier) == challenge)
        #expect(PKCE.verify(verifier, against: challenge))
        // `plain` would send the verifier itself as the challenge: never accepted as S256.
        #expect(!PKCE.verify(verifier, against: try #require(vector["plain_method_challenge"] as? String)))
    }

    @Test("the negative cases: short, long and illegal verifiers; a padded challenge")
    func negativeCases() throws {
        let vector = try #require(try TestVectors.load("rfc/rfc7636_pkce.json") as? [String: Any])
        let verifier = try #require(vector["code_verifier"] as? String)
        let cases = try #require(vector["negative_cases"] as? [[String: String]])
        #expect(!cases.isEmpty)
        for negative in cases {
            if let bad = negative["code_verifier"] {
                #expect(!PKCE.isValidVerifier(bad), "\(negative["why"] ?? "")")
            }
            if let padded = negative["code_challenge"] {
                #expect(!PKCE.verify(verifier, against: padded), "\(negative["why"] ?? "")")
            }
        }
    }
}
