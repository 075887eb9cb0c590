import HTTPTypes
import Hummingbird
import StrongAuthProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The proxies whose `Forwarded` / `X-Forwarded-For` headers are believed (`http.trustedProxies`,
/// a list of CIDR blocks or single addresses, IPv4 and IPv6). SECURITY.md asks for a
/// TLS-terminating proxy in front of StrongAuth; without this, every request would carry the
/// proxy's address, so all users would share one rate-limit bucket and the audit would name the
/// proxy. Headers from any other peer are ignored: a client that talks to StrongAuth directly
/// could otherwise choose its own address and walk around every per-address limit.
public struct TrustedProxies: Sendable, Equatable {
    /// One CIDR block: the network's address bytes (4 or 16) and prefix length.
    struct Network: Sendable, Equatable {
        let bytes: [UInt8]
        let prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefix
            for index in bytes.indices where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if address[index] & mask != bytes[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    let networks: [Network]

    public static let none = TrustedProxies(networks: [])

    init(networks: [Network]) {
        self.networks = networks
    }

    /// Parses `["10.0.0.0/8", "::1", "2001:db8::/32"]`; throws naming the first entry that is not one.
    public init(parsing entries: [String]) throws(InvalidEntry) {
        var networks: [Network] = []
        for raw in entries {
            let entry = String(raw.trimmingHTTPWhitespace())
            guard !entry.isEmpty else { continue }
            let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let bytes = Self.addressBytes(String(parts[0])) else { throw InvalidEntry(entry: entry) }
            var prefix = bytes.count * 8
            if parts.count == 2 {
                guard let length = Int(parts[1]), (0...bytes.count * 8).contains(length), parts[1].allSatisfy(\.isASCII) else {
                    throw InvalidEntry(entry: entry)
                }
                prefix = length
            }
            networks.append(Network(bytes: bytes, prefix: prefix))
        }
        self.networks = networks
    }

    public struct InvalidEntry: Error, Equatable {
        public let entry: String
    }

    public var isEmpty: Bool { networks.isEmpty }

    /// Whether `address` (a textual IP address) lies in a trusted network.
    public func contains(_ address: String) -> Bool {
        guard let bytes = Self.addressBytes(address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// THE address of the client, for rate limits, audit events and logs — the one place that
    /// decides it. The TCP peer, unless the peer is a trusted proxy: then the forwarding chain
    /// (`Forwarded: for=` if present, else `X-Forwarded-For`) is walked from the right, past
    /// trusted proxies, and the first untrusted address is the client (RFC 7239 §7.1: only the
    /// entries added by our own proxies are reliable; anything left of the first untrusted entry
    /// was written by the client). An entry that is not an IP address (`unknown`, an obfuscated
    /// `_node`, garbage) stops the walk at the last trusted hop, which is then the best address
    /// known; a chain of only trusted hops yields its left-most entry.
    public func clientAddress(peer: String?, headers: HTTPFields) -> String? {
        guard let peer, !networks.isEmpty, contains(peer) else { return peer }
        let chain = Self.forwardedFor(headers) ?? Self.xForwardedFor(headers)
        var client = peer
        for entry in chain.reversed() {
            guard let address = Self.normalised(entry) else { return client }
            client = address
            if !contains(address) { return address }
        }
        return client
    }

    /// The `for=` values of every `Forwarded` element, in order; `nil` without the header.
    static func forwardedFor(_ headers: HTTPFields) -> [String]? {
        let lines = headers[values: .forwarded]
        guard !lines.isEmpty else { return nil }
        var result: [String] = []
        for line in lines {
            for element in line.split(separator: ",", omittingEmptySubsequences: false) {
                var value = "unknown"  // an element without for= is a hop we cannot name
                for pair in element.split(separator: ";") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2, parts[0].trimmingHTTPWhitespace().lowercased() == "for" else { continue }
                    value = String(parts[1].trimmingHTTPWhitespace())
                }
                result.append(value)
            }
        }
        return result
    }

    /// The comma-separated entries of every `X-Forwarded-For` line, in order.
    static func xForwardedFor(_ headers: HTTPFields) -> [String] {
        headers[values: .xForwardedFor].flatMap {
            $0.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingHTTPWhitespace()) }
        }
    }

    /// A forwarding entry as a canonical textual IP address, or `nil` if it is none: strips RFC
    /// 7239 quotes, `[v6]` brackets and ports.
    static func normalised(_ entry: String) -> String? {
        var value = Substring(entry)
        if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { return nil }
            value = value[value.index(after: value.startIndex)..<close]
        } else if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") {
            value = value[..<colon]  // IPv4 with a port
        }
        guard let bytes = addressBytes(String(value)) else { return nil }
        return text(bytes)
    }

    /// 4 bytes for IPv4, 16 for IPv6; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how a
    /// dual-stack socket reports IPv4 peers) is its IPv4 address.
    static func addressBytes(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
            return bytes
        }
        return nil
    }

    static func text(_ bytes: [UInt8]) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        guard ok else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension HTTPField.Name {
    static let forwarded = HTTPField.Name("Forwarded")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}

/// Sets `AppRequestContext.remoteAddress` to `TrustedProxies.clientAddress` before anything else
/// runs, and names it in the request's log metadata, so rate limits, audit events and the
/// access log all see the same client.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let trustedProxies: TrustedProxies

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.remoteAddress = trustedProxies.clientAddress(peer: context.peerAddress, headers: request.headers)
        if let address = context.remoteAddress { context.logger[metadataKey: "source"] = "\(address)" }
        return try await next(request, context)
    }
}
