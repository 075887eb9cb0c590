import ArgumentParser
import Crypto
import Foundation
import Hummingbird
import StrongAuthServer

extension BenchCommand {
    /// The server plus routes that do only the work no implementation of a workload can avoid —
    /// bench/run.sh's floor rows. A grant cannot cost less than a POST, a read of its client and
    /// one ES256 signature on this machine; `/health` alone says nothing about what those cost
    /// here (a P-256 signature was ~0.4× `/health`'s CPU on one machine and ~1× on another), so
    /// the rows put each workload beside its own floor. Never part of `strongauth serve`.
    ///
    /// Each route collects its form body and answers a small JSON object, behind the same
    /// middleware as every face's route:
    /// - `POST /floor/post`: nothing else;
    /// - `POST /floor/read`: one read of the client row `--client-id` through the store (a grant's read);
    /// - `POST /floor/sign`: one ES256 signature over 300 bytes (an access token's signing input);
    /// - `POST /floor/read-sign`: both — the unavoidable work of a client_credentials grant;
    /// - `POST /floor/verify`: one P-256 signature verification (a device's answer, a JWT).
    struct FloorServer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "floor-server", abstract: "Serve the API plus the benchmark's floor routes (/floor/…; see bench/run.sh).")

        @OptionGroup var common: CommonOptions
        @Option(name: .customLong("http-port"), help: "Port to listen on.") var port = 18090
        @Option(name: .customLong("client-id"), help: "The client whose row the reads read (an absent one reads nothing).")
        var clientID = "floor"

        func run() async throws {
            let settings = try await common.settings(extra: ["http.port": .int(port)])
            let logger = bootstrapLogging(format: settings.logFormat, level: settings.logLevel)
            let runtime = try await StrongAuthRuntime.start(settings: settings, logger: logger, serving: true)
            let store = runtime.store
            let clientID = clientID
            let key = P256.Signing.PrivateKey()
            let signingInput = Data(repeating: UInt8(ascii: "e"), count: 300)
            let signature = try key.signature(for: signingInput)
            /// A small JSON object, written by hand: the floor must not pay for an encoder.
            struct Answer {
                var found: Bool?
                var signatureBytes: Int?
            }
            @Sendable func answer(_ value: Answer) -> Response {
                var json = "{\"ok\":true"
                if let found = value.found { json += ",\"found\":\(found)" }
                if let bytes = value.signatureBytes { json += ",\"signatureBytes\":\(bytes)" }
                json += "}"
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
            }
            @Sendable func collect(_ request: Request) async throws { _ = try await request.body.collect(upTo: 4096) }
            let app = try buildApplication(
                runtime: runtime,
                additionalRoutes: { router in
                    router.post("/floor/post") { request, _ in
                        try await collect(request)
                        return answer(Answer())
                    }
                    router.post("/floor/read") { request, _ in
                        try await collect(request)
                        return answer(Answer(found: try await store.client(id: clientID) != nil))
                    }
                    router.post("/floor/sign") { request, _ in
                        try await collect(request)
                        return answer(Answer(signatureBytes: try key.signature(for: signingInput).rawRepresentation.count))
                    }
                    router.post("/floor/read-sign") { request, _ in
                        try await collect(request)
                        let found = try await store.client(id: clientID) != nil
                        return answer(Answer(found: found, signatureBytes: try key.signature(for: signingInput).rawRepresentation.count))
                    }
                    router.post("/floor/verify") { request, _ in
                        try await collect(request)
                        guard key.publicKey.isValidSignature(signature, for: signingInput) else { throw HTTPError(.internalServerError) }
                        return answer(Answer())
                    }
                })
            try await serve(app, runtime: runtime, settings: settings, logger: logger)
        }
    }
}
