import Hummingbird
import Logging
import NIOCore

/// One structured log line per request: method, path (never the query, which may carry
/// secrets), status and duration. Bodies and headers are never logged. A route whose path
/// carries a bearer secret (finAPI's process token) is logged as its route pattern.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let level: Logger.Level

    /// Path parameters that are secrets, as route patterns spell them.
    static var secretParameters: [String] { ["{processToken}"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Off (a production log level above `info`): nothing to compute on any request.
        guard context.logger.logLevel <= level else { return try await next(request, context) }
        let start = NIODeadline.now()
        func log(_ status: HTTPResponse.Status) {
            var path = request.uri.path
            // Most routes have no parameter at all: only those with a `{` are searched.
            if let route = context.endpointPath, route.utf8.contains(UInt8(ascii: "{")),
                Self.secretParameters.contains(where: { route.contains($0) })
            {
                path = route
            }
            context.logger.log(
                level: level, "request",
                metadata: [
                    "method": "\(request.method.rawValue)", "path": "\(path)", "status": "\(status.code)",
                    "duration_ms": "\(Double((NIODeadline.now() - start).nanoseconds) / 1_000_000)",
                ])
        }
        do {
            let response = try await next(request, context)
            log(response.status)
            return response
        } catch let error as any HTTPResponseError {
            log(error.status)
            throw error
        }
    }
}
