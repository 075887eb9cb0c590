import Foundation
import NIOCore

/// How many processors this process may run on, to size its threads by.
///
/// NIO's `System.coreCount` honours cgroup quotas and cpusets (a container's CPU limit), but
/// neither it nor Foundation's `activeProcessorCount` reads the CPU affinity mask — what
/// `taskset`, `numactl` or a unit's `CPUAffinity=` give a process. A server pinned to one CPU of
/// a two-CPU machine ran two event loops and two SQLite reader threads on it, each hand-off
/// between them a context switch on the one CPU: sized to the CPU it has, a device challenge
/// verification cost ~8 % less server CPU, introspection and the client_credentials grant 9–20 %
/// (docs/benchmarks.md, twenty-third pass). Go's runtime and the JVM size themselves the same way.
public enum UsableProcessors {
    /// NIO's count: the machine's processors, or a container's quota or cpuset (`System.coreCount`
    /// reads the cgroup's files at every call; read once here).
    public static let counted: Int = System.coreCount

    /// NIO's count capped by the affinity mask (read once, at first use).
    public static let count: Int = max(1, min(counted, affinityCount() ?? .max))

    /// How many CPUs the affinity mask allows (`Cpus_allowed` of `/proc/self/status`); `nil`
    /// where there is no such file (not Linux) or it cannot be read.
    static func affinityCount() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return affinityCount(status: status)
    }

    /// The CPUs of the `Cpus_allowed:` line of a `/proc/<pid>/status` text: a hexadecimal mask,
    /// in groups of 32 bits separated by commas (`ff,ffffffff`). `nil` when there is no such line
    /// or it is not a mask, or it allows no CPU.
    static func affinityCount(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            let mask = line.dropFirst("Cpus_allowed:".count).filter { !$0.isWhitespace && $0 != "," }
            guard !mask.isEmpty else { return nil }
            var count = 0
            for digit in mask {
                guard let value = digit.hexDigitValue else { return nil }
                count += value.nonzeroBitCount
            }
            return count > 0 ? count : nil
        }
        return nil
    }
}
