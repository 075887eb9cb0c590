import Foundation

/// The shared test vectors (`../shared/vectors/`, beside the checkout; CI has them there too).
/// A missing vector directory fails the test that needs it: vectors are never optional.
enum TestVectors {
    static var directory: URL {
        if let override = ProcessInfo.processInfo.environment["STRONGAUTH_VECTORS_DIR"] {
            return URL(fileURLWithPath: override)
        }
        // Tests/StrongAuthProtocolTests/TestVectors.swift → repository root → ../shared/vectors
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/vectors")
    }

    static func load(_ relativePath: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(relativePath)))
    }
}
