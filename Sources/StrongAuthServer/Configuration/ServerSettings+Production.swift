import Configuration
import Foundation
import Logging

/// Where Prometheus metrics are served (`metrics.*`).
public struct MetricsSettings: Sendable, Equatable {
    /// The address of the metrics listener. Loopback by default: the metrics name every route,
    /// its status counts and timings — internals a scraper on the same host or network needs
    /// and the internet does not. Set `0.0.0.0` (or an internal interface) for a remote scraper.
    public var host = "127.0.0.1"
    /// A listener of its own for `GET /metrics` (and nothing else); `nil` means none. When set,
    /// `/metrics` is not on the main port, in either mode.
    public var port: Int?
    public init() {}
}

extension ServerSettings {
    /// Whether `GET /metrics` is on the main router: only in development without `metrics.port`
    /// (the demo and `bench/` scrape it there). In production the main port is the public one,
    /// behind the TLS proxy, so metrics are served on `metrics.port` or not over HTTP at all.
    public var metricsOnMainPort: Bool { mode == .development && metrics.port == nil }

    /// `notifications.allowFileInProduction` (false) and `metrics.host` / `metrics.port`.
    ///
    /// The `file` channel writes every SMS text — one-time codes included — in clear to a local
    /// file: a development convenience (the demo and the tests read codes there). In production
    /// it means one-time codes at rest, readable by whoever reads the disk or its backups, and
    /// texts that never reach a phone; it is also the default channel, so a production
    /// configuration that forgot `notifications.channel` would silently run on it. Production
    /// therefore refuses it unless the operator says so explicitly.
    mutating func readProductionSafety(_ config: ConfigReader) throws {
        allowFileNotificationsInProduction = config.bool(forKey: "notifications.allowFileInProduction", default: false)
        if mode == .production, notificationFilePath != nil, !allowFileNotificationsInProduction {
            throw SettingsError(
                """
                production mode refuses the file notification channel (SMS one-time codes written in clear to a file): \
                set notifications.channel to http (STRONGAUTH_NOTIFICATIONS_CHANNEL=http with STRONGAUTH_NOTIFICATIONS_HTTP_URL) \
                or log, or allow it explicitly with notifications.allowFileInProduction=true \
                (STRONGAUTH_NOTIFICATIONS_ALLOW_FILE_IN_PRODUCTION=true)
                """)
        }
        var metrics = MetricsSettings()
        metrics.host = config.string(forKey: "metrics.host", default: "127.0.0.1")
        metrics.port = config.int(forKey: "metrics.port")
        if let metricsPort = metrics.port {
            guard (0...65535).contains(metricsPort) else { throw SettingsError("metrics.port must be 0–65535") }
            guard metricsPort == 0 || (metricsPort != port && metricsPort != integrationPort) else {
                throw SettingsError("metrics.port must differ from http.port and powerauth.integrationPort")
            }
        }
        self.metrics = metrics
    }

    /// Logs, once per built application, what production mode left out or was told to allow:
    /// a warning for the allowed file channel, a notice when metrics are not served over HTTP.
    func logProductionNotices(_ logger: Logger) {
        guard mode == .production else { return }
        if let path = notificationFilePath {
            logger.warning(
                "production mode with the file notification channel (notifications.allowFileInProduction=true): SMS one-time codes are written in clear to a file and reach no phone",
                metadata: ["path": "\(path)"])
        }
        if metrics.port == nil {
            logger.notice("production mode: /metrics is not served over HTTP; set metrics.port (STRONGAUTH_METRICS_PORT) for a metrics listener")
        }
    }
}
