// Sampling for Kyber: the public matrix Â by rejection sampling from SHAKE128 (XOF), and noise
// polynomials from the centred binomial distribution over SHAKE256 (PRF) output
// (Kyber specification v3.02, section 1.1, algorithms 1 and 2, and section 1.4 for XOF and PRF).

extension KyberPoly {
    /// Appends uniform coefficients parsed from `bytes` (12 bits at a time, values of q or more
    /// rejected) after the first `count` coefficients, and returns the new count (at most 256).
    ///
    /// The input is public (expanded from the public seed ρ). While there is room for two more
    /// coefficients, both candidates are stored and the count advances by the number accepted, which
    /// avoids a hard-to-predict branch per candidate; the last coefficient is filled carefully.
    @inline(__always)
    func appendUniform(from bytes: UnsafePointer<UInt8>, byteCount: Int, count start: Int) -> Int {
        let c = coefficients
        let q = UInt16(bitPattern: KyberParameters.q)
        var count = start
        var position = 0
        while count <= KyberParameters.n - 2 && position + 3 <= byteCount {
            let b0 = UInt16(bytes[position])
            let b1 = UInt16(bytes[position + 1])
            let b2 = UInt16(bytes[position + 2])
            position += 3
            let first = (b0 | b1 &<< 8) & 0xFFF
            let second = (b1 &>> 4 | b2 &<< 4) & 0xFFF
            c[count] = Int16(bitPattern: first)
            count &+= first < q ? 1 : 0
            c[count] = Int16(bitPattern: second)
            count &+= second < q ? 1 : 0
        }
        while count < KyberParameters.n && position + 3 <= byteCount {
            let b0 = UInt16(bytes[position])
            let b1 = UInt16(bytes[position + 1])
            let b2 = UInt16(bytes[position + 2])
            position += 3
            let first = (b0 | b1 &<< 8) & 0xFFF
            let second = (b1 &>> 4 | b2 &<< 4) & 0xFFF
            if first < q {
                c[count] = Int16(bitPattern: first)
                count += 1
            }
            if second < q && count < KyberParameters.n {
                c[count] = Int16(bitPattern: second)
                count += 1
            }
        }
        return count
    }

    /// Sets the coefficients from the centred binomial distribution with η = 2: each coefficient is the
    /// difference of two sums of two bits, taken from `bytes` (128 bytes).
    @inline(__always)
    func setCenteredBinomialEta2(from bytes: UnsafePointer<UInt8>) {
        let c = coefficients
        for word in 0..<(KyberParameters.n / 8) {
            let p = bytes + 4 * word
            let t = UInt32(p[0]) | UInt32(p[1]) &<< 8 | UInt32(p[2]) &<< 16 | UInt32(p[3]) &<< 24
            // Each 2-bit field of `sums` holds the sum of the two bits in the same field of `t`.
            let sums = (t & 0x5555_5555) &+ ((t &>> 1) & 0x5555_5555)
            for j in 0..<8 {
                let a = Int16(truncatingIfNeeded: (sums &>> UInt32(4 * j)) & 0x3)
                let b = Int16(truncatingIfNeeded: (sums &>> UInt32(4 * j + 2)) & 0x3)
                c[8 * word + j] = a &- b
            }
        }
    }

    /// Sets the coefficients from the centred binomial distribution with η = 3: each coefficient is the
    /// difference of two sums of three bits, taken from `bytes` (192 bytes).
    @inline(__always)
    func setCenteredBinomialEta3(from bytes: UnsafePointer<UInt8>) {
        let c = coefficients
        for group in 0..<(KyberParameters.n / 4) {
            let p = bytes + 3 * group
            let t = UInt32(p[0]) | UInt32(p[1]) &<< 8 | UInt32(p[2]) &<< 16
            // Each 3-bit field of `sums` holds the sum of the three bits in the same field of `t`.
            let sums = (t & 0x0024_9249) &+ ((t &>> 1) & 0x0024_9249) &+ ((t &>> 2) & 0x0024_9249)
            for j in 0..<4 {
                let a = Int16(truncatingIfNeeded: (sums &>> UInt32(6 * j)) & 0x7)
                let b = Int16(truncatingIfNeeded: (sums &>> UInt32(6 * j + 3)) & 0x7)
                c[4 * group + j] = a &- b
            }
        }
    }

    /// Sets the polynomial to a noise sample: CBD_η(PRF(seed, nonce)), where PRF(s, b) = SHAKE256(s ‖ b).
    ///
    /// - Parameters:
    ///   - eta: 2 or 3.
    ///   - seed: 32 secret bytes.
    ///   - nonce: the running counter N of the specification.
    ///   - buffer: scratch space of at least 192 bytes; it holds secret bytes afterwards (the caller wipes it).
    func sampleNoise(eta: Int, seed: UnsafeRawPointer, nonce: UInt8, buffer: UnsafeMutablePointer<UInt8>) {
        var prf = SHAKE256()
        prf.absorb(UnsafeRawBufferPointer(start: seed, count: KyberParameters.symBytes))
        withUnsafeBytes(of: nonce) { prf.absorb($0) }
        let count = KyberParameters.noiseBytes(eta: eta)
        prf.squeeze(into: UnsafeMutableRawBufferPointer(start: buffer, count: count))
        prf.wipe()
        if eta == 2 {
            setCenteredBinomialEta2(from: buffer)
        } else {
            precondition(eta == 3, "Kyber: unsupported eta \(eta)")
            setCenteredBinomialEta3(from: buffer)
        }
    }
}

/// Expands the public seed ρ into the k × k matrix Â in NTT representation (or its transpose).
///
/// Entry (i, j) of Â is Parse(XOF(ρ ‖ j ‖ i)); of the transpose, Parse(XOF(ρ ‖ i ‖ j)), with
/// XOF = SHAKE128. The polynomials are stored row by row from `matrix`. SHAKE128 is squeezed one
/// block (168 bytes, a multiple of 3) at a time until 256 coefficients are accepted.
///
/// - Parameters:
///   - seed: ρ, 32 bytes.
///   - block: scratch space of 168 bytes.
func kyberGenerateMatrix(
    _ matrix: UnsafeMutablePointer<Int16>,
    seed: UnsafeRawPointer,
    transposed: Bool,
    block: UnsafeMutablePointer<UInt8>
) {
    let k = KyberParameters.k
    let rate = KyberParameters.shake128Rate
    for i in 0..<k {
        for j in 0..<k {
            let poly = KyberPoly(matrix + (i * k + j) * KyberParameters.n)
            var xof = SHAKE128()
            xof.absorb(UnsafeRawBufferPointer(start: seed, count: KyberParameters.symBytes))
            var indices: (UInt8, UInt8) = transposed ? (UInt8(i), UInt8(j)) : (UInt8(j), UInt8(i))
            withUnsafeBytes(of: &indices) { xof.absorb($0) }
            var count = 0
            while count < KyberParameters.n {
                xof.squeeze(into: UnsafeMutableRawBufferPointer(start: block, count: rate))
                count = poly.appendUniform(from: block, byteCount: rate, count: count)
            }
        }
    }
}
