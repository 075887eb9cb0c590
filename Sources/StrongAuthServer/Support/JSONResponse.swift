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
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: try body(value)))
    }

    /// An array of objects that write their own members (`JSONObjectWritable`): the hottest lists.
    static func make<Object: JSONObjectWritable>(objects values: [Object]) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        guard let bytes = JSONBytesEncoder.encode(objects: values) else {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try foundationEncoder().encode(values))))
        }
        #if DEBUG
            let foundation = try foundationEncoder().encode(values)
            assert(
                JSONSameDocument.check(bytes.readableBytesView, foundation),
                "JSONObjectWritable wrote \(String(buffer: bytes)), Foundation \(String(decoding: foundation, as: UTF8.self))")
        #endif
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
    }

    /// The JSON bytes of `value`: written directly by `JSONBytesEncoder`, or by Foundation's
    /// `JSONEncoder` (same options) for the rare value the direct writer leaves to it.
    static func body(_ value: some Encodable) throws -> ByteBuffer {
        if let bytes = JSONBytesEncoder.encode(value) {
            #if DEBUG
                // Every response of a debug build (the tests, the conformance suite) is checked against Foundation.
                let foundation = try foundationEncoder().encode(value)
                assert(
                    JSONSameDocument.check(bytes.readableBytesView, foundation),
                    "JSONBytesEncoder wrote \(String(buffer: bytes)), Foundation \(String(decoding: foundation, as: UTF8.self))")
            #endif
            return bytes
        }
        return ByteBuffer(data: try foundationEncoder().encode(value))
    }

    /// The encoder whose output `JSONBytesEncoder` reproduces: slashes unescaped, ISO 8601 dates.
    static func foundationEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
