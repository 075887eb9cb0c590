import ArgumentParser
import Foundation
import StrongAuthClient
import StrongAuthProtocol

/// `strongauth device …`: a phone, simulated. Keys live in a file key store (`data/device-keys`
/// by default); in demo mode the SMS OTP is read from the notifications file the server writes.
/// `activate`, `sign`, `status` and `token` simulate a PowerAuth phone instead
/// (`PowerAuthDeviceCommands.swift`, state under `data/powerauth`).
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Simulate a phone: bind a P-256 key and pass device challenges, or activate and sign as a PowerAuth phone.",
        subcommands: [
            Bind.self, Approve.self, Approvals.self, Reject.self, Challenge.self, List.self,
            PowerAuthActivateCommand.self, PowerAuthSignCommand.self, PowerAuthStatusCommand.self, PowerAuthTokenCommand.self,
            PowerAuthVaultUnlockCommand.self,
        ])

    /// Login and key-store options every device command needs.
    struct PhoneOptions: ParsableArguments {
        @Option(help: "Base URL of the server.") var server = "http://127.0.0.1:8080"
        @Option(name: .customLong("client-id"), help: "OAuth client the app uses.") var clientID: String
        @Option(name: .customLong("client-secret"), help: "Its secret (env STRONGAUTH_CLIENT_SECRET).")
        var clientSecret: String?
        @Option(help: "The user's username.") var username: String
        @Option(help: "The user's password (env STRONGAUTH_USER_PASSWORD).") var password: String?
        @Option(name: .customLong("key-store"), help: "Directory of the simulated key store.") var keyStore = "data/device-keys"

        /// Logs the user in with the password grant; returns the SDK's device client and the token response.
        func login() async throws -> (DeviceClient, IntegratorClient, String) {
            let environment = ProcessInfo.processInfo.environment
            guard let secret = clientSecret ?? environment["STRONGAUTH_CLIENT_SECRET"] else {
                throw ValidationError("--client-secret or STRONGAUTH_CLIENT_SECRET is required")
            }
            guard let password = password ?? environment["STRONGAUTH_USER_PASSWORD"] else {
                throw ValidationError("--password or STRONGAUTH_USER_PASSWORD is required")
            }
            let integrator = IntegratorClient(baseURL: server, clientID: clientID, clientSecret: secret)
            let tokens = try await integrator.password(username: username, password: password)
            let device = DeviceClient(
                baseURL: server, accessToken: tokens.accessToken,
                keyStore: FileDeviceKeyStore(directory: URL(fileURLWithPath: keyStore)))
            return (device, integrator, tokens.accessToken)
        }
    }

    /// `strongauth device bind`
    struct Bind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a key, register it, and activate it with the SMS OTP (read from the notifications file).")

        @OptionGroup var phone: PhoneOptions
        @Option(help: "Device name.") var name = "Simulated phone"
        @Option(help: "The OTP from the SMS; read from --notifications when omitted (demo mode).") var otp: String?
        @Option(help: "The notifications file of a server using the file channel.") var notifications = "data/notifications.jsonl"

        func run() async throws {
            let (device, _, accessToken) = try await phone.login()
            let offset = NotificationsFile.size(of: notifications)
            let created = try await device.createDevice(name: name)
            let code: String
            if let otp {
                code = otp
            } else {
                code = try await NotificationsFile.awaitOTP(path: notifications, userID: try JWTSubject.of(accessToken), after: offset)
            }
            try await device.verifyDevice(created.deviceId, challengeId: created.challengeId, otp: code)
            let status = try await device.devices().first(where: { $0.id == created.deviceId })?.status.rawValue ?? "unknown"
            var output = ["deviceId": created.deviceId, "status": status, "keyStore": phone.keyStore]
            if status == "PENDING_COMMIT" {
                output["next"] = "approve it from a bound device: strongauth device approve --device-id \(created.deviceId) --approver-device-id …"
            }
            try printJSON(output)
        }
    }

    /// `strongauth device approve`
    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a pending approval (operation or action request) — or, with --approver-device-id, a new device (RTS art. 24).",
            discussion: """
                strongauth device approve APPROVAL_ID --device-id BOUND …   signs "approve:<APPROVAL_ID>:<data>" with BOUND's key
                strongauth device approve --device-id NEW --approver-device-id BOUND …   approves the user's new device
                """)

        @OptionGroup var phone: PhoneOptions
        @Argument(help: "The approval to approve (see `strongauth device approvals`).") var approvalID: String?
        @Option(
            name: .customLong("device-id"), help: "The bound device that signs (with an approval id), or the new device (with --approver-device-id).")
        var deviceID: String
        @Option(name: .customLong("approver-device-id"), help: "The bound device whose key approves a new device.") var approverID: String?

        func validate() throws {
            guard (approvalID == nil) != (approverID == nil) else {
                throw ValidationError("give either an approval id, or --approver-device-id for a new device")
            }
        }

        func run() async throws {
            let (device, _, _) = try await phone.login()
            if let approverID {
                try await device.approveDevice(deviceID, approverDeviceId: approverID)
                try printJSON(["deviceId": deviceID, "status": "ACTIVE", "approvedBy": approverID])
                return
            }
            guard let approvalID, let approval = try await device.approvals().first(where: { $0.id == approvalID }) else {
                throw ValidationError("no pending approval \(approvalID ?? "")")
            }
            try await device.approve(approval, deviceId: deviceID)
            try printJSON(["id": approval.id, "status": "APPROVED", "data": approval.data])
        }
    }

    /// `strongauth device approvals`: the user's pending approvals with the data to show.
    struct Approvals: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the user's pending approvals (operations and action requests).")

        @OptionGroup var phone: PhoneOptions

        func run() async throws {
            let (device, _, _) = try await phone.login()
            let pending = try await device.approvals()
            try printJSON([
                "approvals": pending.map { ["id": $0.id, "kind": $0.kind.rawValue, "type": $0._type, "data": $0.data, "status": $0.status] }
            ])
        }
    }

    /// `strongauth device reject ID --device-id … [--reason …]`
    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a pending approval, signed by a bound device.")

        @OptionGroup var phone: PhoneOptions
        @Argument(help: "The approval to reject.") var approvalID: String
        @Option(name: .customLong("device-id"), help: "The bound device that signs.") var deviceID: String
        @Option(help: "Why, e.g. UNEXPECTED_OPERATION.") var reason: String?

        func run() async throws {
            let (device, _, _) = try await phone.login()
            try await device.reject(approvalId: approvalID, deviceId: deviceID, reason: reason)
            try printJSON(["id": approvalID, "status": "REJECTED"])
        }
    }

    /// `strongauth device challenge`
    struct Challenge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pass a device challenge: create it, sign it with the stored key, print the confirmed tokens.")

        @OptionGroup var phone: PhoneOptions
        @Option(name: .customLong("device-id"), help: "The bound device.") var deviceID: String

        func run() async throws {
            let (device, integrator, _) = try await phone.login()
            let confirmed = try await device.confirm(deviceId: deviceID)
            let introspection = try await integrator.introspect(confirmed.token)
            var output: [String: Any] = [
                "token": confirmed.token, "confirmedBy": introspection.cnf?.kid ?? "", "acr": introspection.acr ?? "",
            ]
            if let refresh = confirmed.refreshToken { output["refresh_token"] = refresh }
            try printJSON(output)
        }
    }

    /// `strongauth device list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The user's devices.")

        @OptionGroup var phone: PhoneOptions

        func run() async throws {
            let (device, _, _) = try await phone.login()
            let devices = try await device.devices()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            print(String(decoding: try encoder.encode(devices), as: UTF8.self))
        }
    }
}

/// Reading OTPs from the file notification channel (demo mode only: a real phone reads its SMS).
enum NotificationsFile {
    /// The file's current size: OTPs sent later are written after this offset.
    static func size(of path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// The first OTP for `userID` written to the file after byte `offset`.
    static func awaitOTP(path: String, userID: String, after offset: Int, timeout: TimeInterval = 10) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: path), data.count > offset {
                let contents = String(decoding: data.dropFirst(offset), as: UTF8.self)
                for line in contents.split(separator: "\n") {
                    guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                        record["userId"] == userID, let message = record["message"],
                        let match = message.firstMatch(of: #/ is (\d{6})\./#)
                    else { continue }
                    return String(match.1)
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("no SMS for this user arrived in \(path) within \(Int(timeout)) s; pass --otp")
    }
}

/// The `sub` of a JWT, read without verifying (the simulator only uses it to find its own SMS).
enum JWTSubject {
    static func of(_ token: String) throws -> String {
        let parts = token.split(separator: ".")
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])),
            let claims = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
            let subject = claims["sub"] as? String
        else { throw ValidationError("the access token is not a JWT") }
        return subject
    }
}
