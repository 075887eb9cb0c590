import Foundation
import Testing

@testable import StrongAuthProtocol

/// The QR encoder against a real decoder: each code is written as a PGM image and read back by
/// `zbarimg` (Debian's zbar-tools, installed by .ci/run), across all ten versions.
@Suite("QR code")
struct QRCodeTests {
    static let zbarimg = ["/usr/bin/zbarimg", "/usr/local/bin/zbarimg"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("sizes, version choice and the payload limit")
    func versions() throws {
        #expect(try QRCode.encode("hello").version == 1)
        #expect(try QRCode.encode("hello").size == 21)
        #expect(try QRCode.encode(String(repeating: "x", count: 14)).version == 1)
        #expect(try QRCode.encode(String(repeating: "x", count: 15)).version == 2)
        #expect(try QRCode.encode(String(repeating: "x", count: 213)).version == 10)
        #expect(throws: QRCode.EncodingError.payloadTooLong(214)) { try QRCode.encode(String(repeating: "x", count: 214)) }
        let svg = try QRCode.encode("hello").svg()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
    }

    @Test(
        "zbarimg decodes what the encoder makes, versions 1–10",
        .enabled(if: zbarimg != nil || ProcessInfo.processInfo.environment["CI"] != nil, "zbarimg (zbar-tools) is not installed"))
    func decodes() throws {
        let tool = try #require(Self.zbarimg, "CI must have zbarimg (zbar-tools)")
        let payloads = [
            "A", "ABCDE-FGHIJ-KLMNO-PQRST", String(repeating: "0123456789", count: 4),
            "VYNQI-S5TCM-2D6KB-B2TTA#MEUCIQDxW0yFRsg8bmAsNahtM7Uff7vT3xWJYhHw9wA4lDzv1gIgOEcoaIHGhQ5A/1TqYNfBwZ5WFfl4lQYDWo7eu8ySq0w=",
            "otpauth://totp/StrongAuth:olga?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=StrongAuth",
            String(repeating: "ü", count: 60), String(repeating: "z", count: 180), String(repeating: "q", count: 213),
        ]
        var versions = Set<Int>()
        for payload in payloads {
            let code = try QRCode.encode(payload)
            versions.insert(code.version)
            #expect(try decode(code, with: tool) == payload, "version \(code.version), mask \(code.mask)")
        }
        #expect(versions.count >= 6)
    }

    private func decode(_ code: QRCode, with tool: String) throws -> String {
        let scale = 6
        let border = 4
        let side = (code.size + 2 * border) * scale
        var pixels = [UInt8](repeating: 255, count: side * side)
        for y in 0..<code.size {
            for x in 0..<code.size where code.modules[y][x] {
                for dy in 0..<scale {
                    for dx in 0..<scale { pixels[((y + border) * scale + dy) * side + (x + border) * scale + dx] = 0 }
                }
            }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString).pgm")
        defer { try? FileManager.default.removeItem(at: url) }
        try (Data("P5\n\(side) \(side)\n255\n".utf8) + Data(pixels)).write(to: url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--quiet", "--raw", "-Sbinary", url.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
