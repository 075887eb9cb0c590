import Foundation
import NIOCore
import Testing

@testable import StrongAuthStore

/// The processors the process may use: the affinity mask of `/proc/self/status`, capped by NIO's
/// count (conformance/test_processors.py starts pinned servers and counts their threads).
@Suite("Usable processors")
struct UsableProcessorsTests {
    @Test("the Cpus_allowed mask: hexadecimal, in comma-separated groups of 32 bits")
    func parsesTheMask() {
        let status = "Name:\tstrongauth\nCpus_allowed:\t%@\nCpus_allowed_list:\t0-1\n"
        func count(_ mask: String) -> Int? { UsableProcessors.affinityCount(status: status.replacingOccurrences(of: "%@", with: mask)) }
        #expect(count("1") == 1)
        #expect(count("3") == 2)
        #expect(count("4") == 1)
        #expect(count("f0") == 4)
        #expect(count("ff,ffffffff") == 40)
        #expect(count("00000000,00000001") == 1)
        #expect(count("FF") == 8)
        #expect(count("0") == nil, "a mask that allows no CPU is not believed")
        #expect(count("xyz") == nil)
        #expect(count("") == nil)
        #expect(UsableProcessors.affinityCount(status: "Name:\tstrongauth\n") == nil)
    }

    @Test("at least one, at most NIO's count, and the mask's where there is one")
    func boundedByNIOAndTheMask() {
        #expect(UsableProcessors.count >= 1)
        #expect(UsableProcessors.counted == System.coreCount)
        #expect(UsableProcessors.count <= System.coreCount)
        #if os(Linux)
            let mask = UsableProcessors.affinityCount()
            #expect(mask != nil)
            #expect(UsableProcessors.count == min(System.coreCount, mask ?? .max))
        #endif
    }
}
