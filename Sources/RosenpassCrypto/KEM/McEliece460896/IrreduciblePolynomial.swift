// The Goppa polynomial: the minimal polynomial of a random element of GF(2^13)^96.

/// The field GF((2^13)^96) = GF(2^13)[y] / F(y) in which key generation picks a random element β;
/// its minimal polynomial over GF(2^13) is the Goppa polynomial g (Classic McEliece specification,
/// §8.1 "Irreducible-polynomial generation").
struct McElieceExtensionField: Sendable {
    /// The terms c·y^k of F(y) − y^96, as (k, c).
    let reductionTerms: [(exponent: Int, coefficient: UInt16)]

    /// The round-3 and round-4 specifications: F(y) = y^96 + y^10 + y^9 + y^6 + 1.
    static let round4 = McElieceExtensionField(reductionTerms: [(10, 1), (9, 1), (6, 1), (0, 1)])

    /// The 2019 code (format A, `docs/mceliece-round3.md` §5): F(y) = y^96 + 714·y^11 + 5296·y^5 + 728·y^4 + 5881.
    static let format2019 = McElieceExtensionField(reductionTerms: [(11, 714), (5, 5296), (4, 728), (0, 5881)])

    /// Returns a · b mod F for elements given by their 96 coefficients.
    func multiply(_ a: [UInt16], _ b: [UInt16]) -> [UInt16] {
        let t = McEliece460896.errorCount
        var product = [UInt16](repeating: 0, count: 2 * t - 1)
        for i in 0..<t {
            for j in 0..<t {
                product[i + j] ^= GF13.multiply(a[i], b[j])
            }
        }
        // y^i = y^(i−96) · (F(y) − y^96) for i ≥ 96, from the top down.
        for i in stride(from: 2 * t - 2, through: t, by: -1) {
            for term in reductionTerms {
                product[i - t + term.exponent] ^= GF13.multiply(product[i], term.coefficient)
            }
        }
        let result = Array(product[0..<t])
        wipe(&product)
        return result
    }

    /// The monic minimal polynomial of β = Σ f_i·y^i: g_0 … g_95 with β^96 + Σ g_j β^j = 0, or `nil`
    /// when 1, β, …, β^95 are linearly dependent (then β has no degree-96 minimal polynomial and key
    /// generation draws again).
    ///
    /// Gauss–Jordan elimination in constant time: the pivot search adds every later row under a mask,
    /// and only the final verdict (singular or not) is branched on.
    func minimalPolynomial(_ f: [UInt16]) -> [UInt16]? {
        let t = McEliece460896.errorCount
        let width = t + 1
        // matrix[i·width + j]: row i is coefficient i, column j is β^j (j = 0 … 96); the equations are
        // Σ_j g_j·(β^j)_i = (β^96)_i for i < 96, column 96 being the right-hand side.
        let matrix = UnsafeMutablePointer<UInt16>.allocate(capacity: t * width)
        defer {
            matrix.update(repeating: 0, count: t * width)
            matrix.deallocate()
        }
        var power = [UInt16](repeating: 0, count: t)
        power[0] = 1
        for j in 0...t {
            if j > 0 {
                var next = multiply(power, f)
                swap(&power, &next)
                wipe(&next)
            }
            for i in 0..<t { matrix[i * width + j] = power[i] }
        }
        wipe(&power)

        for j in 0..<t {
            let pivotRow = matrix + j * width
            for k in (j + 1)..<max(j + 1, t) {
                let needed = UInt16(truncatingIfNeeded: opaqueMask(UInt64(GF13.isZeroMask(pivotRow[j]))))
                let row = matrix + k * width
                for c in j...t { pivotRow[c] ^= row[c] & needed }
            }
            if pivotRow[j] == 0 { return nil }
            let inverse = GF13.inverse(pivotRow[j])
            for c in j...t { pivotRow[c] = GF13.multiply(pivotRow[c], inverse) }
            for k in 0..<t where k != j {
                let row = matrix + k * width
                let factor = row[j]
                for c in j...t { row[c] ^= GF13.multiply(pivotRow[c], factor) }
            }
        }
        return (0..<t).map { matrix[$0 * width + t] }
    }
}
