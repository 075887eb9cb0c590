import Foundation

/// Why a PowerAuth HTTP header was refused: which field and how, with the reference's error code
/// (`InvalidPowerAuthHttpHeaderException` messages in wultra/powerauth-crypto `powerauth-java-http/.../validator/`).
/// The description names the field only, never its value, so it is safe to log.
public struct PowerAuthHeaderError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The value does not start with `PowerAuth ` (the reference then sees no fields at all).
        case notPowerAuth
        /// A required field is absent.
        case missing
        /// A field is present but malformed (bad UUID, Base64, length, type, version…).
        case invalid
        /// A field is present where the scope forbids it (`activation_id` in application scope).
        case unexpected
        /// The whole value is longer than `PowerAuthHeaderSyntax.maxHeaderBytes`; refused unread.
        case tooLong
    }

    public let kind: Kind
    /// The header field (`pa_nonce`, `token_digest`, `activation_id`…), or the header name for `.notPowerAuth`.
    public let field: String
    /// The reference validator's code, e.g. `POWER_AUTH_NONCE_INVALID`.
    public let code: String

    public init(kind: Kind, field: String, code: String) {
        self.kind = kind
        self.field = field
        self.code = code
    }

    public var description: String {
        switch kind {
        case .notPowerAuth: "\(field) is not a PowerAuth header (\(code))"
        case .missing: "\(field) is missing (\(code))"
        case .invalid: "\(field) is malformed (\(code))"
        case .unexpected: "\(field) is not allowed here (\(code))"
        case .tooLong: "\(field) is longer than \(PowerAuthHeaderSyntax.maxHeaderBytes) bytes (\(code))"
        }
    }
}

/// The key–value syntax shared by all three headers, parsed exactly as the reference's
/// `PowerAuthHttpHeader.parseHttpHeader` does: trim, require the `PowerAuth ` prefix, then collect
/// every match of `(\w+)="*((?<=")[^"]+(?=")|([^\s]+)),*"*` (last one wins, unknown keys ignored).
///
/// The regular expression's tolerance is the protocol (commas between fields are optional, quotes
/// are optional, whitespace may separate fields), so its matches are reproduced exactly, but by a
/// hand-written scanner (`scan`) in one pass: run through a backtracking engine, the expression
/// retries every start inside a run of word characters, which made a 60 KB `PowerAuth aaaa…`
/// header cost a worker over ten seconds (SECURITY.md). The expression is kept in `pattern` as the
/// oracle the tests compare the scanner with.
enum PowerAuthHeaderSyntax {
    static let prefix = "PowerAuth "
    /// The reference's expression, with Java's ASCII `\w` and `\s` spelled out. Not used to parse.
    static let pattern = #"([A-Za-z0-9_]+)="*((?<=")[^"]+(?=")|([^ \t\n\x0B\f\r]+)),*"*"#

    /// The longest header value read, in UTF-8 bytes. A genuine header is under 400 bytes (the
    /// reference's builders write the fields once, with short values); anything longer is refused
    /// before it is scanned, so a header costs at most this much work whatever is sent.
    public static let maxHeaderBytes = 4096

    /// The fields, or the refusal of a header that is too long (`tooLong`) or lacks the prefix
    /// (`notPowerAuth`); `header` names the header, `code` is the code of its whole-header refusal.
    static func map(of value: String, header: String, code: String) throws(PowerAuthHeaderError) -> [String: String] {
        guard value.utf8.count <= maxHeaderBytes else {
            throw PowerAuthHeaderError(kind: .tooLong, field: header, code: code)
        }
        guard let map = fields(of: value) else { throw PowerAuthHeaderError(kind: .notPowerAuth, field: header, code: code) }
        return map
    }

    /// `nil` when the prefix is missing (the reference returns an empty map then). Linear in the
    /// input; callers bound it with `maxHeaderBytes` first.
    static func fields(of header: String) -> [String: String]? {
        // Java's trim strips code units up to U+0020; in UTF-8 those are exactly the bytes up to
        // 0x20 (every byte of a multi-byte sequence is 0x80 or more), so bytes can be trimmed.
        let bytes = Array(header.utf8)
        var low = 0
        var high = bytes.count
        while low < high, bytes[low] <= 0x20 { low += 1 }
        while high > low, bytes[high - 1] <= 0x20 { high -= 1 }
        // `startsWith` of Java compares code units, not Swift's grapheme clusters.
        let prefixBytes = Array(prefix.utf8)
        guard high - low >= prefixBytes.count, bytes[low..<(low + prefixBytes.count)].elementsEqual(prefixBytes) else { return nil }
        low += prefixBytes.count
        while low < high, bytes[low] <= 0x20 { low += 1 }
        var result: [String: String] = [:]
        for (key, value) in scan(bytes[low..<high]) {
            result[String(decoding: bytes[key], as: UTF8.self)] = String(decoding: bytes[value], as: UTF8.self)
        }
        return result
    }

    /// Every match of `pattern` in `body`, leftmost first and non-overlapping as a regex engine
    /// reports them, as (key range, value range). One pass, no backtracking: each byte is looked
    /// at a bounded number of times.
    ///
    /// Why this equals the expression, piece by piece (q is just after `=`, r after its quotes):
    /// - `(\w+)=`: a key can only be a whole run of word characters followed by `=`, since a
    ///   shorter key would be followed by a word character. What follows `=` does not depend on
    ///   where in the run the match starts, so if the run's first byte cannot start a match, none
    ///   of its bytes can, and the scan moves past the run.
    /// - `"*` is greedy; the engine first tries all the quotes (up to r).
    /// - `(?<=")[^"]+(?=")` needs a quote before r (at least one quote taken) and a closing quote
    ///   after at least one non-quote: the value is r up to the next quote.
    /// - else `[^\s]+`: a non-whitespace byte at r, the value runs to the next whitespace.
    /// - else, with quotes taken, the engine gives one back: the lookaround branch fails (a quote
    ///   at r-1), `[^\s]+` matches from that quote to the next whitespace.
    /// - with no quote taken and whitespace (or nothing) at q, there is no match at this start.
    /// - `,*"*` then takes the closing quote run (after the first branch) or nothing (after the
    ///   second: it stops at whitespace or the end).
    /// The classes are ASCII, so matching on UTF-8 bytes cuts only between ASCII bytes, never
    /// inside a multi-byte character, exactly where the engine cuts the UTF-16 string.
    static func scan(_ body: ArraySlice<UInt8>) -> [(key: Range<Int>, value: Range<Int>)] {
        func isWord(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x5F
        }
        // Java's `\s`: space, \t, \n, \x0B, \f, \r.
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
        let quote = UInt8(ascii: "\""), equals = UInt8(ascii: "=")
        let end = body.endIndex
        /// The first index at or after `from` whose byte satisfies `predicate`, or `end`.
        func next(from: Int, _ predicate: (UInt8) -> Bool) -> Int {
            var index = from
            while index < end, !predicate(body[index]) { index += 1 }
            return index
        }
        var matches: [(key: Range<Int>, value: Range<Int>)] = []
        var position = body.startIndex
        // The first quote at or after an index, remembered so that a run of unclosed quoted values
        // is not searched again for each of them (keeps the scan linear).
        var nextQuote = (from: body.startIndex, at: next(from: body.startIndex) { $0 == quote })
        func quoteAtOrAfter(_ index: Int) -> Int {
            if index > nextQuote.at || index < nextQuote.from { nextQuote = (index, next(from: index) { $0 == quote }) }
            return nextQuote.at
        }
        while position < end {
            guard isWord(body[position]) else {
                position += 1
                continue
            }
            let keyStart = position
            let keyEnd = next(from: keyStart) { !isWord($0) }
            position = keyEnd
            guard keyEnd < end, body[keyEnd] == equals else { continue }
            let q = keyEnd + 1
            let r = next(from: q) { $0 != quote }
            let value: Range<Int>
            var matchEnd: Int
            if r > q, r < end, case let closing = quoteAtOrAfter(r), closing < end {
                value = r..<closing
                matchEnd = next(from: closing) { $0 != quote }
            } else if r < end, !isSpace(body[r]) {
                matchEnd = next(from: r, isSpace)
                value = r..<matchEnd
            } else if r > q {
                matchEnd = next(from: r, isSpace)
                value = (r - 1)..<matchEnd
            } else {
                continue
            }
            matches.append((keyStart..<keyEnd, value))
            position = matchEnd
        }
        return matches
    }

    /// `String.trim()` of Java: strips every character up to U+0020 from both ends.
    static func javaTrim(_ string: String) -> String {
        let scalars = string.unicodeScalars
        guard let first = scalars.firstIndex(where: { $0.value > 0x20 }),
            let last = scalars.lastIndex(where: { $0.value > 0x20 })
        else { return "" }
        return String(scalars[first...last])
    }

    static func field(_ value: String?, _ name: String, missing: String) throws(PowerAuthHeaderError) -> String {
        guard let value else { throw PowerAuthHeaderError(kind: .missing, field: name, code: missing) }
        return value
    }

    static func base64(_ value: String, length: Int, _ name: String, invalid: String) throws(PowerAuthHeaderError) -> [UInt8] {
        guard let bytes = PowerAuthBase64.decode(value), bytes.count == length else {
            throw PowerAuthHeaderError(kind: .invalid, field: name, code: invalid)
        }
        return bytes
    }

    static func version(_ value: String?, _ name: String, prefix code: String) throws(PowerAuthHeaderError) -> PowerAuthProtocolVersion {
        guard let value, !value.isEmpty else { throw PowerAuthHeaderError(kind: .missing, field: name, code: "\(code)_VERSION_EMPTY") }
        guard let version = PowerAuthProtocolVersion(rawValue: value) else {
            throw PowerAuthHeaderError(kind: .invalid, field: name, code: "\(code)_VERSION_INVALID")
        }
        return version
    }

    static func uuid(_ value: String, _ name: String, invalid: String) throws(PowerAuthHeaderError) -> String {
        guard PowerAuthUUID.isValid(value) else { throw PowerAuthHeaderError(kind: .invalid, field: name, code: invalid) }
        return value
    }

    static func quoted(_ key: String, _ value: String) -> String {
        "\(key)=\"\(value)\""
    }
}

/// `X-PowerAuth-Authorization`: the signed-request header (`PowerAuthSignatureHttpHeader` and its
/// validator in the reference), e.g.
/// `PowerAuth pa_activation_id="…", pa_application_key="…", pa_nonce="…", pa_signature_type="possession_knowledge", pa_signature="…", pa_version="3.1"`.
public struct PowerAuthAuthorizationHeader: Sendable, Equatable {
    public static let headerName = "X-PowerAuth-Authorization"

    /// A UUID (versions 1–5), as sent.
    public var activationID: String
    /// Base64 of 16 bytes, as sent (it is looked up, not decoded, by the server).
    public var applicationKey: String
    /// The 16 nonce bytes; the signature base string re-encodes them (as the reference does).
    public var nonce: [UInt8]
    /// The signature type as sent (`possession_knowledge`, case-insensitive).
    public var signatureType: String
    /// The factors the type names, in signing order.
    public var factors: [PowerAuthSignature.Factor]
    /// Base64 (3.1+) or decimal groups (3.0 and offline), as sent.
    public var signature: String
    public var version: PowerAuthProtocolVersion

    public init(
        activationID: String, applicationKey: String, nonce: [UInt8], signatureType: String, signature: String,
        version: PowerAuthProtocolVersion
    ) {
        self.activationID = activationID
        self.applicationKey = applicationKey
        self.nonce = nonce
        self.signatureType = signatureType
        self.factors = PowerAuthSignature.factors(of: signatureType) ?? []
        self.signature = signature
        self.version = version
    }

    /// Parses and validates in the reference's order: activation ID, nonce, signature type,
    /// signature, application key, version.
    public static func parse(_ value: String) throws(PowerAuthHeaderError) -> PowerAuthAuthorizationHeader {
        typealias S = PowerAuthHeaderSyntax
        let map = try S.map(of: value, header: headerName, code: "POWER_AUTH_SIGNATURE_INVALID_EMPTY")
        let activationID = try S.uuid(
            try S.field(map["pa_activation_id"], "pa_activation_id", missing: "POWER_AUTH_ACTIVATION_ID_EMPTY"), "pa_activation_id",
            invalid: "POWER_AUTH_ACTIVATION_ID_INVALID")
        let nonce = try S.base64(
            try S.field(map["pa_nonce"], "pa_nonce", missing: "POWER_AUTH_NONCE_EMPTY"), length: 16, "pa_nonce",
            invalid: "POWER_AUTH_NONCE_INVALID")
        let signatureType = try S.field(map["pa_signature_type"], "pa_signature_type", missing: "POWER_AUTH_SIGNATURE_TYPE_EMPTY")
        guard let factors = PowerAuthSignature.factors(of: signatureType) else {
            throw PowerAuthHeaderError(kind: .invalid, field: "pa_signature_type", code: "POWER_AUTH_SIGNATURE_TYPE_INVALID")
        }
        let signature = try S.field(map["pa_signature"], "pa_signature", missing: "POWER_AUTH_SIGNATURE_EMPTY")
        guard isValidSignatureValue(signature) else {
            throw PowerAuthHeaderError(kind: .invalid, field: "pa_signature", code: "POWER_AUTH_SIGNATURE_INVALID")
        }
        let applicationKey = try S.field(map["pa_application_key"], "pa_application_key", missing: "POWER_AUTH_APPLICATION_EMPTY")
        _ = try S.base64(applicationKey, length: 16, "pa_application_key", invalid: "POWER_AUTH_APPLICATION_INVALID")
        let version = try S.version(map["pa_version"], "pa_version", prefix: "POWER_AUTH_SIGNATURE")
        var header = PowerAuthAuthorizationHeader(
            activationID: activationID, applicationKey: applicationKey, nonce: nonce, signatureType: signatureType, signature: signature,
            version: version)
        header.factors = factors
        return header
    }

    /// `ValueTypeValidator.isValidSignatureValue`: 1–3 groups of 8 digits, or Base64 of 16–48
    /// bytes; the format is not tied to the version at this stage (the reference does not either).
    static func isValidSignatureValue(_ signature: String) -> Bool {
        switch signature.utf16.count {
        case 8, 17, 26:
            let groups = signature.split(separator: "-", omittingEmptySubsequences: false)
            return (1...3).contains(groups.count)
                && groups.allSatisfy { $0.utf8.count == 8 && $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
        case 24, 44, 64:
            guard let bytes = PowerAuthBase64.decode(signature) else { return false }
            return (16...48).contains(bytes.count)
        default:
            return false
        }
    }

    /// The header value as the reference's `buildHttpHeader` writes it.
    public var headerValue: String {
        typealias S = PowerAuthHeaderSyntax
        return S.prefix
            + [
                S.quoted("pa_activation_id", activationID), S.quoted("pa_application_key", applicationKey),
                S.quoted("pa_nonce", PowerAuthBase64.encode(nonce)), S.quoted("pa_signature_type", signatureType),
                S.quoted("pa_signature", signature), S.quoted("pa_version", version.rawValue),
            ].joined(separator: ", ")
    }
}

/// `X-PowerAuth-Token`: MAC-token authentication (`PowerAuthTokenHttpHeader` and its validator), e.g.
/// `PowerAuth token_id="…", token_digest="…", nonce="…", timestamp="1700000000000", version="3.2"`.
public struct PowerAuthTokenHeader: Sendable, Equatable {
    public static let headerName = "X-PowerAuth-Token"

    public var tokenID: String
    /// HMAC-SHA256 output, 32 bytes.
    public var tokenDigest: [UInt8]
    public var nonce: [UInt8]
    /// Unix milliseconds; the reference accepts 9 to 15 decimal digits.
    public var timestamp: UInt64
    public var version: PowerAuthProtocolVersion

    public init(tokenID: String, tokenDigest: [UInt8], nonce: [UInt8], timestamp: UInt64, version: PowerAuthProtocolVersion) {
        self.tokenID = tokenID
        self.tokenDigest = tokenDigest
        self.nonce = nonce
        self.timestamp = timestamp
        self.version = version
    }

    /// Parses and validates in the reference's order: token ID, digest, nonce, timestamp, version.
    public static func parse(_ value: String) throws(PowerAuthHeaderError) -> PowerAuthTokenHeader {
        typealias S = PowerAuthHeaderSyntax
        let map = try S.map(of: value, header: headerName, code: "POWER_AUTH_TOKEN_INVALID_EMPTY")
        let tokenID = try S.uuid(
            try S.field(map["token_id"], "token_id", missing: "POWER_AUTH_TOKEN_ID_EMPTY"), "token_id", invalid: "POWER_AUTH_TOKEN_ID_INVALID")
        let digest = try S.base64(
            try S.field(map["token_digest"], "token_digest", missing: "POWER_AUTH_TOKEN_DIGEST_EMPTY"), length: 32, "token_digest",
            invalid: "POWER_AUTH_TOKEN_DIGEST_INVALID")
        let nonce = try S.base64(
            try S.field(map["nonce"], "nonce", missing: "POWER_AUTH_TOKEN_NONCE_EMPTY"), length: 16, "nonce",
            invalid: "POWER_AUTH_TOKEN_NONCE_INVALID")
        let timestampText = try S.field(map["timestamp"], "timestamp", missing: "POWER_AUTH_TOKEN_TIMESTAMP_EMPTY")
        guard (9...15).contains(timestampText.utf8.count),
            timestampText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let timestamp = UInt64(timestampText)
        else {
            throw PowerAuthHeaderError(kind: .invalid, field: "timestamp", code: "POWER_AUTH_TOKEN_TIMESTAMP_INVALID")
        }
        let version = try S.version(map["version"], "version", prefix: "POWER_AUTH_TOKEN")
        return PowerAuthTokenHeader(tokenID: tokenID, tokenDigest: digest, nonce: nonce, timestamp: timestamp, version: version)
    }

    /// The header value as the reference's `buildHttpHeader` writes it.
    public var headerValue: String {
        typealias S = PowerAuthHeaderSyntax
        return S.prefix
            + [
                S.quoted("token_id", tokenID), S.quoted("token_digest", PowerAuthBase64.encode(tokenDigest)),
                S.quoted("nonce", PowerAuthBase64.encode(nonce)), S.quoted("timestamp", String(timestamp)),
                S.quoted("version", version.rawValue),
            ].joined(separator: ", ")
    }
}

/// Which keys an endpoint's encryption is bound to; decides whether `activation_id` must or must
/// not appear in `X-PowerAuth-Encryption`.
public enum PowerAuthEncryptorScope: String, Sendable {
    case application
    case activation
}

/// `X-PowerAuth-Encryption`: the header of encrypted requests that carry no signature
/// (`PowerAuthEncryptionHttpHeader` and its validator), e.g.
/// `PowerAuth version="3.2", application_key="…"` or with `, activation_id="…"` in activation scope.
/// In 3.3 the temporary key ID travels in the JSON body (`temporaryKeyId`), not in this header.
public struct PowerAuthEncryptionHeader: Sendable, Equatable {
    public static let headerName = "X-PowerAuth-Encryption"

    public var applicationKey: String
    public var activationID: String?
    public var version: PowerAuthProtocolVersion

    public init(applicationKey: String, activationID: String? = nil, version: PowerAuthProtocolVersion) {
        self.applicationKey = applicationKey
        self.activationID = activationID
        self.version = version
    }

    /// Parses and validates for the endpoint's scope, in the reference's order: application key,
    /// activation ID (required in activation scope, refused in application scope), version.
    public static func parse(_ value: String, scope: PowerAuthEncryptorScope) throws(PowerAuthHeaderError) -> PowerAuthEncryptionHeader {
        typealias S = PowerAuthHeaderSyntax
        let map = try S.map(of: value, header: headerName, code: "POWER_AUTH_ENCRYPTION_INVALID_EMPTY")
        let applicationKey = try S.field(map["application_key"], "application_key", missing: "POWER_AUTH_ENCRYPTION_APPLICATION_KEY_EMPTY")
        _ = try S.base64(applicationKey, length: 16, "application_key", invalid: "POWER_AUTH_ENCRYPTION_APPLICATION_KEY_INVALID")
        let activationID = map["activation_id"]
        switch (scope, activationID) {
        case (.activation, nil):
            throw PowerAuthHeaderError(kind: .missing, field: "activation_id", code: "POWER_AUTH_ENCRYPTION_ACTIVATION_ID_MISSING")
        case (.activation, let id?):
            _ = try S.uuid(id, "activation_id", invalid: "POWER_AUTH_ENCRYPTION_ACTIVATION_ID_INVALID")
        case (.application, .some):
            throw PowerAuthHeaderError(kind: .unexpected, field: "activation_id", code: "POWER_AUTH_ENCRYPTION_ACTIVATION_ID_NOT_EXPECTED")
        case (.application, nil):
            break
        }
        let version = try S.version(map["version"], "version", prefix: "POWER_AUTH_ENCRYPTION")
        return PowerAuthEncryptionHeader(applicationKey: applicationKey, activationID: activationID, version: version)
    }

    /// The header value as the reference's `buildHttpHeader` writes it.
    public var headerValue: String {
        typealias S = PowerAuthHeaderSyntax
        var parts = [S.quoted("application_key", applicationKey)]
        if let activationID { parts.append(S.quoted("activation_id", activationID)) }
        parts.append(S.quoted("version", version.rawValue))
        return S.prefix + parts.joined(separator: ", ")
    }
}
