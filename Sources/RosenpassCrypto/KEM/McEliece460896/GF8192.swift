// Scalar arithmetic in GF(2^13), the field of Classic McEliece 460896.

/// The field GF(2^13) = GF(2)[z] / (z^13 + z^4 + z^3 + z + 1) (Classic McEliece specification, §2:
/// m = 13 and f(z)).
///
/// An element is a `UInt16` whose bit i is the coefficient of z^i; only the low 13 bits are used.
/// Every function here takes the same time whatever the values: no branches and no table look-ups
/// depend on the operands.
enum GF13 {
    /// The mask of the 13 bits of an element.
    static let mask: UInt16 = 0x1FFF

    /// Reduces a polynomial of degree at most 24 modulo z^13 + z^4 + z^3 + z + 1.
    @inline(__always)
    static func reduce(_ product: UInt32) -> UInt16 {
        var p = product
        // z^13 = z^4 + z^3 + z + 1: fold the high part down twice (the first fold leaves at most
        // three bits above z^12).
        var high = p >> 13
        p = (p & 0x1FFF) ^ high ^ (high << 1) ^ (high << 3) ^ (high << 4)
        high = p >> 13
        p = (p & 0x1FFF) ^ high ^ (high << 1) ^ (high << 3) ^ (high << 4)
        return UInt16(truncatingIfNeeded: p)
    }

    /// Returns a · b.
    ///
    /// The carry-less product is formed with integer multiplications of operands thinned to every
    /// fourth bit ("holes"): x_i = x & (0x1111 << i). In x_i · y_j every set bit lands on a position
    /// congruent to i + j mod 4, at most four products meet at one position, so their sum never carries
    /// into the next position of the same class, and masking keeps exactly the XOR of the bit products.
    /// Unlike multiplying by y & 2^k, which the optimiser may turn into a select (and then a branch when
    /// y is loop-invariant), nothing here is a small set of values it could branch on.
    @inline(__always)
    static func multiply(_ a: UInt16, _ b: UInt16) -> UInt16 {
        let x = UInt32(a & mask)
        let y = UInt32(b & mask)
        let x0 = x & 0x1111, x1 = x & 0x2222, x2 = x & 0x4444, x3 = x & 0x8888
        let y0 = y & 0x1111, y1 = y & 0x2222, y2 = y & 0x4444, y3 = y & 0x8888
        let z0 = (x0 &* y0) ^ (x1 &* y3) ^ (x2 &* y2) ^ (x3 &* y1)
        let z1 = (x0 &* y1) ^ (x1 &* y0) ^ (x2 &* y3) ^ (x3 &* y2)
        let z2 = (x0 &* y2) ^ (x1 &* y1) ^ (x2 &* y0) ^ (x3 &* y3)
        let z3 = (x0 &* y3) ^ (x1 &* y2) ^ (x2 &* y1) ^ (x3 &* y0)
        let product = (z0 & 0x0111_1111) | (z1 & 0x0222_2222) | (z2 & 0x0444_4444) | (z3 & 0x0888_8888)
        return reduce(product)
    }

    /// Returns a².
    @inline(__always)
    static func square(_ a: UInt16) -> UInt16 {
        // Squaring spreads bit i to bit 2i.
        var x = UInt32(a & mask)
        x = (x | (x << 8)) & 0x00FF_00FF
        x = (x | (x << 4)) & 0x0F0F_0F0F
        x = (x | (x << 2)) & 0x3333_3333
        x = (x | (x << 1)) & 0x5555_5555
        return reduce(x)
    }

    /// Returns 1/a, and 0 for a = 0 (a^(2^13 − 2) by a fixed chain of squarings and multiplications).
    static func inverse(_ a: UInt16) -> UInt16 {
        // x = a^(2^k − 1) after k − 1 steps of x ← x² · a; 11 steps give a^(2^12 − 1).
        var x = a & mask
        for _ in 0..<11 {
            x = multiply(square(x), a)
        }
        return square(x)
    }

    /// Returns a^e for a public exponent e.
    static func power(_ a: UInt16, _ exponent: Int) -> UInt16 {
        var result: UInt16 = 1
        var base = a & mask
        var e = exponent
        while e > 0 {
            if e & 1 == 1 { result = multiply(result, base) }
            base = square(base)
            e >>= 1
        }
        return result
    }

    /// Reverses the 13 bits of `a`: the support element that the Beneš network index `a` stands for
    /// (Classic McEliece specification, §8.3 "FieldOrdering": α_i = Σ_j π(i)_j z^(m−1−j)).
    @inline(__always)
    static func bitReverse(_ a: UInt16) -> UInt16 {
        var x = a
        x = ((x & 0x00FF) << 8) | ((x & 0xFF00) >> 8)
        x = ((x & 0x0F0F) << 4) | ((x & 0xF0F0) >> 4)
        x = ((x & 0x3333) << 2) | ((x & 0xCCCC) >> 2)
        x = ((x & 0x5555) << 1) | ((x & 0xAAAA) >> 1)
        return x >> 3
    }

    /// Returns all ones when a = 0 and zero otherwise, without a branch.
    @inline(__always)
    static func isZeroMask(_ a: UInt16) -> UInt16 {
        UInt16(truncatingIfNeeded: (UInt32(a) &- 1) >> 16) // a − 1 borrows into the high half only for 0
    }
}
