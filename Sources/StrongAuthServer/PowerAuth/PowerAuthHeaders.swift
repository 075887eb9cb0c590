import Foundation
import HTTPTypes
import StrongAuthCore
import StrongAuthProtocol

/// The PowerAuth headers as the faces read them: parsed by `StrongAuthProtocol` exactly as the
/// reference parses them, refused with PowerAuth's error shape (naming the field, never echoing it).
/// A value over the parser's length cap is refused before it is read: 431 when it came as an HTTP
/// header field, 400 (like any malformed field) when it came in a JSON body.
enum PowerAuthHeaders {
    /// 431 Request Header Fields Too Large.
    static let headerTooLarge = HTTPResponse.Status(code: 431, reasonPhrase: "Request Header Fields Too Large")

    /// The status of a refused header value: 431 for an oversized HTTP header field, else `status`.
    static func status(of error: PowerAuthHeaderError, inHeader: Bool, otherwise status: HTTPResponse.Status) -> HTTPResponse.Status {
        error.kind == .tooLong && inHeader ? headerTooLarge : status
    }

    /// `X-PowerAuth-Authorization` (or a body's `authHeader`, `inHeader: false`) → the signature the core checks.
    static func authorization(
        _ value: String, code: String = "ERROR_REQUEST", status: HTTPResponse.Status = .badRequest, inHeader: Bool = false
    ) throws -> PowerAuthAuthorizationHeader {
        do {
            return try PowerAuthAuthorizationHeader.parse(value)
        } catch {
            let name = inHeader ? PowerAuthAuthorizationHeader.headerName : "authHeader"
            throw PowerAuthErrorResponse(
                Self.status(of: error, inHeader: inHeader, otherwise: status), code: code, message: "\(name): \(error.description)")
        }
    }

    /// `X-PowerAuth-Token` → its parts.
    static func token(_ value: String) throws -> PowerAuthTokenHeader {
        do {
            return try PowerAuthTokenHeader.parse(value)
        } catch {
            throw PowerAuthErrorResponse.badRequest("tokenHeader: \(error.description)")
        }
    }

    /// `X-PowerAuth-Encryption` in the given scope.
    static func encryption(_ value: String?, scope: PowerAuthEncryptorScope) throws -> PowerAuthEncryptionHeader {
        guard let value else {
            throw PowerAuthErrorResponse(.badRequest, code: "ERR_ENCRYPTION", message: "The X-PowerAuth-Encryption header is required.")
        }
        do {
            return try PowerAuthEncryptionHeader.parse(value, scope: scope)
        } catch {
            throw PowerAuthErrorResponse(
                Self.status(of: error, inHeader: true, otherwise: .badRequest), code: "ERR_ENCRYPTION",
                message: "X-PowerAuth-Encryption: \(error.description)")
        }
    }
}
