import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SQLKit
import StrongAuthCore
import StrongAuthProtocol
import Testing

/// One security model: a PowerAuth registration of `userId X` is a device of the
/// realm's user X. A Kontist device bound while only a PowerAuth phone is ACTIVE must wait for
/// that phone's approval (RTS art. 24) — before, `completeBindingChallenge` counted only
/// `ecdsa-p256` devices and the password token plus an SMS OTP yielded an ACTIVE device at once.
@Suite("A new Kontist device needs the approval of a bound PowerAuth phone")
struct CrossFaceDeviceApprovalTests {
    /// A user `alice` with a password token and an ACTIVE PowerAuth registration (committed).
    static func withPowerAuthBound(
        _ body: @escaping @Sendable (TestServer, any TestClientProtocol, String, PowerAuthTestPhone) async throws -> Void
    ) async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let (application, basic) = try await server.powerAuthSetup()
            let (_, created) = try await client.integration(
                .post, "/powerauth-cloud/v2/registrations", basic: basic, ["userId": "alice", "appId": "my-application"])
            let phone = try await server.activate(code: try #require(created["activationCode"] as? String), application: application)
            let (commit, _) = try await client.integration(
                .post, "/powerauth-cloud/v2/registrations/\(phone.registrationID)/commit", basic: basic, [:])
            #expect(commit.status == .ok)
            let user = try #require(try await server.runtime.store.user(realm: "default", username: "alice"))
            #expect(try await server.runtime.store.device(id: phone.registrationID)?.userID == user.id, "the registration is alice's device")
            try await body(server, client, token, phone)
        }
    }

    /// The PowerAuth phone's pending operations, through the mobile token API (MAC token).
    static func mobileList(_ server: TestServer, _ client: any TestClientProtocol, _ phone: PowerAuthTestPhone) async throws -> [[String: Any]] {
        let registration = try #require(try await server.runtime.store.registration(id: phone.registrationID))
        let token = try await server.runtime.powerAuth.createToken(for: registration, signatureType: "possession")
        let nonce = SecureRandom.bytes(16)
        let timestamp = UInt64(server.time.now().epochMilliseconds)
        let digest = PowerAuthTokenDigest.compute(tokenSecret: token.secret, nonce: nonce, timestamp: timestamp, version: .v3_1)
        let header = PowerAuthTokenHeader(tokenID: token.id, tokenDigest: digest, nonce: nonce, timestamp: timestamp, version: .v3_1)
        let (listed, list) = try await PowerAuthOperationsTests.mobile(
            client, "/list", header: ("X-PowerAuth-Token", header.headerValue), body: Array("{}".utf8))
        #expect(listed.status == .ok)
        return try #require(list["responseObject"] as? [[String: Any]])
    }

    /// Binds a Kontist phone named `name` with the password token; returns its id.
    static func bindKontist(_ phone: TestPhone, name: String, server: TestServer, client: any TestClientProtocol, token: String) async throws
        -> String
    {
        let (created, device) = try await client.postJSON("/api/user/devices", token: token, ["name": name, "key": phone.publicKeyHex])
        #expect(created.status == .created)
        let deviceID = try #require(device["deviceId"] as? String)
        let (verified, _) = try await client.postJSON(
            "/api/user/devices/\(deviceID)/verify", token: token,
            ["challengeId": try #require(device["challengeId"] as? String), "signature": try phone.signDER(try await server.latestOTP())])
        #expect(verified.status == .noContent)
        return deviceID
    }

    /// The PowerAuth phone approves the one pending new-device approval it lists (mobile token API).
    static func approveWithPowerAuth(_ server: TestServer, _ client: any TestClientProtocol, _ phone: inout PowerAuthTestPhone) async throws {
        let operation = try #require(try await mobileList(server, client, phone).first { $0["name"] as? String == "approve_device" })
        let body = try PowerAuthOperationsTests.json([
            "requestObject": ["id": try #require(operation["id"] as? String), "data": try #require(operation["data"] as? String)]
        ])
        let (authorized, json) = try await PowerAuthOperationsTests.mobile(
            client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: body)), body: body)
        #expect(authorized.status == .ok, "\(json)")
    }

    @Test("attack: password token + SMS OTP beside a bound PowerAuth phone → PENDING_COMMIT; the phone approves through the PowerAuth face")
    func powerAuthPhoneApproves() async throws {
        try await Self.withPowerAuthBound { server, client, token, phone in
            var phone = phone
            let kontist = TestPhone()
            let newID = try await Self.bindKontist(kontist, name: "Mallory's *phone*", server: server, client: client, token: token)
            #expect(try await server.runtime.store.device(id: newID)?.status == .pendingCommit, "a bound PowerAuth phone must approve it")
            let (early, _) = try await client.postJSON("/api/user/devices/\(newID)/challenges", token: token)
            #expect(early.status == .conflict, "a device awaiting approval cannot pass MFA")
            // The dispatcher may already have sent it: read the outbox table, not the due queue.
            let registrationID = phone.registrationID
            let pushes = try await server.runtime.store.pool.withConnection { db in
                try await db.raw("SELECT COUNT(*) AS n FROM notifications WHERE kind = 'push' AND recipient = \(bind: registrationID)")
                    .first()?.decode(column: "n", as: Int.self) ?? 0
            }
            #expect(pushes == 1, "the PowerAuth phone is told")

            // What the phone shows and signs names the new device and its key (dynamic linking).
            let operations = try await Self.mobileList(server, client, phone)
            #expect(operations.count == 1)
            let operation = try #require(operations.first)
            let id = try #require(operation["id"] as? String)
            let data = try #require(operation["data"] as? String)
            let fingerprint = DeviceService.keyFingerprint(publicKeyHex: kontist.publicKeyHex)
            #expect(data.contains(fingerprint))
            #expect(data.contains(#"Mallory's \*phone\*"#), "the name, with PowerAuth's escaping of '*'")
            let message = try #require((operation["formData"] as? [String: Any])?["message"] as? String)
            #expect(message.contains("Mallory's *phone*") && message.contains(fingerprint))

            // Other data than shown: refused and counted; the device stays pending.
            let other = try PowerAuthOperationsTests.json(["requestObject": ["id": id, "data": data + "x"]])
            let (mismatch, _) = try await PowerAuthOperationsTests.mobile(
                client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: other)), body: other)
            #expect(mismatch.status == .badRequest)
            #expect(try await server.runtime.store.device(id: newID)?.status == .pendingCommit)

            let body = try PowerAuthOperationsTests.json(["requestObject": ["id": id, "data": data]])
            let (authorized, authorizedJSON) = try await PowerAuthOperationsTests.mobile(
                client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: body)), body: body)
            #expect(authorized.status == .ok, "\(authorizedJSON)")
            let activated = try #require(try await server.runtime.store.device(id: newID))
            #expect(activated.status == .active)
            #expect(try await server.runtime.store.approval(id: id)?.status == .approved)
            let (again, againJSON) = try await PowerAuthOperationsTests.mobile(
                client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: body)), body: body)
            expectPowerAuthError(again, againJSON, status: .badRequest, code: "OPERATION_ALREADY_FINISHED")
            #expect(try await server.runtime.store.device(id: newID)?.activatedAt == activated.activatedAt, "activated once")
            let (challenge, _) = try await client.postJSON("/api/user/devices/\(newID)/challenges", token: token)
            #expect(challenge.status == .created || challenge.status == .ok)
        }
    }

    @Test("the PowerAuth phone rejects: the new device is REMOVED, never ACTIVE")
    func powerAuthPhoneRejects() async throws {
        try await Self.withPowerAuthBound { server, client, token, phone in
            var phone = phone
            let newID = try await Self.bindKontist(TestPhone(), name: "iPhone", server: server, client: client, token: token)
            let id = try #require(try await Self.mobileList(server, client, phone).first?["id"] as? String)
            let reject = try PowerAuthOperationsTests.json(["requestObject": ["id": id, "reason": "UNEXPECTED_OPERATION"]])
            let (rejected, rejectedJSON) = try await PowerAuthOperationsTests.mobile(
                client, "/cancel",
                header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/cancel", body: reject, factors: [.possession])),
                body: reject)
            #expect(rejected.status == .ok, "\(rejectedJSON)")
            #expect(try await server.runtime.store.device(id: newID)?.status == .removed)
            #expect(try await server.runtime.store.approval(id: id)?.status == .rejected)
        }
    }

    @Test("an expired approval leaves the new device PENDING_COMMIT; it can no longer be approved")
    func expiredApproval() async throws {
        try await Self.withPowerAuthBound { server, client, token, phone in
            var phone = phone
            let newID = try await Self.bindKontist(TestPhone(), name: "iPhone", server: server, client: client, token: token)
            let operation = try #require(try await Self.mobileList(server, client, phone).first)
            let id = try #require(operation["id"] as? String)
            server.time.advance(by: 301)
            #expect(try await Self.mobileList(server, client, phone).isEmpty)
            let body = try PowerAuthOperationsTests.json(["requestObject": ["id": id, "data": try #require(operation["data"] as? String)]])
            let (late, _) = try await PowerAuthOperationsTests.mobile(
                client, "/authorize", header: ("X-PowerAuth-Authorization", phone.sign(uriID: "/operation/authorize", body: body)), body: body)
            #expect(late.status != .ok)
            #expect(try await server.runtime.store.device(id: newID)?.status == .pendingCommit)
        }
    }

    @Test("an ECDSA-bound phone approves the new device through /api/user/approvals too; the old approve path closes the approval")
    func ecdsaPhoneApprovesThroughTheEngine() async throws {
        try await DevicesTests.withUserToken { server, client, token, _ in
            let first = TestPhone()
            let firstID = try await DevicesTests.bind(first, server: server, client: client, token: token)
            let second = TestPhone()
            let secondID = try await DevicesTests.bind(second, server: server, client: client, token: token)
            #expect(try await server.runtime.store.device(id: secondID)?.status == .pendingCommit)
            let list = try await client.executeRequest(uri: "/api/user/approvals", method: .get, headers: HTTP.bearer(token), body: nil)
            let pending = try #require(try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [[String: Any]])
            #expect(pending.count == 1)
            let item = try #require(pending.first)
            let id = try #require(item["id"] as? String)
            let data = try #require(item["data"] as? String)
            #expect(data.contains(DeviceService.keyFingerprint(publicKeyHex: second.publicKeyHex)))
            let (approved, approvedJSON) = try await client.postJSON(
                "/api/user/approvals/\(id)/approve", token: token,
                ["deviceId": firstID, "data": data, "signature": try first.signDER(ApprovalService.approvalMessage(id: id, data: data))])
            #expect(approved.status == .ok || approved.status == .noContent, "\(approvedJSON)")
            #expect(try await server.runtime.store.device(id: secondID)?.status == .active)

            // The RTS art. 24 path of before: approving with `approve-device:…` also closes the approval.
            let third = TestPhone()
            let thirdID = try await DevicesTests.bind(third, server: server, client: client, token: token)
            let (_, confirmed) = try await DevicesTests.confirm(first, deviceID: firstID, client: client, token: token)
            let twoFactor = try #require(confirmed["token"] as? String)
            let message = DeviceService.approvalMessage(deviceID: thirdID, publicKeyHex: third.publicKeyHex)
            let (old, _) = try await client.postJSON(
                "/api/user/devices/\(thirdID)/approve", token: twoFactor, ["approverDeviceId": firstID, "signature": try first.signDER(message)])
            #expect(old.status == .noContent)
            #expect(try await server.runtime.store.device(id: thirdID)?.status == .active)
            let alice = try #require(try await server.runtime.store.user(realm: "default", username: "alice"))
            #expect(try await server.runtime.approvals.pending(userID: alice.id).isEmpty, "no stale approval of an ACTIVE device")
        }
    }
}
