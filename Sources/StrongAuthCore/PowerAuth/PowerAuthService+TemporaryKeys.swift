import Crypto
import Foundation
import StrongAuthProtocol

/// Protocol 3.3 temporary encryption keys (`/pa/v3/keystore/create`): the phone asks with an
/// HS256 JWT keyed by the app secret (application scope) or by the app secret and the transport
/// key (activation scope); the server stores a fresh key pair and answers with an ES256 JWT
/// signed by the master key or by the activation's server key. Later ECIES requests name the key.
extension PowerAuthService {
    /// Verifies the request JWT and returns the signed response JWT with a new temporary key.
    public func createTemporaryKey(requestJWT: String) async throws -> String {
        let unverified: PowerAuthTemporaryKey.UnverifiedRequest
        do {
            unverified = try PowerAuthTemporaryKey.parseRequestJWT(requestJWT)
        } catch {
            throw PowerAuthServiceError.temporaryKey("the request JWT is \(error)")
        }
        let opened = try await openApplication(key: unverified.request.applicationKey)
        let signingKey: [UInt8]
        let responseKey: P256.Signing.PrivateKey
        var registration: Registration?
        do {
            if let activationID = unverified.request.activationID {
                let found = try await self.registration(activationID: activationID, application: opened.application)
                guard found.status(at: time.now()) == .active else { throw PowerAuthServiceError.registrationState(found.device.status) }
                signingKey = try PowerAuthTemporaryKey.activationSigningKey(
                    applicationSecret: opened.applicationSecret, transportKey: try openSecrets(of: found).transport)
                responseKey = try P256.Signing.PrivateKey(rawRepresentation: try openServerPrivateKey(of: found).rawRepresentation)
                registration = found
            } else {
                signingKey = try PowerAuthTemporaryKey.applicationSigningKey(applicationSecret: opened.applicationSecret)
                responseKey = try P256.Signing.PrivateKey(rawRepresentation: opened.masterPrivateKey.rawRepresentation)
            }
        } catch let error as PowerAuthJWTError {
            throw PowerAuthServiceError.temporaryKey("\(error)")
        }
        let request: PowerAuthTemporaryKey.Request
        do {
            request = try unverified.verify(signingKey: signingKey)
        } catch {
            throw PowerAuthServiceError.temporaryKey("the request JWT's signature does not verify")
        }
        let now = time.now()
        let keyPair = P256.KeyAgreement.PrivateKey()
        let id = SecureRandom.uuid()
        let expiresAt = now.addingTimeInterval(configuration.temporaryKeyLifetime)
        try await store.insertTemporaryKey(
            PowerAuthTemporaryKeyRecord(
                id: id, applicationID: opened.application.id, activationID: registration?.id,
                sealedPrivateKey: try masterKey.seal(Array(keyPair.rawRepresentation), purpose: Self.temporaryKeyPurpose, associatedData: id),
                expiresAt: expiresAt))
        let grant = PowerAuthTemporaryKey.Grant(
            keyID: id, applicationKey: request.applicationKey, activationID: request.activationID, challenge: request.challenge,
            publicKey: Array(keyPair.publicKey.x963Representation), issuedAt: UInt64(now.epochMilliseconds),
            expiresAt: UInt64(expiresAt.epochMilliseconds))
        do {
            return try PowerAuthTemporaryKey.makeResponseJWT(grant, signingKey: responseKey)
        } catch {
            throw PowerAuthServiceError.temporaryKey("cannot sign the response")
        }
    }

    /// The private half of a live temporary key issued for this application (and activation).
    public func temporaryPrivateKey(id: String, application: PowerAuthApplication, activationID: String?) async throws
        -> P256.KeyAgreement.PrivateKey
    {
        guard let record = try await store.temporaryKey(id: id), record.applicationID == application.id,
            record.activationID == activationID, record.expiresAt > time.now()
        else { throw PowerAuthServiceError.temporaryKey("unknown or expired temporary key") }
        return try P256.KeyAgreement.PrivateKey(
            rawRepresentation: try masterKey.open(record.sealedPrivateKey, purpose: Self.temporaryKeyPurpose, associatedData: id))
    }
}
