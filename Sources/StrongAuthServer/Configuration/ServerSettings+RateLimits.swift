import Configuration

/// Rate limits on the credential endpoints (see `RateLimiter`): per node, on top of the lockouts.
public struct RateLimitSettings: Sendable, Equatable {
    public var enabled: Bool
    /// Per source address and class of endpoint (token, device OTP/challenge, login, PowerAuth phone).
    public var perAddress: RateLimiter.Limit
    /// Per OAuth client at the token endpoint.
    public var perClient: RateLimiter.Limit

    public init(
        enabled: Bool = true, perAddress: RateLimiter.Limit = .init(perMinute: 600, burst: 120),
        perClient: RateLimiter.Limit = .init(perMinute: 6000, burst: 600)
    ) {
        self.enabled = enabled
        self.perAddress = perAddress
        self.perClient = perClient
    }
}

extension ServerSettings {
    /// `rateLimits.enabled` (true), `rateLimits.addressPerMinute` (600) / `addressBurst` (120),
    /// `rateLimits.clientPerMinute` (6000) / `clientBurst` (600).
    mutating func readRateLimits(_ config: ConfigReader) throws {
        let defaults = RateLimitSettings()
        rateLimits = RateLimitSettings(
            enabled: config.bool(forKey: "rateLimits.enabled", default: true),
            perAddress: .init(
                perMinute: Double(config.int(forKey: "rateLimits.addressPerMinute", default: Int(defaults.perAddress.perMinute))),
                burst: Double(config.int(forKey: "rateLimits.addressBurst", default: Int(defaults.perAddress.burst)))),
            perClient: .init(
                perMinute: Double(config.int(forKey: "rateLimits.clientPerMinute", default: Int(defaults.perClient.perMinute))),
                burst: Double(config.int(forKey: "rateLimits.clientBurst", default: Int(defaults.perClient.burst)))))
        for limit in [rateLimits.perAddress, rateLimits.perClient] where limit.perMinute < 1 || limit.burst < 1 {
            throw SettingsError("rateLimits: rates and bursts must be at least 1")
        }
    }
}
