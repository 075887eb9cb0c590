import Foundation

/// Threads of their own on which SQLite work runs (a `TaskExecutor`).
///
/// SQLite blocks its caller: on the disk (a commit that fills the write-ahead log checkpoints
/// it, with `fsync`; a page not in memory is read) and for as long as a statement takes. Run on
/// the threads every task shares (as many as the machine has cores), such pauses would stall
/// the whole server. A lease of a connection hops here once and back once
/// (`withTaskExecutorPreference`, in `SQLitePool`), and its statements then run in line, one
/// after the other, on the same thread — instead of the two hops per statement of a driver
/// that sends each statement to a thread pool.
final class SQLiteThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var next = 0
    private var stopping = false

    /// Starts `threads` threads named `name`, which take jobs from one queue. Returns once every
    /// one of them runs and has its name, so the process's threads are what they will be from
    /// then on (`top -H`, `perf`, conformance/test_processors.py counting them).
    init(name: String, threads: Int) {
        let count = max(1, threads)
        let started = DispatchSemaphore(value: 0)
        for _ in 0..<count {
            let thread = Thread { [self] in run(name: name, started: started) }
            thread.start()
            // Named here, once `start()` has returned, not by the thread itself: Foundation's
            // setter names a thread's pthread (the kernel's name, as `top -H` and `perf` show it)
            // only once `start()` has recorded it, so a new thread that ran first and named itself
            // kept the name of the thread that made it — a reader made on the writer's thread was
            // a second "sqlite-writer" (SQLiteThreadExecutorTests.threadsNamedOnOneCPU).
            thread.name = name
        }
        for _ in 0..<count { started.wait() }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// How many jobs wait for a thread (for the tests of group commit).
    var queuedJobs: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count - next
    }

    /// Ends the threads once the jobs already enqueued have run.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    /// The executor name of the thread calling this, `nil` off the executors' threads.
    static var currentThreadName: String? { Thread.current.threadDictionary[threadKey] as? String }
    private static let threadKey = "strongauth.sqlite-executor"

    private func run(name: String, started: DispatchSemaphore) {
        Thread.current.threadDictionary[Self.threadKey] = name
        started.signal()
        while true {
            condition.lock()
            while next == jobs.count && !stopping { condition.wait() }
            if next == jobs.count {
                condition.unlock()
                return
            }
            let job = jobs[next]
            next += 1
            if next == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                next = 0
            } else if next >= 256 && next * 2 >= jobs.count {
                // Under constant load the queue may never run dry: drop the jobs already taken.
                jobs.removeFirst(next)
                next = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
