import Foundation
import StrongAuthProtocol

/// How a user answers a login or scenario challenge (the ABN AMRO login protocol's `accessToolUsage`).
public enum AccessToolUsage: String, Sendable, CaseIterable {
    /// The identification code, RSA-encrypted per the public soft-token scheme.
    case softToken = "SOFTTOKEN"
    /// A device bound with a P-256 key (docs/devices.md), unlocked by the user's PIN on the phone.
    case boundDeviceUserPIN = "BOUNDDEVICE_USERPIN"
    /// The same, unlocked by biometry.
    case boundDeviceTouchIDPIN = "BOUNDDEVICE_TOUCHIDPIN"

    /// The counted factor this usage belongs to.
    public var tool: AccessTool {
        self == .softToken ? .softToken : .boundDevice
    }

    /// The ABN AMRO API's `challengeDeviceDetails` for this usage.
    public var challengeDeviceDetails: String {
        switch self {
        case .softToken: SoftTokenScheme.challengeDeviceDetails
        case .boundDeviceUserPIN: BoundDeviceScheme.userPINDetails
        case .boundDeviceTouchIDPIN: BoundDeviceScheme.touchIDPINDetails
        }
    }
}

/// An access tool whose wrong answers are counted on their own (PSD2 RTS art. 4: per factor, so
/// guessing identification codes cannot block the user's phone). All bound devices of a user
/// share one counter.
public enum AccessTool: String, Sendable, CaseIterable {
    case softToken = "SOFTTOKEN"
    case boundDevice = "BOUNDDEVICE"
}

/// A user's ABN AMRO login identity: account and card number, and the identification code of
/// the soft token, stored only as a keyed hash.
public struct LoginIdentity: Sendable, Equatable {
    public var userID: String
    /// Ten digits, zero-padded (`0562813888`).
    public var accountNumber: String
    /// Decimal digits without leading zeros (`23`).
    public var cardNumber: String
    /// HMAC-SHA256 of `"<userID>:<code>"` under a key derived from the master key; `nil` when
    /// the user has no soft token.
    public var identificationCodeHash: String?
    /// When the user last logged in successfully.
    public var lastLogonAt: Date?

    public init(userID: String, accountNumber: String, cardNumber: String, identificationCodeHash: String?, lastLogonAt: Date? = nil) {
        self.userID = userID
        self.accountNumber = accountNumber
        self.cardNumber = cardNumber
        self.identificationCodeHash = identificationCodeHash
        self.lastLogonAt = lastLogonAt
    }

    /// The ABN AMRO API's `userId`: `ACCOUNT_CARD`, e.g. `0562813888_23`.
    public var loginUserID: String { "\(accountNumber)_\(cardNumber)" }
}

/// A server-side session, referenced by a cookie whose token is stored only as a keyed hash.
///
/// ```
/// anonymous ──(correct login response; token rotated)──▶ authorized ──(DELETE /session)──▶ ended
///     │                                                    │  ▲ (handover: re-authorized, token rotated)
///     └──────────(idle ≥ 5 min: gone)──────────────────────┴──┘
/// ```
/// Idleness is not a stored status: a session is live while `lastSeenAt` is within the idle
/// timeout, checked in the same conditional update that slides it.
public struct LoginSession: Sendable, Equatable {
    public enum Status: String, Sendable {
        case anonymous
        case authorized
        case ended
    }

    public var id: String
    public var status: Status
    public var userID: String?
    public var accessToolUsage: AccessToolUsage?
    /// The bound device that authorized the session, for `BOUNDDEVICE_*`.
    public var deviceID: String?
    /// The ABN AMRO API's `lastLogonDate`: the user's previous logon (this one for a first logon),
    /// rounded down to the minute.
    public var lastLogonDate: Date?
    public var createdAt: Date
    public var lastSeenAt: Date
    public var authorizedAt: Date?

    public init(
        id: String, status: Status, userID: String? = nil, accessToolUsage: AccessToolUsage? = nil, deviceID: String? = nil,
        lastLogonDate: Date? = nil, createdAt: Date, lastSeenAt: Date, authorizedAt: Date? = nil
    ) {
        self.id = id
        self.status = status
        self.userID = userID
        self.accessToolUsage = accessToolUsage
        self.deviceID = deviceID
        self.lastLogonDate = lastLogonDate
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.authorizedAt = authorizedAt
    }
}

/// A login, handover or scenario challenge, bound to the session that asked for it.
///
/// ```
/// open ──(first answer, right or wrong)──▶ used        expired: expiresAt passed (decided in the query)
/// ```
/// One answer per handle: a replayed handle is refused (and not counted against the tool).
public struct LoginChallenge: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case login
        case handover
        case scenario
    }

    public enum Status: String, Sendable {
        case open
        case used
    }

    /// The ABN AMRO API's `challengeHandle`: 18 random decimal digits.
    public var handle: String
    public var kind: Kind
    public var sessionID: String
    public var userID: String
    public var accessToolUsage: AccessToolUsage
    public var deviceID: String?
    /// Fields 2 and 3 of the challenge (8 + 4 random bytes); not secret.
    public var nonce: [UInt8]
    public var scenarioName: String?
    /// Hex SHA-256 of the scenario the challenge signs.
    public var scenarioHash: String?
    public var status: Status
    public var createdAt: Date
    public var expiresAt: Date

    public init(
        handle: String, kind: Kind, sessionID: String, userID: String, accessToolUsage: AccessToolUsage, deviceID: String?,
        nonce: [UInt8], scenarioName: String? = nil, scenarioHash: String? = nil, status: Status = .open, createdAt: Date,
        expiresAt: Date
    ) {
        self.handle = handle
        self.kind = kind
        self.sessionID = sessionID
        self.userID = userID
        self.accessToolUsage = accessToolUsage
        self.deviceID = deviceID
        self.nonce = nonce
        self.scenarioName = scenarioName
        self.scenarioHash = scenarioHash
        self.status = status
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

extension LoginChallenge {
    /// The nonce as stored: hex.
    public var nonceHex: String { Hex.encode(nonce) }

    /// A stored nonce; empty (matching nothing) when the column is not hex.
    public static func nonce(hex: String) -> [UInt8] { Hex.decode(hex) ?? [] }
}

/// The account and card numbers of the ABN AMRO login protocol, normalised so that `562813888` (finAPI-style,
/// without the leading zero, as a JSON number) and `"0562813888"` name the same account.
public enum LoginNumbers {
    /// 1–10 digits → ten digits, zero-padded; `nil` for anything else.
    public static func account(_ raw: String) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard (1...10).contains(trimmed.utf8.count), trimmed.utf8.allSatisfy(isDigit) else { return nil }
        return String(repeating: "0", count: 10 - trimmed.utf8.count) + trimmed
    }

    /// 1–5 digits → without leading zeros (`"023"` → `"23"`); `nil` for anything else.
    public static func card(_ raw: String) -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard (1...5).contains(trimmed.utf8.count), trimmed.utf8.allSatisfy(isDigit) else { return nil }
        let stripped = trimmed.drop(while: { $0 == "0" })
        return stripped.isEmpty ? "0" : String(stripped)
    }

    /// Exactly five digits: the ABN AMRO API's identification code.
    public static func isIdentificationCode(_ raw: String) -> Bool {
        raw.utf8.count == 5 && raw.utf8.allSatisfy(isDigit)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
}
