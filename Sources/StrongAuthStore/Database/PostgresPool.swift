import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import Synchronization

/// PostgreSQL through postgres-nio's `PostgresClient` (its own connection pool).
///
/// The client must be running before connections are leased, so the pool runs it in a task
/// of its own from creation until `shutdown()`: the server, the CLI and the tests all get a
/// usable pool without wiring it into a service group.
///
/// **When the database goes away** (restarted, failed over, unreachable), `PostgresClient`
/// reconnects by itself, but a lease waits meanwhile — up to its circuit breaker's minute —
/// and a query on a connection the server closed fails. So the pool keeps one bit of health:
/// a failure that means "no database" (a lost or refused connection, the server shutting down
/// or starting up) marks it unavailable, and then every call fails at once with
/// `DatabaseUnavailableError` (the faces answer 503) instead of queueing, while one recovery
/// task asks the database `SELECT 1` (each try bounded by `probeTimeout`) until it answers and
/// marks the pool available again. `isReachable()` (`/ready`) is such a bounded probe too.
///
/// When a probe times out, the database is really gone, and the recovery task replaces the
/// `PostgresClient` with a fresh one and shuts the old one down: postgres-nio 1.33 can leave a
/// lease queued across a restart that is never served (a request that hangs for ever and keeps
/// a graceful shutdown waiting; seen in `conformance/test_faults.py`), and shutting the old
/// client down fails such leases at once (503) instead. The once-a-second monitor also watches
/// the calls waiting for a connection (`LeaseWatch`): one that waits over `leaseTimeout` and is
/// lost — it began before an outage, or no call at all got a connection meanwhile — gets the
/// client replaced too, and retries once on the fresh client (its body never ran). A call that
/// merely waits its turn in a busy pool is left alone, and so is a probe that times out while
/// queued calls are being served: a saturated pool is busy, not down. A call still running on
/// a connection that closed under it (one backend terminated while the database answers) is
/// failed too, with no outage seen (`LeaseWatch.abandonCallsOnClosedConnections`). No node is
/// restarted; nothing is decided from the health bit but "try again later".
public final class PostgresPool: DatabasePool {
    public let engine = DatabaseEngine.postgres
    /// What each client (the first, and any replacement) is started with.
    let configuration: PostgresClient.Configuration
    private let logger: Logger
    /// How long one probe (`/ready`, or the recovery loop) waits for a connection and `SELECT 1`.
    public let probeTimeout: Duration
    /// Read on every call (one relaxed atomic load); written only when the health changes.
    private let available = Atomic<Bool>(true)
    private let state: Mutex<State>
    /// Names of the prepared data statements, shared by every connection (each prepares a name
    /// on first use); nil when statement reuse is off.
    let statements: PostgresStatementCache?

    private struct State {
        var client: PostgresClient
        var runTask: Task<Void, Never>
        /// Run tasks of replaced clients (cancelled; awaited at shutdown).
        var retired: [Task<Void, Never>] = []
        /// The recovery loop while the database is unreachable.
        var recovery: Task<Void, Never>?
        /// The once-a-second health check.
        var monitor: Task<Void, Never>?
        var isShutDown = false
    }

    /// Connects to a `postgres://user:password@host:port/database[?sslmode=require]` URL (or a
    /// Unix-domain socket's, `configuration(from:)`).
    /// `searchPath` confines every connection to one schema (the conformance tests give each
    /// test a schema of its own). `reusesStatements` runs the store's data statements as named
    /// prepared statements (`PostgresStatementCache`); off, every statement is parsed anew.
    /// `keepsConnectionsOpen` opens all `maximumConnections` at once and keeps them (a server's
    /// pool: no idle timer per lease, below); otherwise connections open on demand and close
    /// when idle (a CLI command, a test). `applicationName` names the connections in `pg_stat_activity`.
    public init(
        url: String, maximumConnections: Int = 20, keepsConnectionsOpen: Bool = false, searchPath: String? = nil,
        probeTimeout: Duration = .seconds(2), reusesStatements: Bool = true, applicationName: String = "strongauth", logger: Logger
    ) throws {
        var configuration = try Self.configuration(from: url)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters.append(("application_name", applicationName))
        if let searchPath {
            configuration.options.additionalStartupParameters.append(("search_path", searchPath))
        }
        // A server's pool is fixed in size: the idle timer (below) is started only for connections
        // above `minimumConnections`, and one per lease cost a node ~25 % of its CPU per
        // PostgreSQL read (docs/benchmarks.md, nineteenth pass). HikariCP advises the same.
        if keepsConnectionsOpen { configuration.options.minimumConnections = maximumConnections }
        // Each release of a connection to the pool schedules a keep-alive and an idle-timeout
        // timer in postgres-nio 1.33, each a `Task.sleep` whose wake-up task outlives its
        // cancellation until the deadline: under load, tens of thousands of them (30 s and 60 s
        // worth of releases) held ~35 MB, and starting them cost CPU on every release
        // (docs/benchmarks.md). No keep-alive (the monitor below finds a dead database every
        // second, and a dead connection fails its statement) and a short idle timeout keep them few.
        configuration.options.keepAliveBehavior = nil
        configuration.options.connectionIdleTimeout = Self.connectionIdleTimeout
        self.configuration = configuration
        self.logger = logger
        self.probeTimeout = probeTimeout
        statements = reusesStatements ? PostgresStatementCache() : nil
        let (client, runTask) = Self.startClient(configuration, logger: logger)
        state = Mutex(State(client: client, runTask: runTask))
        startMonitor()
    }

    /// Once a second, while the pool is available: `SELECT 1` within `monitorTimeout`. An outage
    /// that no request happened to notice (leases simply queue meanwhile) is found this way too,
    /// so that the client gets replaced and its queued leases fail instead of hanging.
    private func startMonitor() {
        let task = Task { [weak self] in
            var lastReplacement: ContinuousClock.Instant?
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let self, !Task.isCancelled else { return }
                if self.available.load(ordering: .relaxed), !(await self.answers(timeout: Self.monitorTimeout)) {
                    self.markUnavailable(because: nil)
                }
                let abandoned = self.leases.abandonCallsOlderThanTheOutage(runningLongerThan: Self.lostCallLimit)
                if abandoned > 0 {
                    self.logger.warning(
                        "\(abandoned) database call(s) from before the outage still had no answer; failing them (503)")
                }
                let orphaned = self.leases.abandonCallsOnClosedConnections(closedLongerThan: Self.closedConnectionGrace)
                if orphaned > 0 {
                    self.logger.warning("\(orphaned) database call(s) still waited on a closed connection; failing them (503)")
                }
                if let waited = self.leases.lostWait(longerThan: Self.leaseTimeout),
                    lastReplacement.map({ ContinuousClock.now - $0 > Self.leaseTimeout }) ?? true
                {
                    lastReplacement = .now
                    // A lease lost while the probes pass: postgres-nio 1.33 can lose one queued
                    // across a restart. Replacing the client fails it, and the call retries on
                    // the fresh client (`withConnection`).
                    self.logger.warning("a database lease waited \(waited); replacing the PostgreSQL client")
                    self.replaceClient()
                }
            }
        }
        state.withLock { $0.monitor = task }
    }

    /// How long an unused connection stays open: long enough to ride out a pause
    /// in the load, short enough that few idle timers are pending (see `init`).
    static let connectionIdleTimeout: Duration = .seconds(10)

    /// Generous: under load a lease may wait; only a database that does not answer for this long is down.
    static let monitorTimeout: Duration = .seconds(5)

    /// How long a lost call may wait for a connection before the watchdog replaces the client:
    /// well below a client's patience (HTTP clients and load balancers give up after 20–30 s).
    /// A call that waits this long in a pool that keeps serving others is not lost, only queued
    /// (a loaded test machine, 30 transactions on one row).
    static let leaseTimeout: Duration = .seconds(8)

    /// How long a call that began before an outage may still run its statements before the
    /// watchdog fails it: its connection died in the outage, and a statement sent as it died
    /// can wait for ever (`AbandonableCall`). No statement of ours takes seconds.
    static let lostCallLimit: Duration = .seconds(3)

    /// How long a call may still run after its connection closed: a closed connection fails its
    /// statement at once, so one that still waits after this lost its answer
    /// (`LeaseWatch.abandonCallsOnClosedConnections`). The watchdog looks once a second, so such
    /// a call fails one to two seconds after its connection closed.
    static let closedConnectionGrace: Duration = .milliseconds(500)

    /// The calls waiting for a connection or running on one right now, for the watchdog.
    private let leases = LeaseWatch()

    private static func startClient(_ configuration: PostgresClient.Configuration, logger: Logger) -> (PostgresClient, Task<Void, Never>) {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        // Detached: `run()` ends on the graceful shutdown of the service group it runs in, and a
        // client replaced from a request's task would inherit the server's — SIGTERM would close
        // the pool under the requests it is draining (503s). The pool ends in `shutdown()`.
        return (client, Task.detached { await client.run() })
    }

    private var client: PostgresClient { state.withLock { $0.client } }

    /// Parses a libpq-style URL into a client configuration.
    ///
    /// As libpq, a host that is an absolute path — `?host=/run/postgresql`, or the URL's host
    /// percent-encoded (`postgres://sa@%2Frun%2Fpostgresql/sa`) — names the directory of the
    /// server's Unix-domain socket (`.s.PGSQL.<port>`): on the database's own host that is
    /// cheaper per statement than TCP over loopback (docs/benchmarks.md, twenty-fourth pass).
    /// `sslmode` does not apply to a socket, as in libpq: it never leaves the host.
    static func configuration(from url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else { throw DatabaseURLError.invalid(url: Self.redacted(url)) }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        func parameter(_ name: String) -> String? { components.queryItems?.first(where: { $0.name == name })?.value }
        // `?host=` wins over the URL's host, as in libpq.
        guard let host = parameter("host") ?? components.host, !host.isEmpty else { throw DatabaseURLError.invalid(url: Self.redacted(url)) }
        let port = components.port ?? parameter("port").flatMap { Int($0) } ?? 5432
        if host.hasPrefix("/") {
            return PostgresClient.Configuration(
                unixSocketPath: "\(host)/.s.PGSQL.\(port)", username: components.user ?? "postgres",
                password: components.password, database: database.isEmpty ? nil : database)
        }
        let sslMode = parameter("sslmode") ?? "disable"
        let tls: PostgresClient.Configuration.TLS =
            switch sslMode {
            case "require", "verify-full", "verify-ca": .require(.makeClientConfiguration())
            case "prefer": .prefer(.makeClientConfiguration())
            default: .disable
            }
        return PostgresClient.Configuration(
            host: host, port: port, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: tls)
    }

    /// The URL without its password, for messages and logs.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<unparseable database URL>" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "<database URL>"
    }

    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await lease(inTransaction: false, body)
    }

    /// One connection for `body`; `inTransaction` tells the statement cache that a failed
    /// statement aborts the transaction (so it is not retried).
    private func lease<T: Sendable>(inTransaction: Bool, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        guard available.load(ordering: .relaxed) else { throw DatabaseUnavailableError(reason: "the database is not reachable") }
        var retried = false
        while true {
            let client = self.client
            let call = AbandonableCall<T>()
            let lease = leases.begin(call)
            do {
                let (leases, statements) = (leases, statements)
                return try await call.run {
                    defer { leases.finish(lease) }
                    return try await client.withConnection { connection in
                        leases.end(lease, served: true, on: connection)
                        return try await body(
                            LiveConnectionDatabase(
                                base: connection.sql(), connection: connection, statements: statements, inTransaction: inTransaction))
                    }
                }
            } catch {
                // Abandoned by the watchdog: its connection died under it (see `AbandonableCall`).
                // The outage is known already; this call only fails (503).
                if call.wasAbandoned { throw error }
                // A lease the watchdog gave up on (its client was replaced while the database
                // answers) never ran the body: nothing was sent, so it is safe to ask the fresh
                // client once more. During an outage the call fails at once instead (503).
                let neverStarted = leases.end(lease)
                if neverStarted, !retried, client !== self.client, available.load(ordering: .relaxed) {
                    retried = true
                    continue
                }
                throw translated(error)
            }
        }
    }

    /// The errors of one call as the store's callers see them.
    private func translated(_ error: any Error) -> any Error {
        if Self.meansUnavailable(error) {
            markUnavailable(because: error)
            return DatabaseUnavailableError(reason: "the database connection failed")
        }
        if let error = error as? PSQLError, error.code == .server, let sqlState = error.serverInfo?[.sqlState], sqlState.hasPrefix("22") {
            // SQLSTATE class 22, data exception: a value from the request that PostgreSQL cannot
            // take (a NUL character in text, a number out of range). Bad input, not a fault.
            return DatabaseInputError(sqlState: sqlState)
        }
        return error
    }

    /// Whether the database answers `SELECT 1` within `probeTimeout` (for `/ready`); also moves
    /// the pool's health either way.
    public func isReachable() async -> Bool {
        if await answers() {
            available.store(true, ordering: .relaxed)
            return true
        }
        markUnavailable(because: nil)
        return false
    }

    /// Whether calls fail at once with `DatabaseUnavailableError` right now.
    public var isMarkedUnavailable: Bool { !available.load(ordering: .relaxed) }

    /// Whether the database answers: `SELECT 1` within the timeout, or a call waiting for a
    /// connection got one while the probe waited. In a saturated pool the probe queues behind
    /// the calls holding every connection and may outwait its timeout; a pool that serves its
    /// queue is busy, not down (taking it for an outage failed every call with 503, then the
    /// client's replacement failed the transactions running on it). Calls that merely *fail*
    /// do not count: during an outage they fail fast.
    private func answers(timeout: Duration? = nil) async -> Bool {
        let started = ContinuousClock.now
        if await probe(timeout: timeout) { return true }
        return leases.served(since: started)
    }

    /// One bounded `SELECT 1`. It does not wait for a lease or query that outlives the timeout:
    /// after a restart, postgres-nio 1.33 can leave one that ignores cancellation for ever (it is
    /// failed when its client is replaced).
    private func probe(_ client: PostgresClient? = nil, timeout: Duration? = nil) async -> Bool {
        let client = client ?? self.client
        let timeout = timeout ?? probeTimeout
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let first = FirstAnswer(continuation)
            let query = Task {
                let answered =
                    (try? await client.withConnection { connection in
                        try await connection.sql().sql("SELECT 1 AS one").run()
                    }) != nil
                first.resume(answered)
            }
            Task {
                try? await Task.sleep(for: timeout)
                query.cancel()
                first.resume(false)
            }
        }
    }

    /// Marks the pool unavailable and starts the one recovery loop (if none runs).
    func markUnavailable(because error: (any Error)?) {
        available.store(false, ordering: .relaxed)
        leases.outage()
        let started: Bool = state.withLock { state in
            guard state.recovery == nil, !state.isShutDown else { return false }
            state.recovery = Task { [weak self] in
                var replaced = false
                while !Task.isCancelled {
                    guard let self else { return }
                    if await self.answers() {
                        self.state.withLock { $0.recovery = nil }
                        self.available.store(true, ordering: .relaxed)
                        self.logger.notice("the database is reachable again")
                        return
                    }
                    if !replaced {
                        replaced = true
                        self.replaceClient()
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
            return true
        }
        if started {
            logger.warning(
                "the database is not reachable; calls fail with 503 until it answers again",
                metadata: error.map { ["error": "\(String(reflecting: $0))"] } ?? [:])
        }
    }

    /// A fresh client for everything from now on; the old one is shut down, which fails the
    /// leases still queued in it.
    private func replaceClient() {
        let (client, runTask) = Self.startClient(configuration, logger: logger)
        let replaced: Bool = state.withLock { state in
            guard !state.isShutDown else { return false }
            state.client = client
            state.retired.append(state.runTask)
            state.runTask.cancel()
            state.runTask = runTask
            return true
        }
        if !replaced { runTask.cancel() }
    }

    /// Errors that say "there is no database to talk to" rather than "this statement failed":
    /// a lost, refused or closed connection, SQLSTATE classes 08 (connection exception) and 57
    /// (the server shutting down, starting up, or cancelling for the operator), too many
    /// connections (53300), and the pool's circuit breaker.
    static func meansUnavailable(_ error: any Error) -> Bool {
        if error is DatabaseUnavailableError { return true }
        if let error = error as? PSQLError {
            switch error.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
                return true
            case .server:
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
            default:
                return false
            }
        }
        return String(describing: error).contains("CircuitBreakerTripped")
    }

    public func withWriteConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await withConnection(body)
    }

    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await lease(inTransaction: true) { db in
            try await runTransaction(on: db, begin: "BEGIN", body)
        }
    }

    public func shutdown() async {
        let (recovery, monitor, tasks) = state.withLock { state in
            state.isShutDown = true
            defer { state.recovery = nil; state.monitor = nil }
            return (state.recovery, state.monitor, [state.runTask] + state.retired)
        }
        monitor?.cancel()
        recovery?.cancel()
        await recovery?.value
        for task in tasks { task.cancel() }
        // postgres-nio 1.33's `run()` may not return after a database restart (a connection left
        // retrying in the pool; vapor/postgres-nio#599, fixed in later releases): wait for it a
        // few seconds at most, so that SIGTERM still ends the server.
        let finished = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let first = FirstAnswer(continuation)
            Task {
                for task in tasks { await task.value }
                first.resume(true)
            }
            Task {
                try? await Task.sleep(for: .seconds(5))
                first.resume(false)
            }
        }
        if !finished {
            logger.warning("the PostgreSQL client did not stop within 5 s; leaving it behind")
        }
    }
}

/// A leased connection's `SQLDatabase` that refuses to send a statement once the connection is
/// closed. postgres-nio 1.33 writes a query to a closed channel without failing its promise, so
/// a statement sent after the server dropped the connection (the `ROLLBACK` after a failed
/// statement of a transaction, while PostgreSQL restarts) never returns, holding its lease and
/// keeping graceful shutdown waiting for ever (seen in `conformance/test_faults.py`). The check
/// is one atomic read per statement.
struct LiveConnectionDatabase: SQLDatabase {
    let base: any SQLDatabase
    let connection: PostgresConnection
    /// Prepared statements by SQL text (`PostgresStatementCache`), or nil for the plain path only.
    let statements: PostgresStatementCache?
    /// Whether the statements run inside `BEGIN … COMMIT`.
    let inTransaction: Bool

    var logger: Logger { base.logger }
    var eventLoop: any EventLoop { base.eventLoop }
    var version: (any SQLDatabaseReportedVersion)? { base.version }
    var dialect: any SQLDialect { base.dialect }
    var queryLogLevel: Logger.Level? { base.queryLogLevel }

    static let closed = DatabaseUnavailableError(reason: "the database connection is closed")

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        guard !connection.isClosed else { return eventLoop.makeFailedFuture(Self.closed) }
        return base.execute(sql: query, onRow)
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        guard !connection.isClosed else { throw Self.closed }
        try await executeCaching(sql: query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let (connection, statements, inTransaction) = (connection, statements, inTransaction)
        return try await base.withSession {
            try await closure(LiveConnectionDatabase(base: $0, connection: connection, statements: statements, inTransaction: inTransaction))
        }
    }
}

/// The calls waiting for a connection, and those running on one, with when each began: three
/// short lock holds per call.
///
/// It tells a lost call from a queued one: a call is lost if it began before the last outage
/// (postgres-nio 1.33 can drop a lease queued across a restart), or if no call at all got a
/// connection for as long as it has waited (the pool is stuck). A busy pool serves its queue.
/// A call that got its connection before an outage and still runs well after it is lost too:
/// its connection died, and the watchdog abandons it (`abandonCallsOlderThanTheOutage`).
final class LeaseWatch: Sendable {
    private struct Waiting {
        var next: UInt64 = 0
        /// The calls waiting for a connection: since when, the outages seen then, and how to
        /// abandon them once they run.
        var since: [UInt64: (began: ContinuousClock.Instant, outages: UInt64, call: (any Abandonable)?)] = [:]
        /// The abandonable calls running on a connection (moved here from `since`).
        var running: [UInt64: Running] = [:]
        /// Outages seen so far (the pool marked unavailable).
        var outages: UInt64 = 0
        /// When a waiting call last left the queue (served, or failed).
        var lastProgress = ContinuousClock.now
        /// When a waiting call last got a connection.
        var lastServed: ContinuousClock.Instant?
    }
    private let waiting = Mutex(Waiting())

    /// A call running on its connection.
    private struct Running {
        var began: ContinuousClock.Instant
        /// Outages seen when it began.
        var outages: UInt64
        var call: any Abandonable
        /// The connection it runs on, if known (its `isClosed` is one atomic read).
        var connection: (any ClosableConnection)?
        /// When the watchdog first saw its connection closed.
        var closedSeen: ContinuousClock.Instant?
    }

    /// Registers a call that is about to wait for a connection; `call` abandons it if it is
    /// lost while it runs.
    func begin(_ call: (any Abandonable)? = nil) -> UInt64 {
        let now = ContinuousClock.now
        return waiting.withLock { waiting in
            waiting.next &+= 1
            waiting.since[waiting.next] = (now, waiting.outages, call)
            return waiting.next
        }
    }

    /// The call got its connection (`served`: it now runs) or failed; true if it was still
    /// waiting (the body never ran). `connection` is the one it now runs on, watched for
    /// closing (`abandonCallsOnClosedConnections`).
    @discardableResult
    func end(_ id: UInt64, served: Bool = false, on connection: (any ClosableConnection)? = nil) -> Bool {
        let now = ContinuousClock.now
        return waiting.withLock { waiting in
            guard let waited = waiting.since.removeValue(forKey: id) else { return false }
            waiting.lastProgress = now
            if served {
                waiting.lastServed = now
                if let call = waited.call {
                    waiting.running[id] = Running(
                        began: waited.began, outages: waited.outages, call: call, connection: connection)
                }
            }
            return true
        }
    }

    /// The call returned (or threw) after it got its connection.
    func finish(_ id: UInt64) {
        _ = waiting.withLock { $0.running.removeValue(forKey: id) }
    }

    /// Abandons the running calls that began before the last outage and have run longer than
    /// `limit`; returns how many.
    func abandonCallsOlderThanTheOutage(runningLongerThan limit: Duration) -> Int {
        let now = ContinuousClock.now
        let lost: [any Abandonable] = waiting.withLock { waiting in
            let ids = waiting.running.filter { now - $0.value.began > limit && $0.value.outages < waiting.outages }.map(\.key)
            return ids.compactMap { waiting.running.removeValue(forKey: $0)?.call }
        }
        for call in lost { call.abandon() }
        return lost.count
    }

    /// Abandons the running calls whose connection has been closed for longer than `grace`;
    /// returns how many. A closed connection fails its statement at once (postgres-nio fails
    /// what is in flight when the channel goes inactive), so a call still running a moment
    /// after is waiting for an answer that was lost: a statement written just as the server
    /// closed the connection (`AbandonableCall`). The first sight of a closed connection only
    /// starts its grace, so that a failure already on its way is not overtaken.
    func abandonCallsOnClosedConnections(closedLongerThan grace: Duration) -> Int {
        let now = ContinuousClock.now
        let lost: [any Abandonable] = waiting.withLock { waiting in
            var lost: [any Abandonable] = []
            for (id, running) in waiting.running where running.connection?.isClosed == true {
                if let seen = running.closedSeen {
                    if now - seen > grace, let call = waiting.running.removeValue(forKey: id)?.call { lost.append(call) }
                } else {
                    waiting.running[id]?.closedSeen = now
                }
            }
            return lost
        }
        for call in lost { call.abandon() }
        return lost.count
    }

    /// Whether a waiting call got a connection after `instant`: the pool is serving its queue.
    func served(since instant: ContinuousClock.Instant) -> Bool {
        waiting.withLock { waiting in waiting.lastServed.map { $0 > instant } ?? false }
    }

    /// The pool has just been marked unavailable: calls waiting now began before an outage.
    func outage() {
        waiting.withLock { $0.outages &+= 1 }
    }

    /// How long the longest-waiting lost call has waited, if one has waited over `limit`.
    func lostWait(longerThan limit: Duration) -> Duration? {
        let now = ContinuousClock.now
        return waiting.withLock { waiting -> Duration? in
            let stuck = now - waiting.lastProgress > limit
            return waiting.since.values
                .filter { now - $0.began > limit && (stuck || $0.outages < waiting.outages) }
                .map { now - $0.began }
                .max()
        }
    }
}

/// A connection whose closing the watchdog can see.
protocol ClosableConnection: AnyObject, Sendable {
    var isClosed: Bool { get }
}

extension PostgresConnection: ClosableConnection {}

/// A call the watchdog can give up on.
protocol Abandonable: Sendable {
    /// Fails the call's caller at once; the call itself is left to finish (or not) on its own.
    func abandon()
}

/// One call's statements, run in a task of their own so that its caller can be given up on.
///
/// postgres-nio 1.33 writes a statement to its channel without a write promise: when the
/// server's close reaches the connection between our `isClosed` check (`LiveConnectionDatabase`)
/// and the write, the statement's promise is never completed, and the call waits for ever —
/// holding a request (or a background job) and, with it, a graceful shutdown
/// (`conformance/test_faults.py`, PostgreSQL restarted under load). Such a call cannot be
/// cancelled either. The watchdog abandons calls from before an outage that still run
/// (`LeaseWatch.abandonCallsOlderThanTheOutage`): the caller gets `DatabaseUnavailableError`
/// (503), and the stuck task is left behind with its dead connection, which sent nothing more.
/// Cancelling the caller cancels the task (the statements see it as before).
final class AbandonableCall<T: Sendable>: Abandonable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var task: Task<Void, Never>?
        var abandoned = false
    }
    private let state = Mutex(State())

    /// Whether the watchdog gave up on it.
    var wasAbandoned: Bool { state.withLock { $0.abandoned } }

    func run(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                state.withLock { $0.continuation = continuation }
                let task = Task {
                    do {
                        self.resume(.success(try await operation()))
                    } catch {
                        self.resume(.failure(error))
                    }
                }
                let abandoned = state.withLock { state -> Bool in
                    state.task = task
                    return state.abandoned
                }
                if abandoned || Task.isCancelled { task.cancel() }
            }
        } onCancel: {
            state.withLock { $0.task }?.cancel()
        }
    }

    func abandon() {
        let task: Task<Void, Never>? = state.withLock { state in
            state.abandoned = true
            return state.task
        }
        resume(.failure(DatabaseUnavailableError(reason: "the database connection was lost")))
        task?.cancel()
    }

    private func resume(_ result: Result<T, any Error>) {
        state.withLock { $0.continuation.take() }?.resume(with: result)
    }
}

/// Resumes a continuation with the first of several answers.
private final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>
    init(_ continuation: CheckedContinuation<Bool, Never>) { self.continuation = Mutex(continuation) }
    func resume(_ value: Bool) { continuation.withLock { $0.take() }?.resume(returning: value) }
}

/// The database cannot be reached right now (PostgreSQL restarting, the network down): the
/// request may be retried shortly. The faces answer 503 with `Retry-After`.
public struct DatabaseUnavailableError: Error, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { "database unavailable: \(reason)" }
}

/// The database refused a value the request carried (PostgreSQL's SQLSTATE class 22: a NUL
/// character in text, a number out of range, …). The faces answer 400: bad input never yields
/// a 5xx (docs/architecture.md). SQLite stores such values, so this comes from PostgreSQL only.
public struct DatabaseInputError: Error, CustomStringConvertible {
    public var sqlState: String
    public init(sqlState: String) { self.sqlState = sqlState }
    public var description: String { "the database refused a value of the request (SQLSTATE \(sqlState))" }
}

/// A database URL that cannot be used.
public enum DatabaseURLError: Error, CustomStringConvertible {
    case invalid(url: String)
    case unsupportedScheme(String)

    public var description: String {
        switch self {
        case .invalid(let url): "invalid PostgreSQL URL \(url); expected postgres://user:password@host:port/database (or ?host=/socket/directory)"
        case .unsupportedScheme(let scheme): "unsupported database scheme '\(scheme)'; use sqlite:PATH or postgres://…"
        }
    }
}
