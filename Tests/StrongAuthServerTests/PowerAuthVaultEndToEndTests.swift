import Foundation
import StrongAuthClient
import StrongAuthProtocol
import Testing

/// `/pa/v3/vault/unlock` through the Swift SDK (`PowerAuthDevice.unlockVault`) against a live
/// server (SECURITY.md).
@Suite("PowerAuth vault unlock through the Swift SDK")
struct PowerAuthVaultEndToEndTests {
    @Test(
        "unlockVault: with the PIN or biometry the phone gets the vault key it derived at activation; a wrong PIN is a counted 401",
        arguments: [
            PowerAuthProtocolVersion.v3_1, .v3_3,
        ])
    func unlockVault(_ version: PowerAuthProtocolVersion) async throws {
        try await PowerAuthScenario.run { scenario in
            let (phone, registrationID) = try await scenario.activeRegistration(version)
            let derived = try #require(try scenario.store.load(activationID: registrationID)).vaultKey
            #expect(derived.count == 16)
            #expect(try await phone.unlockVault(pin: scenario.pin, reason: "ADD_BIOMETRY") == derived)
            #expect(try await phone.unlockVault(pin: nil) == derived)

            let error = await #expect(throws: PowerAuthServerError.self) { try await phone.unlockVault(pin: "0000") }
            #expect(error?.status == 401 && error?.code == "ERR_AUTHENTICATION")
            #expect(try await phone.status().failedAttempts == 1)
            #expect(try await phone.unlockVault(pin: scenario.pin) == derived)
            #expect(try await phone.status().failedAttempts == 0)
        }
    }
}
