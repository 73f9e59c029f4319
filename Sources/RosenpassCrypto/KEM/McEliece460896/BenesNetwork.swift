// The Beneš network of the secret key: 25 layers of conditional swaps that apply the secret
// permutation π to 8192 positions.

/// Applies the permutation stored as control bits in the secret key (Classic McEliece specification,
/// §10.1 "Secret keys"; layout in `docs/mceliece-round3.md` §5).
///
/// There are 2m − 1 = 25 layers of 4096 bits (512 bytes each) with strides 1, 2, …, 4096, 2048, …, 1.
/// In a layer of stride s the pairs (j, j + s) are numbered in order of block start (0, 2s, 4s, …)
/// and then j; a set bit number c swaps pair c. Applied in order to the list 0, 1, …, 8191 the layers
/// produce π(0), …, π(8191). Every swap is done with masks, so the running time does not depend on
/// the bits.
enum BenesNetwork {
    /// Number of layers.
    static let layers = 25
    /// Bytes of control bits per layer.
    static let layerBytes = 512

    /// The stride of layer `layer`.
    @inline(__always)
    static func stride(ofLayer layer: Int) -> Int {
        layer <= 12 ? 1 << layer : 1 << (24 - layer)
    }

    /// Permutes 8192 bits held in 128 words (position p is bit p % 64 of word p / 64).
    ///
    /// - Parameters:
    ///   - bits: the 128 words, permuted in place.
    ///   - controlBits: the 12800 bytes of control bits.
    ///   - inverse: `false` applies the layers first to last, so that afterwards position i holds what
    ///     position π(i) held; `true` applies them last to first, so that position π(i) receives what
    ///     position i held.
    static func apply(_ bits: UnsafeMutablePointer<UInt64>, controlBits: UnsafeRawPointer, inverse: Bool) {
        for step in 0..<layers {
            let layer = inverse ? layers - 1 - step : step
            applyLayer(bits, layer: layer, control: controlBits + layer * layerBytes)
        }
    }

    @inline(__always)
    private static func applyLayer(_ bits: UnsafeMutablePointer<UInt64>, layer: Int, control: UnsafeRawPointer) {
        let s = stride(ofLayer: layer)
        if s >= 64 {
            // Whole words swap with the word s/64 further on; the control words come in pair order.
            let wordStride = s / 64
            var controlWord = 0
            var start = 0
            while start < 128 {
                for w in start..<(start + wordStride) {
                    let mask = UInt64(littleEndian: control.loadUnaligned(fromByteOffset: 8 * controlWord, as: UInt64.self))
                    controlWord += 1
                    let difference = (bits[w] ^ bits[w + wordStride]) & mask
                    bits[w] ^= difference
                    bits[w + wordStride] ^= difference
                }
                start += 2 * wordStride
            }
        } else {
            // Pairs inside a word: word w owns control bits 32w … 32w + 31, one per low element of its
            // blocks of 2s bits; spread them onto those low elements.
            let shift = UInt64(s)
            for w in 0..<128 {
                var mask = UInt64(UInt32(littleEndian: control.loadUnaligned(fromByteOffset: 4 * w, as: UInt32.self)))
                if s <= 16 { mask = (mask | (mask << 16)) & 0x0000_FFFF_0000_FFFF }
                if s <= 8 { mask = (mask | (mask << 8)) & 0x00FF_00FF_00FF_00FF }
                if s <= 4 { mask = (mask | (mask << 4)) & 0x0F0F_0F0F_0F0F_0F0F }
                if s <= 2 { mask = (mask | (mask << 2)) & 0x3333_3333_3333_3333 }
                if s <= 1 { mask = (mask | (mask << 1)) & 0x5555_5555_5555_5555 }
                let x = bits[w]
                let difference = (x ^ (x >> shift)) & mask
                bits[w] = x ^ difference ^ (difference << shift)
            }
        }
    }

    /// Applies the layers in order to `list` (8192 entries): the plain, word-by-word form, used to
    /// check control bits against the permutation they should encode.
    static func apply<T: FixedWidthInteger>(toList list: inout [T], controlBits: UnsafeRawBufferPointer) {
        precondition(list.count == McEliece460896.fieldSize && controlBits.count == McEliece460896.controlBitsBytes)
        for layer in 0..<layers {
            let s = stride(ofLayer: layer)
            var index = 0
            var start = 0
            while start < list.count {
                for j in start..<(start + s) {
                    let bit = (controlBits[layer * layerBytes + (index >> 3)] >> UInt8(index & 7)) & 1
                    let mask = T.zero &- T(bit)
                    let difference = (list[j] ^ list[j + s]) & mask
                    list[j] ^= difference
                    list[j + s] ^= difference
                    index += 1
                }
                start += 2 * s
            }
        }
    }
}
