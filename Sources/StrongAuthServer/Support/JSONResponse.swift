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
        response(try body(value), status: status, contentType: contentType)
    }

    /// An array of objects that write their own members (`JSONObjectWritable`): the hottest lists.
    static func make<Object: JSONObjectWritable>(objects values: [Object]) throws -> Response {
        try written(JSONBytesEncoder.encode(objects: values), for: values)
    }

    /// One object that writes its own members (`JSONObjectWritable`): the hottest single answers.
    static func make<Object: JSONObjectWritable>(
        object value: Object, status: HTTPResponse.Status = .ok, contentType: String = "application/json"
    ) throws -> Response {
        try written(JSONBytesEncoder.encode(object: value), for: value, status: status, contentType: contentType)
    }

    /// What a `JSONObjectWritable` wrote for `value` (checked in a debug build), or Foundation's
    /// encoding where it refused.
    private static func written(
        _ bytes: ByteBuffer?, for value: some Encodable, status: HTTPResponse.Status = .ok, contentType: String = "application/json"
    ) throws -> Response {
        let body = try bytes.map { try checked($0, as: value, by: "JSONObjectWritable") } ?? ByteBuffer(data: try foundationEncoder().encode(value))
        return response(body, status: status, contentType: contentType)
    }

    /// The JSON bytes of `value`: written directly by `JSONBytesEncoder`, or by Foundation's
    /// `JSONEncoder` (same options) for the rare value the direct writer leaves to it.
    static func body(_ value: some Encodable) throws -> ByteBuffer {
        if let bytes = JSONBytesEncoder.encode(value) { return try checked(bytes, as: value, by: "JSONBytesEncoder") }
        return ByteBuffer(data: try foundationEncoder().encode(value))
    }

    /// `bytes`, which `writer` wrote for `value`: every response of a debug build (the tests, the
    /// conformance suite) is checked to be the document Foundation writes.
    private static func checked(_ bytes: ByteBuffer, as value: some Encodable, by writer: String) throws -> ByteBuffer {
        #if DEBUG
            let foundation = try foundationEncoder().encode(value)
            assert(
                JSONSameDocument.check(bytes.readableBytesView, foundation),
                "\(writer) wrote \(String(buffer: bytes)), Foundation \(String(decoding: foundation, as: UTF8.self))")
        #endif
        return bytes
    }

    private static func response(_ bytes: ByteBuffer, status: HTTPResponse.Status, contentType: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: bytes))
    }

    /// The encoder whose output `JSONBytesEncoder` reproduces: slashes unescaped, ISO 8601 dates.
    static func foundationEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
