import Foundation
import StrongAuthProtocol

/// Why an administrative request was refused. `field` names the offending input.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// Creating and deleting clients and users: the use cases behind the CLI, `/api/v2/users` and
/// (later) the admin API. Every change is audited.
public struct AdministrationService: Sendable {
    public typealias Repositories = ClientRepository & UserRepository & AuditLog & RealmRepository

    private let store: any Repositories
    private let secretHasher: KeyedHash
    private let passwordHasher: any PasswordHasher
    private let time: any TimeSource
    /// Seals clients' webhook secrets.
    private let masterKey: MasterKey

    public init(
        store: any Repositories, secretHasher: KeyedHash, passwordHasher: any PasswordHasher, masterKey: MasterKey, time: any TimeSource
    ) {
        self.store = store
        self.masterKey = masterKey
        self.secretHasher = secretHasher
        self.passwordHasher = passwordHasher
        self.time = time
    }

    /// A new client and its secret. The secret (256 random bits) is returned once and stored only
    /// as a keyed hash; a public client and a private_key_jwt client have none (the empty string
    /// is returned, and the stored hash matches no secret). With a webhook URL, also a webhook secret (returned once, stored
    /// sealed) that signs the client's action request callbacks.
    public func createClient(
        id: String, name: String?, scopes: Scopes, grants: Set<GrantType>, webhookURL: String? = nil,
        isResourceServer: Bool = false, realm: String = Realm.defaultID, registration: ClientRegistration = .init(), actor: String
    ) async throws -> (client: OAuthClient, secret: String, webhookSecret: String?) {
        try Validate.identifier(id, field: "id")
        try await requireRealm(realm)
        guard !grants.isEmpty else { throw ValidationError(field: "grants", message: "at least one grant is required") }
        try registration.validate(grants: grants)
        if let webhookURL { try WebhookService.validate(url: webhookURL, field: "webhookUrl") }
        // A public client has no credential and a private_key_jwt client proves itself with its
        // keys only (one registered method, RFC 7591 §2 token_endpoint_auth_method).
        let hasSecret = !registration.isPublic && registration.jwks == nil
        let secret = hasSecret ? SecureRandom.token(prefix: SecretPrefix.clientSecret) : ""
        let webhookSecret = try webhookURL.map { _ in try WebhookService.newSecret(for: .client(id), masterKey: masterKey) }
        let now = time.now()
        let client = OAuthClient(
            id: id, name: name ?? id, secretHash: hasSecret ? secretHasher.hash(secret) : "", grants: grants,
            scopes: scopes, createdAt: now, webhookURL: webhookURL, sealedWebhookSecret: webhookSecret?.sealed,
            isResourceServer: isResourceServer, realmID: realm, redirectURIs: registration.redirectURIs,
            isPublic: registration.isPublic, jwks: registration.jwks, requiresDPoP: registration.requiresDPoP,
            requiresPushedAuthorizationRequests: registration.requiresPushedAuthorizationRequests,
            defaultACR: registration.defaultACR)
        try await store.insertClient(client)
        var details = [
            "grants": grants.map(\.rawValue).sorted().joined(separator: " "), "scopes": scopes.wire,
            "resource_server": String(isResourceServer),
        ]
        if registration != ClientRegistration() {
            details["redirect_uris"] = registration.redirectURIs.joined(separator: " ")
            details["public"] = String(registration.isPublic)
            details["private_key_jwt"] = String(registration.jwks != nil)
            details["dpop_required"] = String(registration.requiresDPoP)
            details["require_par"] = String(registration.requiresPushedAuthorizationRequests)
            if let acr = registration.defaultACR { details["acr"] = acr }
        }
        try await store.append(
            AuditRecord(actor: actor, action: .clientCreated, subject: "client:\(id)", outcome: .success, details: details), at: now)
        return (client, secret, webhookSecret?.secret)
    }

    /// A new user with a slow-hashed password. `password` nil generates one (returned once).
    public func createUser(
        username: String, password: String?, phone: String?, email: String?, ownerClientID: String?, realm: String = Realm.defaultID,
        actor: String
    ) async throws -> (user: User, password: String) {
        let (user, password) = try await newUser(
            username: username, password: password, phone: phone, email: email, ownerClientID: ownerClientID, realm: realm)
        try await store.insertUser(user)
        try await store.append(
            AuditRecord(actor: actor, action: .userCreated, subject: "user:\(user.id)", outcome: .success), at: user.createdAt)
        return (user, password)
    }

    /// A validated user with a slow-hashed password, not yet stored: for use cases that store the
    /// user together with more rows in one transaction (a login identity).
    public func newUser(
        username: String, password: String?, phone: String?, email: String?, ownerClientID: String?, realm: String = Realm.defaultID
    ) async throws -> (user: User, password: String) {
        try Validate.username(username)
        try await requireRealm(realm)
        let password = password ?? SecureRandom.token(prefix: "", byteCount: 18)
        try Validate.password(password)
        if let phone { try Validate.phone(phone) }
        if let email { try Validate.email(email) }
        let user = User(
            id: SecureRandom.uuid(), username: username, passwordHash: try await passwordHasher.hash(password),
            phone: phone, email: email, ownerClientId: ownerClientID, createdAt: time.now(), realmID: realm)
        return (user, password)
    }

    /// `strongauth realms create --id ID`: a new, empty realm.
    public func createRealm(id: String, actor: String) async throws {
        guard Realm.isValid(id: id) else {
            throw ValidationError(field: "id", message: "1–64 characters of a–z, 0–9, '-' and '_'")
        }
        let now = time.now()
        try await store.insertRealm(id: id, at: now)
        try await store.append(
            AuditRecord(actor: actor, action: .realmCreated, subject: "realm:\(id)", outcome: .success, realm: id), at: now)
    }

    /// Refuses a realm that does not exist: an object created in a mistyped realm would be
    /// invisible to everything meant to find it.
    public func requireRealm(_ id: String) async throws {
        guard try await store.realmExists(id: id) else { throw ValidationError(field: "realm", message: "no realm '\(id)'") }
    }

    /// Deletes a user and everything bound to it; `false` if there was no such user. `via` names
    /// the face that asked (`self-service`) in the audit record.
    @discardableResult
    public func deleteUser(id: String, actor: String, source: String?, via: String? = nil) async throws -> Bool {
        // Read before the user is gone: the record then still belongs to the user's realm.
        let user = try await store.user(id: id)
        let deleted = try await store.deleteUser(id: id)
        if deleted {
            var details: [String: String] = [:]
            if let via { details["via"] = via }
            if let username = user?.username { details["username"] = username }
            try await store.append(
                AuditRecord(
                    actor: actor, action: .userDeleted, subject: "user:\(id)", sourceAddress: source, outcome: .success,
                    details: details, realm: user?.realmID),
                at: time.now())
        }
        return deleted
    }
}

/// Input rules shared by every face.
public enum Validate {
    /// Client ids and similar: 1–128 of `A–Z a–z 0–9 . _ ~ -` (RFC 3986 unreserved).
    public static func identifier(_ value: String, field: String) throws {
        guard (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({
                isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "-")
            })
        else { throw ValidationError(field: field, message: "must be 1–128 characters of A–Z, a–z, 0–9, '.', '_', '~', '-'") }
    }

    /// Usernames: 1–128 printable characters without whitespace.
    public static func username(_ value: String) throws {
        guard (1...128).contains(value.utf8.count), value.unicodeScalars.allSatisfy(isPrintableWithoutSpace)
        else { throw ValidationError(field: "username", message: "must be 1–128 printable characters without spaces") }
    }

    /// Neither white space nor a control or format character. ASCII (nearly every name) is decided
    /// by its range — `!`…`~` is exactly the ASCII that passes the general test — without building
    /// Foundation's character set per character.
    static func isPrintableWithoutSpace(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return (0x21...0x7E).contains(scalar.value) }
        return !scalar.properties.isWhitespace && !controlCharacters.contains(scalar)
    }

    private static let controlCharacters = CharacterSet.controlCharacters

    /// Passwords: 6–72 UTF-8 bytes (bcrypt reads at most 72 bytes; longer would be silently truncated).
    public static func password(_ value: String) throws {
        guard (6...72).contains(value.utf8.count) else {
            throw ValidationError(field: "password", message: "must be 6–72 bytes long")
        }
    }

    /// Phone numbers: up to 32 of `+ 0–9 space - ( ) /`, with at least 5 digits.
    public static func phone(_ value: String) throws {
        let allowed = Set("+0123456789 -()/")
        guard value.count <= 32, value.allSatisfy({ allowed.contains($0) }), value.filter(\.isNumber).count >= 5 else {
            throw ValidationError(field: "phone", message: "must be a phone number such as +49 151 12345678")
        }
    }

    /// Phone numbers a user sets in self-service: E.164 (`+`, a country code not starting with 0,
    /// at most 15 digits, no separators), so the SMS gateway gets exactly one spelling of a number.
    public static func e164Phone(_ value: String) throws {
        let digits = value.dropFirst()
        guard value.first == "+", (7...15).contains(digits.count), digits.first != "0",
            digits.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) })
        else { throw ValidationError(field: "phone", message: "must be an international number such as +4915112345678") }
    }

    /// E-mail addresses: a plausibility check only (`local@domain`, ≤ 254 bytes).
    public static func email(_ value: String) throws {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard value.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !value.contains(where: { $0.isWhitespace })
        else { throw ValidationError(field: "email", message: "must be an e-mail address") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
