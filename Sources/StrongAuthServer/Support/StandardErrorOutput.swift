#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the log handlers write their lines: standard error, one `write(2)` per line (retried
/// where the kernel took part of it), so that lines of concurrent requests never interleave
/// within a line on a pipe, and nothing is held in a buffer a crash would lose.
enum StandardErrorOutput {
    @Sendable static func writeLine(_ line: some Collection<UInt8>) {
        let written: Void? = line.withContiguousStorageIfAvailable { writeAll($0) }
        if written == nil { Array(line).withUnsafeBufferPointer { writeAll($0) } }
    }

    private static func writeAll(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(STDERR_FILENO, base + offset, bytes.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
