import ArgumentParser
import Foundation
import StrongAuthCore
import StrongAuthProtocol
import StrongAuthServer
import StrongAuthStore

extension KeysCommand {
    /// `strongauth keys new-master --to FILE`: a fresh master key in a new 0600 file.
    struct NewMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new-master", abstract: "Write a fresh random master key (base64 of 32 bytes) to a new file, mode 0600.")

        @Option(help: "The file to create (never overwritten).") var to: String

        func run() async throws {
            let key = MasterKey.generate()
            try SecretFile.create(atPath: to, contents: Array((key.base64 + "\n").utf8))
            try printJSON(["file": to, "keyId": key.keyID])
        }
    }

    /// `strongauth keys rotate-master --new-key-file FILE`: re-seals every sealed secret under
    /// the new master key while the nodes serve (docs/keys.md has the whole procedure).
    struct RotateMaster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master",
            abstract: "Re-seal every sealed secret under a new master key, without downtime (see docs/keys.md first).",
            discussion: """
                Every node must know the new key before this runs (as STRONGAUTH_MASTER_KEY or in
                STRONGAUTH_MASTER_PREVIOUS_KEYS), and so must this command's configuration: it
                refuses otherwise, because a node without the key could not open what is re-sealed.
                Each value is replaced by one compare-and-set update. When it reports
                oldKeysRemovable, the other keys can be removed from every node's configuration.
                """)

        @OptionGroup var common: CommonOptions
        @Option(help: "The new master key's file (base64 of 32 bytes, as from keys new-master).") var newKeyFile: String

        func run() async throws {
            guard let contents = FileManager.default.contents(atPath: newKeyFile) else {
                throw ValidationError("cannot read \(newKeyFile)")
            }
            let newKey = try MasterKey(base64: String(decoding: contents, as: UTF8.self))
            let (report, others) = try await withRuntime(common) { runtime in
                guard runtime.masterKey.keyIDs.contains(newKey.keyID) else {
                    throw ValidationError(
                        """
                        the new key (\(newKey.keyID)) is not configured: put it in STRONGAUTH_MASTER_KEY or \
                        STRONGAUTH_MASTER_PREVIOUS_KEYS on every node (and here) first, so that every node opens what is re-sealed
                        """)
                }
                let ring = runtime.masterKey.sealing(with: newKey)
                let report = try await MasterKeyRotation.reseal(store: runtime.store, ring: ring, logger: runtime.logger)
                try await runtime.store.append(
                    AuditRecord(
                        actor: "operator:cli", action: .masterKeyRotated, subject: "master-key:\(newKey.keyID)",
                        outcome: report.remaining == 0 ? .success : .failure,
                        details: ["resealed": "\(report.resealed.values.reduce(0, +))", "remaining": "\(report.remaining)"]),
                    at: runtime.time.now())
                return (report, ring.keyIDs.filter { $0 != newKey.keyID })
            }
            try printJSON([
                "keyId": newKey.keyID, "resealed": report.resealed, "conflicts": report.conflicts, "remaining": report.remaining,
                "oldKeysRemovable": report.remaining == 0 ? others : [],
                "next": report.remaining == 0
                    ? "every sealed value is under \(newKey.keyID): make it STRONGAUTH_MASTER_KEY on every node, then remove the old keys"
                    : "\(report.remaining) values are still under an old key: make the new key STRONGAUTH_MASTER_KEY on every node and run this again"
                    ,
            ])
            if report.remaining > 0 { throw ExitCode(1) }
        }
    }
}
