import ArgumentParser
import Foundation
import Hummingbird
import StrongAuthClient

/// `strongauth login`: a developer's smoke test of the authorization code flow, as a native app
/// runs it (RFC 8252): a loopback listener on 127.0.0.1 receives the redirect, PKCE S256 and
/// `state`/`iss` are checked by the SDK, the code is exchanged, and the tokens are printed.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Sign in through the hosted login (authorization code + PKCE) and print the tokens.",
        discussion: """
            Register the client with the loopback redirect URI first (any port matches, RFC 8252 §7.3):
              strongauth clients create --id cli --public --grants authorization_code,refresh_token \\
                --redirect-uri http://127.0.0.1/callback --scopes accounts
            Then run `strongauth login --client-id cli`, open the printed URL in a browser and sign in.
            The URL goes to standard error, the tokens (JSON) to standard output.
            """)

    @Option(help: "The server's base URL.") var server = "http://127.0.0.1:8080"
    @Option(name: .customLong("client-id"), help: "The client (registered with http://127.0.0.1/callback).") var clientID: String
    @Option(
        name: .customLong("client-secret"),
        help: "A confidential client's secret (or STRONGAUTH_CLIENT_SECRET); none for a public client.")
    var clientSecret: String?
    @Option(help: "Scopes to ask for, space-separated.") var scope: String?
    @Option(help: "acr_values, e.g. urn:strongauth:acr:2fa (a device approval or an SMS code after the password).") var acr: String?
    @Flag(help: "Push the request to /oauth/par first (RFC 9126).") var par = false
    @Option(help: "The loopback port to listen on (0: any free port).") var port = 0
    @Option(help: "Seconds to wait for the browser.") var timeout = 300.0

    func run() async throws {
        let secret = clientSecret ?? ProcessInfo.processInfo.environment["STRONGAUTH_CLIENT_SECRET"]
        let sdk = IntegratorClient(baseURL: server, clientID: clientID, clientSecret: secret)
        let issuer = try await sdk.metadata().issuer
        let listener = try await CallbackListener.start(port: port)
        defer { listener.stop() }
        let redirectURI = "http://127.0.0.1:\(listener.port)/callback"
        let (url, pending) =
            par
            ? try await sdk.pushAuthorizationRequest(issuer: issuer, redirectURI: redirectURI, scope: scope, acrValues: acr)
            : AuthorizationCodeFlow.authorizationURL(
                issuer: issuer, clientID: clientID, redirectURI: redirectURI, scope: scope, acrValues: acr)
        FileHandle.standardError.write(Data("Open this URL in a browser and sign in:\n\(url)\n".utf8))
        let callback = try await listener.callback(timeout: timeout)
        let code = try AuthorizationCodeFlow.code(fromCallback: callback, pending: pending)
        let tokens = try await sdk.exchangeCode(code, pending: pending)
        var output: [String: Any] = ["access_token": tokens.accessToken, "token_type": tokens.tokenType.rawValue]
        output["expires_in"] = tokens.expiresIn
        if let refresh = tokens.refreshToken { output["refresh_token"] = refresh }
        if let scope = tokens.scope { output["scope"] = scope }
        try printJSON(output)
    }
}

/// A one-shot HTTP listener on 127.0.0.1 that hands over the first `GET /callback`'s URL.
final class CallbackListener: Sendable {
    let port: Int
    private let received: AsyncStream<String>
    private let task: Task<Void, any Error>

    private init(port: Int, received: AsyncStream<String>, task: Task<Void, any Error>) {
        self.port = port
        self.received = received
        self.task = task
    }

    static func start(port: Int) async throws -> CallbackListener {
        let (received, continuation) = AsyncStream.makeStream(of: String.self)
        let (bound, boundContinuation) = AsyncStream.makeStream(of: Int.self)
        let router = Router()
        router.get("/callback") { request, _ -> Response in
            continuation.yield("http://127.0.0.1/callback?" + (request.uri.query ?? ""))
            var response = Response(
                status: .ok, body: .init(byteBuffer: ByteBuffer(string: "Signed in. You may close this window and return to the terminal.\n")))
            response.headers[.contentType] = "text/plain; charset=utf-8"
            return response
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in boundContinuation.yield(channel.localAddress?.port ?? 0) })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var ports = bound.makeAsyncIterator()
        guard let actual = await ports.next(), actual > 0 else {
            task.cancel()
            throw ValidationError("cannot listen on 127.0.0.1:\(port)")
        }
        return CallbackListener(port: actual, received: received, task: task)
    }

    /// The callback URL, or an error after `timeout` seconds.
    func callback(timeout: Double) async throws -> String {
        let received = self.received
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                var iterator = received.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let url = first else {
                throw ValidationError("no sign-in came back within \(Int(timeout)) s")
            }
            return url
        }
    }

    func stop() { task.cancel() }
}
