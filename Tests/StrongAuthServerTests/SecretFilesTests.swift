import Crypto
import Foundation
import Logging
import StrongAuthClient
import Testing

@testable import StrongAuthServer

/// Secret files (the development master key, the simulator's device keys) are created with
/// mode 0600 from the first byte and never replace an existing file (SECURITY.md).
@Suite("Secret files: 0600 from creation, never overwritten", .serialized)
struct SecretFilesTests {
    /// A fresh directory that exists before the secret is written (the case the issue names).
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strongauth-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return url
    }

    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) & 0o777
    }

    /// Runs `body` with umask 000, so a file created with the default mode would be 0666.
    static func withOpenUmask<T>(_ body: () async throws -> T) async rethrows -> T {
        let previous = umask(0)
        defer { umask(previous) }
        return try await body()
    }

    @Test("a device key file is 0600 even with umask 000, and a second key under the same name is refused, not written over the first")
    func deviceKeyFile() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = FileDeviceKeyStore(directory: directory)
        let first = P256.Signing.PrivateKey()
        try await Self.withOpenUmask { try store.saveKey(first, named: "device-1") }
        let path = directory.appendingPathComponent("device-1.pem").path
        #expect(try Self.mode(path) == 0o600)
        #expect(throws: (any Error).self, "an existing key file is never replaced silently") {
            try store.saveKey(P256.Signing.PrivateKey(), named: "device-1")
        }
        #expect(try store.loadKey(named: "device-1")?.rawRepresentation == first.rawRepresentation)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["device-1.pem"], "no temporary file is left behind")
    }

    @Test("the development master key is 0600 even with umask 000, and nodes starting at once on one data directory all get the key on disk")
    func masterKeyFile() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let settings = try ServerSettings(reader: try await ServerSettings.reader(flags: ["data.dir": .string(directory.path)], environment: [:]))
        let keys = try await Self.withOpenUmask {
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<16 {
                    group.addTask { try StrongAuthRuntime.loadMasterKey(settings: settings, logger: Logger(label: "test")).base64 }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
        }
        let path = directory.appendingPathComponent("master.key").path
        #expect(try Self.mode(path) == 0o600)
        let onDisk = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Set(keys) == [onDisk], "every node uses the one key that was written; none generated a key that was lost")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["master.key"], "no temporary file is left behind")
    }
}
