import Foundation

/// The JSON inside the ECIES layers of the PowerAuth 3.x Standard RESTful API (wultra/powerauth-crypto
/// `Standard-RESTful-API.md` and `Activation-via-Activation-Code.md`; see `docs/powerauth-protocol.md`).
///
/// OpenAPI describes only the outer envelope (`EciesEncryptedRequest` / `EciesEncryptedResponse`,
/// i.e. ``PowerAuthECIES/EncryptedRequestBody`` and ``PowerAuthECIES/EncryptedResponseBody``), so
/// these plaintexts are defined once here and used by both the server's controllers and the SDK.
/// Absent optionals are omitted when encoding, as the reference's Jackson mapping omits nulls.
public enum PowerAuthPayloads {
    /// Level 1 of `/pa/v3/activation/create` (ECIES application scope, `/pa/generic/application`):
    /// the activation type, the activation code in `identityAttributes.code`, application-specific
    /// `customAttributes`, and level 2 encrypted in `activationData`.
    public struct ActivationLayer1Request: Codable, Sendable, Equatable {
        /// `CODE` (activation by activation code) is the only type this server accepts.
        public var type: String
        public var identityAttributes: [String: String]?
        public var customAttributes: [String: JSONValue]?
        /// The additional activation OTP (`Additional-Activation-OTP.md`); level 2 may carry it instead.
        public var activationOtp: String?
        public var activationData: PowerAuthECIES.EncryptedRequestBody?

        public init(
            type: String = "CODE", identityAttributes: [String: String]? = nil, customAttributes: [String: JSONValue]? = nil,
            activationOtp: String? = nil, activationData: PowerAuthECIES.EncryptedRequestBody? = nil
        ) {
            self.type = type
            self.identityAttributes = identityAttributes
            self.customAttributes = customAttributes
            self.activationOtp = activationOtp
            self.activationData = activationData
        }
    }

    /// Level 2 of `/pa/v3/activation/create` (ECIES application scope, `/pa/activation`).
    public struct ActivationLayer2Request: Codable, Sendable, Equatable {
        /// `KEY_DEVICE_PUBLIC`, Base64 of the SEC1 point.
        public var devicePublicKey: String
        public var activationName: String?
        public var extras: String?
        public var activationOtp: String?
        public var platform: String?
        public var deviceInfo: String?

        public init(
            devicePublicKey: String, activationName: String? = nil, extras: String? = nil, activationOtp: String? = nil,
            platform: String? = nil, deviceInfo: String? = nil
        ) {
            self.devicePublicKey = devicePublicKey
            self.activationName = activationName
            self.extras = extras
            self.activationOtp = activationOtp
            self.platform = platform
            self.deviceInfo = deviceInfo
        }
    }

    /// The decrypted level 1 answer: `customAttributes` (the server always sends them, `{}` when
    /// none) and level 2 encrypted in `activationData`.
    public struct ActivationLayer1Response: Codable, Sendable, Equatable {
        public var customAttributes: [String: JSONValue]?
        public var activationData: PowerAuthECIES.EncryptedResponseBody

        public init(customAttributes: [String: JSONValue]? = nil, activationData: PowerAuthECIES.EncryptedResponseBody) {
            self.customAttributes = customAttributes
            self.activationData = activationData
        }
    }

    /// The decrypted level 2 answer: the activation id, `KEY_SERVER_PUBLIC` and the initial
    /// hash-based counter `ctrData` (Base64 of 16 bytes).
    public struct ActivationLayer2Response: Codable, Sendable, Equatable {
        public var activationId: String
        public var serverPublicKey: String
        public var ctrData: String
        /// Recovery codes are not issued; always absent.
        public var activationRecovery: String?

        public init(activationId: String, serverPublicKey: String, ctrData: String, activationRecovery: String? = nil) {
            self.activationId = activationId
            self.serverPublicKey = serverPublicKey
            self.ctrData = ctrData
            self.activationRecovery = activationRecovery
        }
    }

    /// The decrypted `/pa/v3/token/create` answer (the request plaintext is `{}`).
    public struct TokenCreateResponse: Codable, Sendable, Equatable {
        public var tokenId: String
        /// Base64 of the 16-byte token secret.
        public var tokenSecret: String

        public init(tokenId: String, tokenSecret: String) {
            self.tokenId = tokenId
            self.tokenSecret = tokenSecret
        }
    }

    /// The decrypted `/pa/v3/vault/unlock` request; no reason is the reference's `NOT_SPECIFIED`.
    public struct VaultUnlockRequest: Codable, Sendable, Equatable {
        public var reason: String?

        public init(reason: String? = nil) {
            self.reason = reason
        }
    }

    /// The decrypted `/pa/v3/vault/unlock` answer: `KEY_ENCRYPTION_VAULT` under `KEY_TRANSPORT`
    /// (Base64) and `signatureValid`, which the server always sends as `true` (an invalid
    /// signature is a 401 instead).
    public struct VaultUnlockResponse: Codable, Sendable, Equatable {
        public var encryptedVaultEncryptionKey: String
        public var signatureValid: Bool?

        public init(encryptedVaultEncryptionKey: String, signatureValid: Bool? = nil) {
            self.encryptedVaultEncryptionKey = encryptedVaultEncryptionKey
            self.signatureValid = signatureValid
        }
    }
}

/// Any JSON value, for application-specific `customAttributes` that are passed through.
public enum JSONValue: Codable, Sendable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case object([String: JSONValue])
    case array([JSONValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }
}
