import Foundation
import HTTPTypes
import Hummingbird
import StrongAuthAPI
import StrongAuthProtocol

/// A route without a JSON request body (the signature covers whatever bytes came, usually `{}`).
enum NoBody: Sendable {}

/// One documented route and the Swift types of its JSON bodies. Handlers decode and answer only
/// through their route's `decode`/`respond`, so the types here are the ones on the wire; a test
/// (`OperationsTests.routeBodiesAreTheDocumentedTypes`) checks them against `/openapi.yaml`.
///
/// A body is either generated from `openapi.yaml` (`Components.Schemas.*`) or, where the
/// generated type cannot carry the behaviour (the ECIES envelopes decode their Base64 fields into
/// a cryptogram), a `StrongAuthProtocol` type shared with the SDK that the document describes
/// under a schema name (`describedBy`).
struct WireRoute<RequestBody: Sendable, ResponseBody: Encodable & Sendable>: Sendable {
    let method: HTTPRequest.Method
    let path: String

    init(_ method: HTTPRequest.Method, _ path: String) {
        self.method = method
        self.path = path
    }

    /// The path below a face's prefix (`PhoneFace` registers relative paths).
    func path(below prefix: String) -> RouterPath {
        precondition(path.hasPrefix(prefix), "\(path) is not below \(prefix)")
        return RouterPath(String(path.dropFirst(prefix.count)))
    }

    /// The answer: `body` as JSON.
    func respond(_ body: ResponseBody) throws -> Response {
        try JSONResponse.make(body)
    }
}

extension WireRoute where RequestBody: Decodable {
    /// The request body as the route's type; anything else is PowerAuth's 400 `ERROR_REQUEST`.
    func decode(_ bytes: [UInt8]) throws -> RequestBody {
        try PhoneAuthentication.decodeJSON(RequestBody.self, from: bytes, what: "the request body")
    }
}

/// A body type as the coverage test sees it.
struct WireBodyType {
    /// `String(reflecting:)` of the type the document's schema generates (`StrongAuthAPI.Components.Schemas.X`).
    let schemaType: String
    /// The handler's own type when it is a shared one (else `nil`: the generated type itself).
    let sharedType: String?
    /// Decodes JSON as the handler's type and applies the checks the handler applies before
    /// anything else (e.g. an ECIES envelope's required fields); throws when the server refuses it.
    let accepts: (Data) throws -> Void
    /// Decodes JSON as the handler's type and encodes it again (the properties the server keeps).
    let roundTrip: (Data) throws -> Data
    /// The same for the generated type of the schema.
    let schemaRoundTrip: (Data) throws -> Data
}

/// A route with its documented bodies, for the coverage test.
struct WireRouteBodies {
    let method: HTTPRequest.Method
    let path: String
    /// `nil`: no JSON request body.
    let request: WireBodyType?
    let response: WireBodyType
}

/// Body types whose wire form the document describes under another (generated) schema type.
protocol SchemaDescribed: Codable {
    associatedtype Schema: Codable
    /// Throws when the server refuses the decoded value before anything else happens.
    func validateWireForm() throws
}

extension PowerAuthECIES.EncryptedRequestBody: SchemaDescribed {
    typealias Schema = Components.Schemas.EciesEncryptedRequest
    func validateWireForm() throws { _ = try cryptogram() }
}

extension PowerAuthECIES.EncryptedResponseBody: SchemaDescribed {
    typealias Schema = Components.Schemas.EciesEncryptedResponse
    func validateWireForm() throws { _ = try cryptogram() }
}

extension WireBodyType {
    static func generated<T: Codable>(_ type: T.Type) -> WireBodyType {
        WireBodyType(
            schemaType: String(reflecting: T.self), sharedType: nil, accepts: { _ = try JSONDecoder().decode(T.self, from: $0) },
            roundTrip: { try roundTrip(T.self, $0) }, schemaRoundTrip: { try roundTrip(T.self, $0) })
    }

    static func shared<T: SchemaDescribed>(_ type: T.Type) -> WireBodyType {
        WireBodyType(
            schemaType: String(reflecting: T.Schema.self), sharedType: String(reflecting: T.self),
            accepts: { try JSONDecoder().decode(T.self, from: $0).validateWireForm() }, roundTrip: { try roundTrip(T.self, $0) },
            schemaRoundTrip: { try roundTrip(T.Schema.self, $0) })
    }

    private static func roundTrip<T: Codable>(_ type: T.Type, _ data: Data) throws -> Data {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(try decoder.decode(T.self, from: data))
    }

    /// The entry for a route's body type: generated, shared, or none.
    static func of<T>(_ type: T.Type) -> WireBodyType? {
        if T.self == NoBody.self { return nil }
        if let described = T.self as? any SchemaDescribed.Type { return shared(described) }
        if let codable = T.self as? any Codable.Type { return generated(codable) }
        return opaque(T.self)
    }

    /// A type that is neither generated nor shared: only its name, which matches no schema.
    static func opaque<T>(_ type: T.Type) -> WireBodyType {
        WireBodyType(schemaType: String(reflecting: T.self), sharedType: nil, accepts: { _ in }, roundTrip: { $0 }, schemaRoundTrip: { $0 })
    }
}

extension WireRoute {
    var bodies: WireRouteBodies {
        WireRouteBodies(
            method: method, path: path, request: WireBodyType.of(RequestBody.self),
            response: WireBodyType.of(ResponseBody.self) ?? .opaque(ResponseBody.self))
    }
}

/// The PowerAuth 3.x Standard RESTful API and Wultra's mobile token API, route by route.
enum PowerAuthWireRoutes {
    typealias Schemas = Components.Schemas
    typealias EncryptedRequest = PowerAuthECIES.EncryptedRequestBody
    typealias EncryptedResponse = PowerAuthECIES.EncryptedResponseBody

    static let standard = "/enrollment-server/pa/v3"
    static let activationCreate = WireRoute<EncryptedRequest, EncryptedResponse>(.post, "\(standard)/activation/create")
    static let activationStatus = WireRoute<Schemas.ActivationStatusRequest, Schemas.ActivationStatusResponse>(
        .post, "\(standard)/activation/status")
    static let activationRemove = WireRoute<NoBody, Schemas.ActivationRemoveResponse>(.post, "\(standard)/activation/remove")
    static let tokenCreate = WireRoute<EncryptedRequest, EncryptedResponse>(.post, "\(standard)/token/create")
    static let tokenRemove = WireRoute<Schemas.TokenRemoveRequest, Schemas.TokenRemoveResponse>(.post, "\(standard)/token/remove")
    static let signatureValidate = WireRoute<NoBody, Schemas.PowerAuthOK>(.post, "\(standard)/signature/validate")
    static let vaultUnlock = WireRoute<EncryptedRequest, EncryptedResponse>(.post, "\(standard)/vault/unlock")
    static let keystoreCreate = WireRoute<Schemas.JWTRequest, Schemas.JWTResponse>(.post, "\(standard)/keystore/create")

    static let mobileToken = "/enrollment-server/api/auth/token/app/operation"
    static let operationList = WireRoute<NoBody, Schemas.MobileOperationList>(.post, "\(mobileToken)/list")
    static let operationDetail = WireRoute<Schemas.MobileOperationIdRequest, Schemas.MobileOperationDetail>(.post, "\(mobileToken)/detail")
    static let operationAuthorize = WireRoute<Schemas.MobileOperationAuthorizeRequest, Schemas.PowerAuthOK>(
        .post, "\(mobileToken)/authorize")
    static let operationCancel = WireRoute<Schemas.MobileOperationCancelRequest, Schemas.PowerAuthOK>(.post, "\(mobileToken)/cancel")

    /// Every route above, for the coverage test.
    static var all: [WireRouteBodies] {
        [
            activationCreate.bodies, activationStatus.bodies, activationRemove.bodies, tokenCreate.bodies, tokenRemove.bodies,
            signatureValidate.bodies, vaultUnlock.bodies, keystoreCreate.bodies, operationList.bodies, operationDetail.bodies,
            operationAuthorize.bodies, operationCancel.bodies,
        ]
    }
}
