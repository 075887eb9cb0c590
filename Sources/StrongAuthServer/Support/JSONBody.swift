import Foundation
import Hummingbird
import StrongAuthProtocol

/// Reading JSON request bodies on the problem+json faces: the right media type, within the size
/// limit, decodable — or a 4xx problem that says which.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        try requireJSONMediaType(request)
        let buffer = try await collect(request, limit: limit)
        do {
            return try buffer.withUnsafeReadableBytes { try JSONBytesDecoder.decodeFallingBack(T.self, from: $0) }
        } catch let error as DecodingError {
            throw ProblemDetails.badRequest("The request body is not valid: \(describe(error))")
        } catch {
            throw ProblemDetails.badRequest("The request body is not valid JSON.")
        }
    }

    /// Like `decode` (same refusals, same order), and the body stays on `request`, read, for the
    /// next reader: a middleware that authenticates from the body (`ClientMiddleware`), then the
    /// handler.
    static func decode<T: Decodable>(_ type: T.Type, buffering request: inout Request, limit: Int) async throws -> T {
        try requireJSONMediaType(request)
        _ = try await collect(buffering: &request, limit: limit)
        return try await decode(type, from: request, limit: limit)
    }

    /// The whole body, or the 413 problem when it exceeds `limit` bytes.
    static func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw ProblemDetails(.contentTooLarge, "Content Too Large", detail: "The request body exceeds \(limit) bytes.")
        }
    }

    /// Like `collect(_:limit:)`, and the body stays on `request`, read, for the next reader.
    static func collect(buffering request: inout Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.collectBody(upTo: limit)
        } catch {
            throw ProblemDetails(.contentTooLarge, "Content Too Large", detail: "The request body exceeds \(limit) bytes.")
        }
    }

    private static func requireJSONMediaType(_ request: Request) throws {
        guard let contentType = request.headers.value(.contentType), namesJSON(contentType) else {
            throw ProblemDetails(.unsupportedMediaType, "Unsupported Media Type", detail: "The request body must be application/json.")
        }
    }

    /// Whether a `Content-Type` is `application/json` or a `+json` type, in any case and with any
    /// parameters: compared in its bytes, without the split, trim and lowercased copy.
    static func namesJSON(_ contentType: String) -> Bool {
        let end = contentType.utf8.firstIndex(of: UInt8(ascii: ";")) ?? contentType.endIndex
        let type = contentType[..<end].trimmingHTTPWhitespace().utf8
        func endsWith(_ suffix: StaticString) -> Bool {
            let expected = UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount)
            guard type.count >= expected.count else { return false }
            return zip(type.suffix(expected.count), expected).allSatisfy { byte, lower in
                byte == lower || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) && byte | 0x20 == lower
            }
        }
        return endsWith("+json") || (type.count == 16 && endsWith("application/json"))
    }

    /// Like `decode`, but an empty body (with any media type) is `nil`: for endpoints whose
    /// body is optional.
    static func decodeIfPresent<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T? {
        let buffer = try await collect(request, limit: limit)
        guard buffer.readableBytes > 0 else { return nil }
        var copy = request
        copy.body = .init(buffer: buffer)
        return try await decode(type, from: copy, limit: limit)
    }

    /// A short, safe description of a decoding failure (no echo of the input's values).
    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let joined = context.codingPath.map(\.stringValue).joined(separator: ".")
            return joined.isEmpty ? "the body" : "'\(joined)'"
        }
        switch error {
        case .typeMismatch(_, let context): return "\(path(context)) has the wrong type."
        case .valueNotFound(_, let context): return "\(path(context)) is missing."
        case .keyNotFound(let key, _): return "'\(key.stringValue)' is missing."
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "it is not valid JSON." : "\(path(context)) is malformed."
        @unknown default: return "it cannot be decoded."
        }
    }
}
