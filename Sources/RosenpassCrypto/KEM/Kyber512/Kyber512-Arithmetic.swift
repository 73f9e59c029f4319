// Arithmetic in Z_q[X]/(X^256 + 1) for Kyber: Montgomery and Barrett reduction, the number-theoretic
// transform (NTT) and multiplication in the NTT domain (Kyber specification v3.02, section 1.1).
//
// Every function here runs in time independent of the coefficient values: no branches or memory
// indices depend on them, and all arithmetic wraps (`&+`, `&-`, `&*`) so that no overflow check is
// emitted. Coefficients are signed 16-bit integers that are only congruent to their value modulo q;
// `reduce()` brings them to the centred range, and the encoders map them to [0, q).

/// q^-1 mod 2^16, as a signed 16-bit integer.
let kyberQInverse: Int16 = -3327

/// 2^32 mod q: multiplying by it with `montgomeryMultiply` converts to Montgomery form.
let kyberMontgomerySquared: Int16 = 1353

/// 2^32 / 128 mod q: the scale applied at the end of the inverse NTT (undoes the seven halvings and
/// one Montgomery factor).
let kyberInverseNTTScale: Int16 = 1441

/// Returns a value congruent to `a * 2^-16` modulo q, in (-q, q), for |a| < q * 2^15.
@inline(__always)
func montgomeryReduce(_ a: Int32) -> Int16 {
    let t = Int16(truncatingIfNeeded: a) &* kyberQInverse
    return Int16(truncatingIfNeeded: (a &- Int32(t) &* Int32(KyberParameters.q)) &>> 16)
}

/// The high 16 bits of the 32-bit product `a * b` (what SIMD `pmulhw` computes).
@inline(__always)
func multiplyHigh(_ a: Int16, _ b: Int16) -> Int16 {
    Int16(truncatingIfNeeded: (Int32(a) &* Int32(b)) &>> 16)
}

/// Returns a value congruent to `a * b * 2^-16` modulo q, in (-q, q).
///
/// This is `montgomeryReduce(a * b)` written with 16-bit operations only: with t = a·b·q⁻¹ mod 2^16,
/// a·b and t·q agree in their low 16 bits, so (a·b - t·q) / 2^16 is the difference of their high halves.
/// In that form the compiler turns loops over coefficients into 8-lane SIMD multiplications.
@inline(__always)
func montgomeryMultiply(_ a: Int16, _ b: Int16) -> Int16 {
    let t = a &* (b &* kyberQInverse)
    return multiplyHigh(a, b) &- multiplyHigh(t, KyberParameters.q)
}

/// Returns the representative of `a` modulo q in the centred range [-(q-1)/2, (q-1)/2].
///
/// The quotient estimate is ⌊(20159·a + 2^25) / 2^26⌋ with 20159 = round(2^26 / q), computed as
/// ⌊(⌊20159·a / 2^16⌋ + 2^9) / 2^10⌋ (the same value) so that it needs 16-bit operations only; it is
/// exact to within one for every 16-bit input, and the rounding makes the result centred.
@inline(__always)
func barrettReduce(_ a: Int16) -> Int16 {
    let quotient = (multiplyHigh(a, 20159) &+ (1 << 9)) &>> 10
    return a &- quotient &* KyberParameters.q
}

/// Maps a centred representative (|a| < q) to [0, q) without a branch.
@inline(__always)
func canonicalize(_ a: Int16) -> UInt16 {
    UInt16(bitPattern: a &+ ((a &>> 15) & KyberParameters.q))
}

/// The powers of the primitive 256th root of unity ζ = 17 used by the NTT, in Montgomery form and centred:
/// entry i is 17^bitreverse7(i) * 2^16 mod q. Entry 0 (ζ^0) is not used by the transforms.
let kyberZetas: [Int16] = (0..<128).map { (index: Int) -> Int16 in
    var reversed = 0
    for bit in 0..<7 where index & (1 << bit) != 0 { reversed |= 1 << (6 - bit) }
    let q = Int(KyberParameters.q)
    var power = 1
    for _ in 0..<reversed { power = power * 17 % q }
    let montgomery = power * 65536 % q
    return Int16(montgomery > q / 2 ? montgomery - q : montgomery)
}

/// A polynomial of Z_q[X]/(X^256 + 1): a view of 256 coefficients that live in a ``KyberScratch``.
///
/// The view owns no memory; copying it copies the pointer. Depending on the step, the coefficients are
/// in normal or NTT representation (the type does not track which; the IND-CPA code does).
struct KyberPoly {
    let coefficients: UnsafeMutablePointer<Int16>

    @inline(__always)
    init(_ coefficients: UnsafeMutablePointer<Int16>) {
        self.coefficients = coefficients
    }

    /// Sets every coefficient to the centred representative modulo q.
    @inline(__always)
    func reduce() {
        let c = coefficients
        for i in 0..<KyberParameters.n {
            c[i] = barrettReduce(c[i])
        }
    }

    /// Multiplies every coefficient by 2^16 (converts to Montgomery form).
    @inline(__always)
    func toMontgomery() {
        let c = coefficients
        for i in 0..<KyberParameters.n {
            c[i] = montgomeryMultiply(c[i], kyberMontgomerySquared)
        }
    }

    /// `self += other`, without reduction.
    @inline(__always)
    func add(_ other: KyberPoly) {
        let c = coefficients
        let o = other.coefficients
        for i in 0..<KyberParameters.n {
            c[i] = c[i] &+ o[i]
        }
    }

    /// `self = other - self`, without reduction.
    @inline(__always)
    func subtract(from other: KyberPoly) {
        let c = coefficients
        let o = other.coefficients
        for i in 0..<KyberParameters.n {
            c[i] = o[i] &- c[i]
        }
    }

    /// Sets every coefficient to zero.
    @inline(__always)
    func clear() {
        coefficients.update(repeating: 0, count: KyberParameters.n)
    }

    /// Replaces the polynomial by its NTT (bit-reversed order), with coefficients reduced to the centred range.
    ///
    /// Input coefficients must be smaller than q in absolute value (or up to 2^12 for decoded keys); each of
    /// the seven layers grows the bound by at most q, which stays inside 16 bits.
    func ntt() {
        let c = coefficients
        kyberZetas.withUnsafeBufferPointer { zetas in
            var zetaIndex = 1
            var length = 128
            while length >= 2 {
                var start = 0
                while start < KyberParameters.n {
                    let zeta = zetas[zetaIndex]
                    zetaIndex += 1
                    let low = c + start
                    let high = c + start + length
                    for j in 0..<length {
                        let t = montgomeryMultiply(high[j], zeta)
                        high[j] = low[j] &- t
                        low[j] = low[j] &+ t
                    }
                    start += 2 * length
                }
                length >>= 1
            }
        }
        reduce()
    }

    /// Replaces the polynomial (in NTT representation) by its inverse NTT, multiplied by 2^16.
    ///
    /// The extra Montgomery factor cancels the 2^-16 that ``basemulAccumulate(_:_:)`` leaves behind.
    /// Output coefficients are smaller than q in absolute value.
    func inverseNTTToMontgomery() {
        let c = coefficients
        kyberZetas.withUnsafeBufferPointer { zetas in
            var zetaIndex = 127
            var length = 2
            while length <= 128 {
                var start = 0
                while start < KyberParameters.n {
                    let zeta = zetas[zetaIndex]
                    zetaIndex -= 1
                    let low = c + start
                    let high = c + start + length
                    for j in 0..<length {
                        let t = low[j]
                        low[j] = barrettReduce(t &+ high[j])
                        high[j] = montgomeryMultiply(high[j] &- t, zeta)
                    }
                    start += 2 * length
                }
                length <<= 1
            }
        }
        for i in 0..<KyberParameters.n {
            c[i] = montgomeryMultiply(c[i], kyberInverseNTTScale)
        }
    }
}

/// A module element: `KyberParameters.k` polynomials stored one after the other.
struct KyberPolyVec {
    let base: UnsafeMutablePointer<Int16>

    @inline(__always)
    init(_ base: UnsafeMutablePointer<Int16>) {
        self.base = base
    }

    /// Polynomial `i`.
    @inline(__always)
    subscript(_ i: Int) -> KyberPoly {
        KyberPoly(base + i * KyberParameters.n)
    }

    /// Applies the NTT to every polynomial.
    func ntt() {
        for i in 0..<KyberParameters.k { self[i].ntt() }
    }

    /// Applies the inverse NTT (times 2^16) to every polynomial.
    func inverseNTTToMontgomery() {
        for i in 0..<KyberParameters.k { self[i].inverseNTTToMontgomery() }
    }

    /// Reduces every coefficient to the centred range.
    func reduce() {
        for i in 0..<KyberParameters.k { self[i].reduce() }
    }

    /// `self += other`, without reduction.
    func add(_ other: KyberPolyVec) {
        for i in 0..<KyberParameters.k { self[i].add(other[i]) }
    }
}

extension KyberPoly {
    /// Sets `self` to the inner product `Σ a[i] ∘ b[i]` of two vectors in NTT representation, times 2^-16.
    /// Output coefficients are smaller than q in absolute value. `self` must not overlap `a` or `b`.
    ///
    /// In the NTT domain a polynomial is 128 residues modulo (X^2 - ζ_i); each pair of coefficients is
    /// multiplied as a degree-one polynomial modulo its own X^2 - ζ_i (Kyber specification, section 1.1):
    /// (a0 + a1·X)(b0 + b1·X) = (a0·b0 + a1·b1·ζ) + (a0·b1 + a1·b0)·X. The products are summed over the
    /// vector in 32 bits and reduced once. With inputs below 2^12 (decoded keys are not checked against
    /// q) on one side and below q/2 (reduced NTT output) on the other, every sum stays below
    /// 2^25 < q·2^15, the bound `montgomeryReduce` needs.
    func basemulAccumulate(_ a: KyberPolyVec, _ b: KyberPolyVec) {
        let r = coefficients
        kyberZetas.withUnsafeBufferPointer { zetas in
            for pair in 0..<64 {
                let zeta = zetas[64 + pair]
                for half in 0..<2 {
                    let i = 4 * pair + 2 * half
                    let z = half == 0 ? zeta : 0 &- zeta
                    var even: Int32 = 0
                    var odd: Int32 = 0
                    for component in 0..<KyberParameters.k {
                        let x = a[component].coefficients + i
                        let y = b[component].coefficients + i
                        let x0 = Int32(x[0])
                        let x1 = Int32(x[1])
                        let y0 = Int32(y[0])
                        let y1 = Int32(y[1])
                        // a1·b1·ζ: one reduction first, so that the product with ζ stays small.
                        even = even &+ x0 &* y0 &+ Int32(montgomeryReduce(x1 &* y1)) &* Int32(z)
                        odd = odd &+ x0 &* y1 &+ x1 &* y0
                    }
                    r[i] = montgomeryReduce(even)
                    r[i + 1] = montgomeryReduce(odd)
                }
            }
        }
    }
}
