import Foundation

/// The parts of `clientDataJSON` (WebAuthn §5.8.1) a relying party checks, after they were checked.
public struct ClientData: Sendable, Equatable {
    /// The ceremony a client data belongs to; a registration's data can never pass as an assertion's.
    public enum CeremonyType: String, Sendable {
        case create = "webauthn.create"
        case get = "webauthn.get"
    }

    public let type: CeremonyType
    public let origin: String
    /// The exact bytes, whose SHA-256 the authenticator signs.
    public let bytes: [UInt8]

    /// Parses `bytes` and checks them against what this ceremony expects: the type, the
    /// challenge (constant time), one of the allowed origins, and no cross-origin embedding.
    public static func verify(
        _ bytes: [UInt8], type expectedType: CeremonyType, challenge expectedChallenge: [UInt8], origins: Set<String>
    ) throws(WebAuthnError) -> ClientData {
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: Data(bytes))
        } catch {
            throw .malformedClientData
        }
        guard fields.type == expectedType.rawValue else { throw .wrongType(fields.type) }
        guard !fields.challenge.contains("="), let challenge = Base64URL.decode(fields.challenge) else { throw .malformedClientData }
        guard ConstantTime.equals(challenge, expectedChallenge) else { throw .challengeMismatch }
        guard origins.contains(fields.origin) else { throw .originNotAllowed(fields.origin) }
        // An iframe on another site may not run this ceremony; topOrigin only ever appears in that case.
        guard fields.crossOrigin != true, fields.topOrigin == nil else { throw .crossOrigin }
        return ClientData(type: expectedType, origin: fields.origin, bytes: bytes)
    }

    /// The members checked; JSONDecoder refuses wrong types (a crossOrigin of "false" or 0).
    private struct Fields: Decodable {
        var type: String
        var challenge: String
        var origin: String
        var crossOrigin: Bool?
        var topOrigin: String?
    }
}
