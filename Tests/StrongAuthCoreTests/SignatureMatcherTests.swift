import Foundation
import StrongAuthProtocol
import Testing

@testable import StrongAuthCore

/// How a presented PowerAuth signature is matched against the activation's counter: within the
/// look-ahead window, reporting how far ahead it was, and the possession-only pre-check that
/// decides whether a wrong signature counts against the PIN.
@Suite("PowerAuth signature matcher")
struct SignatureMatcherTests {
    static let keys = try! PowerAuthDerivedKeys(masterSecret: [UInt8](repeating: 0x42, count: 16))
    static let start = [UInt8](repeating: 0, count: 15) + [1]
    static let nonce = [UInt8](repeating: 7, count: 16)

    /// The counter data `steps` values after `start`.
    static func counter(after steps: Int) -> [UInt8] {
        (0..<steps).reduce(start) { data, _ in PowerAuthStatusBlob.nextCounterData(data) }
    }

    /// What a phone sends: the signature over the request data with its keys at `counterData`.
    static func matcher(
        signedAt counterData: [UInt8], type: String = "possession_knowledge", signingKeys: PowerAuthDerivedKeys = keys,
        version: PowerAuthProtocolVersion = .v3_1, lookahead: Int = 20
    ) -> SignatureMatcher {
        let data = Array(
            PowerAuthSignature.baseString(
                method: "POST", uriID: "/pa/signature/validate", nonce: nonce, body: Array("{}".utf8), applicationSecret: "secret"
            )
            .utf8)
        let factors = PowerAuthSignature.factors(of: type) ?? []
        let format: PowerAuthSignature.Format = version == .v3_0 ? .decimal(componentLength: 8) : .base64
        let signature = PowerAuthSignature.compute(data: data, counterData: counterData, keys: factors.map(signingKeys.key(for:)), format: format)
        let header = PowerAuthAuthorizationHeader(
            activationID: "a", applicationKey: "k", nonce: nonce, signatureType: type, signature: signature, version: version)
        return SignatureMatcher(
            header, method: "POST", uriID: "/pa/signature/validate", body: Array("{}".utf8), applicationSecret: "secret", keys: keys,
            lookahead: lookahead)
    }

    @Test("a signature k steps ahead is found at step k+1, with the next counter and the values passed", arguments: [0, 1, 5, 19])
    func lookahead(steps: Int) throws {
        let match = try #require(Self.matcher(signedAt: Self.counter(after: steps)).search(from: Self.start, history: []))
        #expect(match.steps == steps + 1)
        #expect(match.next == Self.counter(after: steps + 1))
        #expect(match.history.first == Self.counter(after: steps))
        #expect(match.history.count == steps + 1)
    }

    @Test("beyond the window, or made with other keys, nothing matches")
    func outsideWindow() throws {
        #expect(Self.matcher(signedAt: Self.counter(after: 20)).search(from: Self.start, history: []) == nil)
        let other = try PowerAuthDerivedKeys(masterSecret: [UInt8](repeating: 0x43, count: 16))
        #expect(Self.matcher(signedAt: Self.start, signingKeys: other).search(from: Self.start, history: []) == nil)
        #expect(Self.matcher(signedAt: Self.start, lookahead: 0).search(from: Self.start, history: []) != nil, "a window of at least one")
    }

    @Test(
        "the possession pre-check: a wrong PIN (knowledge) with the right device still matches possession; another device does not",
        arguments: [PowerAuthProtocolVersion.v3_0, .v3_1, .v3_3])
    func possessionPreCheck(version: PowerAuthProtocolVersion) throws {
        var wrongPIN = Self.keys
        wrongPIN.knowledge = [UInt8](repeating: 0xEE, count: 16)
        let matcher = Self.matcher(signedAt: Self.counter(after: 3), signingKeys: wrongPIN, version: version)
        #expect(matcher.search(from: Self.start, history: []) == nil)
        #expect(matcher.possessionMatchesAhead(of: Self.start))
        var otherDevice = Self.keys
        otherDevice.possession = [UInt8](repeating: 0xDD, count: 16)
        #expect(!Self.matcher(signedAt: Self.start, signingKeys: otherDevice, version: version).possessionMatchesAhead(of: Self.start))
    }
}
