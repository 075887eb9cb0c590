/// A QR code (ISO/IEC 18004) in byte mode at error-correction level M, versions 1–10: enough for
/// a PowerAuth activation QR payload (`CODE#SIGNATURE`, about 120 bytes) and an `otpauth://` URI.
///
/// Written for the back office instead of linking libqrencode, so the server stays one binary
/// with no C dependency. The steps are the standard's: segment encoding, Reed–Solomon error
/// correction over GF(2⁸) per block, interleaving, function patterns, zig-zag placement, the mask
/// with the lowest penalty, then format and version information.
public struct QRCode: Sendable, Equatable {
    /// 1…10.
    public let version: Int
    /// Modules per side (`17 + 4 × version`).
    public let size: Int
    /// `modules[y][x]`: `true` is dark.
    public let modules: [[Bool]]
    /// The mask pattern chosen (0…7).
    public let mask: Int

    /// Why a payload could not be encoded.
    public enum EncodingError: Error, Equatable {
        /// More bytes than version 10-M holds (213).
        case payloadTooLong(Int)
    }

    /// Encodes `payload`'s bytes in the smallest version that holds them.
    public static func encode(_ payload: [UInt8]) throws -> QRCode {
        guard let version = (1...10).first(where: { fits(payload.count, version: $0) }) else {
            throw EncodingError.payloadTooLong(payload.count)
        }
        var builder = Builder(version: version)
        let codewords = interleaved(dataCodewords(payload, version: version), version: version)
        builder.drawFunctionPatterns()
        builder.drawCodewords(codewords)
        var best: (mask: Int, penalty: Int, modules: [[Bool]]) = (0, Int.max, builder.modules)
        for mask in 0..<8 {
            var candidate = builder
            candidate.applyMask(mask)
            candidate.drawFormatBits(mask: mask)
            let penalty = candidate.penalty()
            if penalty < best.penalty { best = (mask, penalty, candidate.modules) }
        }
        return QRCode(version: version, size: builder.size, modules: best.modules, mask: best.mask)
    }

    /// Encodes the UTF-8 bytes of `text`.
    public static func encode(_ text: String) throws -> QRCode {
        try encode(Array(text.utf8))
    }

    /// An SVG image of the code with a four-module quiet zone, dark modules as one path.
    public func svg(moduleSize: Int = 8) -> String {
        let border = 4
        let dimension = size + 2 * border
        var path = ""
        for y in 0..<size {
            for x in 0..<size where modules[y][x] {
                path += "M\(x + border),\(y + border)h1v1h-1z"
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(dimension) \(dimension)" width="\(dimension * moduleSize)" \
            height="\(dimension * moduleSize)" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#ffffff"/>\
            <path d="\(path)" fill="#000000"/></svg>
            """
    }

    // MARK: Tables (level M)

    /// Per version: error-correction codewords per block, and the blocks' data codeword counts.
    private static let blocks: [(ecPerBlock: Int, dataLengths: [Int])] = [
        (10, [16]), (16, [28]), (26, [44]), (18, [32, 32]), (24, [43, 43]),
        (16, [27, 27, 27, 27]), (18, [31, 31, 31, 31]), (22, [38, 38, 39, 39]), (22, [36, 36, 36, 37, 37]),
        (26, [43, 43, 43, 43, 44]),
    ]

    private static let alignmentPositions: [[Int]] = [
        [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50],
    ]

    private static func dataCapacity(version: Int) -> Int {
        blocks[version - 1].dataLengths.reduce(0, +)
    }

    private static func countBits(version: Int) -> Int { version < 10 ? 8 : 16 }

    private static func fits(_ count: Int, version: Int) -> Bool {
        count < (1 << countBits(version: version)) && 4 + countBits(version: version) + 8 * count <= 8 * dataCapacity(version: version)
    }

    // MARK: Data and error correction

    /// Mode indicator, count, bytes, terminator and padding: exactly the version's data codewords.
    private static func dataCodewords(_ payload: [UInt8], version: Int) -> [UInt8] {
        var bits: [Bool] = []
        func append(_ value: Int, _ count: Int) {
            for index in stride(from: count - 1, through: 0, by: -1) { bits.append((value >> index) & 1 == 1) }
        }
        append(0b0100, 4)
        append(payload.count, countBits(version: version))
        for byte in payload { append(Int(byte), 8) }
        let capacityBits = 8 * dataCapacity(version: version)
        append(0, min(4, capacityBits - bits.count))
        append(0, (8 - bits.count % 8) % 8)
        var bytes: [UInt8] = stride(from: 0, to: bits.count, by: 8).map { start in
            bits[start..<start + 8].reduce(0) { ($0 << 1) | ($1 ? 1 : 0) }
        }
        var pad: UInt8 = 0xEC
        while bytes.count < dataCapacity(version: version) {
            bytes.append(pad)
            pad ^= 0xEC ^ 0x11
        }
        return bytes
    }

    /// Splits into blocks, adds each block's Reed–Solomon codewords, interleaves.
    private static func interleaved(_ data: [UInt8], version: Int) -> [UInt8] {
        let (ecLength, lengths) = blocks[version - 1]
        let divisor = reedSolomonDivisor(degree: ecLength)
        var dataBlocks: [[UInt8]] = []
        var offset = 0
        for length in lengths {
            dataBlocks.append(Array(data[offset..<offset + length]))
            offset += length
        }
        let ecBlocks = dataBlocks.map { reedSolomonRemainder($0, divisor: divisor) }
        var result: [UInt8] = []
        for index in 0..<(lengths.max() ?? 0) {
            for block in dataBlocks where index < block.count { result.append(block[index]) }
        }
        for index in 0..<ecLength {
            for block in ecBlocks { result.append(block[index]) }
        }
        return result
    }

    /// The generator polynomial ∏(x − αⁱ), i < degree, coefficients highest first without the leading 1.
    private static func reedSolomonDivisor(degree: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: degree)
        result[degree - 1] = 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            for index in 0..<degree {
                result[index] = gfMultiply(result[index], root)
                if index + 1 < degree { result[index] ^= result[index + 1] }
            }
            root = gfMultiply(root, 0x02)
        }
        return result
    }

    private static func reedSolomonRemainder(_ data: [UInt8], divisor: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: divisor.count)
        for byte in data {
            let factor = byte ^ result.removeFirst()
            result.append(0)
            for index in result.indices { result[index] ^= gfMultiply(divisor[index], factor) }
        }
        return result
    }

    /// Multiplication in GF(2⁸) modulo x⁸ + x⁴ + x³ + x² + 1 (0x11D).
    private static func gfMultiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var z = 0
        for index in stride(from: 7, through: 0, by: -1) {
            z = (z << 1) ^ ((z >> 7) * 0x11D)
            z ^= Int((y >> UInt8(index)) & 1) * Int(x)
        }
        return UInt8(z)
    }

    // MARK: The matrix

    private struct Builder {
        let version: Int
        let size: Int
        var modules: [[Bool]]
        var isFunction: [[Bool]]

        init(version: Int) {
            self.version = version
            size = 17 + 4 * version
            modules = Array(repeating: Array(repeating: false, count: size), count: size)
            isFunction = modules
        }

        mutating func set(_ x: Int, _ y: Int, _ dark: Bool) {
            modules[y][x] = dark
            isFunction[y][x] = true
        }

        mutating func drawFunctionPatterns() {
            for index in 0..<size {
                set(6, index, index % 2 == 0)
                set(index, 6, index % 2 == 0)
            }
            for (cx, cy) in [(3, 3), (size - 4, 3), (3, size - 4)] {
                for dy in -4...4 {
                    for dx in -4...4 {
                        let x = cx + dx
                        let y = cy + dy
                        guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
                        let distance = max(abs(dx), abs(dy))
                        set(x, y, distance != 2 && distance != 4)
                    }
                }
            }
            let positions = QRCode.alignmentPositions[version - 1]
            let last = positions.count - 1
            for (i, cx) in positions.enumerated() {
                for (j, cy) in positions.enumerated() where !((i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0)) {
                    for dy in -2...2 {
                        for dx in -2...2 { set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1) }
                    }
                }
            }
            drawFormatBits(mask: 0)  // reserves the format areas; redrawn once the mask is chosen
            if version >= 7 {
                var remainder = version
                for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
                let bits = version << 12 | remainder
                for index in 0..<18 {
                    let dark = (bits >> index) & 1 == 1
                    let a = size - 11 + index % 3
                    let b = index / 3
                    set(a, b, dark)
                    set(b, a, dark)
                }
            }
        }

        /// Level M (format bits 00) and the mask, BCH-protected, XOR 0x5412, in both copies.
        mutating func drawFormatBits(mask: Int) {
            let data = 0b00 << 3 | mask
            var remainder = data
            for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
            let bits = (data << 10 | remainder) ^ 0x5412
            func bit(_ index: Int) -> Bool { (bits >> index) & 1 == 1 }
            for index in 0...5 { set(8, index, bit(index)) }
            set(8, 7, bit(6))
            set(8, 8, bit(7))
            set(7, 8, bit(8))
            for index in 9..<15 { set(14 - index, 8, bit(index)) }
            for index in 0..<8 { set(size - 1 - index, 8, bit(index)) }
            for index in 8..<15 { set(8, size - 15 + index, bit(index)) }
            set(8, size - 8, true)
        }

        /// Zig-zag placement in two-column strips from the bottom right, skipping the timing column.
        mutating func drawCodewords(_ codewords: [UInt8]) {
            var bitIndex = 0
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 }
                for vertical in 0..<size {
                    for column in 0..<2 {
                        let x = right - column
                        let upward = (right + 1) & 2 == 0
                        let y = upward ? size - 1 - vertical : vertical
                        if !isFunction[y][x], bitIndex < codewords.count * 8 {
                            modules[y][x] = (codewords[bitIndex >> 3] >> UInt8(7 - (bitIndex & 7))) & 1 == 1
                            bitIndex += 1
                        }
                    }
                }
                right -= 2
            }
        }

        mutating func applyMask(_ mask: Int) {
            for y in 0..<size {
                for x in 0..<size where !isFunction[y][x] {
                    let invert: Bool =
                        switch mask {
                        case 0: (x + y) % 2 == 0
                        case 1: y % 2 == 0
                        case 2: x % 3 == 0
                        case 3: (x + y) % 3 == 0
                        case 4: (x / 3 + y / 2) % 2 == 0
                        case 5: x * y % 2 + x * y % 3 == 0
                        case 6: (x * y % 2 + x * y % 3) % 2 == 0
                        default: ((x + y) % 2 + x * y % 3) % 2 == 0
                        }
                    if invert { modules[y][x].toggle() }
                }
            }
        }

        /// The standard's four penalty rules (runs, 2×2 blocks, finder-like patterns, balance).
        func penalty() -> Int {
            var total = 0
            func lines() -> [[Bool]] {
                modules + (0..<size).map { x in (0..<size).map { y in modules[y][x] } }
            }
            let finderLike: [Bool] = [true, false, true, true, true, false, true]
            for line in lines() {
                var run = 1
                for index in 1..<size {
                    if line[index] == line[index - 1] {
                        run += 1
                        if run == 5 { total += 3 } else if run > 5 { total += 1 }
                    } else {
                        run = 1
                    }
                }
                for start in 0...(size - 7) where Array(line[start..<start + 7]) == finderLike {
                    let before = start >= 4 && !line[(start - 4)..<start].contains(true)
                    let after = start + 11 <= size && !line[(start + 7)..<(start + 11)].contains(true)
                    if before || after { total += 40 }
                }
            }
            for y in 0..<(size - 1) {
                for x in 0..<(size - 1) {
                    let color = modules[y][x]
                    if modules[y][x + 1] == color, modules[y + 1][x] == color, modules[y + 1][x + 1] == color { total += 3 }
                }
            }
            let dark = modules.reduce(0) { $0 + $1.filter { $0 }.count }
            let cells = size * size
            let deviation = abs(dark * 20 - cells * 10)
            total += max(0, (deviation + cells - 1) / cells - 1) * 10
            return total
        }
    }
}
