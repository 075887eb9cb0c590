import Foundation
import Hummingbird
import StrongAuthAPI
import StrongAuthCore

/// PowerAuth Cloud's operations API (PowerAuth Cloud REST API, "Implement Out-of-Band Approvals"): create an
/// operation from a template, poll it, cancel it. Integration users over HTTP Basic; PowerAuth's
/// error shape. The device side decides them. Creation and status (`face.callers`) hand the
/// presented credentials to the core, which checks them against the user read with the template
/// or the operation; the other routes get the user already checked (`face.users`).
struct PowerAuthOperationsController {
    let approvals: ApprovalService
    let maxBodyBytes: Int
    let time: any TimeSource

    func addRoutes(to face: IntegrationFace) {
        // Creation and status, the hottest, check the caller with their own read of it.
        face.callers.post("/v2/operations", use: create)
        face.users.get("/v2/operations", use: list)
        face.callers.get("/v2/operations/:operationId", use: detail)
        face.users.delete("/v2/operations/:operationId", use: cancel)
    }

    /// The operation object of PowerAuth Cloud's operations API (generated from `openapi.yaml`,
    /// as the SDK's `PowerAuthIntegrationClient` reads it).
    typealias Operation = Components.Schemas.Operation

    @Sendable func create(_ request: Request, context: PendingIntegrationUserContext) async throws -> Response {
        let body: Components.Schemas.OperationCreateRequest
        do {
            body = try await JSONBody.decode(Components.Schemas.OperationCreateRequest.self, from: request, limit: maxBodyBytes)
        } catch {
            // A wrong caller learns nothing about its body: 401 first.
            _ = try await approvals.integrationUser(context.caller, source: context.remoteAddress)
            throw error
        }
        let approval = try await mapped {
            try await approvals.createOperation(
                caller: context.caller, userID: body.userId, templateName: body.template, parameters: body.parameters?.additionalProperties ?? [:],
                externalID: body.externalId,
                expiresAt: body.timestampExpires.map(Date.init(epochMilliseconds:)), source: context.remoteAddress)
        }
        return try JSONResponse.make(object: wire(approval))
    }

    @Sendable func detail(_ request: Request, context: PendingIntegrationUserContext) async throws -> Response {
        let id = try context.parameters.require("operationId")
        return try JSONResponse.make(
            object: wire(try await mapped { try await approvals.operation(id: id, caller: context.caller, source: context.remoteAddress) }))
    }

    @Sendable func list(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        guard let userID = request.uri.queryParameters.get("userId"), !userID.isEmpty else {
            throw PowerAuthErrorResponse.badRequest("userId: the query parameter is required.")
        }
        let pendingOnly = request.uri.queryParameters.get("pendingOnly") == "true"
        let operations = try await approvals.operations(externalUserID: userID, pendingOnly: pendingOnly, for: user)
        return try JSONResponse.make(Components.Schemas.OperationList(operations: operations.map(wire)))
    }

    @Sendable func cancel(_ request: Request, context: IntegrationUserContext) async throws -> Response {
        let user = context.user
        let id = try context.parameters.require("operationId")
        return try JSONResponse.make(
            object: wire(try await mapped { try await approvals.cancel(id: id, by: user, source: context.remoteAddress) }))
    }

    func wire(_ approval: Approval) -> Operation {
        Operation(
            operationId: approval.id, userId: approval.externalUserID, externalId: approval.externalID,
            status: Operation.StatusPayload(approval.status(at: time.now())), template: approval.template,
            operationType: approval.operationType, parameters: .init(additionalProperties: approval.parameters),
            additionalData: .init(), failureCount: approval.failureCount,
            maxFailureCount: approval.maxFailureCount, timestampCreated: approval.createdAt.epochMilliseconds,
            timestampExpires: approval.expiresAt.epochMilliseconds)
    }

    func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ApprovalError {
            switch error {
            case .validation(let field, let message):
                throw PowerAuthErrorResponse.badRequest("\(field): \(message)")
            case .templateNotFound:
                throw PowerAuthErrorResponse(.badRequest, code: "ERROR_OPERATION_TEMPLATE_NOT_FOUND", message: "No such operation template.")
            case .notFound:
                throw PowerAuthErrorResponse(.notFound, code: "ERROR_OPERATION_NOT_FOUND", message: "No such operation.")
            case .state(let status):
                throw PowerAuthErrorResponse(
                    .conflict, code: "ERROR_OPERATION_STATE_CHANGE", message: "The operation is \(status.rawValue); that change is not possible.")
            case .dataMismatch(let remaining):
                throw PowerAuthErrorResponse(
                    .badRequest, code: "ERROR_OPERATION_DATA", message: "The approved data differs from the operation's; \(remaining) attempts left.")
            }
        }
    }
}

/// The operation answer of creation, status and cancellation, the hottest of the integration face:
/// its members written directly, in the generated type's declaration order (debug builds compare
/// every answer with Foundation's encoding of the same value, so a change to the schema that this
/// does not follow fails the tests).
extension Components.Schemas.Operation: JSONObjectWritable {
    func writeMembers(to object: inout JSONDirectObject) throws {
        object.member("operationId", operationId)
        object.member("userId", userId)
        object.member("externalId", externalId)
        object.member("status", status.rawValue)
        object.member("template", template)
        object.member("operationType", operationType)
        object.member("parameters", stringObject: parameters.additionalProperties)
        if let additionalData { object.member("additionalData", stringObject: additionalData.additionalProperties) }
        object.member("failureCount", failureCount)
        object.member("maxFailureCount", maxFailureCount)
        object.member("timestampCreated", timestampCreated)
        object.member("timestampExpires", timestampExpires)
    }
}

extension Components.Schemas.Operation.StatusPayload {
    /// The same six states, by name.
    init(_ status: Approval.Status) {
        switch status {
        case .pending: self = .pending
        case .approved: self = .approved
        case .rejected: self = .rejected
        case .canceled: self = .canceled
        case .expired: self = .expired
        case .failed: self = .failed
        }
    }
}
