import Foundation
import StrongAuthProtocol

/// Freshness of ECIES requests (wultra/powerauth-crypto `End-To-End-Encryption.md`; the reference
/// server's `ReplayVerificationService`).
extension PowerAuthService {
    /// The replay-guard scope of ECIES request nonces.
    static let eciesReplayScope = "powerauth.ecies"

    /// Refuses an ECIES request of protocol 3.2+ whose `timestamp` is more than
    /// `requestExpiration` from the server's clock (either way), or whose ephemeral key and nonce
    /// were already received by any node. Call it after the MAC check: both values are bound into
    /// the MAC (SHARED_INFO_2), so they are the phone's, and garbage never reaches the table.
    ///
    /// Protocol 3.1 requests carry no timestamp; like the reference, they are not checked (a
    /// nonce could only be remembered forever). `identifier` separates the scopes of one
    /// cryptogram (the activation id, or the application key for application scope).
    public func checkFreshness(of request: PowerAuthECIES.Cryptogram, version: PowerAuthProtocolVersion, identifier: String) async throws {
        guard version >= .v3_2 else { return }
        guard let timestamp = request.timestamp, let nonce = request.nonce, let ephemeralKey = request.ephemeralPublicKey else {
            throw PowerAuthServiceError.staleRequest("timestamp and nonce are required from protocol 3.2 on")
        }
        let sent = Date(timeIntervalSince1970: Double(timestamp) / 1000)
        guard abs(sent.timeIntervalSince(time.now())) <= configuration.requestExpiration else {
            throw PowerAuthServiceError.staleRequest("its timestamp is outside the allowed window")
        }
        // Remembered while the timestamp is acceptable (one second more against rounding).
        let value = Array(identifier.utf8) + [0] + ephemeralKey + nonce
        guard
            try await replayGuard.firstUse(
                scope: Self.eciesReplayScope, value: value, until: sent.addingTimeInterval(configuration.requestExpiration + 1))
        else { throw PowerAuthServiceError.staleRequest("it was already received") }
    }
}
