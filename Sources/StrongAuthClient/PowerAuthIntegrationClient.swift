import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import StrongAuthAPI

/// The integrator side of PowerAuth (PowerAuth Cloud REST API, "Integrating with Your Back-End Applications"):
/// registrations and their lifecycle, and verification of the signatures and MAC tokens that
/// phones send to the integrator's own API. Every call is HTTP Basic with an integration user.
///
/// The base URL is the PowerAuth Cloud context itself (PowerAuth Cloud's
/// `http://localhost:8080/powerauth-cloud`), because deployments publish it on an internal host
/// apart from the phones' `/enrollment-server`.
///
/// ```swift
/// let cloud = PowerAuthIntegrationClient(baseURL: "http://127.0.0.1:8080/powerauth-cloud", username: "integration-user", password: pw)
/// let created = try await cloud.createRegistration(userId: "end-user-1234", appId: "my-application")
/// // … the phone activates with created.activationCode …
/// _ = try await cloud.commit(id: created.registrationId)
/// let verdict = try await cloud.verifySignature(method: "POST", uriId: "/login", authHeader: header, requestBody: Array("{}".utf8))
/// ```
public struct PowerAuthIntegrationClient: Sendable {
    public typealias OTPValidation = Components.Schemas.RegistrationCreateRequest.OtpValidationPayload
    public typealias CommitPhase = Components.Schemas.RegistrationCreateRequest.CommitPhasePayload

    private let transport: Transport
    private let authorization: String

    /// - Parameters:
    ///   - baseURL: the `/powerauth-cloud` context, e.g. `http://127.0.0.1:8080/powerauth-cloud`.
    ///   - username: the integration user's name.
    ///   - password: its generated password (printed once when the user was created).
    ///   - http: the AsyncHTTPClient to use; the shared singleton by default.
    public init(baseURL: String, username: String, password: String, http: HTTPClient = .shared) {
        transport = Transport(baseURL: baseURL, http: http)
        authorization = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }

    public var baseURL: String { transport.baseURL }

    // MARK: Registrations

    /// `POST /v2/registrations`: a CREATED registration and its activation code for the phone.
    /// With `otp` and `otpValidation: .onKeyExchange` the phone's key exchange commits it at once
    /// (PowerAuth Cloud's mobile-only flow).
    public func createRegistration(
        userId: String, appId: String, otp: String? = nil, otpValidation: OTPValidation? = nil, commitPhase: CommitPhase? = nil,
        flags: [String]? = nil
    ) async throws -> Components.Schemas.RegistrationCreated {
        try await call(
            .POST, "/v2/registrations",
            body: Components.Schemas.RegistrationCreateRequest(
                userId: userId, appId: appId, otp: otp, otpValidation: otpValidation, commitPhase: commitPhase, flags: flags))
    }

    /// `GET /v2/registrations/{id}`: status, and the fingerprint while PENDING_COMMIT.
    public func registration(id: String) async throws -> Components.Schemas.Registration {
        try await call(.GET, "/v2/registrations/\(try Self.pathSegment(id))", body: Optional<String>.none)
    }

    /// `GET /v2/registrations?userId=…[&removed=true]`: the user's registrations; REMOVED ones only
    /// when asked for (PowerAuth Cloud's "Listing Active Devices").
    public func registrations(userId: String, includeRemoved: Bool = false) async throws -> [Components.Schemas.Registration] {
        var query = "userId=\(IntegratorClient.formEncode(userId))"
        if includeRemoved { query += "&removed=true" }
        let list: Components.Schemas.RegistrationList = try await call(.GET, "/v2/registrations?\(query)", body: Optional<String>.none)
        return list.registrations
    }

    /// `POST /v2/registrations/{id}/commit`: PENDING_COMMIT → ACTIVE (with the OTP when the
    /// registration validates it ON_COMMIT). The PowerAuth Cloud documentation sends `{}`, and so do we without an OTP.
    public func commit(id: String, otp: String? = nil) async throws -> Components.Schemas.Registration {
        try await call(
            .POST, "/v2/registrations/\(try Self.pathSegment(id))/commit",
            body: Components.Schemas.RegistrationCommitRequest(otp: otp))
    }

    /// `PUT /v2/registrations/{id}` with `BLOCK`: ACTIVE → BLOCKED, its signatures refused.
    public func block(id: String, reason: String? = nil) async throws -> Components.Schemas.Registration {
        try await call(
            .PUT, "/v2/registrations/\(try Self.pathSegment(id))",
            body: Components.Schemas.RegistrationChangeRequest(change: .block, blockedReason: reason))
    }

    /// `PUT /v2/registrations/{id}` with `UNBLOCK`: BLOCKED → ACTIVE, failed attempts reset.
    public func unblock(id: String) async throws -> Components.Schemas.Registration {
        try await call(
            .PUT, "/v2/registrations/\(try Self.pathSegment(id))",
            body: Components.Schemas.RegistrationChangeRequest(change: .unblock))
    }

    /// `DELETE /v2/registrations/{id}`: REMOVED, for good.
    public func remove(id: String) async throws -> Components.Schemas.Registration {
        try await call(.DELETE, "/v2/registrations/\(try Self.pathSegment(id))", body: Optional<String>.none)
    }

    // MARK: Verification

    /// `POST /v2/signature/verify` with PowerAuth Cloud's request shape: the integrator hands over the
    /// raw bytes of the request body it received (sent as Base64, so nothing re-serializes them)
    /// and the `X-PowerAuth-Authorization` value. An invalid signature is an answer
    /// (`signatureValid: false`), not an error; errors are malformed input or credentials.
    public func verifySignature(
        method: String, uriId: String, authHeader: String, requestBody: [UInt8]
    ) async throws -> Components.Schemas.SignatureVerifyResponse {
        try await call(
            .POST, "/v2/signature/verify",
            body: Components.Schemas.SignatureVerifyRequest(
                method: method, uriId: uriId, authHeader: authHeader, requestBody: Data(requestBody).base64EncodedString()))
    }

    /// `POST /v2/token/verify` with the `X-PowerAuth-Token` value the phone sent.
    public func verifyToken(tokenHeader: String) async throws -> Components.Schemas.TokenVerifyResponse {
        try await call(.POST, "/v2/token/verify", body: Components.Schemas.TokenVerifyRequest(tokenHeader: tokenHeader))
    }

    // MARK: Operations

    /// `POST /v2/operations`: a PENDING operation from a template (e.g. `default.payment`).
    public func createOperation(userId: String, template: String, parameters: [String: String], externalId: String? = nil) async throws
        -> Components.Schemas.Operation
    {
        try await call(
            .POST, "/v2/operations",
            body: Components.Schemas.OperationCreateRequest(
                userId: userId, template: template, parameters: .init(additionalProperties: parameters), externalId: externalId))
    }

    /// `GET /v2/operations/{id}`: the operation's status and failure count.
    public func operation(id: String) async throws -> Components.Schemas.Operation {
        try await call(.GET, "/v2/operations/\(try Self.pathSegment(id))", body: Optional<String>.none)
    }

    /// `DELETE /v2/operations/{id}`: cancels a PENDING operation.
    public func cancelOperation(id: String) async throws -> Components.Schemas.Operation {
        try await call(.DELETE, "/v2/operations/\(try Self.pathSegment(id))", body: Optional<String>.none)
    }

    // MARK: Transport

    private func call<Answer: Decodable>(_ method: HTTPMethod, _ path: String, body: (some Encodable)?) async throws -> Answer {
        var headers = [("Authorization", authorization), ("Accept", "application/json")]
        var buffer: ByteBuffer?
        if let body {
            headers.append(("Content-Type", "application/json"))
            buffer = ByteBuffer(data: try JSONEncoder().encode(body))
        }
        let response = try await transport.send(method, path, headers: headers, body: buffer)
        return try PowerAuthWire.decode(Answer.self, response)
    }

    /// Registration ids are UUIDs; anything that would change the path is refused before sending.
    private static func pathSegment(_ id: String) throws -> String {
        guard !id.isEmpty, id.utf8.count <= 128, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw PowerAuthServerError(status: 0, code: "ERROR_REQUEST", message: "registration id must be letters, digits and '-'")
        }
        return id
    }
}

/// A refusal in PowerAuth's error shape, `{"status": "ERROR", "responseObject": {"code", "message"}}`,
/// from `/powerauth-cloud` or `/enrollment-server`: the code is what callers branch on
/// (`ERROR_REGISTRATION_NOT_FOUND`, `ERR_AUTHENTICATION`, `ERROR_REGISTRATION_STATE_CHANGE` …).
public struct PowerAuthServerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The HTTP status (0 when the SDK refused the input before sending anything).
    public var status: Int
    /// PowerAuth's error code; `UNEXPECTED_RESPONSE` when the body was not PowerAuth's shape.
    public var code: String
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status) \(code): \(message)" }
}

/// PowerAuth's JSON envelopes, shared by the integration client and the phone.
enum PowerAuthWire {
    /// The answer as `T` when it is a 2xx; PowerAuth's error otherwise.
    static func decode<T: Decodable>(_ type: T.Type, _ response: Transport.RawResponse) throws -> T {
        try expectSuccess(response)
        do {
            // `format: date-time` fields (generated as `Date`) are RFC 3339.
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(T.self, from: response.body)
        } catch {
            throw PowerAuthServerError(
                status: Int(response.status.code), code: "UNEXPECTED_RESPONSE",
                message: "the answer is not the expected JSON: \(String(buffer: response.body).prefix(200))")
        }
    }

    static func expectSuccess(_ response: Transport.RawResponse) throws {
        guard (200..<300).contains(response.status.code) else { throw error(from: response) }
    }

    static func error(from response: Transport.RawResponse) -> PowerAuthServerError {
        let status = Int(response.status.code)
        if let body = try? JSONDecoder().decode(Components.Schemas.PowerAuthErrorResponse.self, from: response.body) {
            return PowerAuthServerError(status: status, code: body.responseObject.code, message: body.responseObject.message)
        }
        return PowerAuthServerError(status: status, code: "UNEXPECTED_RESPONSE", message: String(String(buffer: response.body).prefix(200)))
    }
}
