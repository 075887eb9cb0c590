import Hummingbird
import Logging
import NIOCore

/// One structured log line per request: method, path (never the query, which may carry
/// secrets), status and duration. Bodies and headers are never logged.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let level: Logger.Level

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = NIODeadline.now()
        func log(_ status: HTTPResponse.Status) {
            context.logger.log(
                level: level, "request",
                metadata: [
                    "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(status.code)",
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
