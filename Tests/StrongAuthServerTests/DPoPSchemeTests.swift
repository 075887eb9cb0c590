import Testing

@testable import StrongAuthServer

/// Which requests get a fresh `DPoP-Nonce` (RFC 9449 §8.2): those whose `Authorization` scheme is
/// `DPoP`, in any case — decided from the header's first bytes, as the lowercased header did.
@Suite("DPoP scheme of a request")
struct DPoPSchemeTests {
    @Test("DPoP in any case followed by a space; nothing else")
    func scheme() {
        for header in ["DPoP eyJ.a.b", "dpop x", "DPOP x", "dPoP ", "DPoP  two spaces"] {
            #expect(DPoPNonceMiddleware.isDPoPScheme(header), "\(header)")
        }
        for header in ["Bearer eyJ.a.b", "DPoP", "DPoPx", "DPo", "", "DPoP\tx", " DPoP x", "DPoP\u{0}x", "DPóP x", "Basic ZHBvcCA="] {
            #expect(!DPoPNonceMiddleware.isDPoPScheme(header), "\(header)")
            #expect(DPoPNonceMiddleware.isDPoPScheme(header) == header.lowercased().hasPrefix("dpop "), "\(header)")
        }
    }
}
