import Foundation
import StrongAuthProtocol
import Testing

@testable import StrongAuthCore

@Suite("Time-ordered ids from the core's clock")
struct TimeOrderedIDTests {
    @Test("timeOrderedUUID(at:) stamps the given time's milliseconds, whatever the wall clock says")
    func stampsTheGivenTime() {
        let clock = ManualTimeSource(Date(timeIntervalSince1970: 1_645_557_742.0))  // RFC 9562 A.6: 2022-02-22 14:22:22 −05:00
        let id = SecureRandom.timeOrderedUUID(at: clock.now())
        #expect(id.hasPrefix("017f22e2-79b0-7"))
        clock.advance(by: 0.001)
        #expect(SecureRandom.timeOrderedUUID(at: clock.now()) > id)
        // The current time: within a second of the clock's.
        let now = SecureRandom.timeOrderedUUID(at: Date())
        let stamp = UInt64(now.replacing("-", with: "").prefix(12), radix: 16) ?? 0
        let wall = UInt64(Date().timeIntervalSince1970 * 1000)
        #expect(stamp <= wall && wall - stamp < 1000)
    }
}
