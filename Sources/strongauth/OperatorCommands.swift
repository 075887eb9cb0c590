import ArgumentParser
import Foundation
import StrongAuthCore
import StrongAuthServer

/// `strongauth operators …`
struct OperatorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operators", abstract: "Manage back-office operators (/admin).",
        subcommands: [
            Create.self, ListCommand<OperatorKind>.self, ShowCommand<OperatorKind>.self, SwitchCommand<OperatorKind, Disable>.self,
            SwitchCommand<OperatorKind, Enable>.self, DeleteCommand<OperatorKind>.self, RotateCommand<OperatorKind>.self,
        ])

    /// `strongauth operators create --username … [--password …]`
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an operator. Prints a generated password and the TOTP secret and otpauth:// URI once.",
            discussion: "Add the otpauth:// URI (or the Base32 totpSecret) to an authenticator app; sign in at /admin/login.")

        @OptionGroup var common: CommonOptions
        @Option(help: "Username.") var username: String
        @Option(help: "Password (6–72 bytes); generated when omitted.") var password: String?
        @Option(help: "The realm (tenant) it belongs to; must exist (strongauth realms create).") var realm: String = Realm.defaultID

        func run() async throws {
            let (username, password, realm) = (username, password, realm)
            let created = try await withRuntime(common) { runtime in
                try await runtime.administration.requireRealm(realm)
                return try await runtime.operators.create(username: username, password: password, realm: realm, actor: "operator:cli")
            }
            var output: [String: Any] = [
                "id": created.operator.id, "username": created.operator.username, "realm": created.operator.realmID,
                "totpSecret": created.totpSecret,
                "otpauthUri": created.otpauthURI,
            ]
            if password == nil { output["password"] = created.password }
            try printJSON(output)
        }
    }
}
