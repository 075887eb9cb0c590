import Foundation

/// The comparison of a proof's `htu` with the URI the request was sent to (RFC 9449 §4.3 step
/// 9): without query and fragment, after syntax- and scheme-based normalisation (RFC 3986
/// §6.2.2, §6.2.3): case of scheme and host, default port, percent-encoding, dot segments, the
/// empty path.
public enum DPoPURI {
    /// The normalised form of an absolute http(s) URI, or `nil` when it is not one.
    public static func normalized(_ uri: String) -> String? {
        guard uri.utf8.count <= 4096, !uri.contains(where: { $0.isWhitespace }), let components = URLComponents(string: uri),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            components.user == nil, components.password == nil,
            var host = components.percentEncodedHost?.lowercased(), !host.isEmpty
        else { return nil }
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        var authority = host
        if let port = components.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) {
            authority += ":\(port)"
        }
        guard let path = normalizedPath(components.percentEncodedPath) else { return nil }
        return "\(scheme)://\(authority)\(path)"
    }

    /// Percent-encoding normalised (unreserved characters decoded, hex digits upper-case), dot
    /// segments removed, `/` for the empty path.
    static func normalizedPath(_ path: String) -> String? {
        var decoded = ""
        var bytes = Array(path.utf8)[...]
        while let byte = bytes.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                decoded.unicodeScalars.append(Unicode.Scalar(byte))
                continue
            }
            guard bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) else { return nil }
            bytes = bytes.dropFirst(2)
            let character = Character(Unicode.Scalar(value))
            if character.isASCII, character.isLetter || character.isNumber || "-._~".contains(character) {
                decoded.append(character)
            } else {
                decoded += String(format: "%%%02X", value)
            }
        }
        var output: [Substring] = []
        let segments = decoded.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }
}
