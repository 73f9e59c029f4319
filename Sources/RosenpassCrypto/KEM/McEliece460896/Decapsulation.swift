// Decapsulation with implicit rejection, for both ciphertext formats.

/// Decapsulation (Classic McEliece specification, §9.2 "Decapsulation"; the round-3 confirmation
/// check per `docs/mceliece-round3.md` §4).
///
/// The decoder's verdict b (and, for round 3, whether C1 = H(2, e)) selects with a mask (see
/// ``opaqueMask(_:)``) between H(1, e, C) and the rejection key H(0, s, C); both hashes take the same
/// input length, and nothing is branched on, so a forged ciphertext costs exactly what a genuine one
/// does.
enum McElieceDecapsulation {
    /// Returns the session key for `ciphertext` (C0, or C0 ‖ C1 with `withConfirmation`), reading
    /// g, the control bits and s from `secretKey` at the offsets of `layout`. Sizes must be checked by
    /// the caller.
    static func decapsulate(
        secretKey: SecretBytes,
        ciphertext: [UInt8],
        layout: McElieceSecretKeyLayout,
        withConfirmation: Bool
    ) -> SecretBytes {
        let errorBytes = McEliece460896.errorBytes
        let syndromeBytes = McEliece460896.syndromeBytes
        let hashBytes = McEliece460896.hashBytes
        let workspaceWords = GoppaDecoder.workspaceWords
        // One heap block: decoder workspace, e, the confirmation hash, and the hash input.
        let preimageBytes = 1 + errorBytes + ciphertext.count
        let totalBytes = 8 * workspaceWords + errorBytes + hashBytes + preimageBytes
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: totalBytes, alignment: 16)
        block.initializeMemory(as: UInt8.self, repeating: 0)
        defer {
            secureZero(block)
            block.deallocate()
        }
        let workspace = block.baseAddress!.bindMemory(to: UInt64.self, capacity: workspaceWords)
        let error = block.baseAddress! + 8 * workspaceWords
        let confirmation = error + errorBytes
        let preimage = confirmation + hashBytes

        var sharedKey = SecretBytes(zeros: hashBytes)
        secretKey.withUnsafeBytes { key in
            ciphertext.withUnsafeBytes { ct in
                var ok = GoppaDecoder.decode(
                    syndrome: ct.baseAddress!,
                    goppa: key.baseAddress! + layout.goppaOffset,
                    controlBits: key.baseAddress! + layout.controlBitsOffset,
                    error: error,
                    workspace: workspace)

                if withConfirmation {
                    var hash = SHAKE256()
                    hash.absorb([2])
                    hash.absorb(UnsafeRawBufferPointer(start: error, count: errorBytes))
                    hash.squeeze(into: UnsafeMutableRawBufferPointer(start: confirmation, count: hashBytes))
                    hash.wipe()
                    var difference: UInt8 = 0
                    for i in 0..<hashBytes {
                        difference |= confirmation.load(fromByteOffset: i, as: UInt8.self) ^ ct[syndromeBytes + i]
                    }
                    // 1 when difference == 0.
                    let same = UInt8(truncatingIfNeeded: (UInt32(difference) &- 1) >> 31)
                    ok &= same
                }

                // preimage = b ‖ (b ? e : s) ‖ C, selected word by word with a mask.
                preimage.storeBytes(of: ok, as: UInt8.self)
                let useError = opaqueMask(bit: UInt64(ok))
                let rejection = key.baseAddress! + layout.rejectionOffset
                for w in 0..<(errorBytes / 8) {
                    let s = rejection.loadUnaligned(fromByteOffset: 8 * w, as: UInt64.self)
                    let e = error.load(fromByteOffset: 8 * w, as: UInt64.self)
                    (preimage + 1).storeBytes(of: s ^ ((s ^ e) & useError), toByteOffset: 8 * w, as: UInt64.self)
                }
                (preimage + 1 + errorBytes).copyMemory(from: ct.baseAddress!, byteCount: ct.count)

                var hash = SHAKE256()
                hash.absorb(UnsafeRawBufferPointer(start: preimage, count: preimageBytes))
                sharedKey.withUnsafeMutableBytes { hash.squeeze(into: $0) }
                hash.wipe()
            }
        }
        return sharedKey
    }
}
