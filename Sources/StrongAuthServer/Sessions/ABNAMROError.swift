import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StrongAuthCore
import StrongAuthStore

/// The ABN AMRO API's error shape (the public wiki of kinnay/ABN-Amro, "API Errors (general)"):
///
/// ```
/// {"messages": [{"messageKey": "MESSAGE_…", "messageType": "ERROR", "messageText": "…", "params": null}]}
/// ```
///
/// served as `application/json` with the HTTP status of the failure. Every error of the ABN AMRO
/// login face has this shape (SECURITY.md): its clients recognise only this one (the `abnamro`
/// package raises its `ServiceError` when the JSON body has `messages`, and an opaque HTTP error
/// for anything else, RFC 9457 problems included). The keys are StrongAuth's own, in the API's
/// `MESSAGE_…` style; the text never echoes input.
struct ABNAMROError: Error {
    var status: HTTPResponse.Status
    var key: String
    var text: String
    var headers: HTTPFields = [:]

    /// The response: one message, `params` null as the wiki documents it.
    func response() throws -> Response {
        var response = try JSONResponse.make(Messages(messages: [Message(messageKey: key, messageText: text)]), status: status)
        for field in headers { response.headers.append(field) }
        return response
    }

    struct Messages: Encodable {
        let messages: [Message]
    }

    /// One message of the API's `messages` list; `params` is always null.
    struct Message: Encodable {
        let messageKey: String
        var messageType = "ERROR"
        let messageText: String

        enum CodingKeys: String, CodingKey { case messageKey, messageType, messageText, params }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(messageKey, forKey: .messageKey)
            try container.encode(messageType, forKey: .messageType)
            try container.encode(messageText, forKey: .messageText)
            try container.encodeNil(forKey: .params)
        }
    }

    /// A core refusal, with the status the face has always used for it.
    init(_ error: SessionError) {
        let problem = SessionsController.problem(for: error)
        status = problem.status
        text = problem.detail ?? problem.title
        key =
            switch error {
            case .validation: "MESSAGE_INVALID_REQUEST"
            case .unknownUser: "MESSAGE_UNKNOWN_USER"
            case .accessToolNotSetUp: "MESSAGE_ACCESS_TOOL_NOT_AVAILABLE"
            case .blocked: "MESSAGE_ACCESS_TOOL_BLOCKED"
            case .challengeClosed: "MESSAGE_CHALLENGE_CLOSED"
            case .mismatch: "MESSAGE_CHALLENGE_MISMATCH"
            case .wrongResponse: "MESSAGE_WRONG_RESPONSE"
            case .scenarioMismatch: "MESSAGE_SCENARIO_MISMATCH"
            case .unauthorized: "MESSAGE_NO_SESSION"
            }
    }

    init(status: HTTPResponse.Status, key: String, text: String, headers: HTTPFields = [:]) {
        self.status = status
        self.key = key
        self.text = text
        self.headers = headers
    }

    /// Whatever a handler of the face threw, in this shape: what `ProblemMiddleware` does for the
    /// other faces (same statuses, same headers, an unexpected error logged and answered 500).
    static func from(_ error: any Error, logger: Logger) -> ABNAMROError {
        switch error {
        case let error as ABNAMROError:
            return error
        case let error as SessionError:
            return ABNAMROError(error)
        case let problem as ProblemDetails:
            return ABNAMROError(
                status: problem.status, key: key(for: problem.status), text: problem.detail ?? problem.title, headers: problem.headers)
        case let error as HTTPError:
            return ABNAMROError(
                status: error.status, key: key(for: error.status), text: error.body ?? error.status.reasonPhrase, headers: error.headers)
        case is DatabaseInputError:
            return ABNAMROError(status: .badRequest, key: key(for: .badRequest), text: ProblemDetails.unstorableInput)
        case is DatabaseUnavailableError:
            let problem = ProblemDetails.databaseUnavailable
            return ABNAMROError(
                status: problem.status, key: key(for: problem.status), text: problem.detail ?? problem.title, headers: problem.headers)
        default:
            logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return ABNAMROError(
                status: .internalServerError, key: key(for: .internalServerError),
                text: "The request id in X-Request-Id identifies this failure in the server log.")
        }
    }

    static func key(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "MESSAGE_NO_SESSION"
        case 413: "MESSAGE_REQUEST_TOO_LARGE"
        case 415: "MESSAGE_UNSUPPORTED_MEDIA_TYPE"
        case 503: "MESSAGE_SERVICE_UNAVAILABLE"
        case 400..<500: "MESSAGE_INVALID_REQUEST"
        default: "MESSAGE_TECHNICAL_ERROR"
        }
    }
}

extension SessionsController {
    /// A handler of the face whose every failure is answered in the face's error shape.
    static func abnAMRO(
        _ handler: @escaping @Sendable (Request, AppRequestContext) async throws -> Response
    ) -> @Sendable (Request, AppRequestContext) async throws -> Response {
        { request, context in
            do {
                return try await handler(request, context)
            } catch {
                return try ABNAMROError.from(error, logger: context.logger).response()
            }
        }
    }
}
