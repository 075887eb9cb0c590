import ArgumentParser
import Foundation
import StrongAuthCore
import StrongAuthServer

/// `strongauth apps …`: PowerAuth applications (PowerAuth Cloud `appId`).
struct AppsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apps", abstract: "Manage PowerAuth mobile applications.",
        subcommands: [
            Create.self, ListCommand<ApplicationKind>.self, ShowCommand<ApplicationKind>.self, SwitchCommand<ApplicationKind, Disable>.self,
            SwitchCommand<ApplicationKind, Enable>.self, DeleteCommand<ApplicationKind>.self,
        ])

    /// `strongauth apps create --id my-application`
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an application: app key, app secret and master key pair. Prints the secret once.",
            discussion: "The mobile app is configured with appKey, appSecret and masterPublicKey.")

        @OptionGroup var common: CommonOptions
        @Option(help: "Application id (A–Z a–z 0–9 . _ ~ -), the appId of registrations.") var id: String
        @Option(help: "Display name (default: the id).") var name: String?
        @Option(help: "Where registration status changes are POSTed (signed with the printed callbackSecret).")
        var callbackUrl: String?
        @Option(help: "The realm (tenant) it belongs to; must exist (strongauth realms create).") var realm: String = Realm.defaultID

        func run() async throws {
            let (id, name, callbackURL, realm) = (id, name, callbackUrl, realm)
            let created = try await withRuntime(common) { runtime in
                try await runtime.administration.requireRealm(realm)
                return try await mapPowerAuthErrors {
                    try await runtime.powerAuth.createApplication(
                        id: id, name: name, callbackURL: callbackURL, realm: realm, actor: "operator:cli")
                }
            }
            var output: [String: Any] = [
                "applicationId": created.application.id, "name": created.application.name, "realm": created.application.realmID,
                "appKey": created.application.applicationKey, "appSecret": created.applicationSecret,
                "masterPublicKey": created.application.masterPublicKey,
            ]
            if let callbackURL = created.application.callbackURL, let secret = created.callbackSecret {
                output["callbackUrl"] = callbackURL
                output["callbackSecret"] = secret
            }
            try printJSON(output)
        }
    }
}

/// `strongauth integration-users …`: Basic-auth users of `/powerauth-cloud`.
struct IntegrationUsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integration-users", abstract: "Manage integration users of the PowerAuth integration API.",
        subcommands: [
            Create.self, ListCommand<IntegrationUserKind>.self, ShowCommand<IntegrationUserKind>.self,
            SwitchCommand<IntegrationUserKind, Disable>.self, SwitchCommand<IntegrationUserKind, Enable>.self,
            DeleteCommand<IntegrationUserKind>.self, RotateCommand<IntegrationUserKind>.self,
        ])

    /// `strongauth integration-users create --name integration-user --app my-application`
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an integration user. Prints its generated password once.")

        @OptionGroup var common: CommonOptions
        @Option(help: "User name (A–Z a–z 0–9 . _ ~ -).") var name: String
        @Option(name: .customLong("app"), help: "An application the user may act on (repeat, or comma-separated).")
        var apps: [String] = []
        @Option(help: "The realm (tenant) it belongs to; must exist (strongauth realms create).") var realm: String = Realm.defaultID

        func run() async throws {
            let (name, realm) = (name, realm)
            let applicationIDs = apps.flatMap { $0.split(separator: ",").map(String.init) }
            let created = try await withRuntime(common) { runtime in
                try await runtime.administration.requireRealm(realm)
                return try await mapPowerAuthErrors {
                    try await runtime.powerAuth.createIntegrationUser(
                        name: name, applicationIDs: applicationIDs, realm: realm, actor: "operator:cli")
                }
            }
            try printJSON([
                "name": created.user.name, "password": created.password, "applications": created.user.applicationIDs,
                "realm": created.user.realmID,
            ])
        }
    }
}

/// A core refusal as a command-line error that says what to fix.
func mapPowerAuthErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch PowerAuthServiceError.validation(let field, let message) {
        throw ValidationError("\(field): \(message)")
    } catch let error as StoreError {
        throw ValidationError(error.description)
    }
}
