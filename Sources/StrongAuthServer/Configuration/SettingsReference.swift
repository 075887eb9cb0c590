/// One documented setting: the key that `ServerSettings.init(reader:)` reads, the command-line
/// flag that sets it (if any), the default as an operator reads it, and what it does.
///
/// `ServerSettings.reference` lists every key the settings code reads; `SettingsReferenceTests`
/// records the keys `init(reader:)` really asks for and fails when a key is read but not listed
/// (or listed but never read), and when docs/operations.md's table is not `referenceMarkdown()`:
/// the operations reference cannot drift from the code. `strongauth settings` prints it.
public struct SettingReference: Sendable, Equatable {
    public var key: String
    public var flag: String?
    public var defaultValue: String
    public var summary: String

    public init(_ key: String, flag: String? = nil, default defaultValue: String, _ summary: String) {
        self.key = key
        self.flag = flag
        self.defaultValue = defaultValue
        self.summary = summary
    }

    /// The environment variable: `STRONGAUTH_` and the key as swift-configuration's
    /// `EnvironmentVariablesProvider` encodes it (components joined by `_`, an underscore
    /// between a lowercase and an uppercase letter, upper-cased, other characters `_`).
    public var environmentVariable: String {
        let components = key.split(separator: ".").map { component -> String in
            var encoded = ""
            var previous: Character?
            for character in component {
                if let previous, previous.isLowercase, character.isUppercase { encoded.append("_") }
                encoded.append(character.isLetter || character.isNumber ? Character(character.uppercased()) : "_")
                previous = character
            }
            return encoded
        }
        return "STRONGAUTH_" + components.joined(separator: "_")
    }
}

extension ServerSettings {
    /// Every setting, in the order of docs/operations.md's reference table.
    public static let reference: [SettingReference] = [
        .init(
            "mode", default: "development",
            "`production` refuses to start without an explicit master key, with the `file` notification channel, with an `http://` issuer, on SQLite or with `/admin` on the main port unless the setting named in its message allows it; it never serves `/metrics` on the main port"
        ),
        .init("http.host", flag: "--http-host", default: "127.0.0.1", "listen address of the main port"),
        .init("http.port", flag: "--http-port", default: "8080", "listen port of the main (public, behind the TLS proxy) port"),
        .init("http.maxBodyBytes", default: "65536", "larger request bodies get 413"),
        .init(
            "http.shutdownGraceSeconds", default: "10",
            "on SIGTERM, how long the requests in flight and the background jobs may take to finish (1–300); then they are cancelled, and the process ends at most 3 s later"
        ),
        .init(
            "http.trustedProxies", default: "— (none)",
            "comma-separated IPv4/IPv6 addresses or CIDR blocks of the TLS-terminating proxies; only from these peers is `Forwarded` / `X-Forwarded-For` believed (right-most untrusted entry) for rate limits, audit and logs"
        ),
        .init(
            "http.allowHttpIssuerInProduction", default: "false",
            "let production mode run with an `http://` issuer (a private network without TLS); without it production refuses to start"),
        .init("issuer", default: "http://HOST:PORT", "the public https:// URL: `iss` of tokens, RFC 8414 metadata, `Secure` session cookies"),
        .init(
            "oauth.dpop.requireNonce", default: "false",
            "every DPoP proof must carry a server nonce (RFC 9449 §8; `use_dpop_nonce` otherwise); a valid nonce is always accepted and a fresh one always offered in `DPoP-Nonce`"
        ),
        .init(
            "oauth.dpop.proofMaxAgeSeconds", default: "60",
            "how far a DPoP proof's `iat` may lie from the server clock, either way (1–600); its `jti` is remembered that long"),
        .init(
            "webauthn.rpId", default: "the issuer's host",
            "the WebAuthn relying party ID of passkeys (docs/passkeys.md); an issuer on an IP address gives `localhost`"),
        .init("webauthn.rpName", default: "StrongAuth", "the relying party name authenticators show"),
        .init(
            "webauthn.origins", default: "the issuer's origin",
            "comma-separated origins (`https://bank.example`) passkey ceremonies may run on, each on the RP ID or a subdomain of it"),
        .init(
            "webauthn.attestation", default: "none",
            "`none` (ask for no attestation), `direct` (ask for it and record it), `required` (only attestations chaining to `webauthn.attestationRootsFile`)"
        ),
        .init("webauthn.attestationRootsFile", default: "(none)", "PEM file of the root certificates full attestations must chain to"),
        .init("webauthn.ceremonyLifetimeSeconds", default: "300", "how long a passkey ceremony's challenge can be answered (30–900)"),
        .init("data.dir", flag: "--data-dir", default: "data", "SQLite file and development keys"),
        .init(
            "database.url", flag: "--database", default: "sqlite:data/strongauth.sqlite",
            "or `postgres://user:pass@host:port/db[?sslmode=require]`; every node of a cluster on one PostgreSQL; on the database's own "
                + "host its Unix-domain socket, `postgres://user@/db?host=/run/postgresql[&port=5432]` (as libpq: a host that is a path "
                + "is the socket's directory)"),
        .init("database.sqliteReaders", default: "16", "SQLite reader connections (1–64); each holds two open files"),
        .init(
            "database.postgresConnections", default: "20",
            "PostgreSQL connections of one node (1–200), all kept open while it serves; PostgreSQL's `max_connections` must cover every node's"),
        .init(
            "database.allowSqliteInProduction", flag: "--allow-sqlite-in-production", default: "false",
            "let production mode run on SQLite (one node, no failover); without it production refuses to start on SQLite (the flag is `serve`'s)"),
        .init(
            "master.key", default: "data/master.key (generated in development)",
            "base64 of 32 bytes; seals signing keys, keys the secret hashes; every node needs the same"),
        .init(
            "master.previousKeys", default: "(none)",
            "comma-separated base64 master keys that open sealed values but never seal: the old key while `keys rotate-master` re-seals (docs/keys.md)"
        ),
        .init(
            "keys.retiredRetentionSeconds", default: "access-token lifetime + 86400",
            "how long a retired signing key stays in the JWKS before it is deleted; at least the access-token lifetime + 60 (docs/keys.md)"),
        .init("tokens.accessLifetimeSeconds", default: "900", "access-token lifetime"),
        .init("tokens.refreshLifetimeSeconds", default: "2592000", "refresh-token lifetime (30 days)"),
        .init("lockout.maxFailures", default: "5", "consecutive password failures before a lock"),
        .init("lockout.durationSeconds", default: "900", "how long the lock lasts"),
        .init(
            "assurance.maxAgeSeconds", default: "300",
            "how recent a two-factor authentication must be for the sensitive actions (docs/security-model.md)"),
        .init("password.hashCost", default: "11", "bcrypt cost (4–31)"),
        .init("devices.otpLifetimeSeconds", default: "300", "how long a device-binding SMS OTP is valid"),
        .init("devices.challengeLifetimeSeconds", default: "300", "how long a device challenge is valid"),
        .init("devices.maxAttempts", default: "5", "wrong answers that end a challenge"),
        .init("devices.bindingMaxFailures", default: "10", "wrong binding answers per user, across challenges, before binding is blocked"),
        .init("devices.bindingLockSeconds", default: "3600", "how long binding stays blocked"),
        .init("devices.requireApproval", default: "true", "a second device needs approval by a bound one (RTS art. 24)"),
        .init(
            "devices.maxPendingPerUser", default: "3",
            "devices in CREATED or PENDING_COMMIT one user may have (1–100); the next `POST /api/user/devices` is 429"),
        .init("sms.otpPerUserPerHour", default: "5", "OTP SMS one user may be sent per hour (1–1000; SMS pumping)"),
        .init("sms.otpPerPhonePerHour", default: "5", "OTP SMS one phone number may be sent per hour, whichever user asks (1–1000)"),
        .init(
            "audit.failureWindowSeconds", default: "60",
            "failed authentications of unauthenticated callers are counted per window and chained as one record with a count (1–3600)"),
        .init(
            "audit.failureKeysPerWindow", default: "1000",
            "distinct (action, client or name, address, reason) counted per window; beyond, one overflow record per action (10–100000)"),
        .init("notifications.channel", default: "file", "`file`, `log` (digits masked) or `http`"),
        .init("notifications.file", default: "data/notifications.jsonl", "JSON lines, mode 0600 (demos and tests read OTPs here)"),
        .init("notifications.httpURL", default: "—", "the SMS/push gateway for the `http` channel (JSON POST with `Idempotency-Key`)"),
        .init(
            "notifications.allowFileInProduction", default: "false",
            "let production mode use the `file` channel (one-time codes in clear on disk, no SMS sent; a warning is logged)"),
        .init(
            "metrics.port", default: "—",
            "serve `GET /metrics` only on this port; unset: on the main port in development, not over HTTP in production"),
        .init("metrics.host", default: "127.0.0.1", "the metrics listener's address"),
        .init(
            "admin.port", default: "— (main port)",
            "serve the back office (`/admin`) only on this port, not on the main port; production needs it or `admin.allowOnMainPortInProduction`"),
        .init("admin.host", default: "127.0.0.1", "the admin listener's address (an internal interface, never the internet)"),
        .init(
            "admin.allowOnMainPortInProduction", default: "false",
            "let production mode serve `/admin` on the main port (only when that port is itself internal)"),
        .init("powerauth.activationLifetimeSeconds", default: "300", "how long an activation code (and an uncommitted registration) lives"),
        .init("powerauth.maxFailedAttempts", default: "5", "failed knowledge/biometry signatures (or activation OTPs) before BLOCKED"),
        .init("powerauth.counterLookahead", default: "20", "how far ahead of the server's counter a signature may be"),
        .init("powerauth.tokenTimestampToleranceSeconds", default: "7200", "how far in the past a token digest's timestamp may be"),
        .init("powerauth.tokenTimestampForwardToleranceSeconds", default: "1800", "how far in the future a token digest's timestamp may be"),
        .init(
            "powerauth.requestExpirationSeconds", default: "60",
            "how far an ECIES request's timestamp (3.2+) may be from the server's clock"),
        .init(
            "powerauth.possessionAttemptLimit", default: "10",
            "failed possession-only signatures per activation and window before they are refused (never blocks)"),
        .init("powerauth.possessionAttemptWindowSeconds", default: "900", "the window of `possessionAttemptLimit`"),
        .init(
            "powerauth.integrationPort", default: "— (main port)",
            "serve `/powerauth-cloud` only on this port (keep it off the public internet)"),
        .init("webhooks.maxAttempts", default: "12", "delivery attempts of one callback before it is `dead`"),
        .init("webhooks.leaseSeconds", default: "30", "how long a node holds a claimed callback (1–3600)"),
        .init("rateLimits.enabled", default: "true", "429 + `Retry-After` on the credential endpoints, per node (SECURITY.md)"),
        .init("rateLimits.addressPerMinute", default: "600", "per source address and class of endpoint"),
        .init("rateLimits.addressBurst", default: "120", "burst of `addressPerMinute`"),
        .init("rateLimits.clientPerMinute", default: "6000", "per OAuth client at the token endpoint (authenticated requests only)"),
        .init("rateLimits.clientBurst", default: "600", "burst of `clientPerMinute`"),
        .init(
            "rateLimits.clientFailurePerMinute", default: "30",
            "failed client (and integration-user) authentications per (client id or name, source address)"),
        .init("rateLimits.clientFailureBurst", default: "10", "burst of `clientFailurePerMinute`"),
        .init("processes.maxExchanges", default: "10", "how often one finAPI process token can be exchanged"),
        .init("processes.lifetimeDays", default: "1", "days after its creation a process token can be exchanged"),
        .init("processes.retentionDays", default: "7", "days after its creation a process identity and its data are deleted"),
        .init(
            "retention.expiredRecordsHours", default: "24",
            "hours an expired device challenge, refresh token (plus the access-token lifetime), access-token revocation or Shine action token, and a delivered or given-up SMS/push, are kept before the retention job deletes them (1–8760)"
        ),
        .init("approvals.actionRequestLifetimeSeconds", default: "180", "how long a Shine action request may be confirmed (10–3600)"),
        .init("approvals.actionTokenLifetimeSeconds", default: "60", "how long a confirmed action request's short-lived token lives (10–3600)"),
        .init("sessions.idleTimeoutSeconds", default: "300", "a login session ends after this long without an authorized request"),
        .init("sessions.challengeLifetimeSeconds", default: "120", "how long a login/scenario challenge may be answered"),
        .init("sessions.maxAttempts", default: "3", "wrong responses per access tool before it is blocked"),
        .init("sessions.secureCookie", default: "true when the issuer is https", "`Secure` on the session cookie"),
        .init("web.sessionIdleSeconds", default: "300", "a back-office or self-service session ends after this long without a request"),
        .init("web.sessionLifetimeSeconds", default: "28800", "… and after this long in any case"),
        .init("web.secureCookies", default: "true in production mode", "web session cookies carry `Secure` (TLS only)"),
        .init("web.stepUpSmsPerHour", default: "5", "self-service step-up SMS codes one user may be sent per hour (1–100)"),
        .init("log.level", default: "info", "`trace` … `critical`"),
        .init("log.format", default: "text", "`json` for one JSON object per line"),
    ]

    /// The reference as a Markdown table (docs/operations.md, between its `settings-reference`
    /// markers; `strongauth settings` prints it).
    public static func referenceMarkdown() -> String {
        var lines = ["| key | environment | flag | default | meaning |", "|---|---|---|---|---|"]
        for setting in reference {
            let flag = setting.flag.map { "`\($0)`" } ?? ""
            lines.append(
                "| `\(setting.key)` | `\(setting.environmentVariable)` | \(flag) | `\(setting.defaultValue)` | \(setting.summary) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
