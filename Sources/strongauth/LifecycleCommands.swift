import ArgumentParser
import Foundation
import StrongAuthCore
import StrongAuthServer

/// One kind of credential holder the lifecycle commands manage (docs/admin-api.md): the same
/// operations as `/admin/v1`, printed as the same JSON.
protocol LifecycleKind {
    static var kind: ManagedKind { get }
    /// "client", "application", … for help texts.
    static var noun: String { get }
}

enum ClientKind: LifecycleKind {
    static var kind: ManagedKind { .client }
    static var noun: String { "client" }
}

enum ApplicationKind: LifecycleKind {
    static var kind: ManagedKind { .application }
    static var noun: String { "application" }
}

enum IntegrationUserKind: LifecycleKind {
    static var kind: ManagedKind { .integrationUser }
    static var noun: String { "integration user" }
}

enum OperatorKind: LifecycleKind {
    static var kind: ManagedKind { .operator }
    static var noun: String { "operator" }
}

enum UserKind: LifecycleKind {
    static var kind: ManagedKind { .user }
    static var noun: String { "user" }
}

/// The id (clients, applications), name (integration users) or username (operators, users) of
/// the holder, and its realm: another realm's holder is "not found", as in the admin API.
struct LifecycleTarget: ParsableArguments {
    @Option(name: [.customLong("id"), .customLong("name"), .customLong("username")], help: "Its id, name or username.")
    var id: String
    @Option(help: "The realm it belongs to.") var realm: String = Realm.defaultID
}

/// Runs one lifecycle use case as the CLI (`operator:cli` in the audit log), turning refusals
/// into messages that say what is wrong.
func withLifecycle<T: Sendable>(_ common: CommonOptions, _ body: @Sendable (CredentialLifecycleService, StrongAuthRuntime) async throws -> T)
    async throws -> T
{
    try await withRuntime(common) { runtime in
        do {
            return try await body(runtime.lifecycle, runtime)
        } catch LifecycleError.notFound(let kind, let id) {
            throw ValidationError("no \(kind.rawValue) '\(id)' in this realm")
        } catch LifecycleError.conflict(let detail) {
            throw ValidationError(detail)
        }
    }
}

/// Prints an admin API body (a generated type) as the CLI's pretty, sorted JSON.
func printEncodable(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// `<kind> list [--realm R]`
struct ListCommand<K: LifecycleKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "List the realm's \(K.noun)s (never a secret).")
    }

    @OptionGroup var common: CommonOptions
    @Option(help: "The realm.") var realm: String = Realm.defaultID

    func run() async throws {
        let (realm, kind) = (realm, K.kind)
        let list = try await withLifecycle(common) { _, runtime in try await AdminViews.list(kind, realm: realm, store: runtime.store) }
        try printEncodable(AnyEncodable(list))
    }
}

/// `<kind> show --id ID`
struct ShowCommand<K: LifecycleKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration { CommandConfiguration(commandName: "show", abstract: "Show one \(K.noun).") }

    @OptionGroup var common: CommonOptions
    @OptionGroup var target: LifecycleTarget

    func run() async throws {
        let (id, realm, kind) = (target.id, target.realm, K.kind)
        let view = try await withLifecycle(common) { lifecycle, _ in try await AdminViews.show(kind, id: id, realm: realm, lifecycle) }
        try printEncodable(AnyEncodable(view))
    }
}

/// `<kind> enable|disable|lock|unlock --id ID`: takes effect on every node with this command.
struct SwitchCommand<K: LifecycleKind, Verb: SwitchVerb>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: Verb.name, abstract: "\(Verb.name.prefix(1).uppercased() + Verb.name.dropFirst()) a \(K.noun) (audited; every node at once)."
        )
    }

    @OptionGroup var common: CommonOptions
    @OptionGroup var target: LifecycleTarget

    func run() async throws {
        let (id, realm, kind, active) = (target.id, target.realm, K.kind, Verb.active)
        let view = try await withLifecycle(common) { lifecycle, _ in
            try await lifecycle.setActive(kind, id: id, active: active, realm: realm, actor: "operator:cli")
            return try await AdminViews.show(kind, id: id, realm: realm, lifecycle)
        }
        try printEncodable(AnyEncodable(view))
    }
}

protocol SwitchVerb {
    static var name: String { get }
    static var active: Bool { get }
}

enum Enable: SwitchVerb {
    static var name: String { "enable" }
    static var active: Bool { true }
}

enum Disable: SwitchVerb {
    static var name: String { "disable" }
    static var active: Bool { false }
}

enum Unlock: SwitchVerb {
    static var name: String { "unlock" }
    static var active: Bool { true }
}

enum Lock: SwitchVerb {
    static var name: String { "lock" }
    static var active: Bool { false }
}

/// `<kind> delete --id ID`
struct DeleteCommand<K: LifecycleKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "delete", abstract: "Delete a \(K.noun) (audited).",
            discussion: "A client's refresh tokens are revoked with it and its id is never reused (docs/admin-api.md).")
    }

    @OptionGroup var common: CommonOptions
    @OptionGroup var target: LifecycleTarget

    func run() async throws {
        let (id, realm, kind) = (target.id, target.realm, K.kind)
        try await withLifecycle(common) { lifecycle, _ in
            try await lifecycle.delete(kind, id: id, realm: realm, actor: "operator:cli")
        }
        try printJSON(["deleted": id, "realm": realm])
    }
}

/// `clients rotate-secret --id ID`, `integration-users rotate-password --name NAME`,
/// `operators reset-totp --username NAME`: a new secret, printed once; the old one is refused at once.
struct RotateCommand<K: LifecycleKind>: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        let name = K.kind == .client ? "rotate-secret" : K.kind == .operator ? "reset-totp" : "rotate-password"
        return CommandConfiguration(
            commandName: name, abstract: "A new secret for a \(K.noun), printed once; the old one is refused from now on (audited).")
    }

    @OptionGroup var common: CommonOptions
    @OptionGroup var target: LifecycleTarget

    func run() async throws {
        let (id, realm, kind) = (target.id, target.realm, K.kind)
        let issued = try await withLifecycle(common) { lifecycle, _ in
            kind == .operator
                ? try await lifecycle.resetTOTP(operatorID: id, realm: realm, actor: "operator:cli")
                : try await lifecycle.rotateSecret(kind, id: id, realm: realm, actor: "operator:cli")
        }
        try printEncodable(AdminViews.issued(id: id, issued))
    }
}

/// Type erasure for printing a list of different generated types.
struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
