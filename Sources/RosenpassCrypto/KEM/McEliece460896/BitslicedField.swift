// Bitsliced arithmetic on 64 elements of GF(2^13) at a time.

/// Bitsliced vectors of GF(2^13) elements (McBits, Bernstein–Chou–Schwabe 2013, §2).
///
/// A vector is 13 consecutive `UInt64` words: word b holds bit b (the coefficient of z^b) of 64 field
/// elements, element l in bit l. One multiplication of 64 pairs is then a fixed sequence of ANDs and
/// XORs, so nothing depends on the values: no branches, no secret memory addresses.
///
/// The functions take raw pointers to 13 words; outputs may alias inputs.
enum BitslicedGF {
    /// Words per vector.
    static let words = 13

    /// h = f · g, lane by lane.
    @inline(__always)
    static func multiply(_ h: UnsafeMutablePointer<UInt64>, _ f: UnsafePointer<UInt64>, _ g: UnsafePointer<UInt64>) {
        let f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4], f5 = f[5], f6 = f[6]
        let f7 = f[7], f8 = f[8], f9 = f[9], f10 = f[10], f11 = f[11], f12 = f[12]
        let g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4], g5 = g[5], g6 = g[6]
        let g7 = g[7], g8 = g[8], g9 = g[9], g10 = g[10], g11 = g[11], g12 = g[12]
        // Schoolbook product: word k of the unreduced product is the XOR of f_i & g_(k−i).
        var p0 = (f0 & g0)
        var p1 = (f0 & g1) ^ (f1 & g0)
        var p2 = (f0 & g2) ^ (f1 & g1) ^ (f2 & g0)
        var p3 = (f0 & g3) ^ (f1 & g2) ^ (f2 & g1) ^ (f3 & g0)
        var p4 = (f0 & g4) ^ (f1 & g3) ^ (f2 & g2) ^ (f3 & g1) ^
            (f4 & g0)
        var p5 = (f0 & g5) ^ (f1 & g4) ^ (f2 & g3) ^ (f3 & g2) ^
            (f4 & g1) ^ (f5 & g0)
        var p6 = (f0 & g6) ^ (f1 & g5) ^ (f2 & g4) ^ (f3 & g3) ^
            (f4 & g2) ^ (f5 & g1) ^ (f6 & g0)
        var p7 = (f0 & g7) ^ (f1 & g6) ^ (f2 & g5) ^ (f3 & g4) ^
            (f4 & g3) ^ (f5 & g2) ^ (f6 & g1) ^ (f7 & g0)
        var p8 = (f0 & g8) ^ (f1 & g7) ^ (f2 & g6) ^ (f3 & g5) ^
            (f4 & g4) ^ (f5 & g3) ^ (f6 & g2) ^ (f7 & g1) ^
            (f8 & g0)
        var p9 = (f0 & g9) ^ (f1 & g8) ^ (f2 & g7) ^ (f3 & g6) ^
            (f4 & g5) ^ (f5 & g4) ^ (f6 & g3) ^ (f7 & g2) ^
            (f8 & g1) ^ (f9 & g0)
        var p10 = (f0 & g10) ^ (f1 & g9) ^ (f2 & g8) ^ (f3 & g7) ^
            (f4 & g6) ^ (f5 & g5) ^ (f6 & g4) ^ (f7 & g3) ^
            (f8 & g2) ^ (f9 & g1) ^ (f10 & g0)
        var p11 = (f0 & g11) ^ (f1 & g10) ^ (f2 & g9) ^ (f3 & g8) ^
            (f4 & g7) ^ (f5 & g6) ^ (f6 & g5) ^ (f7 & g4) ^
            (f8 & g3) ^ (f9 & g2) ^ (f10 & g1) ^ (f11 & g0)
        var p12 = (f0 & g12) ^ (f1 & g11) ^ (f2 & g10) ^ (f3 & g9) ^
            (f4 & g8) ^ (f5 & g7) ^ (f6 & g6) ^ (f7 & g5) ^
            (f8 & g4) ^ (f9 & g3) ^ (f10 & g2) ^ (f11 & g1) ^
            (f12 & g0)
        var p13 = (f1 & g12) ^ (f2 & g11) ^ (f3 & g10) ^ (f4 & g9) ^
            (f5 & g8) ^ (f6 & g7) ^ (f7 & g6) ^ (f8 & g5) ^
            (f9 & g4) ^ (f10 & g3) ^ (f11 & g2) ^ (f12 & g1)
        var p14 = (f2 & g12) ^ (f3 & g11) ^ (f4 & g10) ^ (f5 & g9) ^
            (f6 & g8) ^ (f7 & g7) ^ (f8 & g6) ^ (f9 & g5) ^
            (f10 & g4) ^ (f11 & g3) ^ (f12 & g2)
        var p15 = (f3 & g12) ^ (f4 & g11) ^ (f5 & g10) ^ (f6 & g9) ^
            (f7 & g8) ^ (f8 & g7) ^ (f9 & g6) ^ (f10 & g5) ^
            (f11 & g4) ^ (f12 & g3)
        let p16 = (f4 & g12) ^ (f5 & g11) ^ (f6 & g10) ^ (f7 & g9) ^
            (f8 & g8) ^ (f9 & g7) ^ (f10 & g6) ^ (f11 & g5) ^
            (f12 & g4)
        let p17 = (f5 & g12) ^ (f6 & g11) ^ (f7 & g10) ^ (f8 & g9) ^
            (f9 & g8) ^ (f10 & g7) ^ (f11 & g6) ^ (f12 & g5)
        let p18 = (f6 & g12) ^ (f7 & g11) ^ (f8 & g10) ^ (f9 & g9) ^
            (f10 & g8) ^ (f11 & g7) ^ (f12 & g6)
        let p19 = (f7 & g12) ^ (f8 & g11) ^ (f9 & g10) ^ (f10 & g9) ^
            (f11 & g8) ^ (f12 & g7)
        let p20 = (f8 & g12) ^ (f9 & g11) ^ (f10 & g10) ^ (f11 & g9) ^
            (f12 & g8)
        let p21 = (f9 & g12) ^ (f10 & g11) ^ (f11 & g10) ^ (f12 & g9)
        let p22 = (f10 & g12) ^ (f11 & g11) ^ (f12 & g10)
        let p23 = (f11 & g12) ^ (f12 & g11)
        let p24 = (f12 & g12)
        // Reduce with z^13 = z^4 + z^3 + z + 1, from the top word down.
        p11 ^= p24; p12 ^= p24; p14 ^= p24; p15 ^= p24
        p10 ^= p23; p11 ^= p23; p13 ^= p23; p14 ^= p23
        p9 ^= p22; p10 ^= p22; p12 ^= p22; p13 ^= p22
        p8 ^= p21; p9 ^= p21; p11 ^= p21; p12 ^= p21
        p7 ^= p20; p8 ^= p20; p10 ^= p20; p11 ^= p20
        p6 ^= p19; p7 ^= p19; p9 ^= p19; p10 ^= p19
        p5 ^= p18; p6 ^= p18; p8 ^= p18; p9 ^= p18
        p4 ^= p17; p5 ^= p17; p7 ^= p17; p8 ^= p17
        p3 ^= p16; p4 ^= p16; p6 ^= p16; p7 ^= p16
        p2 ^= p15; p3 ^= p15; p5 ^= p15; p6 ^= p15
        p1 ^= p14; p2 ^= p14; p4 ^= p14; p5 ^= p14
        p0 ^= p13; p1 ^= p13; p3 ^= p13; p4 ^= p13
        h[0] = p0
        h[1] = p1
        h[2] = p2
        h[3] = p3
        h[4] = p4
        h[5] = p5
        h[6] = p6
        h[7] = p7
        h[8] = p8
        h[9] = p9
        h[10] = p10
        h[11] = p11
        h[12] = p12
    }

    /// h = f², lane by lane. Squaring is linear over GF(2): output bit b is the XOR of the input bits
    /// i for which z^(2i) mod f(z) has bit b set.
    @inline(__always)
    static func square(_ h: UnsafeMutablePointer<UInt64>, _ f: UnsafePointer<UInt64>) {
        let f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4], f5 = f[5], f6 = f[6]
        let f7 = f[7], f8 = f[8], f9 = f[9], f10 = f[10], f11 = f[11], f12 = f[12]
        let f11f12 = f11 ^ f12
        h[0] = f0 ^ f11
        h[1] = f7 ^ f11f12
        h[2] = f1 ^ f7
        h[3] = f8 ^ f11f12
        h[4] = f2 ^ f7 ^ f8 ^ f11f12
        h[5] = f7 ^ f9
        h[6] = f3 ^ f8 ^ f9 ^ f12
        h[7] = f8 ^ f10
        h[8] = f4 ^ f9 ^ f10
        h[9] = f9 ^ f11
        h[10] = f5 ^ f10 ^ f11
        h[11] = f10 ^ f12
        h[12] = f6 ^ f11f12
    }

    /// h = 1/f lane by lane (f^(2^13 − 2)); lanes holding 0 give 0. `h` must not alias `f`.
    static func invert(_ h: UnsafeMutablePointer<UInt64>, _ f: UnsafePointer<UInt64>) {
        // x ← x² · f eleven times gives f^(2^12 − 1); one more squaring gives f^(2^13 − 2).
        for i in 0..<words { h[i] = f[i] }
        for _ in 0..<11 {
            square(h, h)
            multiply(h, h, f)
        }
        square(h, h)
    }

    /// Writes the vector whose 64 lanes all hold `element`: word b is all ones when bit b is set.
    @inline(__always)
    static func broadcast(_ h: UnsafeMutablePointer<UInt64>, _ element: UInt16) {
        for b in 0..<words {
            h[b] = 0 &- UInt64((element >> UInt16(b)) & 1)
        }
    }

    /// Writes `elements` (up to 64) into the lanes of `h`; missing lanes are zero.
    static func load(_ h: UnsafeMutablePointer<UInt64>, _ elements: UnsafeBufferPointer<UInt16>) {
        precondition(elements.count <= 64)
        for b in 0..<words {
            var word: UInt64 = 0
            for l in 0..<elements.count {
                word |= UInt64((elements[l] >> UInt16(b)) & 1) << UInt64(l)
            }
            h[b] = word
        }
    }

    /// Returns the element in lane `lane` (a public index).
    @inline(__always)
    static func element(_ f: UnsafePointer<UInt64>, lane: Int) -> UInt16 {
        var value: UInt16 = 0
        for b in 0..<words {
            value |= UInt16(truncatingIfNeeded: (f[b] >> UInt64(lane)) & 1) << UInt16(b)
        }
        return value
    }
}

/// Transposes a 64 × 64 bit matrix in place: afterwards bit j of word i is what bit i of word j was.
///
/// Six rounds swap ever smaller off-diagonal blocks (32 × 32 down to 1 × 1) with masked shifts.
@inline(__always)
func transpose64x64(_ m: UnsafeMutablePointer<UInt64>) {
    @inline(__always)
    func round(_ m: UnsafeMutablePointer<UInt64>, _ shift: Int, _ low: UInt64) {
        let high = ~low
        var i = 0
        while i < 64 {
            for j in i..<(i + shift) {
                let x = m[j]
                let y = m[j + shift]
                m[j] = (x & low) | ((y & low) << UInt64(shift))
                m[j + shift] = ((x & high) >> UInt64(shift)) | (y & high)
            }
            i += 2 * shift
        }
    }
    round(m, 32, 0x0000_0000_FFFF_FFFF)
    round(m, 16, 0x0000_FFFF_0000_FFFF)
    round(m, 8, 0x00FF_00FF_00FF_00FF)
    round(m, 4, 0x0F0F_0F0F_0F0F_0F0F)
    round(m, 2, 0x3333_3333_3333_3333)
    round(m, 1, 0x5555_5555_5555_5555)
}
