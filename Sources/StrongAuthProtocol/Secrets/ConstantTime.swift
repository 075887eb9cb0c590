/// Comparisons whose running time does not depend on where two secrets differ.
public enum ConstantTime {
    /// `true` when both byte sequences are equal. Runs in time proportional to the longer input;
    /// a length difference is folded into the result rather than returned early.
    public static func equals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        let left = Array(lhs)
        let right = Array(rhs)
        var difference = UInt8(truncatingIfNeeded: left.count ^ right.count)
        difference |= UInt8(truncatingIfNeeded: (left.count ^ right.count) >> 8)
        let length = max(left.count, right.count)
        for index in 0..<length {
            let a = index < left.count ? left[index] : 0
            let b = index < right.count ? right[index] : 0
            difference |= a ^ b
        }
        return difference == 0 && left.count == right.count
    }

    /// String convenience over the UTF-8 bytes.
    public static func equals(_ lhs: String, _ rhs: String) -> Bool {
        equals(Array(lhs.utf8), Array(rhs.utf8))
    }
}
