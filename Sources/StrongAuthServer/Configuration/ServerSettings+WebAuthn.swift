import Configuration
import Foundation
import StrongAuthCore
import StrongAuthProtocol

extension ServerSettings {
    /// Reads the relying party (`webauthn.*`, docs/passkeys.md). The RP ID defaults to the
    /// issuer's host and the origins to the issuer's origin. Browsers refuse IP addresses as RP
    /// IDs, so an issuer on `127.0.0.1` (the development default) yields RP ID `localhost` and
    /// origin `http://localhost:PORT`: passkeys work on the pages opened at localhost.
    mutating func readWebAuthn(_ config: ConfigReader) throws {
        let issuerURL = URL(string: issuer)
        let issuerHost = issuerURL?.host ?? "localhost"
        let issuerIsAddress = issuerHost.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
        let defaultRPID = issuerIsAddress ? "localhost" : issuerHost
        var defaultOrigins = [Self.origin(of: issuer)]
        if issuerIsAddress, let issuerURL, let scheme = issuerURL.scheme {
            defaultOrigins = ["\(scheme)://localhost" + (issuerURL.port.map { ":\($0)" } ?? "")]
        }
        let rpID = config.string(forKey: "webauthn.rpId", default: defaultRPID).lowercased()
        guard !rpID.isEmpty, rpID.utf8.count <= 253, !rpID.contains("/"), !rpID.contains(":") else {
            throw SettingsError("webauthn.rpId must be a domain name (no scheme, port or path)")
        }
        let origins = (config.string(forKey: "webauthn.origins") ?? defaultOrigins.joined(separator: ","))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for origin in origins {
            guard let url = URL(string: origin), let scheme = url.scheme, scheme == "https" || scheme == "http", let host = url.host,
                url.path.isEmpty, host == rpID || host.hasSuffix("." + rpID)
            else {
                throw SettingsError("webauthn.origins: \(origin) is not an origin (scheme://host[:port]) on the RP ID \(rpID) or a subdomain of it")
            }
        }
        guard !origins.isEmpty else { throw SettingsError("webauthn.origins: at least one origin") }
        guard let attestation = WebAuthnConfiguration.AttestationPolicy(rawValue: config.string(forKey: "webauthn.attestation", default: "none"))
        else { throw SettingsError("webauthn.attestation must be none, direct or required") }
        var roots: [[UInt8]] = []
        if let file = config.string(forKey: "webauthn.attestationRootsFile") {
            guard let pem = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw SettingsError("webauthn.attestationRootsFile: cannot read \(file)")
            }
            roots = Self.certificates(inPEM: pem)
            guard !roots.isEmpty else { throw SettingsError("webauthn.attestationRootsFile: no PEM certificate in \(file)") }
        }
        if attestation == .required, roots.isEmpty {
            throw SettingsError("webauthn.attestation=required needs webauthn.attestationRootsFile (the roots attestations must chain to)")
        }
        let lifetime = config.int(forKey: "webauthn.ceremonyLifetimeSeconds", default: 300)
        guard (30...900).contains(lifetime) else { throw SettingsError("webauthn.ceremonyLifetimeSeconds must be 30–900") }
        webAuthn = WebAuthnConfiguration(
            relyingPartyID: rpID, relyingPartyName: config.string(forKey: "webauthn.rpName", default: "StrongAuth"), origins: Set(origins),
            attestation: attestation, attestationRoots: roots, ceremonyLifetime: TimeInterval(lifetime))
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(of url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return url }
        return "\(scheme)://\(host)" + (parsed.port.map { ":\($0)" } ?? "")
    }

    /// The DER bytes of every `CERTIFICATE` block of a PEM file.
    static func certificates(inPEM pem: String) -> [[UInt8]] {
        var certificates: [[UInt8]] = []
        var body: String?
        for line in pem.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line == "-----BEGIN CERTIFICATE-----" {
                body = ""
            } else if line == "-----END CERTIFICATE-----" {
                if let body, let der = Data(base64Encoded: body) { certificates.append(Array(der)) }
                body = nil
            } else if body != nil {
                body? += line
            }
        }
        return certificates
    }
}
