/// Why authenticator data was refused.
public enum AuthenticatorDataError: Error, Equatable, CustomStringConvertible {
    /// Shorter than the 37 fixed bytes, or shorter than the attested credential data it announces.
    case truncated
    /// Bytes left over after everything the flags announce.
    case trailingBytes
    /// The credential ID is longer than WebAuthn's 1023 bytes.
    case credentialIDTooLong(Int)
    /// The credential public key or the extensions are not valid CBOR.
    case invalidCBOR(CBORError)
    /// The extensions are not a CBOR map.
    case extensionsNotAMap
    /// BS (backed up) without BE (backup eligible) cannot happen on a real authenticator.
    case backupStateWithoutEligibility

    public var description: String {
        switch self {
        case .truncated: "authenticator data is truncated"
        case .trailingBytes: "authenticator data has trailing bytes"
        case .credentialIDTooLong(let length): "credential ID of \(length) bytes (at most 1023)"
        case .invalidCBOR(let error): "authenticator data CBOR refused: \(error)"
        case .extensionsNotAMap: "authenticator extensions are not a map"
        case .backupStateWithoutEligibility: "backup state set without backup eligibility"
        }
    }
}

/// The authenticator data of WebAuthn §6.1: what the authenticator itself signs.
public struct AuthenticatorData: Sendable, Equatable {
    /// The flags byte (WebAuthn §6.1, bit numbers in the comments).
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// Bit 0: the user touched the authenticator.
        public static let userPresent = Flags(rawValue: 0x01)
        /// Bit 2: the authenticator verified the user (PIN, biometrics).
        public static let userVerified = Flags(rawValue: 0x04)
        /// Bit 3: the credential may be synced (a multi-device passkey).
        public static let backupEligible = Flags(rawValue: 0x08)
        /// Bit 4: the credential is currently backed up.
        public static let backupState = Flags(rawValue: 0x10)
        /// Bit 6: attested credential data follows.
        public static let attestedCredentialData = Flags(rawValue: 0x40)
        /// Bit 7: extension data follows.
        public static let extensionData = Flags(rawValue: 0x80)
    }

    /// Present when the AT flag is set (registration).
    public struct AttestedCredential: Sendable, Equatable {
        public var aaguid: [UInt8]
        public var credentialID: [UInt8]
        /// The COSE_Key exactly as encoded, for storage and later verification.
        public var publicKeyBytes: [UInt8]
    }

    public static let maximumCredentialIDLength = 1023

    /// The exact bytes, which signatures cover.
    public let bytes: [UInt8]
    public let rpIDHash: [UInt8]
    public let flags: Flags
    public let signCount: UInt32
    public let attestedCredential: AttestedCredential?
    public let extensions: CBORValue?

    public init(bytes: [UInt8]) throws(AuthenticatorDataError) {
        guard bytes.count >= 37 else { throw .truncated }
        self.bytes = bytes
        rpIDHash = Array(bytes[0..<32])
        flags = Flags(rawValue: bytes[32])
        signCount = bytes[33..<37].reduce(0) { $0 << 8 | UInt32($1) }
        guard !flags.contains(.backupState) || flags.contains(.backupEligible) else { throw .backupStateWithoutEligibility }
        var offset = 37
        if flags.contains(.attestedCredentialData) {
            guard bytes.count >= offset + 18 else { throw .truncated }
            let aaguid = Array(bytes[offset..<offset + 16])
            let idLength = Int(bytes[offset + 16]) << 8 | Int(bytes[offset + 17])
            offset += 18
            guard idLength <= Self.maximumCredentialIDLength else { throw .credentialIDTooLong(idLength) }
            guard bytes.count >= offset + idLength else { throw .truncated }
            let credentialID = Array(bytes[offset..<offset + idLength])
            offset += idLength
            let keyLength: Int
            do {
                keyLength = try CBOR.decodePrefix(Array(bytes[offset...])).length
            } catch {
                throw .invalidCBOR(error)
            }
            attestedCredential = AttestedCredential(
                aaguid: aaguid, credentialID: credentialID, publicKeyBytes: Array(bytes[offset..<offset + keyLength]))
            offset += keyLength
        } else {
            attestedCredential = nil
        }
        if flags.contains(.extensionData) {
            let value: CBORValue
            do {
                value = try CBOR.decode(Array(bytes[offset...]))
            } catch {
                // An empty remainder is "truncated", not a CBOR error at offset 0.
                if offset == bytes.count { throw .truncated }
                throw .invalidCBOR(error)
            }
            guard value.mapEntries != nil else { throw .extensionsNotAMap }
            extensions = value
        } else {
            guard offset == bytes.count else { throw .trailingBytes }
            extensions = nil
        }
    }
}
