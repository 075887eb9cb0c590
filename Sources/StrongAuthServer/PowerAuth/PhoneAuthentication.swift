import Foundation
import Hummingbird
import StrongAuthCore
import StrongAuthProtocol

/// How the phone authenticates its requests to `/enrollment-server`: a PowerAuth signature
/// (`X-PowerAuth-Authorization`) over the raw body, or a MAC token (`X-PowerAuth-Token`).
/// Refusals are 401 `ERR_AUTHENTICATION` in PowerAuth's error shape.
enum PhoneAuthentication {
    /// A signed request as received: the parsed header, the raw body, and the core's verdict.
    struct SignedRequest {
        var header: PowerAuthAuthorizationHeader
        var body: [UInt8]
        var verification: SignatureVerification?

        /// The registration that signed it, or the 401.
        func validRegistration() throws -> Registration {
            // The phone's requests never take the fast path, so a valid one carries the registration.
            guard let verification, verification.valid, let registration = verification.registration else { throw authenticationFailed }
            return registration
        }
    }

    static let authenticationFailed = PowerAuthErrorResponse(
        .unauthorized, code: "ERR_AUTHENTICATION", message: "POWER_AUTH_SIGNATURE_INVALID_VALUE")

    /// Checks the signature over `method`, `uriID` and the raw body. An unknown activation has no
    /// verdict (`verification == nil`); a malformed header is a 401.
    static func signedRequest(
        _ request: Request, context: AppRequestContext, powerAuth: PowerAuthService, maxBodyBytes: Int, uriID: String, twoFactors: Bool
    ) async throws -> SignedRequest {
        guard let value = request.headers.value(.powerAuthAuthorization) else {
            throw PowerAuthErrorResponse(.unauthorized, code: "ERR_AUTHENTICATION", message: "X-PowerAuth-Authorization is required.")
        }
        let header = try PowerAuthHeaders.authorization(value, code: "ERR_AUTHENTICATION", inHeader: true)
        if twoFactors, header.factors.count < 2 {
            throw PowerAuthErrorResponse(.unauthorized, code: "ERR_AUTHENTICATION", message: "This needs a two-factor signature.")
        }
        let body = try await rawBody(request, limit: maxBodyBytes)
        do {
            let verification = try await powerAuth.verifySignature(
                header, method: "POST", uriID: uriID, body: body, caller: nil, source: context.remoteAddress)
            return SignedRequest(header: header, body: body, verification: verification)
        } catch PowerAuthServiceError.registrationNotFound {
            return SignedRequest(header: header, body: body, verification: nil)
        } catch let error as PowerAuthServiceError {
            throw PowerAuthErrorResponse.integration(error)
        }
    }

    /// The ACTIVE registration whose MAC token signs this request (`X-PowerAuth-Token`).
    static func tokenRegistration(_ request: Request, powerAuth: PowerAuthService) async throws -> Registration {
        guard let value = request.headers.value(.powerAuthToken) else {
            throw PowerAuthErrorResponse(.unauthorized, code: "ERR_AUTHENTICATION", message: "X-PowerAuth-Token is required.")
        }
        let token: PowerAuthTokenHeader
        do {
            token = try PowerAuthTokenHeader.parse(value)
        } catch {
            throw PowerAuthErrorResponse(
                PowerAuthHeaders.status(of: error, inHeader: true, otherwise: .unauthorized), code: "ERR_AUTHENTICATION",
                message: "X-PowerAuth-Token: \(error.description)")
        }
        let verification = try await powerAuth.verifyToken(
            tokenID: token.tokenID, digest: token.tokenDigest, nonce: token.nonce, timestamp: token.timestamp, version: token.version,
            integrationUser: nil)
        guard verification.valid, let registration = verification.registration else { throw authenticationFailed }
        return registration
    }

    static func rawBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        do {
            return Array(buffer: try await request.body.collect(upTo: limit))
        } catch {
            throw PowerAuthErrorResponse(.contentTooLarge, code: "ERROR_REQUEST_TOO_LARGE", message: "The request body exceeds \(limit) bytes.")
        }
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String) throws -> T {
        do {
            return try JSONBytesDecoder.decodeFallingBack(type, from: bytes)
        } catch {
            throw PowerAuthErrorResponse(
                .badRequest, code: "ERROR_REQUEST",
                message: "\(what.prefix(1).uppercased() + what.dropFirst()) is not valid JSON of the expected shape.")
        }
    }
}
