// Classic McEliece 460896 building blocks checked against plain, slow definitions: the field, the
// bitsliced vectors, the additive FFT and its transpose, and the Beneš network.

import RosenpassTestSupport
import Testing

@testable import RosenpassCrypto

/// A reproducible stream of test bytes (SplitMix64), also usable as a `RandomBytesGenerator`.
struct McElieceTestStream: RandomBytesGenerator {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(state: seed) }

    mutating func next() -> UInt64 { generator.next() }

    mutating func element() -> UInt16 { UInt16(truncatingIfNeeded: next()) & 0x1FFF }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: next()) }
    }
}

/// GF(2^13) multiplication the slow way: shift-and-add, reducing bit by bit.
private func slowMultiply(_ a: UInt16, _ b: UInt16) -> UInt16 {
    var product: UInt32 = 0
    for i in 0..<13 where (b >> UInt16(i)) & 1 == 1 { product ^= UInt32(a) << UInt32(i) }
    for i in stride(from: 24, through: 13, by: -1) where (product >> UInt32(i)) & 1 == 1 {
        product ^= 0x201B << UInt32(i - 13)  // z^13 + z^4 + z^3 + z + 1
    }
    return UInt16(product)
}

/// Horner evaluation of a polynomial given by its coefficients.
private func slowEvaluate(_ coefficients: [UInt16], at x: UInt16) -> UInt16 {
    var value: UInt16 = 0
    for c in coefficients.reversed() { value = slowMultiply(value, x) ^ c }
    return value
}

/// Lane `j` of a bitsliced array of vectors.
private func element(_ vectors: [UInt64], _ j: Int) -> UInt16 {
    vectors.withUnsafeBufferPointer { BitslicedGF.element($0.baseAddress! + (j / 64) * 13, lane: j % 64) }
}

@Suite("Classic McEliece 460896 arithmetic")
struct McElieceArithmeticTests {
    @Test func fieldMultiplication_matchesShiftAndAdd() {
        var stream = McElieceTestStream(seed: 1)
        for _ in 0..<20_000 {
            let a = stream.element(), b = stream.element()
            #expect(GF13.multiply(a, b) == slowMultiply(a, b))
            #expect(GF13.square(a) == slowMultiply(a, a))
        }
    }

    @Test func fieldInverse_isInverseAndZeroMapsToZero() {
        #expect(GF13.inverse(0) == 0)
        for a in UInt16(1)...0x1FFF {
            #expect(GF13.multiply(a, GF13.inverse(a)) == 1)
        }
        // The multiplicative group has 8191 elements (a prime), so every non-zero a has a^8191 = 1.
        #expect(GF13.power(2, 8191) == 1)
        #expect(GF13.power(0x1234, 8192) == 0x1234)
    }

    @Test func bitslicedOperations_matchScalarLaneByLane() {
        var stream = McElieceTestStream(seed: 2)
        var f = [UInt64](repeating: 0, count: 13), g = f, h = f, s = f, inv = f
        for _ in 0..<50 {
            for i in 0..<13 { f[i] = stream.next(); g[i] = stream.next() }
            f.withUnsafeBufferPointer { fp in
                g.withUnsafeBufferPointer { gp in
                    h.withUnsafeMutableBufferPointer { BitslicedGF.multiply($0.baseAddress!, fp.baseAddress!, gp.baseAddress!) }
                    s.withUnsafeMutableBufferPointer { BitslicedGF.square($0.baseAddress!, fp.baseAddress!) }
                    inv.withUnsafeMutableBufferPointer { BitslicedGF.invert($0.baseAddress!, fp.baseAddress!) }
                }
            }
            for lane in 0..<64 {
                let a = element(f, lane), b = element(g, lane)
                #expect(element(h, lane) == slowMultiply(a, b))
                #expect(element(s, lane) == slowMultiply(a, a))
                #expect(element(inv, lane) == GF13.inverse(a))
            }
        }
    }

    @Test func transpose64x64_swapsRowsAndColumns() {
        var stream = McElieceTestStream(seed: 3)
        var matrix = (0..<64).map { _ in stream.next() }
        let original = matrix
        matrix.withUnsafeMutableBufferPointer { transpose64x64($0.baseAddress!) }
        for i in 0..<64 {
            for j in 0..<64 {
                #expect((matrix[i] >> UInt64(j)) & 1 == (original[j] >> UInt64(i)) & 1)
            }
        }
    }

    @Test func fftTables_haveTheExpectedBases() {
        let tables = AdditiveFFTTables.shared
        #expect(tables.twist[0] == 1, "level 0 twists by beta_12 = 1")
        // Both bases must be linearly independent: their spans have 2^7 and 2^6 distinct points.
        for basis in [tables.depth6Basis, tables.depth7Basis] {
            var points = Set<UInt16>()
            for u in 0..<(1 << basis.count) {
                var x: UInt16 = 0
                for (k, b) in basis.enumerated() where (u >> k) & 1 == 1 { x ^= b }
                points.insert(x)
            }
            #expect(points.count == 1 << basis.count)
        }
    }

    @Test func fft_evaluatesAtEveryPointInBitReversedOrder() {
        var stream = McElieceTestStream(seed: 4)
        for trial in 0..<3 {
            // Degrees 127, 96 (a locator's) and 0.
            let degree = [127, 96, 0][trial]
            var coefficients = [UInt16](repeating: 0, count: 128)
            for i in 0...degree { coefficients[i] = stream.element() }
            var input = [UInt64](repeating: 0, count: 26)
            input.withUnsafeMutableBufferPointer { buffer in
                coefficients.withUnsafeBufferPointer { c in
                    BitslicedGF.load(buffer.baseAddress!, UnsafeBufferPointer(rebasing: c[0..<64]))
                    BitslicedGF.load(buffer.baseAddress! + 13, UnsafeBufferPointer(rebasing: c[64..<128]))
                }
            }
            var output = [UInt64](repeating: 0, count: 128 * 13)
            var scratch = [UInt64](repeating: 0, count: AdditiveFFT.scratchWords)
            input.withUnsafeMutableBufferPointer { i in
                output.withUnsafeMutableBufferPointer { o in
                    scratch.withUnsafeMutableBufferPointer { AdditiveFFT.evaluate(i.baseAddress!, into: o.baseAddress!, scratch: $0.baseAddress!) }
                }
            }
            var mismatches = 0
            for j in 0..<8192 where element(output, j) != slowEvaluate(coefficients, at: GF13.bitReverse(UInt16(j))) {
                mismatches += 1
            }
            #expect(mismatches == 0, "degree \(degree)")
        }
    }

    @Test func transposedFFT_sumsPowersOfEveryPoint() {
        var stream = McElieceTestStream(seed: 5)
        var values = [UInt16](repeating: 0, count: 8192)
        for j in 0..<8192 where stream.next() % 8 == 0 { values[j] = stream.element() }
        values[0] = 77  // the point 0, where 0^0 = 1
        var input = [UInt64](repeating: 0, count: 128 * 13)
        input.withUnsafeMutableBufferPointer { buffer in
            values.withUnsafeBufferPointer { v in
                for block in 0..<128 {
                    BitslicedGF.load(buffer.baseAddress! + block * 13, UnsafeBufferPointer(rebasing: v[(64 * block)..<(64 * block + 64)]))
                }
            }
        }
        var output = [UInt64](repeating: 0, count: 4 * 13)
        var scratch = [UInt64](repeating: 0, count: AdditiveFFT.scratchWords)
        input.withUnsafeMutableBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { AdditiveFFT.transposedEvaluate(i.baseAddress!, into: o.baseAddress!, scratch: $0.baseAddress!) }
            }
        }
        var expected = [UInt16](repeating: 0, count: 256)
        for j in 0..<8192 where values[j] != 0 {
            let point = GF13.bitReverse(UInt16(j))
            var term = values[j]
            for i in 0..<256 {
                expected[i] ^= term
                term = slowMultiply(term, point)
            }
        }
        for i in 0..<256 {
            #expect(element(output, i) == expected[i], "exponent \(i)")
        }
    }

    @Test func benesNetwork_bitVersionMatchesListVersionBothWays() {
        var stream = McElieceTestStream(seed: 6)
        var controlBits = [UInt8](repeating: 0, count: McEliece460896.controlBitsBytes)
        controlBits.withUnsafeMutableBytes { stream.fill($0) }
        var permutation = (0..<8192).map { UInt16($0) }
        controlBits.withUnsafeBytes { BenesNetwork.apply(toList: &permutation, controlBits: $0) }
        #expect(Set(permutation).count == 8192)

        let input = (0..<128).map { _ in stream.next() }
        func bit(_ words: [UInt64], _ p: Int) -> UInt64 { (words[p / 64] >> UInt64(p % 64)) & 1 }
        var forward = input
        var backward = input
        controlBits.withUnsafeBytes { bits in
            forward.withUnsafeMutableBufferPointer { BenesNetwork.apply($0.baseAddress!, controlBits: bits.baseAddress!, inverse: false) }
            backward.withUnsafeMutableBufferPointer { BenesNetwork.apply($0.baseAddress!, controlBits: bits.baseAddress!, inverse: true) }
        }
        for i in 0..<8192 {
            #expect(bit(forward, i) == bit(input, Int(permutation[i])))
            #expect(bit(backward, Int(permutation[i])) == bit(input, i))
        }
        // Forward then inverse is the identity.
        var roundTrip = forward
        controlBits.withUnsafeBytes { bits in
            roundTrip.withUnsafeMutableBufferPointer { BenesNetwork.apply($0.baseAddress!, controlBits: bits.baseAddress!, inverse: true) }
        }
        #expect(roundTrip == input)
    }
}
