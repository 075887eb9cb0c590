import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthCore

/// ABN AMRO's authorization service (ABN AMRO login protocol, docs/sessions.md): login challenges and responses, the
/// cookie session, session handover and step-up signing of scenarios. Paths, fields and the
/// `x-aab-serviceversion` header (accepted, any version) are the ABN AMRO API's; every error is the API's
/// documented `messages` shape (`ABNAMROError`), with the HTTP status of the failure.
struct SessionsController {
    let sessions: SessionService
    let rateLimiter: RateLimiter
    /// Body limit, rate limits and the cookie's `Secure` flag.
    let settings: ServerSettings

    /// The session cookie. HttpOnly, SameSite=Strict, Path=/, Secure when served over TLS; no
    /// Max-Age: the server decides expiry (5 minutes idle), the browser forgets it on close.
    static let cookieName = "strongauth_session"

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/session", use: Self.abnAMRO(current))
        router.delete("/session", use: Self.abnAMRO(end))
        // The `login` bucket per address: login, handover and scenario answers.
        let limited = router.group().add(
            middleware: RateLimitMiddleware(bucket: "login", face: .abnAMRO, limiter: rateLimiter, settings: settings.rateLimits))
        limited.get("/session/loginchallenge", use: Self.abnAMRO(loginChallenge))
        limited.put("/session/loginresponse", use: Self.abnAMRO(loginResponse))
        limited.get("/session/sessionhandoverchallenge", use: Self.abnAMRO(handoverChallenge))
        limited.post("/usertokens/session/scenariosigningmethod", use: Self.abnAMRO(scenarioSigningMethod))
        limited.post("/usertokens/session/scenariochallenge", use: Self.abnAMRO(scenarioChallenge))
        limited.post("/usertokens/session/scenarioresponse", use: Self.abnAMRO(scenarioResponse))
    }

    // MARK: Login

    @Sendable func loginChallenge(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let issued = try await mapped {
            try await sessions.loginChallenge(
                sessionToken: Self.sessionToken(request), accountNumber: try Self.required(query, "accountNumber"),
                cardNumber: try Self.required(query, "cardNumber"), accessToolUsage: try Self.required(query, "accessToolUsage"),
                boundDeviceIndexNumber: query.get("boundDeviceIndexNumber"))
        }
        return try respond(ABNAMROWire.Envelope("loginChallenge", ABNAMROWire.Challenge(issued)), newSessionToken: issued.newSessionToken)
    }

    @Sendable func handoverChallenge(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let issued = try await mapped {
            try await sessions.handoverChallenge(
                sessionToken: Self.sessionToken(request), accessToolUsage: try Self.required(query, "accessToolUsage"),
                boundDeviceIndexNumber: query.get("boundDeviceIndexNumber"))
        }
        return try respond(ABNAMROWire.Envelope("loginChallenge", ABNAMROWire.Challenge(issued)))
    }

    @Sendable func loginResponse(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(LoginResponseBody.self, from: request, limit: settings.maxBodyBytes)
        let session = try await mapped {
            try await sessions.loginResponse(
                sessionToken: Self.sessionToken(request),
                answer: LoginAnswer(
                    accountNumber: body.accountNumber.text, cardNumber: body.cardNumber.text, challengeHandle: body.challengeHandle.text,
                    response: body.response, accessToolUsage: body.accessToolUsage, challengeDeviceDetails: body.challengeDeviceDetails),
                source: context.remoteAddress)
        }
        return try respond(ABNAMROWire.Envelope("session", ABNAMROWire.Session(session)), newSessionToken: session.newSessionToken)
    }

    // MARK: The session

    @Sendable func current(_ request: Request, context: AppRequestContext) async throws -> Response {
        let session = try await mapped { try await sessions.currentSession(sessionToken: Self.sessionToken(request)) }
        return try respond(ABNAMROWire.Envelope("session", ABNAMROWire.SessionSummary(lastLogonDate: session.lastLogonDate.epochMilliseconds)))
    }

    @Sendable func end(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await mapped { try await sessions.endSession(sessionToken: Self.sessionToken(request), source: context.remoteAddress) }
        var response = Response(status: .noContent)
        response.setCookie(cookie(value: "", maxAge: 0))
        return response
    }

    // MARK: Scenarios

    @Sendable func scenarioSigningMethod(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await ScenarioBody.parse(request, limit: settings.maxBodyBytes, withData: false)
        let method = try await mapped {
            try await sessions.scenarioSigningMethod(sessionToken: Self.sessionToken(request), scenarioName: body.scenarioName)
        }
        return try respond(
            ABNAMROWire.Envelope(
                "scenarioSigningMethod",
                ABNAMROWire.SigningMethod(
                    scenarioName: body.scenarioName, accessToolUsage: method.accessToolUsage.rawValue,
                    challengeDeviceDetails: method.challengeDeviceDetails, attemptsLeft: method.attemptsLeft,
                    boundDeviceIndexNumber: method.boundDeviceIndexNumber)))
    }

    @Sendable func scenarioChallenge(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await ScenarioBody.parse(request, limit: settings.maxBodyBytes, withData: true)
        let issued = try await mapped {
            try await sessions.scenarioChallenge(
                sessionToken: Self.sessionToken(request), scenarioName: body.scenarioName, scenarioData: body.scenarioData,
                accessToolUsage: body.accessToolUsage, boundDeviceIndexNumber: body.boundDeviceIndexNumber?.text)
        }
        return try respond(ABNAMROWire.Envelope("scenarioChallenge", ABNAMROWire.Challenge(issued, withScenario: true)))
    }

    @Sendable func scenarioResponse(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await ScenarioBody.parse(request, limit: settings.maxBodyBytes, withData: true)
        guard let handle = body.challengeHandle?.text, let response = body.response else {
            throw ProblemDetails.badRequest(
                "'challengeHandle' and 'response' are required.",
                errors: [.init(field: body.challengeHandle == nil ? "challengeHandle" : "response", message: "missing")])
        }
        let signed = try await mapped {
            try await sessions.scenarioResponse(
                sessionToken: Self.sessionToken(request), challengeHandle: handle, response: response, scenarioName: body.scenarioName,
                scenarioData: body.scenarioData, source: context.remoteAddress)
        }
        return try respond(
            ABNAMROWire.Envelope(
                "scenarioResponse",
                ABNAMROWire.SignedScenario(
                    scenarioName: signed.scenarioName, scenarioHash: signed.scenarioHash, status: "SIGNED",
                    signedDate: signed.signedAt.epochMilliseconds)))
    }

    // MARK: Helpers

    /// The session token from the cookie, if it looks like one (anything else is no session).
    static func sessionToken(_ request: Request) -> String? {
        guard let value = request.cookies[cookieName]?.value, value.hasPrefix("sa_ss_"), value.utf8.count <= 100 else { return nil }
        return value
    }

    func cookie(value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(
            name: Self.cookieName, value: value, maxAge: maxAge, path: "/", secure: settings.sessions.secureCookie,
            httpOnly: true, sameSite: .strict)
    }

    /// JSON (sorted keys, `null`s kept), no-store, and the session cookie when there is a new token.
    func respond(_ value: some Encodable, newSessionToken: String? = nil) throws -> Response {
        var response = try JSONResponse.make(value)
        if let newSessionToken { response.setCookie(cookie(value: newSessionToken)) }
        return response
    }

    static func required(_ query: Parameters, _ name: String) throws -> String {
        guard let value = query.get(name), !value.isEmpty else {
            throw ProblemDetails.badRequest("The query parameter '\(name)' is missing.", errors: [.init(field: name, message: "missing")])
        }
        return value
    }

    /// Turns the core's `SessionError` into the face's error a client can act on (its key names
    /// the refusal; `problem(for:)` gives its status and text).
    func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SessionError {
            throw ABNAMROError(error)
        }
    }

    /// The status and text of each refusal (`ABNAMROError` wears them in the face's shape).
    static func problem(for error: SessionError) -> ProblemDetails {
        switch error {
        case .validation(let field, let message):
            ProblemDetails.badRequest("\(field) \(message).", errors: [.init(field: field, message: message)])
        case .unknownUser:
            ProblemDetails(.notFound, "Not Found", detail: "No active user has this account and card number.")
        case .accessToolNotSetUp(let what):
            ProblemDetails(.conflict, "Conflict", detail: "This access tool cannot be used: \(what).")
        case .blocked:
            ProblemDetails(
                HTTPResponse.Status(code: 423, reasonPhrase: "Locked"), "Locked",
                detail: "The access tool is blocked after too many wrong responses; the bank must unblock it.")
        case .challengeClosed:
            ProblemDetails(
                .conflict, "Conflict",
                detail: "The challenge handle is unknown, already used, expired, or of another session; request a new challenge.")
        case .mismatch(let field):
            ProblemDetails.badRequest(
                "\(field) does not match the challenge.", errors: [.init(field: field, message: "does not match the challenge")])
        case .wrongResponse(let attemptsLeft):
            ProblemDetails(.forbidden, "Forbidden", detail: "The response is not correct; \(attemptsLeft) attempts left.")
        case .scenarioMismatch:
            ProblemDetails(.conflict, "Conflict", detail: "The scenario differs from the one the challenge was issued for; request a new challenge.")
        case .unauthorized:
            ProblemDetails(
                .unauthorized, "Unauthorized", detail: "There is no authorized session for this cookie (absent, ended or idle for too long).")
        }
    }
}

/// The body of `PUT /session/loginresponse`. Account, card, handle and device numbers are
/// accepted as strings or JSON numbers (the published clients send numbers).
struct LoginResponseBody: Decodable {
    var accountNumber: Digits
    var cardNumber: Digits
    var challengeHandle: Digits
    var response: String
    var accessToolUsage: String
    var challengeDeviceDetails: String?
    /// `IPHONE_APP`, `ANDROID_APP` or `SIMPLE_BANKING`; informational.
    var appId: String?
    /// Informational: the challenge already names the device.
    var boundDeviceIndexNumber: Digits?
    var isJailbrokenRooted: Bool?
    var isBound: Bool?
    var imei: String?
    var telephoneNo: String?

    /// A decimal number sent as a string or as a non-negative JSON integer (the public clients
    /// send account and card numbers as integers).
    struct Digits: JSONStringOrUnsignedInteger, Equatable {
        var text: String

        init(jsonText: String) { text = jsonText }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                text = string
            } else {
                text = String(try container.decode(UInt64.self))
            }
        }
    }
}

/// The bodies of the scenario endpoints: typed fields through `Decodable` (numbers as strings or
/// JSON integers), and `scenarioData`, any JSON, bound in its canonical form (sorted keys, no
/// insignificant whitespace).
struct ScenarioBody: Decodable {
    var scenarioName: String
    var accessToolUsage: String?
    var boundDeviceIndexNumber: LoginResponseBody.Digits?
    var challengeHandle: LoginResponseBody.Digits?
    var response: String?
    /// Canonical JSON of `scenarioData`; set by `parse`.
    var scenarioData: String = ""

    enum CodingKeys: String, CodingKey {
        case scenarioName, accessToolUsage, boundDeviceIndexNumber, challengeHandle, response
    }

    /// Reads the body once: content type, size limit, typed fields, and (`withData`) the data.
    static func parse(_ request: Request, limit: Int, withData: Bool) async throws -> ScenarioBody {
        let buffer = try await JSONBody.collect(request, limit: limit)
        var copy = request
        copy.body = .init(buffer: buffer)
        var body = try await JSONBody.decode(ScenarioBody.self, from: copy, limit: limit)
        guard withData else { return body }
        let invalid = ProblemDetails.badRequest(
            "'scenarioData' must be JSON of at most 16 KiB.", errors: [.init(field: "scenarioData", message: "invalid")])
        let read: CanonicalMemberBody?
        do {
            read = try CanonicalMemberBody(buffer, member: "scenarioData")
        } catch {
            throw invalid
        }
        guard let canonical = read?.canonical else {
            throw ProblemDetails.badRequest("'scenarioData' is missing.", errors: [.init(field: "scenarioData", message: "missing")])
        }
        guard canonical.utf8.count <= 16_384 else { throw invalid }
        body.scenarioData = canonical
        return body
    }
}
