import ArgumentParser
import Foundation
import StrongAuthClient
import Synchronization

extension BenchCommand {
    /// ABN AMRO logins with a bound device per second: each login is `GET /session/loginchallenge`
    /// (no cookie: a new anonymous session) and `PUT /session/loginresponse` signed by the
    /// device's key. One loop per user of `--logins`, so that no two logins of one user overlap (a
    /// user logs in from one phone at a time).
    struct SessionLogins: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "session-logins", abstract: "ABN AMRO logins with bound devices in a loop; reports logins/s.")

        @Option(help: "Base URL of the server.") var server = "http://127.0.0.1:8080"
        @Option(name: .customLong("key-store"), help: "Directory of the simulated key store holding the devices' keys.")
        var keyStore = "data/device-keys"
        @Option(help: "A file of lines `ACCOUNT CARD DEVICE_ID`: users with a bound device (number 1) whose key is in --key-store.")
        var logins: String
        @Option(help: "Seconds to run.") var duration = 10.0

        func run() async throws {
            let store = FileDeviceKeyStore(directory: URL(fileURLWithPath: keyStore))
            let users = try String(contentsOfFile: logins, encoding: .utf8).split(separator: "\n").map { line in
                let fields = line.split(separator: " ").map(String.init)
                guard fields.count == 3, let key = try store.loadKey(named: fields[2]) else {
                    throw ValidationError("\(logins): `\(line)` is not `ACCOUNT CARD DEVICE_ID` of a key in \(keyStore)")
                }
                return (account: fields[0], card: fields[1], key: key)
            }
            guard !users.isEmpty else { throw ValidationError("\(logins) names no user") }
            let server = server
            // Each login takes a user no other login holds, and gives it back.
            let idle = Mutex(Array(users.indices))
            let figures = try await LoadRun.measure(concurrency: users.count, duration: duration) {
                guard let index = idle.withLock({ $0.popLast() }) else { return }
                defer { idle.withLock { $0.append(index) } }
                let user = users[index]
                _ = try await SessionClient(baseURL: server).loginWithBoundDevice(
                    accountNumber: user.account, cardNumber: user.card, boundDeviceIndexNumber: 1, key: user.key)
            }
            try printJSON([
                "logins": figures.completed, "failures": figures.failures, "seconds": figures.seconds,
                "loginsPerSecond": figures.perSecond, "p50": figures.p50, "p99": figures.p99,
            ])
            if figures.failures > 0 { throw ExitCode(1) }
        }
    }
}
