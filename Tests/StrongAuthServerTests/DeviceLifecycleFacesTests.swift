import Foundation
import HummingbirdTesting
import StrongAuthCore
import Testing

/// Every face that removes a PowerAuth registration goes through `DeviceLifecycle`, so each
/// removal has the same effects whoever asks: REMOVED, one `REGISTRATION_STATUS_CHANGED` callback
/// and one audit record `powerauth.registration.removed` naming the actor.
@Suite("Device lifecycle: every face, the same removal")
struct DeviceLifecycleFacesTests {
    @Test("integrator, phone, user and operator remove a registration alike; a second removal is refused on each")
    func removalByEveryFace() async throws {
        try await TestServer.with { server in
            let (_, basic) = try await server.powerAuthSetup(callbackURL: "http://127.0.0.1:9/hooks")
            try await server.test { client in
                var ids: [String] = []
                for _ in 0..<4 {
                    let (_, created) = try await client.integration(
                        .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "u1", "appId": "my-application"])
                    ids.append(try #require(created["registrationId"] as? String))
                }
                let runtime = server.runtime
                let userID = try #require(try await runtime.store.registration(id: ids[0])?.device.userID)

                let (deleted, _) = try await client.integration(.delete, "/powerauth-cloud/v2/registrations/\(ids[0])", basic: basic)
                #expect(deleted.status == .ok)
                try await runtime.powerAuth.removeBySignedRequest(try #require(try await runtime.store.registration(id: ids[1])), source: nil)
                try await runtime.devices.removeDevice(userID: userID, deviceID: ids[2], source: nil)
                try await runtime.backOffice.removeDevice(id: ids[3], realm: "default", actor: "operator:test", source: nil)

                let actors = ["integration-user:integration-my-application", "device:\(ids[1])", "user:\(userID)", "operator:test"]
                let events = try await runtime.store.auditEvents(after: 0, limit: 1000).map(\.record)
                let deliveries = try await runtime.store.webhookDeliveries(subscriber: .application("my-application"), limit: 100)
                for (id, actor) in zip(ids, actors) {
                    #expect(try await runtime.store.registration(id: id)?.device.status == .removed)
                    let removals = events.filter { $0.subject == "device:\(id)" && $0.action.rawValue == "powerauth.registration.removed" }
                    #expect(removals.map(\.actor) == [actor], "\(id)")
                    #expect(removals.first?.details["application"] == "my-application")
                    let removed = try deliveries.filter { delivery in
                        let body = try #require(try JSONSerialization.jsonObject(with: Data(delivery.body.utf8)) as? [String: Any])
                        return body["registrationId"] as? String == id && body["registrationStatus"] as? String == "REMOVED"
                    }
                    #expect(removed.count == 1, "\(id)")
                }

                // Removed is final, on every face, in each face's own terms.
                let (again, _) = try await client.integration(.delete, "/powerauth-cloud/v2/registrations/\(ids[0])", basic: basic)
                #expect(again.status == .conflict)
                await #expect(throws: PowerAuthServiceError.registrationState(.removed)) {
                    try await runtime.powerAuth.removeBySignedRequest(try #require(try await runtime.store.registration(id: ids[1])), source: nil)
                }
                await #expect(throws: DeviceError.deviceNotFound) {
                    try await runtime.devices.removeDevice(userID: userID, deviceID: ids[2], source: nil)
                }
                await #expect(throws: BackOfficeError.invalidState("the device is REMOVED")) {
                    try await runtime.backOffice.removeDevice(id: ids[3], realm: "default", actor: "operator:test", source: nil)
                }
            }
        }
    }
}
