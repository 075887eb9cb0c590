import Configuration

/// Rate limits on the credential endpoints (see `RateLimiter`): per node, on top of the lockouts.
public struct RateLimitSettings: Sendable, Equatable {
    public var enabled: Bool
    /// Per source address and class of endpoint (token, device OTP/challenge, login, PowerAuth phone).
    public var perAddress: RateLimiter.Limit
    /// Per OAuth client at the token endpoint, counting only requests the client authenticated:
    /// wrong secrets sent under a victim's `client_id` must not spend the victim's quota.
    public var perClient: RateLimiter.Limit
    /// Failed client authentications per (client id, source address): guessing is slowed where it
    /// comes from, without locking the real client (elsewhere) out.
    public var perClientFailure: RateLimiter.Limit

    public init(
        enabled: Bool = true, perAddress: RateLimiter.Limit = .init(perMinute: 600, burst: 120),
        perClient: RateLimiter.Limit = .init(perMinute: 6000, burst: 600),
        perClientFailure: RateLimiter.Limit = .init(perMinute: 30, burst: 10)
    ) {
        self.enabled = enabled
        self.perAddress = perAddress
        self.perClient = perClient
        self.perClientFailure = perClientFailure
    }
}

extension ServerSettings {
    /// `rateLimits.enabled` (true), `rateLimits.addressPerMinute` (600) / `addressBurst` (120),
    /// `rateLimits.clientPerMinute` (6000) / `clientBurst` (600), `rateLimits.clientFailurePerMinute`
    /// (30) / `clientFailureBurst` (10); `http.trustedProxies` (none).
    mutating func readRateLimits(_ config: ConfigReader) throws {
        let defaults = RateLimitSettings()
        rateLimits = RateLimitSettings(
            enabled: config.bool(forKey: "rateLimits.enabled", default: true),
            perAddress: .init(
                perMinute: Double(config.int(forKey: "rateLimits.addressPerMinute", default: Int(defaults.perAddress.perMinute))),
                burst: Double(config.int(forKey: "rateLimits.addressBurst", default: Int(defaults.perAddress.burst)))),
            perClient: .init(
                perMinute: Double(config.int(forKey: "rateLimits.clientPerMinute", default: Int(defaults.perClient.perMinute))),
                burst: Double(config.int(forKey: "rateLimits.clientBurst", default: Int(defaults.perClient.burst)))),
            perClientFailure: .init(
                perMinute: Double(
                    config.int(forKey: "rateLimits.clientFailurePerMinute", default: Int(defaults.perClientFailure.perMinute))),
                burst: Double(config.int(forKey: "rateLimits.clientFailureBurst", default: Int(defaults.perClientFailure.burst)))))
        for limit in [rateLimits.perAddress, rateLimits.perClient, rateLimits.perClientFailure] where limit.perMinute < 1 || limit.burst < 1 {
            throw SettingsError("rateLimits: rates and bursts must be at least 1")
        }
        // `http.trustedProxies` (env STRONGAUTH_HTTP_TRUSTED_PROXIES, comma-separated): CIDR blocks
        // or addresses of the TLS-terminating proxies; empty (default) trusts no forwarding header.
        do {
            trustedProxies = try TrustedProxies(parsing: config.stringArray(forKey: "http.trustedProxies", default: []))
        } catch {
            throw SettingsError("http.trustedProxies: \"\(error.entry)\" is not an IPv4 or IPv6 address or CIDR block")
        }
    }
}
