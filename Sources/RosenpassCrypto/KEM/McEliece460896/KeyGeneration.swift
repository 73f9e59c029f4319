// Seeded key generation for both variants.

import Crypto
import CryptoExtras

/// Key generation (Classic McEliece specification, §8.1–§8.3 and §9.0 "SeededKeyGen"; format A per
/// `docs/mceliece-round3.md` §5).
///
/// One 32-byte seed is expanded to 33568 bytes, which supply the rejection string s, 2^13 permutation
/// words, a random element β of GF((2^13)^96) and the next seed. An attempt fails when β has no
/// minimal polynomial of degree 96, when two permutation words coincide, or when the parity-check
/// matrix has no systematic form; then the next seed is used. The expansion and the order of its
/// parts differ between the variants:
///
/// | | round 4 (and the round-3 document) | format A (the 2019 code in liboqs ≤ 0.8) |
/// |---|---|---|
/// | expansion | SHAKE256(64 ‖ δ) | AES-256-CTR keystream under σ, counter from 0 |
/// | order | s ‖ words ‖ β ‖ next δ | β ‖ words ‖ s ‖ next σ |
/// | F(y) | y^96 + y^10 + y^9 + y^6 + 1 | y^96 + 714y^11 + 5296y^5 + 728y^4 + 5881 |
/// | control bits | ``ControlBits`` | ``ControlBits2019`` |
/// | secret key | δ ‖ ff ff ff ff 00 00 00 00 ‖ g ‖ control bits ‖ s | s ‖ g ‖ control bits |
enum McElieceKeyGeneration {
    /// The variant of key generation.
    enum Variant {
        case round3
        case round4
    }

    /// Generates a key pair from `seed` (32 bytes, the first δ or σ).
    ///
    /// - Returns: the public key and the secret key in the variant's layout, and the number of
    ///   attempts it took.
    static func generate(seed: UnsafeRawBufferPointer, variant: Variant) -> (publicKey: [UInt8], secretKey: SecretBytes, attempts: Int) {
        precondition(seed.count == McEliece460896.seedBytes)
        let expansionBytes = McEliece460896.keyExpansionBytes
        let fieldBytes = McEliece460896.goppaBytes
        let wordBytes = 4 * McEliece460896.fieldSize
        let rejectionBytes = McEliece460896.rejectionBytes
        let seedBytes = McEliece460896.seedBytes

        var currentSeed = SecretBytes(copying: seed)
        var expansion = SecretBytes(zeros: expansionBytes)
        var attempts = 0
        while true {
            attempts += 1
            let seedUsed = currentSeed
            expand(seed: seedUsed, into: &expansion, variant: variant)
            currentSeed = SecretBytes(expansion.withUnsafeBytes { $0[(expansionBytes - seedBytes)...] })

            // Where the parts of the expansion sit.
            let (fieldOffset, wordsOffset, rejectionOffset): (Int, Int, Int)
            switch variant {
            case .round4: (rejectionOffset, wordsOffset, fieldOffset) = (0, rejectionBytes, rejectionBytes + wordBytes)
            case .round3: (fieldOffset, wordsOffset, rejectionOffset) = (0, fieldBytes, fieldBytes + wordBytes)
            }

            var beta = expansion.withUnsafeBytes { bytes in
                (0..<McEliece460896.errorCount).map {
                    UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: fieldOffset + 2 * $0, as: UInt16.self)) & GF13.mask
                }
            }
            let field: McElieceExtensionField = variant == .round4 ? .round4 : .format2019
            let minimal = field.minimalPolynomial(beta)
            wipe(&beta)
            guard var goppa = minimal else { continue }
            defer { wipe(&goppa) }
            guard var permutation = expansion.withUnsafeBytes({
                McEliecePublicKeyGeneration.permutation(fromWords: $0.baseAddress! + wordsOffset)
            }) else { continue }
            defer { wipe(&permutation) }
            guard let publicKey = McEliecePublicKeyGeneration.publicKey(goppa: goppa, permutation: permutation) else {
                continue
            }
            var controlBits: [UInt8]
            switch variant {
            case .round4: controlBits = ControlBits.compute(permutation: permutation)
            case .round3: controlBits = ControlBits2019.compute(permutation: permutation)
            }
            // The network must reproduce π (as the reference code checks too): a wrong bit here would
            // give a secret key that never decapsulates.
            var check = (0..<McEliece460896.fieldSize).map { UInt32($0) }
            controlBits.withUnsafeBytes { BenesNetwork.apply(toList: &check, controlBits: $0) }
            var mismatch: UInt32 = 0
            for i in 0..<check.count { mismatch |= check[i] ^ permutation[i] }
            wipe(&check)
            precondition(mismatch == 0, "Classic McEliece key generation: the control bits do not encode the permutation")

            let layout: McElieceSecretKeyLayout = variant == .round4 ? .round4 : .round3
            var secretKey = SecretBytes(zeros: layout.count)
            secretKey.withUnsafeMutableBytes { sk in
                if variant == .round4 {
                    seedUsed.withUnsafeBytes { sk.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: seedBytes) }
                    let pivots: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
                    for (i, byte) in pivots.enumerated() { sk[McElieceSecretKeyLayout.round4PivotOffset + i] = byte }
                }
                for (i, coefficient) in goppa.enumerated() {
                    sk.storeBytes(of: coefficient.littleEndian, toByteOffset: layout.goppaOffset + 2 * i, as: UInt16.self)
                }
                for i in 0..<controlBits.count { sk[layout.controlBitsOffset + i] = controlBits[i] }
                expansion.withUnsafeBytes { bytes in
                    for i in 0..<rejectionBytes { sk[layout.rejectionOffset + i] = bytes[rejectionOffset + i] }
                }
            }
            secureZero(&controlBits)
            return (publicKey, secretKey, attempts)
        }
    }

    /// Fills `expansion` with the expansion of `seed`.
    private static func expand(seed: SecretBytes, into expansion: inout SecretBytes, variant: Variant) {
        switch variant {
        case .round4:
            var shake = SHAKE256()
            shake.absorb([64])
            seed.withUnsafeBytes { shake.absorb($0) }
            expansion.withUnsafeMutableBytes { shake.squeeze(into: $0) }
            shake.wipe()
        case .round3:
            // AES-256-CTR with a 128-bit big-endian counter starting at zero: the keystream is the
            // encryption of zeros.
            let key = seed.withUnsafeBytes { SymmetricKey(data: $0) }
            var zeros = [UInt8](repeating: 0, count: expansion.count)
            do {
                let nonce = try AES._CTR.Nonce(nonceBytes: [UInt8](repeating: 0, count: 16))
                var keystream = try AES._CTR.encrypt(zeros, using: key, nonce: nonce)
                expansion.withUnsafeMutableBytes { out in
                    keystream.withUnsafeMutableBytes { stream in
                        out.copyMemory(from: UnsafeRawBufferPointer(stream))
                        secureZero(stream)
                    }
                }
            } catch {
                // The key is 32 bytes and the nonce 16: AES-CTR cannot refuse them.
                preconditionFailure("AES-256-CTR rejected a 32-byte key: \(error)")
            }
            secureZero(&zeros)
        }
    }
}
