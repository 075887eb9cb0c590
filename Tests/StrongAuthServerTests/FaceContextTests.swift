import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import StrongAuthServer

/// The faces as typed request contexts (issue 14): a route declares what authentication it needs
/// by its context type. These tests pin the two halves of that promise — a context refuses to
/// exist without its face's middleware (so a route wired to the wrong group cannot run
/// unauthenticated), and every route of a face refuses an unauthenticated caller before it reads
/// the body, in the face's own error shape.
@Suite("Faces as typed request contexts")
struct FaceContextTests {
    /// A route declared with `IntegrationUserContext` but without `IntegrationUserMiddleware` in
    /// front of it is refused with PowerAuth's 401 and a Basic challenge, never run.
    @Test("IntegrationUserContext without its middleware refuses")
    func integrationContextRequiresMiddleware() async throws {
        let router = Router(context: AppRequestContext.self)
        router.group("/powerauth-cloud").add(middleware: PowerAuthErrorMiddleware()).group(context: IntegrationUserContext.self)
            .get("/v2/anything") { _, context in context.user.name }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/powerauth-cloud/v2/anything", method: .get)
            let json = try HTTP.json(response.body)
            expectPowerAuthError(response, json, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
        }
    }

    /// Every route of the integration face but signature verification authenticates the
    /// integration user first: no credentials and a malformed body is still the 401.
    @Test("every integration route refuses an unauthenticated caller before reading the body")
    func integrationRoutesAuthenticateFirst() async throws {
        let routes: [(HTTPRequest.Method, String)] = [
            (.post, "/powerauth-cloud/v2/registrations"), (.get, "/powerauth-cloud/v2/registrations?userId=u"),
            (.get, "/powerauth-cloud/v2/registrations/r"), (.put, "/powerauth-cloud/v2/registrations/r"),
            (.delete, "/powerauth-cloud/v2/registrations/r"), (.post, "/powerauth-cloud/v2/registrations/r/commit"),
            (.post, "/powerauth-cloud/v2/signature/verify"), (.post, "/powerauth-cloud/v2/token/verify"),
            (.post, "/powerauth-cloud/v2/operations"), (.get, "/powerauth-cloud/v2/operations?userId=u"),
            (.get, "/powerauth-cloud/v2/operations/o"), (.delete, "/powerauth-cloud/v2/operations/o"),
            (.get, "/powerauth-cloud/v2/webhooks/deliveries"), (.post, "/powerauth-cloud/v2/webhooks/deliveries/d/retry"),
        ]
        try await TestServer.with { server in
            try await server.test { client in
                for (method, uri) in routes {
                    let response = try await client.execute(
                        uri: uri, method: method, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{not json"))
                    let json = try HTTP.json(response.body)
                    expectPowerAuthError(response, json, status: .unauthorized, code: "ERROR_UNAUTHORIZED")
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true, "\(method) \(uri)")
                }
            }
        }
    }
}
