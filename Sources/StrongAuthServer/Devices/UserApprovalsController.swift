import Foundation
import Hummingbird
import StrongAuthCore

/// The pending-approval list for devices bound with an ECDSA key (Kontist face, docs/devices.md, docs/powerauth.md):
/// the same approvals a PowerAuth phone sees through the mobile token API — operations and
/// action requests together. User token; RFC 9457 problems. Every route reads the token's
/// liveness with its own read (`PendingLivenessUserTokenContext`): the list with the approvals,
/// an answer with the approval and the device.
struct UserApprovalsController {
    let approvals: ApprovalService
    let tokens: TokenService
    let policy: AssurancePolicy
    let time: any TimeSource
    let maxBodyBytes: Int

    func addRoutes(to router: Router<AppRequestContext>) {
        router.group()
            .add(
                middleware: UserTokenMiddleware(
                    tokens: tokens, policy: policy, time: time, wrongKind: "Approvals belong to users: this needs a user token.",
                    livenessReadByRoute: true)
            )
            .group(context: PendingLivenessUserTokenContext.self)
            .get("/api/user/approvals", use: list)
            .post("/api/user/approvals/:approvalId/approve", use: approve)
            .post("/api/user/approvals/:approvalId/reject", use: reject)
    }

    struct Pending: Encodable, JSONObjectWritable {
        var id: String
        var kind: String
        var type: String
        /// Exactly what the device must show (and send back to approve).
        var data: String
        /// What the device signs to approve: `"approve:<id>:<data>"` (`ApprovalService.approvalMessage`),
        /// so a signature approves this approval only, never another with the same data.
        var stringToSign: String
        var status: String
        var createdAt: Date
        var expiresAt: Date
        /// What the screen says (operations: from the template, parameters filled in).
        var title: String?
        var message: String?

        /// The members in declaration order, as `Encodable` writes them (debug builds compare).
        func writeMembers(to object: inout JSONDirectObject) throws {
            object.member("id", id)
            object.member("kind", kind)
            object.member("type", type)
            object.member("data", data)
            object.member("stringToSign", stringToSign)
            object.member("status", status)
            try object.member("createdAt", createdAt)
            try object.member("expiresAt", expiresAt)
            object.member("title", title)
            object.member("message", message)
        }
    }

    struct Answer: Decodable {
        var deviceId: String
        var data: String?
        var signature: String
        var reason: String?
    }

    @Sendable func list(_ request: Request, context: PendingLivenessUserTokenContext) async throws -> Response {
        let pending = try await context.refusingDeadToken { try await approvals.pending(userID: context.userID, token: context.liveness) }
        return try JSONResponse.make(
            objects: pending.map {
                Pending(
                    id: $0.id, kind: $0.kind.rawValue, type: $0.operationType, data: $0.data,
                    stringToSign: ApprovalService.approvalMessage(id: $0.id, data: $0.data), status: $0.status.rawValue, createdAt: $0.createdAt,
                    expiresAt: $0.expiresAt, title: $0.title, message: $0.message)
            })
    }

    /// `{deviceId, data, signature}`: hex ECDSA-SHA256 (DER or r‖s) of `"approve:<approvalId>:<data>"`
    /// (the pending list's `stringToSign`), where `data` must be the approval's data exactly.
    @Sendable func approve(_ request: Request, context: PendingLivenessUserTokenContext) async throws -> Response {
        let body = try await JSONBody.decode(Answer.self, from: request, limit: maxBodyBytes)
        guard let data = body.data else { throw ProblemDetails.badRequest("'data' is missing: send what the device showed.") }
        let approval = try await mapped(context) {
            try await approvals.approveWithDevice(
                id: try context.parameters.require("approvalId"), userID: context.userID, deviceID: body.deviceId, data: data,
                signatureHex: body.signature, source: context.remoteAddress, token: context.liveness)
        }
        return try JSONResponse.make(["id": approval.id, "status": approval.status.rawValue])
    }

    /// `{deviceId, signature, reason?}`: the signature is over `"<approvalId>:REJECTED"`.
    @Sendable func reject(_ request: Request, context: PendingLivenessUserTokenContext) async throws -> Response {
        let body = try await JSONBody.decode(Answer.self, from: request, limit: maxBodyBytes)
        let approval = try await mapped(context) {
            try await approvals.rejectWithDevice(
                id: try context.parameters.require("approvalId"), userID: context.userID, deviceID: body.deviceId,
                signatureHex: body.signature, reason: body.reason, source: context.remoteAddress, token: context.liveness)
        }
        return try JSONResponse.make(["id": approval.id, "status": approval.status.rawValue])
    }

    func mapped<T>(_ context: PendingLivenessUserTokenContext, _ body: () async throws -> T) async throws -> T {
        try await context.refusingDeadToken {
            do {
                return try await body()
            } catch let error as ApprovalError {
                throw ProblemDetails.approval(error, what: "approval")
            }
        }
    }
}
