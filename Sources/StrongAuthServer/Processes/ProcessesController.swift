import Foundation
import Hummingbird
import StrongAuthAPI
import StrongAuthCore

/// finAPI's process controller (finAPI's API documentation, docs/processes.md): `POST /api/v1/processes` creates processes
/// with client credentials in the body; `GET /api/v1/processes/{processToken}` exchanges a
/// process token for an access token. Errors are RFC 9457 problems, like finAPI's user face.
struct ProcessesController {
    let processes: ProcessService
    let tokens: TokenService
    let maxBodyBytes: Int

    func addRoutes(to router: Router<AppRequestContext>) {
        let limit = maxBodyBytes
        let tokens = self.tokens
        // The client's credentials are in the body (`clientId`, `clientSecret`): it is decoded and
        // checked first, as before (a malformed body is a 400 before any 401), and stays buffered.
        router.group().add(
            middleware: ClientMiddleware { request, context in
                let params = try await JSONBody.decode(Components.Schemas.ProcessCreateParams.self, buffering: &request, limit: limit)
                do {
                    // The token endpoint's check: keyed hash, constant time, audited failures.
                    return try await tokens.authenticateClient(
                        ClientCredentials(clientID: params.clientId, clientSecret: params.clientSecret), source: context.remoteAddress)
                } catch is OAuthError {
                    throw ProblemDetails(.unauthorized, "Unauthorized", detail: "Valid clientId and clientSecret are required.")
                }
            }
        ).group(context: ClientContext.self).post("/api/v1/processes", use: create)
        // The process token is the credential here, checked by `ProcessService.exchange`.
        router.get("/api/v1/processes/:processToken", use: exchange)
    }

    /// `{clientId, clientSecret, clientReferences: [{clientReference}], processId}` →
    /// 201 `{processes: [{clientReference, processToken}]}`, in the order of the references.
    @Sendable func create(_ request: Request, context: ClientContext) async throws -> Response {
        let params = try await JSONBody.decode(
            Components.Schemas.ProcessCreateParams.self, from: request, limit: maxBodyBytes)
        let client = context.client
        let created: [ProcessService.Created]
        do {
            created = try await processes.create(
                client: client, processType: params.processId, clientReferences: params.clientReferences.map(\.clientReference),
                source: context.remoteAddress)
        } catch let error as ValidationError {
            throw ProblemDetails.badRequest("The processes cannot be created.", errors: [error])
        } catch ProcessError.clientNotAllowed {
            throw ProblemDetails(.forbidden, "Forbidden", detail: "This client may not create processes (it needs the client_credentials grant).")
        }
        return try JSONResponse.make(
            Components.Schemas.ProcessList(
                processes: created.map { .init(clientReference: $0.clientReference, processToken: $0.processToken) }),
            status: .created)
    }

    /// `?invalidate=true` makes this exchange the last; `false` or no parameter leaves the process live.
    @Sendable func exchange(_ request: Request, context: AppRequestContext) async throws -> Response {
        let invalidate: Bool
        switch request.uri.queryParameters.get("invalidate")?.lowercased() {
        case nil, "false": invalidate = false
        case "true": invalidate = true
        default:
            throw ProblemDetails.badRequest(
                "invalidate must be true or false.", errors: [.init(field: "invalidate", message: "must be true or false")])
        }
        do {
            let issued = try await processes.exchange(
                processToken: try context.parameters.require("processToken"), invalidate: invalidate, source: context.remoteAddress)
            return try JSONResponse.make(Components.Schemas.ProcessAccessToken(accessToken: issued.accessToken))
        } catch ProcessError.notExchangeable {
            throw ProblemDetails(
                .notFound, "Not Found",
                detail: "No live process for this token: it is unknown, expired, invalidated, or exchanged the maximum number of times.")
        }
    }
}
