import Crypto
import Foundation
import StrongAuthProtocol

/// Where a device keeps its private keys. On a phone this is the Secure Enclave or Android
/// Keystore; the SDK on Linux (the simulator, tests) uses `FileDeviceKeyStore`.
public protocol DeviceKeyStore: Sendable {
    func loadKey(named name: String) throws -> P256.Signing.PrivateKey?
    func saveKey(_ key: P256.Signing.PrivateKey, named name: String) throws
    func deleteKey(named name: String) throws
}

/// Keys as PEM files (mode 0600 from creation, never overwritten) in a directory (mode 0700).
/// For simulators and tests only: a file is not hardware-backed.
public struct FileDeviceKeyStore: DeviceKeyStore {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    private func path(_ name: String) throws -> String {
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw CocoaError(.fileWriteInvalidFileName)
        }
        return directory.appendingPathComponent("\(name).pem").path
    }

    public func loadKey(named name: String) throws -> P256.Signing.PrivateKey? {
        let path = try path(name)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try P256.Signing.PrivateKey(pemRepresentation: String(decoding: data, as: UTF8.self))
    }

    public func saveKey(_ key: P256.Signing.PrivateKey, named name: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = try path(name)
        // 0600 from the first byte; an existing key is never replaced (`SecretFile.Failure.exists`).
        try SecretFile.create(atPath: path, contents: Array(key.pemRepresentation.utf8))
    }

    public func deleteKey(named name: String) throws {
        let path = try path(name)
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
    }
}
