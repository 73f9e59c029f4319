// A sorting network: sorting whose comparisons and memory accesses do not depend on the data.

/// Sorting in constant time, for the secret permutations of key generation.
///
/// Batcher's bitonic sorting network: for each merge size k = 2, 4, …, n and distance j = k/2, …, 1
/// it compares the entries i and i + j (i with bit j clear) and puts them in ascending order when
/// bit k of i is clear, descending otherwise. The pairs visited are fixed by n alone, and the
/// exchange is done with a mask, so nothing about the values leaks through timing or addresses.
enum ObliviousSort {
    /// Sorts `values` ascending; the count must be a power of two and every value below 2^63.
    ///
    /// The bitonic network in its all-ascending form: merge stage k (block size 2, 4, …, n) first pairs
    /// entry i of the lower half of each block with its mirror image i ⊕ (k − 1), then runs the half
    /// cleaners j = k/4, …, 1 that pair i with i + j. Every comparator puts the smaller value first, so
    /// there is no direction to track, and the pairs visited are fixed by n alone. The exchange is a
    /// masked XOR: b − a borrows into the top bit exactly when b < a.
    static func sort(_ values: UnsafeMutablePointer<UInt64>, count: Int) {
        precondition(count > 0 && count & (count - 1) == 0, "the sorting network needs a power of two")
        // Index arithmetic below stays inside 0..<count, so it uses the wrapping operators.
        var k = 2
        while k <= count {
            // Mirror step: i in the lower half of each block of k, partner i ⊕ (k − 1).
            var start = 0
            while start < count {
                var low = values + start
                var high = values + (start &+ k &- 1)
                for _ in 0..<(k >> 1) {
                    exchange(low, high)
                    low += 1
                    high -= 1
                }
                start &+= k
            }
            // Half cleaners.
            var j = k >> 2
            while j > 0 {
                var block = values
                let end = values + count
                while block < end {
                    var low = block
                    for _ in 0..<j {
                        exchange(low, low + j)
                        low += 1
                    }
                    block += 2 &* j
                }
                j >>= 1
            }
            k <<= 1
        }
    }

    /// Puts the smaller of *a and *b into a and the larger into b, with a masked XOR: b − a borrows
    /// into the top bit exactly when b < a (both below 2^(bits − 1)).
    @inline(__always)
    private static func exchange<T: FixedWidthInteger & UnsignedInteger>(_ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>) {
        let x = a.pointee
        let y = b.pointee
        let swap = T.zero &- ((y &- x) >> (T.bitWidth &- 1))
        let difference = (x ^ y) & swap
        a.pointee = x ^ difference
        b.pointee = y ^ difference
    }

    /// The same network for 32-bit keys (below 2^31), four comparators at a time where the pairs allow.
    static func sort(_ values: UnsafeMutablePointer<UInt32>, count: Int) {
        precondition(count > 0 && count & (count - 1) == 0, "the sorting network needs a power of two")
        typealias Lanes = SIMD4<UInt32>
        let raw = UnsafeMutableRawPointer(values)
        @inline(__always)
        func exchange4(_ x: Lanes, _ y: Lanes) -> (Lanes, Lanes) {
            let swap = Lanes.zero &- ((y &- x) &>> 31)
            let difference = (x ^ y) & swap
            return (x ^ difference, y ^ difference)
        }
        /// The comparators (i, i + 1) for the eight entries from `index` on (even i): the first mirror
        /// step (k = 2) and the last half cleaner (j = 1) are both exactly these.
        @inline(__always)
        func exchangeAdjacentPairs(at index: Int) {
            let a = raw.loadUnaligned(fromByteOffset: 4 &* index, as: Lanes.self)
            let b = raw.loadUnaligned(fromByteOffset: 4 &* (index &+ 4), as: Lanes.self)
            let (lo, hi) = exchange4(Lanes(a[0], a[2], b[0], b[2]), Lanes(a[1], a[3], b[1], b[3]))
            raw.storeBytes(of: Lanes(lo[0], hi[0], lo[1], hi[1]), toByteOffset: 4 &* index, as: Lanes.self)
            raw.storeBytes(of: Lanes(lo[2], hi[2], lo[3], hi[3]), toByteOffset: 4 &* (index &+ 4), as: Lanes.self)
        }
        var k = 2
        while k <= count {
            let half = k >> 1
            var start = 0
            while start < count {
                if half >= 4 {
                    // Lanes low … low+3 pair with high … high−3: load the high side reversed.
                    var low = start
                    var high = start &+ k &- 4
                    for _ in 0..<(half >> 2) {
                        let x = raw.loadUnaligned(fromByteOffset: 4 &* low, as: Lanes.self)
                        let y = raw.loadUnaligned(fromByteOffset: 4 &* high, as: Lanes.self)
                        let (lo, hi) = exchange4(x, Lanes(y[3], y[2], y[1], y[0]))
                        raw.storeBytes(of: lo, toByteOffset: 4 &* low, as: Lanes.self)
                        raw.storeBytes(of: Lanes(hi[3], hi[2], hi[1], hi[0]), toByteOffset: 4 &* high, as: Lanes.self)
                        low &+= 4
                        high &-= 4
                    }
                } else if count >= 8 {
                    // k = 2 or 4: eight entries at a time, regrouped inside the registers.
                    if half == 1 {
                        exchangeAdjacentPairs(at: start)
                    } else {
                        let a = raw.loadUnaligned(fromByteOffset: 4 &* start, as: Lanes.self)
                        let b = raw.loadUnaligned(fromByteOffset: 4 &* (start &+ 4), as: Lanes.self)
                        let (lo, hi) = exchange4(Lanes(a[0], a[1], b[0], b[1]), Lanes(a[3], a[2], b[3], b[2]))
                        raw.storeBytes(of: Lanes(lo[0], lo[1], hi[1], hi[0]), toByteOffset: 4 &* start, as: Lanes.self)
                        raw.storeBytes(of: Lanes(lo[2], lo[3], hi[3], hi[2]), toByteOffset: 4 &* (start &+ 4), as: Lanes.self)
                    }
                    start &+= 8
                    continue
                } else {
                    var low = values + start
                    var high = values + (start &+ k &- 1)
                    for _ in 0..<half {
                        exchange(low, high)
                        low += 1
                        high -= 1
                    }
                }
                start &+= k
            }
            var j = k >> 2
            while j > 0 {
                var block = 0
                while block < count {
                    if j >= 4 {
                        var i = block
                        for _ in 0..<(j >> 2) {
                            let x = raw.loadUnaligned(fromByteOffset: 4 &* i, as: Lanes.self)
                            let y = raw.loadUnaligned(fromByteOffset: 4 &* (i &+ j), as: Lanes.self)
                            let (lo, hi) = exchange4(x, y)
                            raw.storeBytes(of: lo, toByteOffset: 4 &* i, as: Lanes.self)
                            raw.storeBytes(of: hi, toByteOffset: 4 &* (i &+ j), as: Lanes.self)
                            i &+= 4
                        }
                    } else if count >= 8 {
                        // j = 1 or 2: eight entries at a time.
                        if j == 1 {
                            exchangeAdjacentPairs(at: block)
                        } else {
                            let a = raw.loadUnaligned(fromByteOffset: 4 &* block, as: Lanes.self)
                            let b = raw.loadUnaligned(fromByteOffset: 4 &* (block &+ 4), as: Lanes.self)
                            let (lo, hi) = exchange4(Lanes(a[0], a[1], b[0], b[1]), Lanes(a[2], a[3], b[2], b[3]))
                            raw.storeBytes(of: Lanes(lo[0], lo[1], hi[0], hi[1]), toByteOffset: 4 &* block, as: Lanes.self)
                            raw.storeBytes(of: Lanes(lo[2], lo[3], hi[2], hi[3]), toByteOffset: 4 &* (block &+ 4), as: Lanes.self)
                        }
                        block &+= 8
                        continue
                    } else {
                        var low = values + block
                        for _ in 0..<j {
                            exchange(low, low + j)
                            low += 1
                        }
                    }
                    block &+= 2 &* j
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
    /// Entries must be below 2^16 (n ≤ 2^15), so that (p[x], values[x]) packs into one 31-bit key.
    static func composeInverse(values: [UInt32], by p: [UInt32]) -> [UInt32] {
        let n = p.count
        precondition(values.count == n && n <= 1 << 15)
        let packed = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
        defer {
            packed.update(repeating: 0, count: n)
            packed.deallocate()
        }
        for x in 0..<n { packed[x] = p[x] << 16 | values[x] }
        sort(packed, count: n)
        return [UInt32](unsafeUninitializedCapacity: n) { buffer, initialized in
            for x in 0..<n { buffer[x] = packed[x] & 0xFFFF }
            initialized = n
        }
    }

    /// Returns whether x < y as an all-ones or zero mask, for values below 2^31.
    @inline(__always)
    static func lessMask(_ x: UInt32, _ y: UInt32) -> UInt32 {
        0 &- ((x &- y) >> 31)
    }

    /// values[i] ← min(values[i], other[i]) for every i, for values below 2^31: the masks are computed
    /// first, hidden from the optimiser (``opaqueMasks(_:count:)``), then applied, so no comparison
    /// becomes a branch.
    static func formMinimum(_ values: inout [UInt32], with other: [UInt32]) {
        precondition(values.count == other.count)
        var masks = [UInt32](repeating: 0, count: values.count)
        masks.withUnsafeMutableBufferPointer { m in
            for i in 0..<values.count { m[i] = lessMask(other[i], values[i]) }
            opaqueMasks(m.baseAddress!, count: m.count)
            for i in 0..<values.count { values[i] ^= (values[i] ^ other[i]) & m[i] }
        }
        wipe(&masks)
    }
}

/// Overwrites the elements of a secret array with zeros (best effort: copies made earlier by
/// copy-on-write are the caller's to wipe).
@inline(__always)
func wipe<T: FixedWidthInteger>(_ array: inout [T]) {
    array.withUnsafeMutableBytes { secureZero($0) }
}
