import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import StrongAuthAPI
import StrongAuthProtocol

/// The ABN AMRO face from the user's side (ABN AMRO login protocol, docs/sessions.md): a login with the soft token
/// (the identification code, RSA-encrypted per the public scheme), the cookie session, and
/// step-up signing of scenarios. Holds the session cookie like a browser's cookie jar.
///
/// ```swift
/// let session = SessionClient(baseURL: "http://127.0.0.1:8080")
/// try await session.loginWithSoftToken(accountNumber: "562813888", cardNumber: "23", identificationCode: "12345")
/// let lastLogon = try await session.lastLogonDate()
/// ```
public actor SessionClient {
    /// The cookie the server keeps the session in.
    public static let cookieName = "strongauth_session"

    private let transport: Transport
    private var cookie: String?

    public init(baseURL: String, http: HTTPClient = .shared) {
        transport = Transport(baseURL: baseURL, http: http)
    }

    /// `GET /session/loginchallenge` for the soft token, or for a bound device's usage with its
    /// number (`boundDeviceIndexNumber`); attempts left included.
    public func loginChallenge(
        accountNumber: String, cardNumber: String, usage: Components.Schemas.AccessToolUsage = .softtoken, boundDeviceIndexNumber: Int? = nil
    ) async throws -> Components.Schemas.LoginChallenge {
        var query = URLComponents()
        query.queryItems = [
            .init(name: "accountNumber", value: accountNumber), .init(name: "cardNumber", value: cardNumber),
            .init(name: "accessToolUsage", value: usage.rawValue),
        ]
        if let boundDeviceIndexNumber { query.queryItems?.append(.init(name: "boundDeviceIndexNumber", value: String(boundDeviceIndexNumber))) }
        let response = try await send(.GET, "/session/loginchallenge?\(query.percentEncodedQuery ?? "")", serviceVersion: "v2")
        return try transport.decode(Components.Schemas.LoginChallengeEnvelope.self, response).loginChallenge
    }

    /// Answers a challenge with the soft token: the challenge's fields 2 and 3, the user id and
    /// the identification code, RSA-encrypted under the challenge's key.
    public func loginWithSoftToken(
        accountNumber: String, cardNumber: String, identificationCode: String
    ) async throws -> Components.Schemas.Session {
        let challenge = try await loginChallenge(accountNumber: accountNumber, cardNumber: cardNumber)
        return try await answer(challenge, accountNumber: accountNumber, cardNumber: cardNumber, identificationCode: identificationCode)
    }

    /// `PUT /session/loginresponse` for a challenge obtained earlier.
    public func answer(
        _ challenge: Components.Schemas.LoginChallenge, accountNumber: String, cardNumber: String, identificationCode: String
    ) async throws -> Components.Schemas.Session {
        let request = Components.Schemas.LoginResponseRequest(
            accountNumber: .case1(accountNumber), cardNumber: .case1(cardNumber), challengeHandle: .case1(challenge.challengeHandle),
            response: try Self.softTokenResponse(challenge: challenge.challenge, userID: challenge.userId, identificationCode: identificationCode),
            accessToolUsage: .softtoken, challengeDeviceDetails: challenge.challengeDeviceDetails, appId: "IPHONE_APP")
        let response = try await send(.PUT, "/session/loginresponse", json: request, serviceVersion: "v4")
        return try transport.decode(Components.Schemas.SessionEnvelope.self, response).session
    }

    /// Logs in with a bound device (`BOUNDDEVICE_USERPIN`): the device's number and its key, which
    /// signs the challenge bytes (docs/sessions.md, `BoundDeviceScheme`).
    public func loginWithBoundDevice(
        accountNumber: String, cardNumber: String, boundDeviceIndexNumber: Int, key: P256.Signing.PrivateKey
    ) async throws -> Components.Schemas.Session {
        let challenge = try await loginChallenge(
            accountNumber: accountNumber, cardNumber: cardNumber, usage: .bounddeviceUserpin, boundDeviceIndexNumber: boundDeviceIndexNumber)
        guard let bytes = Hex.decode(challenge.challenge) else { throw LoginTLV.Failure.truncated }
        let request = Components.Schemas.LoginResponseRequest(
            accountNumber: .case1(accountNumber), cardNumber: .case1(cardNumber), challengeHandle: .case1(challenge.challengeHandle),
            response: Hex.encode(try key.signature(for: bytes).derRepresentation), accessToolUsage: .bounddeviceUserpin,
            challengeDeviceDetails: challenge.challengeDeviceDetails, appId: "IPHONE_APP",
            boundDeviceIndexNumber: .case1(String(boundDeviceIndexNumber)))
        let response = try await send(.PUT, "/session/loginresponse", json: request, serviceVersion: "v4")
        return try transport.decode(Components.Schemas.SessionEnvelope.self, response).session
    }

    /// `GET /session`: the last logon (milliseconds since 1970), or a 401 problem.
    public func lastLogonDate() async throws -> Int64 {
        let response = try await send(.GET, "/session")
        return Int64(try transport.decode(Components.Schemas.SessionSummaryEnvelope.self, response).session.lastLogonDate)
    }

    /// `DELETE /session`.
    public func logout() async throws {
        try transport.expectSuccess(try await send(.DELETE, "/session"))
        cookie = nil
    }

    /// Signs a scenario (e.g. `ADD_PAYEE` with the payee as `data`) with the soft token inside
    /// the session: challenge, then response with the same data.
    public func signScenario(
        _ name: String, data: [String: String], identificationCode: String
    ) async throws -> Components.Schemas.ScenarioResponseEnvelope.ScenarioResponsePayload {
        struct ChallengeRequest: Encodable { var scenarioName: String; var scenarioData: [String: String] }
        struct ResponseRequest: Encodable {
            var scenarioName: String
            var scenarioData: [String: String]
            var challengeHandle: String
            var response: String
        }
        let issued = try transport.decode(
            Components.Schemas.ScenarioChallengeEnvelope.self,
            try await send(.POST, "/usertokens/session/scenariochallenge", json: ChallengeRequest(scenarioName: name, scenarioData: data)))
        let challenge = issued.scenarioChallenge
        // The hash of what this client is signing, computed here (the server's canonical JSON):
        // the challenge must carry exactly it, and the encrypted answer then covers it.
        let canonical = try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys, .withoutEscapingSlashes])
        let hash = SoftTokenScheme.scenarioHash(name: name, canonicalData: String(decoding: canonical, as: UTF8.self))
        let answer = ResponseRequest(
            scenarioName: name, scenarioData: data, challengeHandle: challenge.challengeHandle,
            response: try Self.softTokenResponse(
                challenge: challenge.challenge, userID: challenge.userId, identificationCode: identificationCode, scenarioHash: hash))
        return try transport.decode(
            Components.Schemas.ScenarioResponseEnvelope.self, try await send(.POST, "/usertokens/session/scenarioresponse", json: answer)
        ).scenarioResponse
    }

    /// The soft-token response (hex) to a challenge (hex); for a scenario, with the hash of the
    /// scenario being signed (`SoftTokenScheme.scenarioHash`).
    public static func softTokenResponse(challenge: String, userID: String, identificationCode: String, scenarioHash: [UInt8]? = nil) throws
        -> String
    {
        guard let bytes = Hex.decode(challenge) else { throw LoginTLV.Failure.truncated }
        return Hex.encode(
            try SoftTokenScheme.respond(toChallenge: bytes, userID: userID, identificationCode: identificationCode, scenarioHash: scenarioHash))
    }

    // MARK: Transport with the cookie

    private func send(
        _ method: HTTPMethod, _ path: String, json: (some Encodable)? = String?.none, serviceVersion: String? = nil
    ) async throws -> Transport.RawResponse {
        var headers: [(String, String)] = []
        if let cookie { headers.append(("Cookie", "\(Self.cookieName)=\(cookie)")) }
        if let serviceVersion { headers.append(("x-aab-serviceversion", serviceVersion)) }
        var body: ByteBuffer?
        if let json {
            headers.append(("Content-Type", "application/json"))
            body = ByteBuffer(data: try JSONEncoder().encode(json))
        }
        let response = try await transport.send(method, path, headers: headers, body: body)
        for setCookie in response.headers["Set-Cookie"] {
            let pair = setCookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0] == Self.cookieName { cookie = pair[1].isEmpty ? nil : String(pair[1]) }
        }
        return response
    }
}
