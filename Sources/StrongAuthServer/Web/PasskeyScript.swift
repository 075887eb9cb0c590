import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The one script of the web pages, `Web/Static/passkeys.js` compiled into the binary: it runs
/// the WebAuthn ceremonies of the passkey buttons (see the file). Only the pages that show such
/// a button load it and allow it (`allowingScript`); every other page keeps the script-free
/// policy of `WebRenderer.addSecurityHeaders`.
enum PasskeyScript {
    static let path = "/static/passkeys.js"
    static let source: [UInt8] = PackageResources.passkeys_js
    /// The first 16 hex digits of the script's SHA-256: its URL changes with its content, so it
    /// can be cached for a year (`immutable`), and it is the ETag.
    static let version: String = SHA256.hash(data: source).prefix(8).map { byte in
        let hex = String(byte, radix: 16)
        return hex.count == 1 ? "0" + hex : hex
    }.joined()
    /// The URL the pages load: the path with the version.
    static let versionedPath = "\(path)?v=\(version)"

    /// The policy of a page that loads the script: today's policy with `script-src 'self'` (this
    /// file only: no inline script, no `eval`) and `connect-src 'self'` (its JSON calls) added.
    static func allowingScript(_ response: Response) -> Response {
        guard let policy = response.headers[.contentSecurityPolicy] else { return response }
        var response = response
        response.headers[.contentSecurityPolicy] = policy.replacingOccurrences(
            of: "default-src 'none';", with: "default-src 'none'; script-src 'self'; connect-src 'self';")
        return response
    }

    static func addRoute(to router: Router<AppRequestContext>) {
        router.get(RouterPath(stringLiteral: path)) { request, _ in
            var headers = HTTPFields()
            headers[.eTag] = "\"\(version)\""
            headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
            // Versioned URLs never change; an unversioned request revalidates.
            let versioned = request.uri.queryParameters["v"].map(String.init) == version
            headers[.cacheControl] = versioned ? "public, max-age=31536000, immutable" : "no-cache"
            let presented = request.headers[.ifNoneMatch]?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
            if presented.contains("\"\(version)\"") { return Response(status: .notModified, headers: headers) }
            headers[.contentType] = "text/javascript; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: source)))
        }
    }
}
