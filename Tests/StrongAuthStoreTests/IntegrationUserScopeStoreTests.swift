import Foundation
import StrongAuthCore
import StrongAuthStore
import Testing

/// An integration user's applications are decided twice: in Swift (`IntegrationUser.mayUse`, the
/// full path of every PowerAuth call) and in SQL (the signature fast path's conditional update,
/// `SQLStore.integrationUserMayUse`). They must agree on every engine, for every identifier —
/// including LIKE's metacharacters, the escape character and letters in another case.
@Suite("Store conformance: integration user scope")
struct IntegrationUserScopeStoreTests {
    static let users: [(name: String, applications: [String])] = [
        ("plain", ["my-application"]),
        ("underscore", ["app_1"]),
        ("percent", ["a%b"]),
        ("bang", ["x!y"]),
        ("upper", ["App"]),
        ("several", ["one", "two", "three"]),
        ("none", []),
        ("longer", ["application"]),
    ]

    static let applicationIDs = [
        "my-application", "my-applicatio", "y-application", "application", "app_1", "appX1", "app%1", "app_", "a%b", "aXb", "a%", "%",
        "_", "x!y", "x!!y", "x", "App", "app", "APP", "two", "tw", "wo", "one two", "two three", " two", "two ", "", "%%", "!", "!_",
    ]

    @Test("SQL scope == IntegrationUser.mayUse for every application id", arguments: TestDatabases.engines)
    func sqlAgreesWithSwift(engine: DatabaseEngine) async throws {
        try await TestDatabases.withStore(engine) { store in
            var users: [IntegrationUser] = []
            for (name, applications) in Self.users {
                let user = IntegrationUser(name: name, passwordHash: "hash", applicationIDs: applications, createdAt: Fixtures.epoch)
                try await store.insertIntegrationUser(user)
                users.append(user)
            }
            for applicationID in Self.applicationIDs {
                let expected = users.filter { $0.mayUse(applicationID: applicationID) }.map(\.name).sorted()
                let inSQL = try await store.integrationUserNames(mayUse: applicationID)
                #expect(inSQL == expected, "application id '\(applicationID)' on \(engine)")
            }
        }
    }
}
