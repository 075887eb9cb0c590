import Hummingbird
import Logging
import StrongAuthStore

/// The last line of defence: anything a handler throws that is not already an HTTP error
/// becomes an RFC 9457 problem, so clients never see Hummingbird's bare error bodies.
/// An unexpected error is a 500 with its detail only in the log, never in the response.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as ProblemDetails {
            throw problem
        } catch let error as PowerAuthErrorResponse {
            throw error  // the PowerAuth faces have their own error shape
        } catch let error as HTTPError {
            throw ProblemDetails(error.status, error.status.reasonPhrase, detail: error.body, headers: error.headers)
        } catch is DatabaseUnavailableError {
            throw ProblemDetails.databaseUnavailable
        } catch is DatabaseInputError {
            throw ProblemDetails.badRequest(ProblemDetails.unstorableInput)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            throw ProblemDetails(
                .internalServerError, "Internal Server Error", detail: "The request id in X-Request-Id identifies this failure in the server log.")
        }
    }
}
