import Foundation
import Hummingbird
import Metrics
import Prometheus
import StrongAuthAPI
import StrongAuthStore

/// Liveness, readiness, Prometheus metrics and the OpenAPI document.
struct OperationsController {
    /// The database whose reachability `/ready` reports.
    let pool: any DatabasePool
    let metricsOnMainPort: Bool
    let openAPIDocument: ByteBuffer

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/health") { _, _ in
            // The version lets an operator see which nodes a rolling upgrade has reached.
            try JSONResponse.make(Components.Schemas.Health(status: .ok, version: StrongAuthVersion.current))
        }
        router.get("/ready") { _, _ in
            let reachable = await pool.isReachable()
            return try JSONResponse.make(
                Components.Schemas.Health(status: reachable ? .ok : .unavailable, database: pool.engine.rawValue),
                status: reachable ? .ok : .serviceUnavailable)
        }
        if metricsOnMainPort {
            Self.addMetricsRoute(to: router)
        }
        router.get("/openapi.yaml") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: openAPIDocument))
        }
    }
}

extension OperationsController {
    /// `GET /metrics` in the Prometheus text format: on the main router only in development
    /// without `metrics.port` (`ServerSettings.metricsOnMainPort`), else on the metrics listener.
    static func addMetricsRoute<Context: RequestContext>(to router: Router<Context>) {
        router.get("/metrics") { _, _ in
            var bytes: [UInt8] = []
            PrometheusMetrics.registry.emit(into: &bytes)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}

/// The router of the metrics listener (`metrics.port`): `GET /metrics` and nothing else — no
/// API, no back office, no access log line per scrape; unknown paths are 404 problem+json.
public func buildMetricsRouter(runtime: StrongAuthRuntime) throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: ProblemMiddleware())
    _ = PrometheusMetrics.registry
    OperationsController.addMetricsRoute(to: router)
    return router
}

/// The process-wide Prometheus registry behind swift-metrics. Bootstrapped on first use, once
/// per process (swift-metrics allows one bootstrap), so tests that build many apps share it.
enum PrometheusMetrics {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}
