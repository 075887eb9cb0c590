import Foundation
import Hummingbird
import Logging
import StrongAuthAPI
import StrongAuthCore

/// Builds the HTTP application over a started runtime: every face's routes on one router.
/// Tests call this with a runtime on a temporary database and drive it with `app.test(.router)`.
/// `additionalRoutes` adds routes behind the same middleware as every face's (the benchmark's
/// floor routes, `strongauth bench floor-server`; `strongauth serve` adds none).
public func buildApplication(
    runtime: StrongAuthRuntime, onServerRunning: (@Sendable (Int) async -> Void)? = nil,
    additionalRoutes: ((Router<AppRequestContext>) -> Void)? = nil
) throws -> some ApplicationProtocol {
    let router = try buildRouter(runtime: runtime)
    additionalRoutes?(router)
    var app = Application(
        router: router,
        configuration: .init(
            address: .hostname(runtime.settings.host, port: runtime.settings.port), serverName: "StrongAuth"),
        onServerRunning: { channel in await onServerRunning?(channel.localAddress?.port ?? 0) },
        logger: runtime.logger)
    // Background work runs beside the HTTP server and stops with it on SIGTERM.
    app.addServices(
        runtime.notificationDispatcher, runtime.webhookDispatcher, ApprovalSweeper(approvals: runtime.approvals, logger: runtime.logger),
        AuditSealer(audit: runtime.store, logger: runtime.logger, time: runtime.time),
        SigningKeyRefresher(signer: runtime.signer, logger: runtime.logger),
        ProcessSweeper(processes: runtime.processes, logger: runtime.logger), SessionSweeper(sessions: runtime.sessions, logger: runtime.logger),
        WebSessionSweeper(sessions: runtime.webSessions, logger: runtime.logger))
    app.addServices(ReplayGuardSweeper(replayGuard: runtime.powerAuth.replayGuard, logger: runtime.logger))
    app.addServices(AuthorizationCodeSweeper(authorization: runtime.authorization, logger: runtime.logger))
    app.addServices(PasskeyCeremonySweeper(passkeys: runtime.passkeys, logger: runtime.logger))
    app.addServices(RetentionSweeper(retention: runtime.retention, logger: runtime.logger))
    app.addServices(
        SigningKeyPruner(
            keys: KeyManagement(store: runtime.store, masterKey: runtime.masterKey, time: runtime.time), signer: runtime.signer,
            audit: runtime.store, time: runtime.time, retention: runtime.settings.retiredSigningKeyRetention, logger: runtime.logger))
    if let integrationPort = runtime.settings.integrationPort {
        // The private integration API on its own port (PowerAuth Cloud REST API: never on the public internet).
        app.addServices(sideListener(try buildIntegrationRouter(runtime: runtime), host: runtime.settings.host, port: integrationPort, runtime))
    }
    runtime.settings.logProductionNotices(runtime.logger)
    if let metricsPort = runtime.settings.metrics.port {
        // Prometheus metrics on their own listener, off the public port (SECURITY.md).
        app.addServices(sideListener(try buildMetricsRouter(runtime: runtime), host: runtime.settings.metrics.host, port: metricsPort, runtime))
    }
    if let adminPort = runtime.settings.adminListener.port {
        // The back office on its own listener, off the public port (docs/operations.md).
        app.addServices(sideListener(try buildAdminRouter(runtime: runtime), host: runtime.settings.adminListener.host, port: adminPort, runtime))
    }
    return app
}

/// A listener beside the main one (integration, metrics, admin), run as a service of the main
/// application: it starts and stops with it.
func sideListener(_ router: Router<AppRequestContext>, host: String, port: Int, _ runtime: StrongAuthRuntime)
    -> Application<RouterResponder<AppRequestContext>>
{
    Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "StrongAuth"), logger: runtime.logger)
}

/// The router of the admin listener (`admin.port`): the back office (`/admin`) alone.
public func buildAdminRouter(runtime: StrongAuthRuntime) throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    addCommonMiddleware(to: router, trustedProxies: runtime.settings.trustedProxies)
    addAdminFace(to: router, runtime: runtime, renderer: try WebRenderer())
    return router
}

/// The back office (`/admin`): on the main router, or alone on the admin listener
/// (`ServerSettings.adminOnMainPort`). Everything under `/admin` belongs here.
func addAdminFace(to router: Router<AppRequestContext>, runtime: StrongAuthRuntime, renderer: WebRenderer) {
    AdminWebController(
        web: webPages(.admin, runtime: runtime, renderer: renderer), service: runtime.backOffice, operators: runtime.operators,
        store: runtime.store, masterKey: runtime.masterKey, rateLimiter: runtime.rateLimiter, settings: runtime.settings
    ).addRoutes(to: router)
    // The admin JSON API is the back office's too: it moves with it to `admin.port`.
    AdminAPIController(
        lifecycle: runtime.lifecycle, administration: runtime.administration, maxBodyBytes: runtime.settings.maxBodyBytes, store: runtime.store,
        tokens: runtime.tokens, web: webPages(.admin, runtime: runtime, renderer: renderer)
    ).addRoutes(to: router)
}

/// The page helpers of one web area (`/admin` or `/self-service`).
func webPages(_ area: WebArea, runtime: StrongAuthRuntime, renderer: WebRenderer) -> WebPages {
    WebPages(
        webSessions: runtime.webSessions, store: runtime.store, backOffice: runtime.backOffice, settings: runtime.settings,
        renderer: renderer, area: area)
}

/// The router of the integration API alone, for `powerauth.integrationPort`.
public func buildIntegrationRouter(runtime: StrongAuthRuntime) throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    addCommonMiddleware(to: router, trustedProxies: runtime.settings.trustedProxies)
    addIntegrationFace(to: router, runtime: runtime)
    return router
}

/// The PowerAuth integration face (`/powerauth-cloud`): one group with PowerAuth's error shape,
/// the authenticated integration user in `IntegrationUserContext` (see `IntegrationFace`).
func addIntegrationFace(to router: Router<AppRequestContext>, runtime: StrongAuthRuntime) {
    let face = IntegrationFace(
        router: router, powerAuth: runtime.powerAuth,
        failureLimit: FailedAuthenticationLimit(settings: runtime.settings.rateLimits, limiter: runtime.rateLimiter))
    let maxBodyBytes = runtime.settings.maxBodyBytes
    RegistrationsController(powerAuth: runtime.powerAuth, maxBodyBytes: maxBodyBytes, time: runtime.time).addRoutes(to: face)
    PowerAuthOperationsController(approvals: runtime.approvals, maxBodyBytes: maxBodyBytes, time: runtime.time).addRoutes(to: face)
    WebhookDeliveriesController(webhooks: runtime.webhooks).addIntegrationRoutes(to: face)
}

/// The client address (behind trusted proxies), request ids, the access log, metrics and the
/// problem+json last line of defence.
func addCommonMiddleware(to router: Router<AppRequestContext>, trustedProxies: TrustedProxies) {
    router.add(middleware: ClientAddressMiddleware(trustedProxies: trustedProxies))
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware(level: .info))
    _ = PrometheusMetrics.registry
    router.add(middleware: RequestMetricsMiddleware())
    router.add(middleware: ProblemMiddleware())
}

/// The router with every route and middleware; separate so tests can inspect it.
public func buildRouter(runtime: StrongAuthRuntime) throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    addCommonMiddleware(to: router, trustedProxies: runtime.settings.trustedProxies)
    router.add(middleware: DPoPNonceMiddleware(dpop: runtime.tokens.dpop))
    // The per-address rate-limit buckets are attached by each face to the routes it limits
    // (`RateLimitMiddleware`), in front of their authentication.

    OperationsController(
        pool: runtime.store.pool, metricsOnMainPort: runtime.settings.metricsOnMainPort,
        openAPIDocument: ByteBuffer(data: try OpenAPIDocument.yaml())
    ).addRoutes(to: router)
    OAuthController(
        tokens: runtime.tokens, authorization: runtime.authorization, signer: runtime.signer, rateLimiter: runtime.rateLimiter,
        settings: runtime.settings
    ).addRoutes(to: router)
    FinAPIUsersController(
        administration: runtime.administration, tokens: runtime.tokens, store: runtime.store, settings: runtime.settings, time: runtime.time
    ).addRoutes(to: router)
    let devices = DevicesController(
        devices: runtime.devices, tokens: runtime.tokens, store: runtime.store, settings: runtime.settings,
        rateLimiter: runtime.rateLimiter, time: runtime.time)
    devices.addRoutes(to: router)
    MFAPushController(devices: devices).addRoutes(to: router)
    PasskeysController(
        passkeys: runtime.passkeys, tokens: runtime.tokens, store: runtime.store, settings: runtime.settings,
        rateLimiter: runtime.rateLimiter, time: runtime.time
    ).addRoutes(to: router)
    if runtime.settings.integrationPort == nil {
        addIntegrationFace(to: router, runtime: runtime)
    }
    EnrollmentController(powerAuth: runtime.powerAuth, store: runtime.store, rateLimiter: runtime.rateLimiter, settings: runtime.settings)
        .addRoutes(to: router)
    MobileTokenController(
        powerAuth: runtime.powerAuth, approvals: runtime.approvals, store: runtime.store, rateLimiter: runtime.rateLimiter,
        settings: runtime.settings, time: runtime.time
    ).addRoutes(to: router)
    ActionRequestsController(approvals: runtime.approvals, tokens: runtime.tokens, maxBodyBytes: runtime.settings.maxBodyBytes)
        .addRoutes(to: router)
    UserApprovalsController(
        approvals: runtime.approvals, tokens: runtime.tokens, policy: runtime.settings.assurance, time: runtime.time,
        maxBodyBytes: runtime.settings.maxBodyBytes
    )
    .addRoutes(to: router)
    WebhookDeliveriesController(webhooks: runtime.webhooks)
        .addClientRoutes(
            to: ActionRequestsController.clients(
                of: router, body: .none, tokens: runtime.tokens, maxBodyBytes: runtime.settings.maxBodyBytes))
    ProcessesController(processes: runtime.processes, tokens: runtime.tokens, maxBodyBytes: runtime.settings.maxBodyBytes).addRoutes(to: router)
    SessionsController(sessions: runtime.sessions, rateLimiter: runtime.rateLimiter, settings: runtime.settings).addRoutes(to: router)
    let renderer = try WebRenderer()
    if runtime.settings.adminOnMainPort {
        addAdminFace(to: router, runtime: runtime, renderer: renderer)
    }
    AuthorizationController(
        authorization: runtime.authorization, webSessions: runtime.webSessions, renderer: renderer, rateLimiter: runtime.rateLimiter,
        settings: runtime.settings, passkeys: runtime.passkeys
    ).addRoutes(to: router)
    PasskeyScript.addRoute(to: router)
    SelfServiceWebController(
        web: webPages(.selfService, runtime: runtime, renderer: renderer), service: runtime.backOffice, stepUp: runtime.stepUp,
        account: runtime.account,
        rateLimiter: runtime.rateLimiter, settings: runtime.settings, passkeys: runtime.passkeys, approvals: runtime.approvals
    ).addRoutes(to: router)
    return router
}
