/// The JSON forms of WebAuthn Level 3 (§5.1.8, §5.4, §5.5): what a relying party sends to
/// `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`, and what
/// `PublicKeyCredential.toJSON()` sends back. Binary members are unpadded base64url strings. One
/// definition for the server, the Swift SDK and the tests.

/// `PublicKeyCredentialRpEntity`.
public struct RelyingPartyJSON: Codable, Sendable, Equatable {
    public var id: String
    public var name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// `PublicKeyCredentialUserEntityJSON`: `id` is the user handle (base64url), never personal data.
public struct UserEntityJSON: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var displayName: String

    public init(id: String, name: String, displayName: String) {
        self.id = id
        self.name = name
        self.displayName = displayName
    }
}

/// `PublicKeyCredentialParameters`: `alg` is a COSE algorithm (-7 ES256, -8 EdDSA, -257 RS256).
public struct CredentialParametersJSON: Codable, Sendable, Equatable {
    public var type: String
    public var alg: Int

    public init(alg: Int) {
        self.type = "public-key"
        self.alg = alg
    }
}

/// `PublicKeyCredentialDescriptorJSON`.
public struct CredentialDescriptorJSON: Codable, Sendable, Equatable {
    public var type: String
    public var id: String
    public var transports: [String]?

    public init(id: String, transports: [String]? = nil) {
        self.type = "public-key"
        self.id = id
        self.transports = transports
    }
}

/// `AuthenticatorSelectionCriteria`.
public struct AuthenticatorSelectionJSON: Codable, Sendable, Equatable {
    public var residentKey: String
    public var requireResidentKey: Bool
    public var userVerification: String
    public var authenticatorAttachment: String?

    public init(residentKey: String, requireResidentKey: Bool, userVerification: String, authenticatorAttachment: String? = nil) {
        self.residentKey = residentKey
        self.requireResidentKey = requireResidentKey
        self.userVerification = userVerification
        self.authenticatorAttachment = authenticatorAttachment
    }
}

/// `PublicKeyCredentialCreationOptionsJSON` (§5.4).
public struct PublicKeyCredentialCreationOptionsJSON: Codable, Sendable, Equatable {
    public var rp: RelyingPartyJSON
    public var user: UserEntityJSON
    public var challenge: String
    public var pubKeyCredParams: [CredentialParametersJSON]
    /// Milliseconds.
    public var timeout: Int
    public var excludeCredentials: [CredentialDescriptorJSON]
    public var authenticatorSelection: AuthenticatorSelectionJSON
    /// `none` or `direct`.
    public var attestation: String

    public init(
        rp: RelyingPartyJSON, user: UserEntityJSON, challenge: String, pubKeyCredParams: [CredentialParametersJSON], timeout: Int,
        excludeCredentials: [CredentialDescriptorJSON], authenticatorSelection: AuthenticatorSelectionJSON, attestation: String
    ) {
        self.rp = rp
        self.user = user
        self.challenge = challenge
        self.pubKeyCredParams = pubKeyCredParams
        self.timeout = timeout
        self.excludeCredentials = excludeCredentials
        self.authenticatorSelection = authenticatorSelection
        self.attestation = attestation
    }
}

/// `PublicKeyCredentialRequestOptionsJSON` (§5.5). An empty `allowCredentials` asks for a
/// discoverable credential (sign-in without a username).
public struct PublicKeyCredentialRequestOptionsJSON: Codable, Sendable, Equatable {
    public var challenge: String
    /// Milliseconds.
    public var timeout: Int
    public var rpId: String
    public var allowCredentials: [CredentialDescriptorJSON]
    public var userVerification: String

    public init(challenge: String, timeout: Int, rpId: String, allowCredentials: [CredentialDescriptorJSON], userVerification: String) {
        self.challenge = challenge
        self.timeout = timeout
        self.rpId = rpId
        self.allowCredentials = allowCredentials
        self.userVerification = userVerification
    }
}

/// `RegistrationResponseJSON` (§5.1.8): the result of `navigator.credentials.create`.
public struct RegistrationResponseJSON: Codable, Sendable, Equatable {
    public struct Response: Codable, Sendable, Equatable {
        public var clientDataJSON: String
        public var attestationObject: String
        public var transports: [String]?

        public init(clientDataJSON: String, attestationObject: String, transports: [String]? = nil) {
            self.clientDataJSON = clientDataJSON
            self.attestationObject = attestationObject
            self.transports = transports
        }
    }

    public var id: String
    public var rawId: String
    public var type: String
    public var response: Response
    public var authenticatorAttachment: String?

    public init(id: String, rawId: String, response: Response, authenticatorAttachment: String? = nil) {
        self.id = id
        self.rawId = rawId
        self.type = "public-key"
        self.response = response
        self.authenticatorAttachment = authenticatorAttachment
    }
}

/// `AuthenticationResponseJSON` (§5.1.8): the result of `navigator.credentials.get`.
public struct AuthenticationResponseJSON: Codable, Sendable, Equatable {
    public struct Response: Codable, Sendable, Equatable {
        public var clientDataJSON: String
        public var authenticatorData: String
        public var signature: String
        /// The user handle of a discoverable credential.
        public var userHandle: String?

        public init(clientDataJSON: String, authenticatorData: String, signature: String, userHandle: String? = nil) {
            self.clientDataJSON = clientDataJSON
            self.authenticatorData = authenticatorData
            self.signature = signature
            self.userHandle = userHandle
        }
    }

    public var id: String
    public var rawId: String
    public var type: String
    public var response: Response
    public var authenticatorAttachment: String?

    public init(id: String, rawId: String, response: Response, authenticatorAttachment: String? = nil) {
        self.id = id
        self.rawId = rawId
        self.type = "public-key"
        self.response = response
        self.authenticatorAttachment = authenticatorAttachment
    }
}
