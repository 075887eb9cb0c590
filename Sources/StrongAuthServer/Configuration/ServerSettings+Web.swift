import Configuration
import Foundation

/// Settings of the web pages under `/admin` and `/self-service`.
public struct WebSettings: Sendable, Equatable {
    /// Seconds without a request after which a browser session ends (PSD2 RTS art. 4(3)(d): 5 minutes).
    public var sessionIdleTimeout: TimeInterval = 300
    /// Seconds after which a session ends however busy it is.
    public var sessionAbsoluteLifetime: TimeInterval = 8 * 3600
    /// Whether cookies carry `Secure` (only sent over TLS). On in production mode: StrongAuth
    /// serves plain HTTP behind a TLS-terminating proxy, and a production browser talks TLS.
    public var secureCookies = false
    /// Step-up SMS OTPs one user may be sent per hour (docs/security-model.md): each costs money and lands on
    /// a phone, so someone with the password alone must not be able to pump them.
    public var stepUpSMSPerHour = 5
    public init() {}
}

extension ServerSettings {
    /// `web.sessionIdleSeconds` (300), `web.sessionLifetimeSeconds` (28800), `web.secureCookies`
    /// (true in production mode, false in development, where the server is plain http://127.0.0.1),
    /// `web.stepUpSmsPerHour` (5, 1–100).
    mutating func readWeb(_ config: ConfigReader) throws {
        var web = WebSettings()
        web.sessionIdleTimeout = TimeInterval(config.int(forKey: "web.sessionIdleSeconds", default: 300))
        web.sessionAbsoluteLifetime = TimeInterval(config.int(forKey: "web.sessionLifetimeSeconds", default: 8 * 3600))
        web.secureCookies = config.bool(forKey: "web.secureCookies", default: mode == .production)
        guard (10...3600).contains(web.sessionIdleTimeout), web.sessionAbsoluteLifetime >= web.sessionIdleTimeout else {
            throw SettingsError("web.sessionIdleSeconds must be 10–3600 and web.sessionLifetimeSeconds at least as long")
        }
        web.stepUpSMSPerHour = config.int(forKey: "web.stepUpSmsPerHour", default: 5)
        guard (1...100).contains(web.stepUpSMSPerHour) else { throw SettingsError("web.stepUpSmsPerHour must be 1–100") }
        self.web = web
    }
}
