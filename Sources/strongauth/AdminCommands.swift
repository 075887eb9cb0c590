import ArgumentParser
import Foundation
import StrongAuthCore
import StrongAuthServer

/// `strongauth clients …`
struct ClientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients", abstract: "Manage OAuth clients.",
        subcommands: [
            Create.self, ListCommand<ClientKind>.self, ShowCommand<ClientKind>.self, SwitchCommand<ClientKind, Disable>.self,
            SwitchCommand<ClientKind, Enable>.self, DeleteCommand<ClientKind>.self, RotateCommand<ClientKind>.self,
        ])

    /// `strongauth clients create --id … --scopes … --grants …`
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a client. Prints its secret once (a --public client has none).")

        @OptionGroup var common: CommonOptions
        @Option(help: "Client id (A–Z a–z 0–9 . _ ~ -).") var id: String
        @Option(help: "Display name (default: the id).") var name: String?
        @Option(help: "Allowed scopes, comma- or space-separated.") var scopes: String = ""
        @Option(help: "Allowed grants: authorization_code,client_credentials,password,refresh_token.")
        var grants: String = "client_credentials"
        @Option(help: "Where action request status changes are POSTed (signed with the printed webhookSecret).")
        var webhookURL: String?
        @Flag(help: "A resource server: may introspect tokens issued to other clients (otherwise only its own).")
        var introspect = false
        @Option(help: "The realm (tenant) it belongs to; must exist (strongauth realms create).") var realm: String = Realm.defaultID
        @Option(name: .customLong("redirect-uri"), help: "A redirect URI for the authorization endpoint, matched exactly (repeatable).")
        var redirectURIs: [String] = []
        @Flag(name: .customLong("public"), help: "A public client (native or browser app): no secret; PKCE and DPoP carry the proof.")
        var isPublic = false
        @Option(help: "A file holding the client's JWK Set, for private_key_jwt client authentication (RFC 7523).")
        var jwks: String?
        @Flag(help: "Every token request must carry a DPoP proof; its tokens are bound to that key (RFC 9449).")
        var dpopRequired = false
        @Flag(help: "Authorization requests must be pushed to /oauth/par first (RFC 9126).")
        var requirePar = false
        @Option(help: "The assurance of its logins when a request names none: urn:strongauth:acr:1fa or urn:strongauth:acr:2fa.")
        var acr: String?

        func run() async throws {
            let grantNames = Self.list(grants)
            let parsedGrants = try grantNames.map { name in
                guard let grant = GrantType(rawValue: name) else {
                    throw ValidationError(
                        "unknown grant '\(name)'; use \(GrantType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return grant
            }
            guard let scopeSet = Scopes(parsing: Self.list(scopes).joined(separator: " ")) else {
                throw ValidationError("invalid scope characters")
            }
            var jwksText: String?
            if let jwks {
                guard let data = FileManager.default.contents(atPath: jwks), let text = String(data: data, encoding: .utf8) else {
                    throw ValidationError("cannot read the JWK Set file '\(jwks)'")
                }
                jwksText = text
            }
            let registration = ClientRegistration(
                redirectURIs: redirectURIs, isPublic: isPublic, jwks: jwksText, requiresDPoP: dpopRequired,
                requiresPushedAuthorizationRequests: requirePar, defaultACR: acr)
            let (id, name, webhookURL, introspect, realm) = (id, name, webhookURL, introspect, realm)
            let created = try await withRuntime(common) { runtime in
                do {
                    return try await runtime.administration.createClient(
                        id: id, name: name, scopes: scopeSet, grants: Set(parsedGrants), webhookURL: webhookURL,
                        isResourceServer: introspect, realm: realm, registration: registration, actor: "operator:cli")
                } catch let error as StoreError {
                    // A deleted client's id stays taken, so none of its tokens can come back (docs/admin-api.md).
                    throw ValidationError("\(error) (the ids of deleted clients are never reused too; see `strongauth clients list`)")
                }
            }
            var output: [String: Any] = [
                "clientId": created.client.id, "clientSecret": created.secret, "name": created.client.name, "realm": created.client.realmID,
                "scopes": created.client.scopes.values.sorted(), "grants": created.client.grants.map(\.rawValue).sorted(),
                "resourceServer": created.client.isResourceServer,
            ]
            if created.secret.isEmpty { output["clientSecret"] = nil }
            if created.client.isPublic { output["public"] = true }
            if !created.client.redirectURIs.isEmpty { output["redirectUris"] = created.client.redirectURIs }
            if created.client.jwks != nil { output["tokenEndpointAuthMethod"] = "private_key_jwt" }
            if created.client.requiresDPoP { output["dpopRequired"] = true }
            if created.client.requiresPushedAuthorizationRequests { output["requirePushedAuthorizationRequests"] = true }
            if let acr = created.client.defaultACR { output["acr"] = acr }
            if let url = created.client.webhookURL, let secret = created.webhookSecret {
                output["webhookUrl"] = url
                output["webhookSecret"] = secret
            }
            try printJSON(output)
        }

        static func list(_ value: String) -> [String] {
            value.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        }
    }
}

/// `strongauth realms …`: tenants (docs/security-model.md).
struct RealmsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realms", abstract: "Manage realms (tenants): each owns its users, clients, applications and operators.",
        subcommands: [Create.self])

    /// `strongauth realms create --id ID`
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an empty realm. Create its clients, users, apps, integration users and operators with --realm ID.")

        @OptionGroup var common: CommonOptions
        @Option(help: "Realm id (a–z 0–9 - _, at most 64).") var id: String

        func run() async throws {
            let id = id
            try await withRuntime(common) { runtime in
                try await runtime.administration.createRealm(id: id, actor: "operator:cli")
            }
            try printJSON(["id": id])
        }
    }
}

/// `strongauth users …`
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage end users.",
        subcommands: [
            Create.self, UnblockAccessTool.self, ListCommand<UserKind>.self, ShowCommand<UserKind>.self, SwitchCommand<UserKind, Lock>.self,
            SwitchCommand<UserKind, Unlock>.self, DeleteCommand<UserKind>.self,
        ])

    /// `strongauth users create --username … --password … --phone …`
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user. A generated password is printed once.")

        @OptionGroup var common: CommonOptions
        @Option(help: "Username (login name).") var username: String
        @Option(help: "Password (6–72 bytes); generated when omitted.") var password: String?
        @Option(help: "Phone number for SMS one-time passwords, e.g. +4915112345678.") var phone: String?
        @Option(help: "E-mail address.") var email: String?
        @Option(help: "ABN AMRO-style login (ABN AMRO login protocol): the account number, the IBAN part after the bank code.") var account: String?
        @Option(help: "The card number of that login (with --account).") var card: String?
        @Option(
            name: .customLong("identification-code"),
            help: "The soft token's 5-digit identification code (with --account; stored only as a keyed hash).")
        var identificationCode: String?
        @Option(help: "The realm (tenant) it belongs to; must exist (strongauth realms create).") var realm: String = Realm.defaultID

        func validate() throws {
            if (account == nil) != (card == nil) { throw ValidationError("--account and --card go together") }
            if identificationCode != nil, account == nil { throw ValidationError("--identification-code needs --account and --card") }
        }

        func run() async throws {
            let (username, password, phone, email) = (username, password, phone, email)
            let (account, card, identificationCode, realm) = (account, card, identificationCode, realm)
            let created = try await withRuntime(common) { runtime in
                if let account, let card {
                    let created = try await runtime.sessions.createUser(
                        username: username, password: password, phone: phone, email: email, accountNumber: account, cardNumber: card,
                        identificationCode: identificationCode, realm: realm, actor: "operator:cli")
                    return (created.user, created.password, Optional(created.identity))
                }
                let created = try await runtime.administration.createUser(
                    username: username, password: password, phone: phone, email: email, ownerClientID: nil, realm: realm,
                    actor: "operator:cli")
                return (created.user, created.password, LoginIdentity?.none)
            }
            let (user, generatedPassword, identity) = created
            var output: [String: Any] = ["id": user.id, "username": user.username, "realm": user.realmID]
            if let phone = user.phone { output["phone"] = phone }
            if let email = user.email { output["email"] = email }
            if password == nil { output["password"] = generatedPassword }
            if let identity {
                output["accountNumber"] = identity.accountNumber
                output["cardNumber"] = identity.cardNumber
                output["loginUserId"] = identity.loginUserID
                output["softToken"] = identity.identificationCodeHash != nil
            }
            try printJSON(output)
        }
    }

    /// `strongauth users unblock-access-tool --account … --card … [--tool SOFTTOKEN|BOUNDDEVICE]`
    struct UnblockAccessTool: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unblock-access-tool",
            abstract: "Give a login access tool blocked after wrong responses its attempts back (ABN AMRO login protocol).")

        @OptionGroup var common: CommonOptions
        @Option(help: "The account number of the login.") var account: String
        @Option(help: "The card number of the login.") var card: String
        @Option(help: "SOFTTOKEN or BOUNDDEVICE (all bound devices share one counter).") var tool: String = "SOFTTOKEN"

        func run() async throws {
            guard let accessTool = AccessTool(rawValue: tool.uppercased()) else {
                throw ValidationError("--tool must be SOFTTOKEN or BOUNDDEVICE")
            }
            let (account, card) = (account, card)
            let result = try await withRuntime(common) { runtime in
                try await runtime.sessions.unblockAccessTool(
                    accountNumber: account, cardNumber: card, tool: accessTool, actor: "operator:cli")
            }
            try printJSON([
                "userId": result.identity.userID, "loginUserId": result.identity.loginUserID, "accessTool": accessTool.rawValue,
                "attemptsLeft": result.attemptsLeft,
            ])
        }
    }
}

/// `strongauth audit verify`: checks the audit log's hash chain end to end.
/// `strongauth audit failures`: failed authentications counted per window (SECURITY.md).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Inspect the audit log.", subcommands: [Verify.self, Failures.self])

    /// Failed authentications of unauthenticated callers are counted per window and source, not
    /// chained one by one; this shows the windows still counting (every realm) and the latest
    /// records they were sealed into (one realm: the chain's records carry `count`).
    struct Failures: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show failed authentications counted per window: those still counting, and the latest sealed into the chain.")

        @OptionGroup var common: CommonOptions
        @Option(help: "The realm whose sealed records are shown.") var realm: String = Realm.defaultID
        @Option(help: "At most this many of each.") var limit: Int = 50

        func run() async throws {
            let limit = max(1, min(limit, 1000))
            let realm = realm
            let (open, sealed) = try await withRuntime(common) { runtime in
                // Sealed first: a window sealed between the two reads then shows in neither list for
                // a moment, never in both (read the other way round it could be counted twice).
                let failures = try await runtime.store.recentAuditEvents(realm: realm, subject: nil, failuresOnly: true, before: nil, limit: 1000)
                let open = try await runtime.store.openFailureWindows(realm: nil, limit: limit)
                return (open, Array(failures.filter { $0.record.details["count"] != nil }.prefix(limit)))
            }
            func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
            try printJSON([
                "open": open.map { count -> [String: Any] in
                    [
                        "windowStart": iso(count.windowStart), "windowEnd": iso(count.windowEnd), "realm": count.realm ?? NSNull(),
                        "action": count.action.rawValue, "actor": count.actor, "subject": count.subject ?? NSNull(),
                        "sourceAddress": count.sourceAddress ?? NSNull(), "reason": count.reason, "count": count.count,
                        "firstSeen": iso(count.firstSeen), "lastSeen": iso(count.lastSeen),
                    ]
                },
                "sealed": sealed.map { event -> [String: Any] in
                    [
                        "sequence": event.sequence, "action": event.record.action.rawValue, "actor": event.record.actor,
                        "subject": event.record.subject ?? NSNull(), "sourceAddress": event.record.sourceAddress ?? NSNull(),
                        "count": Int(event.record.details["count"] ?? "") ?? 0, "reason": event.record.details["reason"] ?? NSNull(),
                        "windowStart": event.record.details["window_start"] ?? NSNull(), "windowEnd": event.record.details["window_end"] ?? NSNull(),
                    ]
                },
            ])
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify the audit log's hash chain.")

        @OptionGroup var common: CommonOptions
        @Option(
            help: """
                Report in this realm's view, for its auditor: its own events' count and position, no global sequence numbers \
                (the chain numbers every realm's events). Without it: the installation's view.
                """)
        var realm: String?

        func run() async throws {
            if let realm {
                let result = try await withRuntime(common) { runtime in
                    try await AuditVerification.verifyAll(runtime.store, realm: realm)
                }
                switch result {
                case .intact(let events):
                    try printJSON(["intact": true, "realm": realm, "realmEvents": events])
                case .brokenAtRealmEvent(let position, let occurredAt, let reason):
                    try printJSON([
                        "intact": false, "realm": realm, "brokenAtRealmEvent": position,
                        "occurredAt": ISO8601DateFormatter().string(from: occurredAt), "reason": reason,
                    ])
                    throw ExitCode(1)
                case .brokenOutsideRealm:
                    try printJSON(["intact": false, "realm": realm, "brokenOutsideRealm": true])
                    throw ExitCode(1)
                }
                return
            }
            let result = try await withRuntime(common) { runtime in
                try await AuditVerification.verifyAll(runtime.store)
            }
            switch result {
            case .intact(let events):
                try printJSON(["intact": true, "events": events])
            case .broken(let sequence, let reason):
                try printJSON(["intact": false, "brokenAt": sequence, "reason": reason])
                throw ExitCode(1)
            }
        }
    }
}

/// `strongauth keys …`
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage the token-signing keys and the master key.",
        subcommands: [Rotate.self, NewMaster.self, RotateMaster.self])

    /// `strongauth keys rotate`: a new active signing key; the old one keeps verifying.
    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rotate the token-signing key without downtime: the new key signs, the old keeps verifying its tokens.")

        @OptionGroup var common: CommonOptions

        func run() async throws {
            let rotated = try await withRuntime(common) { runtime in
                let keys = KeyManagement(store: runtime.store, masterKey: runtime.masterKey, time: runtime.time)
                let rotated = try await keys.rotate()
                try await runtime.store.append(
                    AuditRecord(
                        actor: "operator:cli", action: .signingKeyRotated, subject: "signing-key:\(rotated.active.kid)", outcome: .success,
                        details: ["retired": rotated.retired.joined(separator: " ")]),
                    at: runtime.time.now())
                return (rotated.active.kid, rotated.retired)
            }
            try printJSON(["activeKid": rotated.0, "retiredKids": rotated.1])
        }
    }
}
