// Byte encodings of Kyber polynomials: 12-bit packing of keys, compression of the ciphertext to
// d_u = 10 and d_v = 4 bits, and the 1-bit message encoding (Kyber specification v3.02, section 1.1,
// algorithm 3 and the Compress/Decompress functions). Byte layouts are those of the round-3 reference
// code, which liboqs `kyber_512` uses.
//
// Compression is Compress_q(x, d) = ⌊(2^d · x + ⌊q/2⌋) / q⌋ mod 2^d for x in [0, q). The division by q is
// done by a multiplication and a shift (exact for every numerator that occurs, see
// `kyberDivideByQ`), so it takes the same time for every coefficient: a hardware division would not.

/// ⌊n / q⌋ for 0 ≤ n < 2^23 (enough for (q - 1) · 2^11 + ⌊q/2⌋), computed as (n · ⌈2^33 / q⌉) >> 33.
///
/// The tests check it against a real division for every numerator the compressions can produce.
@inline(__always)
func kyberDivideByQ(_ n: UInt32) -> UInt32 {
    UInt32(truncatingIfNeeded: (UInt64(n) &* 2_580_335) &>> 33)
}

/// Compress_q(x, d) for a centred coefficient `a` (|a| < q).
@inline(__always)
func kyberCompress(_ a: Int16, bits: UInt32) -> UInt32 {
    let x = UInt32(canonicalize(a))
    return kyberDivideByQ((x &<< bits) &+ UInt32(KyberParameters.q / 2)) & ((1 &<< bits) &- 1)
}

/// Decompress_q(y, d) = ⌊(q · y + 2^(d-1)) / 2^d⌋.
@inline(__always)
func kyberDecompress(_ y: UInt32, bits: UInt32) -> Int16 {
    Int16(truncatingIfNeeded: (y &* UInt32(KyberParameters.q) &+ (1 &<< (bits &- 1))) &>> bits)
}

extension KyberPoly {
    /// Writes the 256 coefficients, mapped to [0, q), as 12-bit little-endian values (384 bytes).
    func encode12(into bytes: UnsafeMutablePointer<UInt8>) {
        let c = coefficients
        for i in 0..<(KyberParameters.n / 2) {
            let t0 = canonicalize(c[2 * i])
            let t1 = canonicalize(c[2 * i + 1])
            bytes[3 * i] = UInt8(truncatingIfNeeded: t0)
            bytes[3 * i + 1] = UInt8(truncatingIfNeeded: (t0 &>> 8) | (t1 &<< 4))
            bytes[3 * i + 2] = UInt8(truncatingIfNeeded: t1 &>> 4)
        }
    }

    /// Reads 256 12-bit little-endian values (384 bytes). Values of q or more are kept as they are:
    /// round 3 does not check the modulus, and the arithmetic treats them modulo q.
    func decode12(from bytes: UnsafePointer<UInt8>) {
        let c = coefficients
        for i in 0..<(KyberParameters.n / 2) {
            let b0 = UInt16(bytes[3 * i])
            let b1 = UInt16(bytes[3 * i + 1])
            let b2 = UInt16(bytes[3 * i + 2])
            c[2 * i] = Int16(bitPattern: (b0 | b1 &<< 8) & 0xFFF)
            c[2 * i + 1] = Int16(bitPattern: (b1 &>> 4 | b2 &<< 4) & 0xFFF)
        }
    }

    /// Writes the coefficients compressed to 10 bits (320 bytes): four coefficients in five bytes.
    func compress10(into bytes: UnsafeMutablePointer<UInt8>) {
        let c = coefficients
        for group in 0..<(KyberParameters.n / 4) {
            let p = c + 4 * group
            let t0 = kyberCompress(p[0], bits: 10)
            let t1 = kyberCompress(p[1], bits: 10)
            let t2 = kyberCompress(p[2], bits: 10)
            let t3 = kyberCompress(p[3], bits: 10)
            let out = bytes + 5 * group
            out[0] = UInt8(truncatingIfNeeded: t0)
            out[1] = UInt8(truncatingIfNeeded: (t0 &>> 8) | (t1 &<< 2))
            out[2] = UInt8(truncatingIfNeeded: (t1 &>> 6) | (t2 &<< 4))
            out[3] = UInt8(truncatingIfNeeded: (t2 &>> 4) | (t3 &<< 6))
            out[4] = UInt8(truncatingIfNeeded: t3 &>> 2)
        }
    }

    /// Reads coefficients compressed to 10 bits (320 bytes) and decompresses them to [0, q).
    func decompress10(from bytes: UnsafePointer<UInt8>) {
        let c = coefficients
        for group in 0..<(KyberParameters.n / 4) {
            let b = bytes + 5 * group
            let b0 = UInt32(b[0])
            let b1 = UInt32(b[1])
            let b2 = UInt32(b[2])
            let b3 = UInt32(b[3])
            let b4 = UInt32(b[4])
            let p = c + 4 * group
            p[0] = kyberDecompress((b0 | b1 &<< 8) & 0x3FF, bits: 10)
            p[1] = kyberDecompress((b1 &>> 2 | b2 &<< 6) & 0x3FF, bits: 10)
            p[2] = kyberDecompress((b2 &>> 4 | b3 &<< 4) & 0x3FF, bits: 10)
            p[3] = kyberDecompress((b3 &>> 6 | b4 &<< 2) & 0x3FF, bits: 10)
        }
    }

    /// Writes the coefficients compressed to 4 bits (128 bytes): two coefficients per byte, low nibble first.
    func compress4(into bytes: UnsafeMutablePointer<UInt8>) {
        let c = coefficients
        for i in 0..<(KyberParameters.n / 2) {
            let low = kyberCompress(c[2 * i], bits: 4)
            let high = kyberCompress(c[2 * i + 1], bits: 4)
            bytes[i] = UInt8(truncatingIfNeeded: low | high &<< 4)
        }
    }

    /// Reads coefficients compressed to 4 bits (128 bytes) and decompresses them to [0, q).
    func decompress4(from bytes: UnsafePointer<UInt8>) {
        let c = coefficients
        for i in 0..<(KyberParameters.n / 2) {
            let byte = UInt32(bytes[i])
            c[2 * i] = kyberDecompress(byte & 0xF, bits: 4)
            c[2 * i + 1] = kyberDecompress(byte &>> 4, bits: 4)
        }
    }

    /// Sets the polynomial to Decompress_q(m, 1): coefficient i is ⌈q/2⌉ where bit i of the 32-byte
    /// message is set and 0 elsewhere. The message is secret: the choice is a mask, not a branch.
    func setMessage(_ message: UnsafePointer<UInt8>) {
        let c = coefficients
        let half = (KyberParameters.q + 1) / 2
        for i in 0..<KyberParameters.symBytes {
            let byte = Int16(message[i])
            for j in 0..<8 {
                let mask = 0 &- ((byte &>> Int16(j)) & 1)
                c[8 * i + j] = mask & half
            }
        }
    }

    /// Writes Compress_q(coefficient, 1) of each coefficient as one bit of a 32-byte message.
    /// The coefficients must be centred (|a| < q). Runs in time independent of their values.
    func writeMessage(into message: UnsafeMutablePointer<UInt8>) {
        let c = coefficients
        for i in 0..<KyberParameters.symBytes {
            var byte: UInt32 = 0
            for j in 0..<8 {
                byte |= kyberCompress(c[8 * i + j], bits: 1) &<< UInt32(j)
            }
            message[i] = UInt8(truncatingIfNeeded: byte)
        }
    }
}
