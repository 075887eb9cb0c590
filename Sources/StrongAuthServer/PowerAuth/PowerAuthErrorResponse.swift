import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthCore
import StrongAuthStore

/// PowerAuth's error shape, `{"status": "ERROR", "responseObject": {"code", "message"}}`: the
/// error format of every route under `/powerauth-cloud` and `/enrollment-server` (docs/powerauth.md).
struct PowerAuthErrorResponse: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONResponse.make(
            Components.Schemas.PowerAuthErrorResponse(status: .error, responseObject: .init(code: code, message: message)), status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    static func badRequest(_ message: String) -> PowerAuthErrorResponse {
        PowerAuthErrorResponse(.badRequest, code: "ERROR_REQUEST", message: message)
    }

    /// The integration API's answer to a core refusal.
    static func integration(_ error: PowerAuthServiceError) -> PowerAuthErrorResponse {
        switch error {
        case .validation(let field, let message):
            badRequest("\(field): \(message)")
        case .applicationNotFound:
            PowerAuthErrorResponse(.badRequest, code: "ERROR_APPLICATION_NOT_FOUND", message: "No such application.")
        case .applicationForbidden:
            PowerAuthErrorResponse(.forbidden, code: "ERROR_ACCESS_DENIED", message: "The integration user may not use this application.")
        case .registrationNotFound:
            PowerAuthErrorResponse(.notFound, code: "ERROR_REGISTRATION_NOT_FOUND", message: "No such registration.")
        case .registrationState(let status):
            PowerAuthErrorResponse(
                .conflict, code: "ERROR_REGISTRATION_STATE_CHANGE", message: "The registration is \(status.rawValue); that change is not possible.")
        case .activationCodeNotFound:
            PowerAuthErrorResponse(.badRequest, code: "ERROR_ACTIVATION_CODE", message: "No live registration has this activation code.")
        case .wrongActivationOTP(let remaining):
            PowerAuthErrorResponse(.badRequest, code: "ERROR_ACTIVATION_OTP", message: "The activation OTP is wrong; \(remaining) attempts left.")
        case .authenticationFailed:
            PowerAuthErrorResponse(.unauthorized, code: "ERROR_AUTHENTICATION", message: "The signature is not valid.")
        case .decryptionFailed:
            PowerAuthErrorResponse(.badRequest, code: "ERROR_DECRYPTION", message: "The encrypted request cannot be decrypted.")
        case .tokenNotFound:
            PowerAuthErrorResponse(.badRequest, code: "ERROR_TOKEN_NOT_FOUND", message: "No such token.")
        case .unauthorized:
            IntegrationAuthentication.unauthorized("The integration user's name or password is wrong.")
        case .temporaryKey(let reason):
            PowerAuthErrorResponse(.badRequest, code: "ERR_TEMPORARY_KEY", message: "Temporary key: \(reason).")
        case .staleRequest(let reason):
            PowerAuthErrorResponse(.badRequest, code: "ERR_ENCRYPTION", message: "The encrypted request is refused: \(reason).")
        }
    }
}

/// Turns whatever a PowerAuth route throws into PowerAuth's error shape, so integrators and
/// phones never see another format (a body over the limit, a wrong media type, bad JSON …).
struct PowerAuthErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as PowerAuthErrorResponse {
            throw error
        } catch let error as PowerAuthServiceError {
            throw PowerAuthErrorResponse.integration(error)
        } catch let problem as ProblemDetails {
            throw PowerAuthErrorResponse(
                problem.status, code: Self.code(for: problem.status), message: problem.detail ?? problem.title, headers: problem.headers)
        } catch let error as HTTPError {
            throw PowerAuthErrorResponse(
                error.status, code: Self.code(for: error.status), message: error.body ?? error.status.reasonPhrase, headers: error.headers)
        } catch is DatabaseInputError {
            throw PowerAuthErrorResponse.badRequest(ProblemDetails.unstorableInput)
        } catch is DatabaseUnavailableError {
            let problem = ProblemDetails.databaseUnavailable
            throw PowerAuthErrorResponse(
                problem.status, code: "ERROR_SERVICE_UNAVAILABLE", message: problem.detail ?? problem.title, headers: problem.headers)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            throw PowerAuthErrorResponse(
                .internalServerError, code: "ERROR_GENERIC",
                message: "The request id in X-Request-Id identifies this failure in the server log.")
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "ERROR_UNAUTHORIZED"
        case 403: "ERROR_ACCESS_DENIED"
        case 404: "ERROR_NOT_FOUND"
        case 405: "ERROR_METHOD_NOT_ALLOWED"
        case 413: "ERROR_REQUEST_TOO_LARGE"
        case 415: "ERROR_UNSUPPORTED_MEDIA_TYPE"
        case 400..<500: "ERROR_REQUEST"
        default: "ERROR_GENERIC"
        }
    }
}
