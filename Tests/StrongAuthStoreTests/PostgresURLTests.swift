import Foundation
import Logging
import SQLKit
import Testing

@testable import StrongAuthStore

/// Database URLs as libpq reads them: a host that is an absolute path — in `?host=`, or the URL's
/// host percent-encoded — is the directory of the server's Unix-domain socket.
@Suite("PostgreSQL URLs: TCP and Unix-domain sockets")
struct PostgresURLTests {
    @Test("a host name is TCP, with the URL's port, credentials, database and sslmode")
    func tcp() throws {
        let configuration = try PostgresPool.configuration(from: "postgres://sa:secret@db.example:6543/strongauth?sslmode=require")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.unixSocketPath == nil)
        #expect(configuration.username == "sa")
        #expect(configuration.password == "secret")
        #expect(configuration.database == "strongauth")
        #expect(try PostgresPool.configuration(from: "postgresql://sa@127.0.0.1/sa").port == 5432)
        #expect(try PostgresPool.configuration(from: "postgres://sa@/sa?host=db.example&port=7000").host == "db.example")
        #expect(try PostgresPool.configuration(from: "postgres://sa@/sa?host=db.example&port=7000").port == 7000)
    }

    @Test("a host that is a path is a socket directory: ?host=, or percent-encoded in the URL; the port names the socket")
    func unixSocket() throws {
        let byParameter = try PostgresPool.configuration(from: "postgres://sa:sa@/strongauth?host=/run/postgresql")
        #expect(byParameter.unixSocketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(byParameter.host == nil)
        #expect(byParameter.username == "sa")
        #expect(byParameter.database == "strongauth")
        #expect(
            try PostgresPool.configuration(from: "postgres://sa@/sa?host=/var/run/postgresql&port=54329").unixSocketPath
                == "/var/run/postgresql/.s.PGSQL.54329")
        #expect(
            try PostgresPool.configuration(from: "postgresql://sa:sa@%2Ftmp%2Fpg%20data:6000/sa").unixSocketPath == "/tmp/pg data/.s.PGSQL.6000")
    }

    @Test("no host at all, another scheme or no URL is refused, without the password in the message")
    func refused() {
        for url in ["postgres://sa:hunter2@/sa", "mysql://sa:hunter2@db/sa", "not a url"] {
            #expect {
                try PostgresPool.configuration(from: url)
            } throws: { error in
                error is DatabaseURLError && !String(describing: error).contains("hunter2")
            }
        }
    }

    @Test(
        "a pool over the test server's Unix-domain socket reads, and PostgreSQL sees a socket connection",
        .enabled(if: TestDatabases.postgresSocketURL != nil || (TestDatabases.isCI && TestDatabases.postgresURL != nil)))
    func poolOverTheSocket() async throws {
        let url = try #require(TestDatabases.postgresSocketURL, "scripts/test sets STRONGAUTH_TEST_POSTGRES_SOCKET_URL")
        #expect(try PostgresPool.configuration(from: url).unixSocketPath != nil)
        let socket = try PostgresPool(url: url, maximumConnections: 1, logger: Logger(label: "test"))
        do {
            let answer = try await socket.withConnection { db in
                try await db.raw("SELECT inet_server_addr() IS NULL AS local, 41 + 1 AS n").first()
            }
            // inet_server_addr() is NULL on a Unix-domain socket connection.
            #expect(try answer?.decode(column: "local", as: Bool.self) == true)
            #expect(try answer?.decode(column: "n", as: Int.self) == 42)
        } catch {
            await socket.shutdown()
            throw error
        }
        await socket.shutdown()
    }
}
