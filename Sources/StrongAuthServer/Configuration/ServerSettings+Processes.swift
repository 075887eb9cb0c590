import Configuration
import StrongAuthCore

extension ServerSettings {
    /// Reads the process controller's limits: `processes.maxExchanges` (default 10, finAPI's),
    /// `processes.lifetimeDays` (1) and `processes.retentionDays` (7, never below the lifetime).
    mutating func readProcesses(_ config: ConfigReader) throws {
        let maxExchanges = config.int(forKey: "processes.maxExchanges", default: 10)
        let lifetimeDays = config.int(forKey: "processes.lifetimeDays", default: 1)
        let retentionDays = config.int(forKey: "processes.retentionDays", default: 7)
        guard (1...1000).contains(maxExchanges) else { throw SettingsError("processes.maxExchanges must be 1–1000") }
        guard (1...3650).contains(lifetimeDays), (lifetimeDays...3650).contains(retentionDays) else {
            throw SettingsError("processes.lifetimeDays must be 1–3650 and processes.retentionDays at least as long (≤ 3650)")
        }
        processes = ProcessConfiguration(
            maxExchanges: maxExchanges, lifetime: Double(lifetimeDays) * 86_400, retention: Double(retentionDays) * 86_400)
    }
}
