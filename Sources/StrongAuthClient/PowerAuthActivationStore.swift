import Crypto
import CryptoExtras
import Foundation
import StrongAuthProtocol

/// What a phone needs to talk to one PowerAuth application: where the enrollment server is, the
/// app key and secret baked into the app, the master public key that authenticates the server,
/// and the protocol version the app speaks.
public struct PowerAuthDeviceConfiguration: Codable, Sendable, Equatable {
    /// The `/enrollment-server` context, e.g. `http://127.0.0.1:8080/enrollment-server`.
    public var enrollmentBaseURL: String
    /// Base64 of 16 bytes (`appKey`).
    public var applicationKey: String
    /// Base64 of 16 bytes (`appSecret`), kept as text: PowerAuth MACs over the text's bytes.
    public var applicationSecret: String
    /// Base64 of the master public key (SEC1 point), as `strongauth apps create` prints it.
    public var masterPublicKey: String
    /// 3.1, 3.2 or 3.3 (ECIES needs 3.1+; 3.3 adds temporary encryption keys).
    public var protocolVersion: PowerAuthProtocolVersion

    public init(
        enrollmentBaseURL: String, applicationKey: String, applicationSecret: String, masterPublicKey: String,
        protocolVersion: PowerAuthProtocolVersion = .v3_1
    ) {
        self.enrollmentBaseURL = enrollmentBaseURL
        self.applicationKey = applicationKey
        self.applicationSecret = applicationSecret
        self.masterPublicKey = masterPublicKey
        self.protocolVersion = protocolVersion
    }

    enum CodingKeys: String, CodingKey {
        case enrollmentBaseURL, applicationKey, applicationSecret, masterPublicKey, protocolVersion
    }

    // The protocol library's version enum is not Codable (it has no business with files), so the
    // version travels as its text here.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enrollmentBaseURL = try container.decode(String.self, forKey: .enrollmentBaseURL)
        applicationKey = try container.decode(String.self, forKey: .applicationKey)
        applicationSecret = try container.decode(String.self, forKey: .applicationSecret)
        masterPublicKey = try container.decode(String.self, forKey: .masterPublicKey)
        let version = try container.decode(String.self, forKey: .protocolVersion)
        guard let parsed = PowerAuthProtocolVersion(rawValue: version) else {
            throw DecodingError.dataCorruptedError(forKey: .protocolVersion, in: container, debugDescription: "unknown protocol version \(version)")
        }
        protocolVersion = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(enrollmentBaseURL, forKey: .enrollmentBaseURL)
        try container.encode(applicationKey, forKey: .applicationKey)
        try container.encode(applicationSecret, forKey: .applicationSecret)
        try container.encode(masterPublicKey, forKey: .masterPublicKey)
        try container.encode(protocolVersion.rawValue, forKey: .protocolVersion)
    }
}

/// The knowledge factor key, encrypted under a key derived from the PIN.
///
/// PBKDF2-HMAC-SHA256 (swift-crypto `CryptoExtras` `KDF.Insecure.PBKDF2`, its checked variant,
/// which refuses fewer than 210,000 rounds) with a random 16-byte salt turns the PIN into an
/// AES-256 key; the 16-byte knowledge key is one AES block, encrypted with the bare block cipher.
///
/// Deliberately *unauthenticated*: there is no tag and no check value, so every PIN "decrypts"
/// to some 16 bytes and only the server can tell a wrong key from the right one — where failed
/// attempts are counted and the activation blocks after five. An AEAD (AES-GCM) here would be an
/// offline PIN oracle: whoever copies the file could try all 10,000 four-digit PINs against the
/// tag without the server ever noticing. This is the construction of the PowerAuth mobile SDK
/// (one block of AES-CBC without padding under a PBKDF2 key), with more rounds. The block is
/// uniformly random, so a single block needs no mode or IV.
public struct PowerAuthProtectedKnowledgeKey: Codable, Sendable, Equatable {
    /// OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
    public static let defaultIterations = 600_000
    /// The least swift-crypto's checked PBKDF2 accepts.
    public static let minimumIterations = 210_000

    public var salt: Data
    public var iterations: Int
    public var encryptedKey: Data

    /// Encrypts `key` (16 bytes) under `pin` with a fresh salt.
    public static func protect(_ key: [UInt8], pin: String, iterations: Int = defaultIterations) throws -> Self {
        guard key.count == 16 else { throw PowerAuthDeviceError.invalidState("the knowledge key must be 16 bytes") }
        let salt = Data(SecureRandom.bytes(16))
        var block = key
        try AES.permute(&block, key: try pinKey(pin, salt: salt, iterations: iterations))
        return Self(salt: salt, iterations: iterations, encryptedKey: Data(block))
    }

    /// The knowledge key *for this PIN*: the right key for the right PIN, 16 unrelated bytes for
    /// a wrong one (never an error, see the type's documentation).
    public func unlock(pin: String) throws -> [UInt8] {
        guard encryptedKey.count == 16 else { throw PowerAuthDeviceError.invalidState("the stored knowledge key is malformed") }
        var block = Array(encryptedKey)
        try AES.inversePermute(&block, key: try Self.pinKey(pin, salt: salt, iterations: iterations))
        return block
    }

    private static func pinKey(_ pin: String, salt: Data, iterations: Int) throws -> SymmetricKey {
        guard !pin.isEmpty else { throw PowerAuthDeviceError.pinRequired }
        return try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(pin.utf8), salt: salt, using: .sha256, outputByteCount: 32, rounds: iterations)
    }
}

/// Everything a phone keeps about one activation (the PowerAuth SDK's "activation data").
///
/// Keys are raw bytes (Base64 in JSON). The PIN is never stored; the knowledge key only under it.
public struct PowerAuthActivationRecord: Codable, Sendable, Equatable {
    public var configuration: PowerAuthDeviceConfiguration
    public var activationID: String
    /// `KEY_DEVICE_PRIVATE`, the raw 32-byte P-256 scalar.
    public var devicePrivateKey: Data
    /// `KEY_SERVER_PUBLIC`, an uncompressed SEC1 point.
    public var serverPublicKey: Data
    /// `KEY_SIGNATURE_POSSESSION`.
    public var possessionKey: Data
    /// `KEY_SIGNATURE_KNOWLEDGE`, under the PIN.
    public var knowledgeKey: PowerAuthProtectedKnowledgeKey
    /// `KEY_SIGNATURE_BIOMETRY` (a phone keeps it behind the biometric sensor; a simulator cannot).
    public var biometryKey: Data
    /// `KEY_TRANSPORT`: activation-scope ECIES, status blob, counter hash.
    public var transportKey: Data
    /// `KEY_ENCRYPTION_VAULT` (KDF index 2000 of the master secret): what `/pa/v3/vault/unlock`
    /// sends back, kept here to check that answer.
    public var vaultKey: Data
    /// `CTR_DATA`: the next hash-based counter value to sign with.
    public var counterData: Data
    /// How many counter values this phone has used (informational; the hash chain is what counts).
    public var counter: Int
    /// The 8-digit fingerprint shown to the user at activation.
    public var fingerprint: String
    /// MAC tokens by id: their 16-byte secrets.
    public var tokens: [String: Data]

    public init(
        configuration: PowerAuthDeviceConfiguration, activationID: String, devicePrivateKey: Data, serverPublicKey: Data,
        possessionKey: Data, knowledgeKey: PowerAuthProtectedKnowledgeKey, biometryKey: Data, transportKey: Data, vaultKey: Data,
        counterData: Data, counter: Int = 0, fingerprint: String, tokens: [String: Data] = [:]
    ) {
        self.configuration = configuration
        self.activationID = activationID
        self.devicePrivateKey = devicePrivateKey
        self.serverPublicKey = serverPublicKey
        self.possessionKey = possessionKey
        self.knowledgeKey = knowledgeKey
        self.biometryKey = biometryKey
        self.transportKey = transportKey
        self.vaultKey = vaultKey
        self.counterData = counterData
        self.counter = counter
        self.fingerprint = fingerprint
        self.tokens = tokens
    }
}

/// Where a phone keeps its activations. On a real phone this is the Keychain / Keystore; the
/// SDK on Linux (the simulator, tests) uses ``FilePowerAuthActivationStore``.
///
/// `save` must be durable before it returns: the phone persists a moved counter *before* the
/// signature leaves the device, so a crash can never make it sign twice with one counter value.
public protocol PowerAuthActivationStore: Sendable {
    func load(activationID: String) throws -> PowerAuthActivationRecord?
    func save(_ record: PowerAuthActivationRecord) throws
    func delete(activationID: String) throws
}

/// One JSON file per activation (mode 0600) in a directory (mode 0700), replaced atomically.
/// For simulators and tests only: a file is not hardware-backed.
public struct FilePowerAuthActivationStore: PowerAuthActivationStore {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    private func path(_ activationID: String) throws -> URL {
        guard !activationID.isEmpty, activationID.utf8.count <= 128,
            activationID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { throw CocoaError(.fileWriteInvalidFileName) }
        return directory.appendingPathComponent("\(activationID).json")
    }

    public func load(activationID: String) throws -> PowerAuthActivationRecord? {
        let url = try path(activationID)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        return try JSONDecoder().decode(PowerAuthActivationRecord.self, from: data)
    }

    /// Writes a 0600 temporary file next to the target, then renames it over the target, so a
    /// reader sees the old or the new record, never half of one.
    public func save(_ record: PowerAuthActivationRecord) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let url = try path(record.activationID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(record)
        let temporary = directory.appendingPathComponent(".\(record.activationID).\(UUID().uuidString).tmp")
        do {
            try Self.writeDurably(data, to: temporary.path)
            guard rename(temporary.path, url.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Creates the file with mode 0600 from the first byte (no window with the umask's mode),
    /// writes everything and fsyncs before closing (`SecretFile`, shared with the other key files).
    private static func writeDurably(_ data: Data, to path: String) throws {
        try SecretFile.writeExclusively(Array(data), to: path)
    }

    public func delete(activationID: String) throws {
        let url = try path(activationID)
        if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
    }
}
