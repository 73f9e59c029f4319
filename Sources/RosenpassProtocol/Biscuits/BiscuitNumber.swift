// The 96-bit biscuit counter (`docs/protocol.md` §3.6, §4.5 ICR5).

/// A 96-bit unsigned integer stored as 12 little-endian bytes: the node's global biscuit counter
/// and each peer's `biscuit_used`.
struct BiscuitNumber: Equatable, Comparable, Sendable {
    static let byteCount = 12
    /// Low 64 bits and high 32 bits.
    private(set) var low: UInt64
    private(set) var high: UInt32

    static let zero = BiscuitNumber(low: 0, high: 0)
    /// The counter's start value, 1 (`docs/protocol.md` §4.1).
    static let one = BiscuitNumber(low: 1, high: 0)

    private init(low: UInt64, high: UInt32) {
        self.low = low
        self.high = high
    }

    /// Reads 12 little-endian bytes.
    init<Bytes: Collection<UInt8>>(littleEndian bytes: Bytes) where Bytes.Index == Int {
        precondition(bytes.count == Self.byteCount)
        let start = bytes.startIndex
        low = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[start + $1]) << (8 * $1) }
        high = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[start + 8 + $1]) << (8 * $1) }
    }

    /// The 12 little-endian bytes.
    var littleEndianBytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: low >> (8 * $0)) } + (0..<4).map { UInt8(truncatingIfNeeded: high >> (8 * $0)) }
    }

    /// Adds one, wrapping at 2^96 (which no node reaches).
    mutating func increment() {
        let (sum, overflow) = low.addingReportingOverflow(1)
        low = sum
        if overflow { high &+= 1 }
    }

    /// One less, stopping at zero: the highest biscuit number issued before the counter reached this.
    var predecessor: BiscuitNumber {
        if low > 0 { return BiscuitNumber(low: low - 1, high: high) }
        return high > 0 ? BiscuitNumber(low: .max, high: high - 1) : .zero
    }

    static func < (lhs: BiscuitNumber, rhs: BiscuitNumber) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}
