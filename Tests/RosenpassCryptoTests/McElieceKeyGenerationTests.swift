// Classic McEliece 460896 key generation checked for structure, independently of the known answers:
// the sorting network, the control bits of both algorithms, the Goppa polynomial, the support and the
// systematic form of the public key.

import RosenpassTestSupport
import Testing

@testable import RosenpassCrypto

/// Polynomials over GF(2^13) modulo a monic g of degree 96, the plain way, for the irreducibility test.
private struct PolynomialsModulo {
    let g: [UInt16]  // g_0 … g_96, g_96 = 1

    /// a · b mod g (a, b of degree below 96).
    func multiply(_ a: [UInt16], _ b: [UInt16]) -> [UInt16] {
        var product = [UInt16](repeating: 0, count: 191)
        for i in 0..<96 where a[i] != 0 {
            for j in 0..<96 { product[i + j] ^= GF13.multiply(a[i], b[j]) }
        }
        for i in stride(from: 190, through: 96, by: -1) where product[i] != 0 {
            let c = product[i]
            for j in 0...96 { product[i - 96 + j] ^= GF13.multiply(c, g[j]) }
        }
        return Array(product[0..<96])
    }

    /// a^(2^13) mod g: the Frobenius map of GF(2^13), thirteen squarings.
    func frobenius(_ a: [UInt16]) -> [UInt16] {
        var x = a
        for _ in 0..<13 { x = multiply(x, x) }
        return x
    }

    /// gcd(a, g) over GF(2^13), as a monic polynomial (trailing zeros trimmed).
    func gcdWithModulus(_ a: [UInt16]) -> [UInt16] {
        func trim(_ p: [UInt16]) -> [UInt16] {
            var q = p
            while let last = q.last, last == 0 { q.removeLast() }
            return q
        }
        var x = trim(g)
        var y = trim(a)
        while !y.isEmpty {
            // x mod y
            var r = x
            let inverse = GF13.inverse(y[y.count - 1])
            while r.count >= y.count {
                let factor = GF13.multiply(r[r.count - 1], inverse)
                let shift = r.count - y.count
                for i in 0..<y.count { r[shift + i] ^= GF13.multiply(factor, y[i]) }
                r = trim(r)
            }
            (x, y) = (y, r)
        }
        let inverse = GF13.inverse(x[x.count - 1])
        return x.map { GF13.multiply($0, inverse) }
    }
}

@Suite("Classic McEliece 460896 key generation")
struct McElieceKeyGenerationTests {
    @Test func obliviousSort_sortsLikeTheStandardLibrary() {
        var stream = McElieceTestStream(seed: 11)
        for log in 0...14 {
            let n = 1 << log
            var small = (0..<n).map { _ in UInt32(truncatingIfNeeded: stream.next()) & 0x7FFF_FFFF }
            small[0] = 0x7FFF_FFFF
            let expected = small.sorted()
            small.withUnsafeMutableBufferPointer { ObliviousSort.sort($0.baseAddress!, count: n) }
            #expect(small == expected, "UInt32, n = \(n)")
        }
        for n in [1, 2, 8, 1024, 8192] {
            var wide = (0..<n).map { _ in stream.next() & 0x7FFF_FFFF_FFFF_FFFF }
            let expected = wide.sorted()
            wide.withUnsafeMutableBufferPointer { ObliviousSort.sort($0.baseAddress!, count: n) }
            #expect(wide == expected, "UInt64, n = \(n)")
        }
        // Ties and sorted or reversed input.
        var ties = (0..<4096).map { UInt32($0 % 7) }
        ties.withUnsafeMutableBufferPointer { ObliviousSort.sort($0.baseAddress!, count: 4096) }
        #expect(ties == (0..<4096).map { UInt32($0 % 7) }.sorted())
        var reversed = (0..<4096).map { UInt32(4095 - $0) }
        reversed.withUnsafeMutableBufferPointer { ObliviousSort.sort($0.baseAddress!, count: 4096) }
        #expect(reversed == (0..<4096).map { UInt32($0) })
    }

    @Test func controlBits_bothAlgorithms_encodeThePermutation() {
        var stream = McElieceTestStream(seed: 12)
        var permutations: [[UInt32]] = [(0..<8192).map { UInt32($0) }, (0..<8192).map { UInt32(8191 - $0) }]
        var shuffled = (0..<8192).map { UInt32($0) }
        for i in stride(from: 8191, to: 0, by: -1) { shuffled.swapAt(i, Int(stream.next() % UInt64(i + 1))) }
        permutations.append(shuffled)
        for pi in permutations {
            for (name, bits) in [("round 4", ControlBits.compute(permutation: pi)), ("2019", ControlBits2019.compute(permutation: pi))] {
                #expect(bits.count == 12_800)
                var list = (0..<8192).map { UInt32($0) }
                bits.withUnsafeBytes { BenesNetwork.apply(toList: &list, controlBits: $0) }
                #expect(list == pi, "\(name)")
            }
        }
        // The two algorithms choose different switch settings for the same permutation (which is why
        // byte-exact format-A keys need the 2019 one).
        #expect(ControlBits.compute(permutation: shuffled) != ControlBits2019.compute(permutation: shuffled))
    }

    @Test func fixedWeight_givesWeightTInsideTheCode() {
        var stream = McElieceTestStream(seed: 13)
        var error = [UInt64](repeating: 0, count: 72)
        var hits = [Int](repeating: 0, count: 72)
        for _ in 0..<200 {
            error.withUnsafeMutableBufferPointer { FixedWeight.sample(into: $0.baseAddress!, using: &stream) }
            #expect(error.reduce(0) { $0 + $1.nonzeroBitCount } == 96)
            for w in 0..<72 { hits[w] += error[w].nonzeroBitCount }
        }
        // Every word of the 4608 positions is hit about 200 · 96 / 72 ≈ 267 times.
        #expect(hits.allSatisfy { $0 > 150 && $0 < 400 }, "\(hits)")
    }

    /// A round-4 key pair from a seed, taken apart: g is the minimal polynomial of the β of its
    /// expansion and irreducible of degree 96; the control bits encode the π of its expansion; and every
    /// column j ≥ mt of the public key gives a word of the Goppa code: Σ_i T_ij·h_i + h_j = 0, where
    /// h_i = (α_i^k / g(α_i))_k is column i of the parity-check matrix.
    @Test func roundFourKey_hasTheStructureTheSpecificationRequires() throws {
        let seed = Hex.decode(try McElieceKnownAnswers.load("r4").keyPairs[1].seed)
        let (publicKey, secretKey) = try ClassicMcEliece460896Round4.generateKeyPair(seed: SecretBytes(seed))
        let sk = secretKey.unprotectedArray()
        #expect(Array(sk[32..<40]) == [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])
        let g = (0..<96).map { UInt16(sk[40 + 2 * $0]) | UInt16(sk[41 + 2 * $0]) << 8 } + [1]
        #expect(g.allSatisfy { $0 < 8192 })

        // δ = sk[0..<32] is the seed of the successful attempt: its expansion gives β, π and s.
        let expansion = SHAKE256.hash([64] + sk[0..<32], outputCount: 33_568)
        #expect(Array(sk[13_032..<13_608]) == Array(expansion[0..<576]), "s")
        let beta = (0..<96).map { (UInt16(expansion[33_344 + 2 * $0]) | UInt16(expansion[33_345 + 2 * $0]) << 8) & 0x1FFF }
        // β^96 + Σ g_j β^j = 0 in GF((2^13)^96).
        var power = [UInt16](repeating: 0, count: 96)
        power[0] = 1
        var sum = [UInt16](repeating: 0, count: 96)
        for j in 0...96 {
            for i in 0..<96 { sum[i] ^= GF13.multiply(power[i], g[j]) }
            power = McElieceExtensionField.round4.multiply(power, beta)
        }
        #expect(sum.allSatisfy { $0 == 0 }, "g(β) = 0")

        // Rabin's test: x^(q^96) = x mod g, and x^(q^48) − x, x^(q^32) − x are coprime to g (q = 2^13).
        let ring = PolynomialsModulo(g: g)
        var x = [UInt16](repeating: 0, count: 96)
        x[1] = 1
        var frobeniusPowers: [Int: [UInt16]] = [:]
        var current = x
        for k in 1...96 {
            current = ring.frobenius(current)
            if [32, 48, 96].contains(k) { frobeniusPowers[k] = current }
        }
        #expect(frobeniusPowers[96] == x, "x^(q^96) = x")
        for k in [32, 48] {
            var difference = frobeniusPowers[k]!
            difference[1] ^= 1
            #expect(ring.gcdWithModulus(difference) == [1], "gcd(x^(q^\(k)) − x, g) = 1")
        }

        // π from the expansion's words, and from the control bits.
        let pi = try #require(expansion.withUnsafeBytes { McEliecePublicKeyGeneration.permutation(fromWords: $0.baseAddress! + 576) })
        var fromControlBits = (0..<8192).map { UInt32($0) }
        sk.withUnsafeBytes { BenesNetwork.apply(toList: &fromControlBits, controlBits: UnsafeRawBufferPointer(rebasing: $0[232..<13_032])) }
        #expect(fromControlBits == pi)

        // Systematic form, checked column by column in GF(2^13)^96.
        let support = pi.prefix(4608).map { GF13.bitReverse(UInt16($0)) }
        func column(_ j: Int) -> [UInt16] {
            var value: UInt16 = 0
            for c in g.reversed() { value = GF13.multiply(value, support[j]) ^ c }
            var entry = GF13.inverse(value)
            return (0..<96).map { _ in
                defer { entry = GF13.multiply(entry, support[j]) }
                return entry
            }
        }
        let left = (0..<1248).map(column)
        for j in [1248, 1249, 2000, 3333, 4607] {
            var total = column(j)
            let publicColumn = j - 1248
            for i in 0..<1248 where (publicKey[420 * i + publicColumn / 8] >> UInt8(publicColumn % 8)) & 1 == 1 {
                for k in 0..<96 { total[k] ^= left[i][k] }
            }
            #expect(total.allSatisfy { $0 == 0 }, "column \(j)")
        }
    }
}
