// A sorting network: sorting whose comparisons and memory accesses do not depend on the data.

/// Sorting in constant time, for the secret permutations of key generation.
///
/// Batcher's bitonic sorting network: for each merge size k = 2, 4, …, n and distance j = k/2, …, 1
/// it compares the entries i and i + j (i with bit j clear) and puts them in ascending order when
/// bit k of i is clear, descending otherwise. The pairs visited are fixed by n alone, and the
/// exchange is done with a mask, so nothing about the values leaks through timing or addresses.
enum ObliviousSort {
    /// Sorts `values` ascending; the count must be a power of two and every value below 2^63.
    static func sort(_ values: UnsafeMutablePointer<UInt64>, count: Int) {
        precondition(count > 0 && count & (count - 1) == 0, "the sorting network needs a power of two")
        var k = 2
        while k <= count {
            var j = k >> 1
            while j > 0 {
                var start = 0
                while start < count {
                    // Blocks of 2j: entries start..<start+j pair with those j further on. The
                    // direction flips with bit k of the index, constant inside a block of 2j ≤ k.
                    let descending = UInt64(truncatingIfNeeded: (start & k) >> k.trailingZeroBitCount)
                    let flip = 0 &- descending
                    for i in start..<(start + j) {
                        let a = values[i]
                        let b = values[i + j]
                        // swap when b < a (ascending) or a < b (descending); b − a borrows iff b < a.
                        let less = 0 &- ((b &- a) >> 63)      // b < a
                        let greater = 0 &- ((a &- b) >> 63)   // a < b
                        let swap = (less & ~flip) | (greater & flip)
                        let difference = (a ^ b) & swap
                        values[i] = a ^ difference
                        values[i + j] = b ^ difference
                    }
                    start += 2 * j
                }
                j >>= 1
            }
            k <<= 1
        }
    }

    /// Returns the inverse of the permutation `p` of 0..<p.count: result[p[x]] = x.
    static func invert(_ p: [UInt32]) -> [UInt32] {
        composeInverse(values: (0..<p.count).map { UInt32($0) }, by: p)
    }

    /// Returns y with y[p[x]] = values[x], i.e. values ∘ p⁻¹, for a permutation `p` of 0..<p.count.
    /// Entries must be below 2^31.
    static func composeInverse(values: [UInt32], by p: [UInt32]) -> [UInt32] {
        let n = p.count
        precondition(values.count == n)
        let packed = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
        defer {
            packed.update(repeating: 0, count: n)
            packed.deallocate()
        }
        for x in 0..<n { packed[x] = UInt64(p[x]) << 32 | UInt64(values[x]) }
        sort(packed, count: n)
        return (0..<n).map { UInt32(truncatingIfNeeded: packed[$0]) }
    }

    /// Returns whether x < y as an all-ones or zero mask, for values below 2^31.
    @inline(__always)
    static func lessMask(_ x: UInt32, _ y: UInt32) -> UInt32 {
        0 &- ((x &- y) >> 31)
    }

    /// min(x, y) without a branch, for values below 2^31.
    @inline(__always)
    static func minimum(_ x: UInt32, _ y: UInt32) -> UInt32 {
        y ^ ((x ^ y) & lessMask(x, y))
    }
}
