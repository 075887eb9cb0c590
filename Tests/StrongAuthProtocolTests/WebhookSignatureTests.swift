import Crypto
import Foundation
import StrongAuthProtocol
import Testing

/// The receiver's side of webhook signatures (SECURITY.md): ±5 minutes, dedupe on the signed eventId.
@Suite("Webhook signatures: HMAC over t and body, ±5 minutes, the signed eventId")
struct WebhookSignatureTests {
    let secret = Array("sa_whs_test-secret".utf8)
    let body = Array(#"{"eventId":"3f1c","operationId":"op-1","status":"APPROVED","type":"OPERATION_STATUS_CHANGED"}"#.utf8)
    let signedAt = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("the header is the documented HMAC-SHA256(secret, \"<t>.<body>\"), and verifying returns the eventId inside the signed body")
    func roundTrip() throws {
        let header = WebhookSignature.header(secret: secret, body: body, timestamp: 1_800_000_000)
        let expected = HMAC<SHA256>.authenticationCode(for: Array("1800000000.".utf8) + body, using: SymmetricKey(data: secret))
        #expect(header == "t=1800000000,v1=\(Hex.encode(expected))")
        #expect(try WebhookSignature.verify(header: header, body: body, secret: secret, now: signedAt) == "3f1c")
    }

    @Test("t may be up to 5 minutes off either way, not more: an old delivery replayed later is refused")
    func tolerance() throws {
        let header = WebhookSignature.header(secret: secret, body: body, timestamp: 1_800_000_000)
        for offset in [-300.0, -299, 0, 299, 300] {
            #expect(try WebhookSignature.verify(header: header, body: body, secret: secret, now: signedAt.addingTimeInterval(offset)) == "3f1c")
        }
        for offset in [-301.0, 301, 86_400] {
            #expect(throws: WebhookSignature.Failure.outsideTolerance) {
                try WebhookSignature.verify(header: header, body: body, secret: secret, now: signedAt.addingTimeInterval(offset))
            }
        }
    }

    @Test("another body, another t, another secret or a malformed header is refused")
    func refusals() throws {
        let header = WebhookSignature.header(secret: secret, body: body, timestamp: 1_800_000_000)
        var changed = body
        changed[changed.count - 3] ^= 1
        #expect(throws: WebhookSignature.Failure.badSignature) {
            try WebhookSignature.verify(header: header, body: changed, secret: secret, now: signedAt)
        }
        let retimed = header.replacingOccurrences(of: "t=1800000000", with: "t=1800000100")
        #expect(throws: WebhookSignature.Failure.badSignature) {
            try WebhookSignature.verify(header: retimed, body: body, secret: secret, now: signedAt.addingTimeInterval(100))
        }
        #expect(throws: WebhookSignature.Failure.badSignature) {
            try WebhookSignature.verify(header: header, body: body, secret: Array("other".utf8), now: signedAt)
        }
        for malformed in ["", "t=1800000000", "v1=00", "t=soon,v1=00", "t=1800000000,v1=zz"] {
            #expect(throws: WebhookSignature.Failure.malformedHeader) {
                try WebhookSignature.verify(header: malformed, body: body, secret: secret, now: signedAt)
            }
        }
        let noID = Array(#"{"status":"APPROVED"}"#.utf8)
        #expect(throws: WebhookSignature.Failure.noEventID) {
            try WebhookSignature.verify(
                header: WebhookSignature.header(secret: secret, body: noID, timestamp: 1_800_000_000), body: noID, secret: secret, now: signedAt)
        }
    }
}
