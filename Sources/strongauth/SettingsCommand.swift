import ArgumentParser
import StrongAuthServer

/// `strongauth settings`: every setting with its environment variable, flag, default and meaning,
/// from the settings code itself (`ServerSettings.reference`) — the table of docs/operations.md.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings", abstract: "Print the settings reference (Markdown table, or JSON with --json).")

    @Flag(name: .customLong("json"), help: "One JSON object per setting instead of the Markdown table.")
    var json = false

    func run() throws {
        guard json else {
            print(ServerSettings.referenceMarkdown(), terminator: "")
            return
        }
        try printJSON([
            "settings": ServerSettings.reference.map { setting in
                [
                    "key": setting.key, "environment": setting.environmentVariable, "flag": setting.flag ?? "",
                    "default": setting.defaultValue, "meaning": setting.summary,
                ]
            }
        ])
    }
}
