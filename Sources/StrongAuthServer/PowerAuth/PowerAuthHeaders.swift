import Foundation
import StrongAuthCore
import StrongAuthProtocol

/// The PowerAuth headers as the faces read them: parsed by `StrongAuthProtocol` exactly as the
/// reference parses them, refused with PowerAuth's error shape (naming the field, never echoing it).
enum PowerAuthHeaders {
    /// `X-PowerAuth-Authorization` → the signature the core checks.
    static func authorization(_ value: String, code: String = "ERROR_REQUEST") throws -> PowerAuthAuthorizationHeader {
        do {
            return try PowerAuthAuthorizationHeader.parse(value)
        } catch {
            throw PowerAuthErrorResponse(.badRequest, code: code, message: "authHeader: \(error.description)")
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
            throw PowerAuthErrorResponse(.badRequest, code: "ERR_ENCRYPTION", message: "X-PowerAuth-Encryption: \(error.description)")
        }
    }

    /// The signed data of a GET request: its query parameters sorted by name then value,
    /// form-encoded and joined by `&` (the reference's `canonizeGetParameters`).
    static func canonicalQuery(_ parameters: [String: String]) -> String {
        func encode(_ text: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._*")
            return (text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text).replacingOccurrences(of: "%20", with: "+")
        }
        return parameters.sorted { ($0.key, $0.value) < ($1.key, $1.value) }.map { "\(encode($0.key))=\(encode($0.value))" }
            .joined(separator: "&")
    }
}
