import Dispatch
import HTTPTypes
import Hummingbird
import Metrics
import Synchronization

/// Hummingbird's request metrics (the same names and dimensions as its `MetricsMiddleware`:
/// `hb.requests`, `hb.request.errors`, `http.server.request.duration`,
/// `http.server.active_requests`), recorded when the handler returns its response.
///
/// Hummingbird's own middleware records after the body is written, by wrapping the body in a
/// closure — which takes every response off Hummingbird's fast path (head, body and end in one
/// write to the event loop) and costs each response two more event-loop hand-offs and a second
/// `write(2)` (docs/benchmarks.md). StrongAuth's bodies are single buffers, built before the
/// handler returns, so the duration measured here ends a write earlier and loses nothing else.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let metrics = RequestMetrics()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let active = metrics.activeRequests(request.method)
        active.increment()
        defer { active.decrement() }
        do {
            let response = try await next(request, context)
            let endpoint = metrics.endpoint(context.endpointPath ?? "Unknown", request.method, response.status)
            endpoint.requests.increment()
            endpoint.duration.recordNanoseconds(DispatchTime.now().uptimeNanoseconds - start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let endpoint = metrics.endpoint(context.endpointPath ?? "NotFound", request.method, status)
            endpoint.requests.increment()
            endpoint.errors.increment()
            throw error
        }
    }
}

/// The metric objects per method and per (route, method, status), made once: a metrics
/// factory's own lookup by label and dimensions is slower than this dictionary.
private final class RequestMetrics: Sendable {
    struct EndpointKey: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: HTTPResponse.Status
    }
    struct Endpoint: Sendable {
        let requests: Counter
        let duration: Timer
        let errors: Counter

        init(_ key: EndpointKey) {
            let dimensions = [
                ("http.route", key.route), ("http.request.method", key.method.description),
                ("http.response.status_code", key.status.code.description),
            ]
            requests = Counter(label: "hb.requests", dimensions: dimensions)
            duration = Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds)
            errors = Counter(
                label: "hb.request.errors",
                dimensions: [
                    ("http.route", key.route), ("http.request.method", key.method.description),
                    ("error.type", key.status.code.description),
                ])
        }
    }
    private let methods = Mutex<[HTTPRequest.Method: Meter]>([:])
    private let endpoints = Mutex<[EndpointKey: Endpoint]>([:])

    func activeRequests(_ method: HTTPRequest.Method) -> Meter {
        methods.withLock { meters in
            if let meter = meters[method] { return meter }
            let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.description)])
            meters[method] = meter
            return meter
        }
    }

    func endpoint(_ route: String, _ method: HTTPRequest.Method, _ status: HTTPResponse.Status) -> Endpoint {
        let key = EndpointKey(route: route, method: method, status: status)
        return endpoints.withLock { endpoints in
            if let endpoint = endpoints[key] { return endpoint }
            let endpoint = Endpoint(key)
            endpoints[key] = endpoint
            return endpoint
        }
    }
}
