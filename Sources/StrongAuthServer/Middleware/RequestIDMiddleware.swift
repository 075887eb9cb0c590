import HTTPTypes
import Hummingbird

/// Gives every response an `X-Request-Id` and every log line of the request the same id.
///
/// A well-formed incoming id (from a gateway) is kept so that one request can be followed
/// across systems; anything else is replaced by Hummingbird's own id.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { HTTPField.Name("X-Request-Id")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID: String
        if let incoming = request.headers.value(Self.headerName), Self.isWellFormed(incoming) {
            requestID = incoming
            context.logger[metadataKey: "request_id"] = .string(incoming)
        } else {
            requestID = context.id
        }
        do {
            var response = try await next(request, context)
            response.headers[Self.headerName] = requestID
            return response
        } catch let error as any HTTPResponseError {
            var response = try error.response(from: request, context: context)
            response.headers[Self.headerName] = requestID
            return response
        }
    }

    private static func isWellFormed(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count)
            && id.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E
            }
    }
}
