import HTTPTypes
import Hummingbird
import StrongAuthCore

/// The HTTP side of DPoP (RFC 9449): its two headers, the proof of a request, the URI a proof
/// must name, and the `WWW-Authenticate: DPoP` challenge of the resource faces.
enum DPoPHTTP {
    static let proofHeader = HTTPField.Name("DPoP")!
    static let nonceHeader = HTTPField.Name("DPoP-Nonce")!

    /// Whether the request carries any `DPoP` header.
    static func isPresent(in request: Request) -> Bool {
        request.headers[proofHeader] != nil
    }

    /// The request's one DPoP proof; `nil` when there is none or more than one (§4.3 step 1).
    static func proof(in request: Request) -> String? {
        let values = request.headers[values: proofHeader]
        return values.count == 1 ? values[0] : nil
    }

    /// The URI the request was sent to, as the issuer's public URL names it: behind the TLS
    /// proxy, the Host header and scheme the server sees are not what the client called.
    static func uri(of request: Request, issuer: String) -> String {
        issuer + request.uri.path
    }

    /// RFC 9449 §7.1: `DPoP error="…", algs="ES256 …"`.
    static func challenge(error: String) -> String {
        #"DPoP error="\#(error)", algs="\#(DPoPVerifier.supportedAlgorithms.joined(separator: " "))""#
    }
}
