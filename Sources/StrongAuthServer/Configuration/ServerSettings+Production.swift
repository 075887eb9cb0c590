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

/// Where the back office (`/admin`) is served (`admin.*`).
public struct AdminListenerSettings: Sendable, Equatable {
    /// The address of the admin listener; loopback by default, like `metrics.host`: operators
    /// reach it through an internal proxy or a tunnel, never from the internet.
    public var host = "127.0.0.1"
    /// A listener of its own for everything under `/admin`; `nil` keeps `/admin` on the main port.
    public var port: Int?
    /// Whether production mode may serve `/admin` on the main (public) port without `port`
    /// (`admin.allowOnMainPortInProduction`): for a main port that is itself only internal.
    public var allowOnMainPortInProduction = false
    public init() {}
}

extension ServerSettings {
    /// Whether the back office (`/admin`) is on the main router: unless `admin.port` moves it to
    /// a listener of its own, in either mode (production refuses the main port unless allowed).
    public var adminOnMainPort: Bool { adminListener.port == nil }

    /// Whether `GET /metrics` is on the main router: only in development without `metrics.port`
    /// (the demo and `bench/` scrape it there). In production the main port is the public one,
    /// behind the TLS proxy, so metrics are served on `metrics.port` or not over HTTP at all.
    public var metricsOnMainPort: Bool { mode == .development && metrics.port == nil }

    /// `notifications.allowFileInProduction` (false), `metrics.host` / `metrics.port`, the
    /// admin listener and the other refusals of production mode (`refuseUnsafeProduction`).
    ///
    /// The `file` channel writes every SMS text — one-time codes included — in clear to a local
    /// file: a development convenience (the demo and the tests read codes there). In production
    /// it means one-time codes at rest, readable by whoever reads the disk or its backups, and
    /// texts that never reach a phone; it is also the default channel, so a production
    /// configuration that forgot `notifications.channel` would silently run on it. Production
    /// therefore refuses it unless the operator says so explicitly.
    mutating func readProductionSafety(_ config: ConfigReader) throws {
        allowFileNotificationsInProduction = config.bool(forKey: "notifications.allowFileInProduction", default: false)
        allowHTTPIssuerInProduction = config.bool(forKey: "http.allowHttpIssuerInProduction", default: false)
        allowSQLiteInProduction = config.bool(forKey: "database.allowSqliteInProduction", default: false)
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
        try readAdminListener(config)
        try refuseUnsafeProduction()
    }

    /// `admin.host` (127.0.0.1), `admin.port` (none: `/admin` on the main port) and
    /// `admin.allowOnMainPortInProduction` (false).
    mutating func readAdminListener(_ config: ConfigReader) throws {
        var admin = AdminListenerSettings()
        admin.host = config.string(forKey: "admin.host", default: "127.0.0.1")
        admin.port = config.int(forKey: "admin.port")
        admin.allowOnMainPortInProduction = config.bool(forKey: "admin.allowOnMainPortInProduction", default: false)
        if let adminPort = admin.port {
            guard (0...65535).contains(adminPort) else { throw SettingsError("admin.port must be 0–65535") }
            guard adminPort == 0 || ![port, integrationPort, metrics.port].contains(adminPort) else {
                throw SettingsError("admin.port must differ from http.port, powerauth.integrationPort and metrics.port")
            }
        }
        adminListener = admin
    }

    /// `http.allowHttpIssuerInProduction` and `database.allowSqliteInProduction` (both false),
    /// and the refusals of production mode that name the setting to change.
    ///
    /// - An `http://` issuer: the issuer is the public URL — the `iss` of every token (RFC 9068
    ///   §2.2), the OAuth metadata's `issuer` (RFC 8414 §3.3) and what decides `Secure` session
    ///   cookies. Over plain HTTP, tokens, passwords and cookies cross the network in clear; the
    ///   default issuer (`http://<http.host>:<http.port>`) is also what a configuration that
    ///   forgot `issuer` gets. Allowed explicitly for a private network that has no TLS.
    /// - SQLite: one file on one machine — no second node, no failover, and a backup is a copy of
    ///   that machine's disk (docs/operations.md). A single-node installation may say so.
    /// - `/admin` on the main port: the main port is the public one behind the TLS proxy, and the
    ///   back office is for operators on the bank's network only (SECURITY.md).
    func refuseUnsafeProduction() throws {
        guard mode == .production else { return }
        if !issuer.lowercased().hasPrefix("https://") && !allowHTTPIssuerInProduction {
            throw SettingsError(
                """
                production mode refuses the issuer \(issuer) (not https://): set issuer (STRONGAUTH_ISSUER) to the public \
                https:// URL of the TLS proxy, or allow plain HTTP on a private network with \
                http.allowHttpIssuerInProduction=true (STRONGAUTH_HTTP_ALLOW_HTTP_ISSUER_IN_PRODUCTION=true)
                """)
        }
        let lowercasedURL = databaseURL.lowercased()
        if !lowercasedURL.hasPrefix("postgres://") && !lowercasedURL.hasPrefix("postgresql://") && !allowSQLiteInProduction {
            throw SettingsError(
                """
                production mode refuses SQLite (one file on one machine: no second node, no failover): set database.url \
                (STRONGAUTH_DATABASE_URL or --database) to postgres://…, or allow SQLite explicitly with \
                database.allowSqliteInProduction=true (STRONGAUTH_DATABASE_ALLOW_SQLITE_IN_PRODUCTION=true or \
                serve --allow-sqlite-in-production)
                """)
        }
        if adminOnMainPort && !adminListener.allowOnMainPortInProduction {
            throw SettingsError(
                """
                production mode refuses the back office (/admin) on the public port: set admin.port (STRONGAUTH_ADMIN_PORT) \
                for a listener of its own (admin.host, loopback by default), or allow it on the main port with \
                admin.allowOnMainPortInProduction=true (STRONGAUTH_ADMIN_ALLOW_ON_MAIN_PORT_IN_PRODUCTION=true)
                """)
        }
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
