import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import StrongAuthClient

extension BenchCommand {
    /// DPoP-bound `client_credentials` grants (RFC 9449): every request carries a fresh proof
    /// (a new `jti`, signed ES256 by the loop's own key), so the server verifies a proof, spends
    /// its `jti` in the replay guard and signs a `cnf.jkt`-bound token each time. wrk cannot sign,
    /// hence this generator.
    struct DPoPTokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dpop-tokens", abstract: "DPoP-bound client_credentials grants in a loop; reports grants/s.")

        @Option(help: "The server's base URL (its issuer: a proof's htu names it).") var server = "http://127.0.0.1:8080"
        @Option(name: .customLong("client-id")) var clientID: String
        @Option(name: .customLong("client-secret"), help: "Or STRONGAUTH_CLIENT_SECRET.") var clientSecret: String?
        @Option(help: "Concurrent loops, each with its own DPoP key.") var concurrency = 32
        @Option(help: "Seconds to run.") var duration = 10.0

        func run() async throws {
            let secret = clientSecret ?? ProcessInfo.processInfo.environment["STRONGAUTH_CLIENT_SECRET"]
            let sdk = IntegratorClient(baseURL: server, clientID: clientID, clientSecret: secret)
            struct NotBound: Error {}
            let signer = DPoPSigner()
            guard try await sdk.withDPoP(signer).clientCredentials().tokenType == .dPoP else { throw NotBound() }
            let figures = try await LoadRun.measure(concurrency: concurrency, duration: duration) {
                // A fresh proof per request; one key per request costs a key generation (~20 µs), not a server's work.
                guard try await sdk.withDPoP(signer).clientCredentials().tokenType == .dPoP else { throw NotBound() }
            }
            try printJSON([
                "grants": figures.completed, "failures": figures.failures, "seconds": figures.seconds,
                "perSecond": figures.perSecond, "p50": figures.p50, "p99": figures.p99,
            ])
            if figures.failures > 0 { throw ExitCode(1) }
        }
    }

    /// The authorization code exchange (RFC 6749 §4.1.3 with PKCE): first as many codes as the
    /// hosted login yields in `--prepare` seconds (each a browser's GET /oauth/authorize and password
    /// form: bcrypt-bound), then every code redeemed at the token endpoint as fast as the server
    /// allows. Codes live 60 s, so preparation stays under that.
    struct AuthorizationCodes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "authorization-codes", abstract: "Prepare codes through the hosted login, then measure their exchange.")

        @Option var server = "http://127.0.0.1:8080"
        @Option(name: .customLong("client-id"), help: "A client with authorization_code and --redirect-uri https://bench.example/cb.")
        var clientID: String
        @Option(name: .customLong("client-secret"), help: "Or STRONGAUTH_CLIENT_SECRET.") var clientSecret: String?
        @Option(help: "Usernames USERNAME-0 … USERNAME-(users-1), one password.") var username: String
        @Option var users = 128
        @Option(help: "Or STRONGAUTH_USER_PASSWORD.") var password: String?
        @Option(help: "Concurrent loops.") var concurrency = 32
        @Option(help: "Seconds to spend preparing codes (< 60: codes expire).") var prepare = 30.0

        static let redirectURI = "https://bench.example/cb"

        func validate() throws {
            guard prepare > 0, prepare < 55 else { throw ValidationError("--prepare is between 0 and 55 seconds") }
        }

        func run() async throws {
            let secret = clientSecret ?? ProcessInfo.processInfo.environment["STRONGAUTH_CLIENT_SECRET"]
            let userPassword = password ?? ProcessInfo.processInfo.environment["STRONGAUTH_USER_PASSWORD"] ?? ""
            let sdk = IntegratorClient(baseURL: server, clientID: clientID, clientSecret: secret)
            let issuer = try await sdk.metadata().issuer
            let codes = CodeShelf()
            let next = Nodes.Rotation(count: users)
            let (server, clientID, username) = (server, clientID, username)
            let prepared = try await LoadRun.measure(concurrency: concurrency, duration: prepare) {
                let (url, pending) = AuthorizationCodeFlow.authorizationURL(
                    issuer: issuer, clientID: clientID, redirectURI: Self.redirectURI, scope: nil)
                let callback = try await HostedLoginBrowser.signIn(
                    server: server, issuer: issuer, url: url, username: "\(username)-\(next())", password: userPassword)
                codes.put((try AuthorizationCodeFlow.code(fromCallback: callback, pending: pending), pending))
            }
            let count = codes.count
            let exchanged = try await LoadRun.measure(concurrency: concurrency, duration: 55 - prepare) {
                guard let (code, pending) = codes.take() else { throw LoadRun.Done() }
                _ = try await sdk.exchangeCode(code, pending: pending)
            }
            try printJSON([
                "codes": count, "prepareFailures": prepared.failures, "exchanges": exchanged.completed,
                "failures": exchanged.failures, "seconds": exchanged.seconds, "perSecond": exchanged.perSecond, "p50": exchanged.p50,
                "p99": exchanged.p99, "loginsPerSecond": prepared.perSecond,
            ])
            if exchanged.failures > 0 || prepared.failures > 0 || count == 0 { throw ExitCode(1) }
        }
    }
}

/// Codes waiting to be exchanged, shared by the loops.
final class CodeShelf: @unchecked Sendable {
    private let lock = NSLock()
    private var codes: [(String, PendingAuthorization)] = []

    var count: Int { lock.withLock { codes.count } }
    func put(_ code: (String, PendingAuthorization)) { lock.withLock { codes.append(code) } }
    func take() -> (String, PendingAuthorization)? { lock.withLock { codes.popLast() } }
}

/// What a browser does at the hosted login, without JavaScript: GET the authorization URL (a
/// cookie and the form's hidden fields come back), POST the password form, read the redirect.
enum HostedLoginBrowser {
    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    /// Redirects are read, never followed: the code is in the one to the client.
    static let http = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    static func signIn(server: String, issuer: String, url: String, username: String, password: String) async throws -> String {
        // The URL names the issuer; the request goes to the server it runs on.
        let path = String(url.dropFirst(issuer.count))
        var request = HTTPClientRequest(url: server + path)
        let page = try await http.execute(request, timeout: .seconds(30))
        guard page.status == .ok else { throw Refused(description: "GET /oauth/authorize: \(page.status)") }
        let cookies = page.headers["set-cookie"].map { $0.split(separator: ";")[0] }.joined(separator: "; ")
        let html = String(buffer: try await page.body.collect(upTo: 1 << 20))
        var fields: [(String, String)] = []
        for match in html.matches(of: #/<input type="hidden" name="([^"]+)" value="([^"]*)">/#) {
            fields.append((String(match.1), String(match.2)))
        }
        fields += [("username", username), ("password", password)]
        request = HTTPClientRequest(url: server + "/oauth/authorize/login")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Cookie", value: cookies)
        request.body = .bytes(
            ByteBuffer(string: fields.map { "\(IntegratorClient.formEncode($0.0))=\(IntegratorClient.formEncode($0.1))" }.joined(separator: "&")))
        let answer = try await http.execute(request, timeout: .seconds(30))
        guard answer.status == .seeOther, let location = answer.headers.first(name: "location") else {
            throw Refused(description: "POST /oauth/authorize/login: \(answer.status)")
        }
        return location
    }
}
