import ArgumentParser
import StrongAuthServer

/// `strongauth`: the server, its administration and a device simulator, in one binary.
@main
struct StrongAuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strongauth",
        abstract: "StrongAuth — a Strong Customer Authentication server.",
        discussion: """
            Every command works on the same data when run in the same working directory
            (data/strongauth.sqlite by default; --database postgres://… for PostgreSQL).
            Configuration: flags > STRONGAUTH_* environment > --config FILE (JSON) > defaults.
            """,
        version: StrongAuthVersion.current,
        subcommands: [
            ServeCommand.self, MigrateCommand.self, RealmsCommand.self, ClientsCommand.self, UsersCommand.self, AuditCommand.self, KeysCommand.self,
            AppsCommand.self, IntegrationUsersCommand.self, OperatorsCommand.self, DemoCommand.self, DeviceCommand.self,
            BenchCommand.self, SettingsCommand.self, BackupCommand.self, RestoreCommand.self, LoginCommand.self,
        ])

    /// Sizes NIO's event loops to the processors this process may use before anything starts
    /// them, then runs the command.
    static func main() async {
        EventLoopSizing.apply()
        await main(nil)
    }
}
