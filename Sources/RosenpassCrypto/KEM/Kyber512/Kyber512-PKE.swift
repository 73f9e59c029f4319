// Kyber.CPAPKE: the IND-CPA-secure public-key encryption under the KEM
// (Kyber specification v3.02, section 1.2, algorithms 4, 5 and 6, with round-3 byte formats).
//
// All functions work on raw buffers and a `KyberScratch`; the sizes are checked by the KEM layer.

enum KyberPKE {
    /// Algorithm 4, key generation from the 32-byte seed `d`.
    ///
    /// Round 3 computes (ρ, σ) = G(d) from `d` alone; ML-KEM (FIPS 203) appends the byte k to `d`.
    ///
    /// - Parameters:
    ///   - seed: d, 32 bytes.
    ///   - publicKey: receives t̂ ‖ ρ (800 bytes).
    ///   - secretKey: receives ŝ (768 bytes).
    static func generateKeyPair(
        seed: UnsafeRawPointer,
        publicKey: UnsafeMutablePointer<UInt8>,
        secretKey: UnsafeMutablePointer<UInt8>,
        scratch: KyberScratch
    ) {
        let k = KyberParameters.k
        let matrix = scratch.polynomials  // k × k polynomials: 0 ..< 4
        let secret = scratch.vector(4)  // 4, 5
        let error = scratch.vector(6)  // 6, 7
        let t = scratch.vector(8)  // 8, 9

        KyberHash.g(seed, count: KyberParameters.symBytes, into: scratch.seeds)
        let publicSeed = UnsafeRawPointer(scratch.seeds)
        let noiseSeed = UnsafeRawPointer(scratch.seeds + KyberParameters.symBytes)

        kyberGenerateMatrix(matrix, seed: publicSeed, transposed: false, block: scratch.block)
        var nonce: UInt8 = 0
        for i in 0..<k {
            secret[i].sampleNoise(eta: KyberParameters.eta1, seed: noiseSeed, nonce: nonce, buffer: scratch.noise)
            nonce += 1
        }
        for i in 0..<k {
            error[i].sampleNoise(eta: KyberParameters.eta1, seed: noiseSeed, nonce: nonce, buffer: scratch.noise)
            nonce += 1
        }
        secret.ntt()
        error.ntt()

        // t̂ = Â ∘ ŝ + ê
        for i in 0..<k {
            t[i].basemulAccumulate(KyberPolyVec(matrix + i * k * KyberParameters.n), secret)
            t[i].toMontgomery()
        }
        t.add(error)
        t.reduce()

        for i in 0..<k {
            secret[i].encode12(into: secretKey + i * KyberParameters.polyBytes)
            t[i].encode12(into: publicKey + i * KyberParameters.polyBytes)
        }
        (publicKey + KyberParameters.polyVecBytes).update(from: scratch.seeds, count: KyberParameters.symBytes)
    }

    /// Algorithm 5, encryption of the 32-byte `message` under `publicKey` with the 32-byte `coins`.
    ///
    /// - Parameters:
    ///   - publicKey: t̂ ‖ ρ (800 bytes). Coefficients of t̂ are not checked against q (round 3 has no such check).
    ///   - message: m, 32 bytes.
    ///   - coins: r, 32 bytes.
    ///   - ciphertext: receives compress(u, 10) ‖ compress(v, 4) (768 bytes).
    static func encrypt(
        publicKey: UnsafePointer<UInt8>,
        message: UnsafePointer<UInt8>,
        coins: UnsafeRawPointer,
        ciphertext: UnsafeMutablePointer<UInt8>,
        scratch: KyberScratch
    ) {
        let k = KyberParameters.k
        let matrix = scratch.polynomials  // Âᵀ: 0 ..< 4
        let tHat = scratch.vector(4)  // 4, 5
        let r = scratch.vector(6)  // 6, 7
        let e1 = scratch.vector(8)  // 8, 9
        let e2 = scratch.poly(10)
        let m = scratch.poly(11)
        let u = scratch.vector(12)  // 12, 13
        let v = scratch.poly(14)

        for i in 0..<k {
            tHat[i].decode12(from: publicKey + i * KyberParameters.polyBytes)
        }
        m.setMessage(message)
        kyberGenerateMatrix(
            matrix, seed: UnsafeRawPointer(publicKey + KyberParameters.polyVecBytes), transposed: true,
            block: scratch.block)

        var nonce: UInt8 = 0
        for i in 0..<k {
            r[i].sampleNoise(eta: KyberParameters.eta1, seed: coins, nonce: nonce, buffer: scratch.noise)
            nonce += 1
        }
        for i in 0..<k {
            e1[i].sampleNoise(eta: KyberParameters.eta2, seed: coins, nonce: nonce, buffer: scratch.noise)
            nonce += 1
        }
        e2.sampleNoise(eta: KyberParameters.eta2, seed: coins, nonce: nonce, buffer: scratch.noise)

        r.ntt()
        // u = NTT⁻¹(Âᵀ ∘ r̂) + e1,  v = NTT⁻¹(t̂ᵀ ∘ r̂) + e2 + Decompress(m, 1)
        for i in 0..<k {
            u[i].basemulAccumulate(KyberPolyVec(matrix + i * k * KyberParameters.n), r)
        }
        v.basemulAccumulate(tHat, r)
        u.inverseNTTToMontgomery()
        v.inverseNTTToMontgomery()
        u.add(e1)
        v.add(e2)
        v.add(m)
        u.reduce()
        v.reduce()

        for i in 0..<k {
            u[i].compress10(into: ciphertext + i * KyberParameters.polyCompressedBytesU)
        }
        v.compress4(into: ciphertext + KyberParameters.polyVecCompressedBytes)
    }

    /// Algorithm 6, decryption of `ciphertext` (768 bytes) with `secretKey` (ŝ, 768 bytes) into a
    /// 32-byte `message`. Every ciphertext decodes to some message; nothing is rejected here.
    static func decrypt(
        secretKey: UnsafePointer<UInt8>,
        ciphertext: UnsafePointer<UInt8>,
        message: UnsafeMutablePointer<UInt8>,
        scratch: KyberScratch
    ) {
        let k = KyberParameters.k
        let u = scratch.vector(0)  // 0, 1
        let secret = scratch.vector(2)  // 2, 3
        let v = scratch.poly(4)
        let w = scratch.poly(5)

        for i in 0..<k {
            u[i].decompress10(from: ciphertext + i * KyberParameters.polyCompressedBytesU)
            secret[i].decode12(from: secretKey + i * KyberParameters.polyBytes)
        }
        v.decompress4(from: ciphertext + KyberParameters.polyVecCompressedBytes)

        // w = v - NTT⁻¹(ŝᵀ ∘ NTT(u))
        u.ntt()
        w.basemulAccumulate(secret, u)
        w.inverseNTTToMontgomery()
        w.subtract(from: v)
        w.reduce()
        w.writeMessage(into: message)
    }
}
