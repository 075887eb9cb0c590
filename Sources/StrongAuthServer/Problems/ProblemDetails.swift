import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthCore

/// An RFC 9457 problem: the error format of every face that has no error format of its own.
struct ProblemDetails: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var title: String
    var detail: String?
    var errors: [ValidationError] = []
    /// Extra response headers (e.g. `WWW-Authenticate` on a 401).
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ title: String, detail: String? = nil, errors: [ValidationError] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Components.Schemas.Problem(
            _type: "about:blank", title: title, status: Int(status.code), detail: detail, instance: Self.instance(request, context),
            errors: errors.isEmpty ? nil : errors.map { .init(field: $0.field, message: $0.message) })
        var response = try JSONResponse.make(body, status: status, contentType: "application/problem+json")
        response.headers.append(contentsOf: headers)
        return response
    }

    /// The problem's `instance` (RFC 9457 §3.1.5): the matched route's pattern
    /// (`/api/v1/processes/{processToken}`), never the request's own path, which may carry a
    /// secret (a process token, an activation code) into client logs. Unmatched paths keep the
    /// path as sent.
    static func instance(_ request: Request, _ context: some RequestContext) -> String {
        if let route = context.endpointPath, route.hasPrefix("/") { return route }
        return request.uri.path
    }

    /// The database cannot be reached (restarting, failing over): 503, try again in a second.
    static let databaseUnavailable = ProblemDetails(
        .serviceUnavailable, "Service Unavailable", detail: "The database is not reachable right now; try again shortly.",
        headers: [.retryAfter: "1"])

    /// What a 400 for a `DatabaseInputError` says.
    static let unstorableInput = "The request carries a value that cannot be stored (a NUL character, a number out of range)."

    static func badRequest(_ detail: String, errors: [ValidationError] = []) -> ProblemDetails {
        ProblemDetails(.badRequest, "Bad Request", detail: detail, errors: errors)
    }
}
