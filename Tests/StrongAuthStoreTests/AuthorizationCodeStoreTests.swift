import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// Pushed authorization requests, hosted logins and authorization codes on every database: each
/// step is one conditional statement, so concurrent requests on several nodes get exactly one
/// winner — one login finishes once, one pushed request is taken once, one code is redeemed once.
@Suite("Store conformance: authorization codes")
struct AuthorizationCodeStoreTests {
    static let request = AuthorizationRequest(
        clientID: "shop", redirectURI: "https://app.example/cb", redirectURIWasSent: true, state: "s", scope: "accounts",
        codeChallenge: String(repeating: "a", count: 43), acr: AssuranceLevel.twoFactor.rawValue, maxAge: 300,
        resources: ["https://api.example"])

    static func login(_ id: String = "l1", browser: String = "b1") -> AuthorizationLogin {
        AuthorizationLogin(
            id: id, request: request, browserHash: browser, createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(600))
    }

    static func code(_ hash: String, user: String = "u1") -> AuthorizationCodeRecord {
        AuthorizationCodeRecord(
            codeHash: hash, clientID: "shop", userID: user, request: request, acr: AssuranceLevel.twoFactor.rawValue, amr: ["pwd", "hwk"],
            authTime: Fixtures.epoch, createdAt: Fixtures.epoch, expiresAt: Fixtures.epoch.addingTimeInterval(60))
    }

    @Test("a pushed request is taken once, by its client, before it expires", arguments: TestDatabases.engines)
    func pushedOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch
            try await store.insertPushedAuthorizationRequest(id: "p1", request: Self.request, at: now, expiresAt: now.addingTimeInterval(60))
            try await store.insertPushedAuthorizationRequest(id: "p2", request: Self.request, at: now, expiresAt: now.addingTimeInterval(60))
            #expect(try await store.takePushedAuthorizationRequest(id: "p1", clientID: "other", at: now) == nil)
            let winners = try await withThrowingTaskGroup(of: AuthorizationRequest?.self) { group in
                for _ in 0..<20 { group.addTask { try await store.takePushedAuthorizationRequest(id: "p1", clientID: "shop", at: now) } }
                return try await group.reduce(into: [AuthorizationRequest]()) { if let taken = $1 { $0.append(taken) } }
            }
            #expect(winners == [Self.request])
            #expect(try await store.takePushedAuthorizationRequest(id: "p2", clientID: "shop", at: now.addingTimeInterval(60)) == nil)
            // A pushed request is no login.
            #expect(try await store.authorizationLogin(id: "p2", browserHash: "", at: now) == nil)
        }
    }

    @Test("a login belongs to its browser; password, second factor and finish are recorded in order", arguments: TestDatabases.engines)
    func loginSteps(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch.addingTimeInterval(1)
            try await store.insertAuthorizationLogin(Self.login())
            #expect(try await store.authorizationLogin(id: "l1", browserHash: "b2", at: now) == nil)
            #expect(try await store.authorizationLogin(id: "l1", browserHash: "b1", at: now) == Self.login())
            #expect(try await store.recordLoginSecondFactor(id: "l1", browserHash: "b1", method: .approval, factorID: "a1", at: now) == false)
            #expect(try await store.recordLoginPassword(id: "l1", browserHash: "b2", userID: "u1", at: now) == false)
            #expect(try await store.recordLoginPassword(id: "l1", browserHash: "b1", userID: "u1", at: now))
            #expect(try await store.recordLoginPassword(id: "l1", browserHash: "b1", userID: "u2", at: now) == false)
            #expect(try await store.recordLoginSecondFactor(id: "l1", browserHash: "b1", method: .smsOTP, factorID: "c1", at: now))
            let waiting = try #require(try await store.authorizationLogin(id: "l1", browserHash: "b1", at: now))
            #expect(waiting.userID == "u1")
            #expect(waiting.passwordAt == now)
            #expect(waiting.secondFactor == .smsOTP)
            #expect(waiting.secondFactorID == "c1")
            // Another user's code cannot finish it; the login's user's can, once.
            #expect(try await store.finishLogin(id: "l1", browserHash: "b1", issuing: Self.code("x", user: "u2"), at: now) == false)
            let finished = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask { try await store.finishLogin(id: "l1", browserHash: "b1", issuing: Self.code("c\(index)"), at: now) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(finished == 1)
            #expect(try await TestDatabases.count("authorization_codes", in: store) == 1)
            #expect(try await store.authorizationLogin(id: "l1", browserHash: "b1", at: now) == nil)
            // An expired login takes no step.
            try await store.insertAuthorizationLogin(Self.login("l2"))
            #expect(
                try await store.recordLoginPassword(id: "l2", browserHash: "b1", userID: "u1", at: Fixtures.epoch.addingTimeInterval(600)) == false)
        }
    }

    @Test("20 concurrent redemptions of one code: exactly one wins, the others see the reuse", arguments: TestDatabases.engines)
    func redeemOnce(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch.addingTimeInterval(1)
            try await store.insertAuthorizationLogin(Self.login())
            _ = try await store.recordLoginPassword(id: "l1", browserHash: "b1", userID: "u1", at: now)
            #expect(try await store.finishLogin(id: "l1", browserHash: "b1", issuing: Self.code("h1"), at: now))
            #expect(try await store.redeemAuthorizationCode(hash: "h1", clientID: "other", at: now) == .unknown)
            #expect(try await store.redeemAuthorizationCode(hash: "nothing", clientID: "shop", at: now) == .unknown)
            let outcomes = try await withThrowingTaskGroup(of: AuthorizationCodeRedemption.self) { group in
                for _ in 0..<20 { group.addTask { try await store.redeemAuthorizationCode(hash: "h1", clientID: "shop", at: now) } }
                return try await group.reduce(into: [AuthorizationCodeRedemption]()) { $0.append($1) }
            }
            let redeemed = outcomes.compactMap { if case .redeemed(let record) = $0 { record } else { nil } }
            #expect(redeemed.count == 1)
            #expect(outcomes.filter { if case .reused = $0 { true } else { false } }.count == 19)
            let record = try #require(redeemed.first)
            #expect(record.request == Self.request)
            #expect(record.amr == ["pwd", "hwk"])
            #expect(record.usedAt == now)
            // A reuse was seen before the tokens were recorded: the recording says so.
            #expect(
                try await store.recordAuthorizationCodeTokens(
                    hash: "h1", familyID: "f1", accessTokenID: "j1", accessTokenExpiresAt: now.addingTimeInterval(900)))
            guard case .reused(let reused) = try await store.redeemAuthorizationCode(hash: "h1", clientID: "shop", at: now) else {
                Issue.record("expected a reuse")
                return
            }
            #expect(reused.familyID == "f1")
            #expect(reused.accessTokenID == "j1")
        }
    }

    @Test("tokens recorded before any reuse report none; the sweep removes what expired", arguments: TestDatabases.engines)
    func recordAndSweep(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            let now = Fixtures.epoch.addingTimeInterval(1)
            try await store.insertAuthorizationLogin(Self.login())
            _ = try await store.recordLoginPassword(id: "l1", browserHash: "b1", userID: "u1", at: now)
            _ = try await store.finishLogin(id: "l1", browserHash: "b1", issuing: Self.code("h1"), at: now)
            guard case .redeemed = try await store.redeemAuthorizationCode(hash: "h1", clientID: "shop", at: now) else {
                Issue.record("expected a redemption")
                return
            }
            #expect(
                try await store.recordAuthorizationCodeTokens(
                    hash: "h1", familyID: nil, accessTokenID: "j1", accessTokenExpiresAt: now.addingTimeInterval(900)) == false)
            try await store.insertPushedAuthorizationRequest(id: "p1", request: Self.request, at: now, expiresAt: now.addingTimeInterval(60))
            #expect(try await store.sweepAuthorizationCodes(at: now) == 0)
            #expect(try await store.sweepAuthorizationCodes(at: now.addingTimeInterval(600)) == 2)
            // The used code stays a day, so that a late reuse is still recognised.
            #expect(try await TestDatabases.count("authorization_codes", in: store) == 1)
            #expect(try await store.sweepAuthorizationCodes(at: now.addingTimeInterval(86_400 + 61)) == 1)
        }
    }
}
