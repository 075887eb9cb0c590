import Foundation
import HTTPTypes
import Hummingbird

/// JSON response bodies, encoded one way for every face.
enum JSONResponse {
    /// `value` as JSON with `Cache-Control: no-store` (nothing StrongAuth answers should be cached
    /// unless a handler says otherwise).
    static func make(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, contentType: String = "application/json"
    ) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(value))))
    }
}
