import Testing

@testable import StrongAuthServer

/// NIO's event loops follow the usable processors only where they are fewer than NIO counts, and
/// never over NIO's own setting (conformance/test_processors.py checks the running server's threads).
@Suite("Event loop sizing")
struct EventLoopSizingTests {
    @Test("fewer usable processors than NIO counts: one loop per usable processor")
    func pinned() {
        #expect(EventLoopSizing.loopCount(environment: [:], usable: 1, counted: 2) == 1)
        #expect(EventLoopSizing.loopCount(environment: [:], usable: 3, counted: 64) == 3)
    }

    @Test("as many as NIO counts: NIO's own choice is left alone")
    func unpinned() {
        #expect(EventLoopSizing.loopCount(environment: [:], usable: 2, counted: 2) == nil)
    }

    @Test("NIO_SINGLETON_GROUP_LOOP_COUNT wins")
    func nioSetting() {
        #expect(EventLoopSizing.loopCount(environment: ["NIO_SINGLETON_GROUP_LOOP_COUNT": "4"], usable: 1, counted: 2) == nil)
    }
}
