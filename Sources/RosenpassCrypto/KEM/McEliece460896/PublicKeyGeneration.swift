// The public key: the parity-check matrix of the Goppa code, brought to systematic form.

/// Builds T from (g, α) (Classic McEliece specification, §8.2 "Matrix generation" and §8.3
/// "FieldOrdering").
///
/// The parity-check matrix has mt = 1248 rows: row 13i + b, column j holds bit b of α_j^i / g(α_j).
/// Gaussian elimination brings its left 1248 × 1248 block to the identity; if that block is singular
/// there is no systematic form and key generation draws again. The public key is the remaining
/// 1248 × 3360 block T, row by row, 420 bytes a row.
enum McEliecePublicKeyGeneration {
    private static let rows = McEliece460896.syndromeBits          // 1248
    private static let rowWords = McEliece460896.codeLength / 64   // 72

    /// Returns the support α_0 … α_(n−1) = bitrev13(π(0)) … bitrev13(π(n − 1)) and checks that the
    /// 2^13 permutation words are distinct, which makes π well defined; `nil` when two coincide.
    ///
    /// π lists 0 … 8191 sorted by their words (Classic McEliece specification, §8.3, with the words
    /// of the key-generation expansion); the sort is a sorting network.
    static func permutation(fromWords words: UnsafeRawPointer) -> [UInt32]? {
        let n = McEliece460896.fieldSize
        let packed = UnsafeMutablePointer<UInt64>.allocate(capacity: n)
        defer {
            packed.update(repeating: 0, count: n)
            packed.deallocate()
        }
        for i in 0..<n {
            let word = UInt32(littleEndian: words.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            packed[i] = UInt64(word) << 31 | UInt64(i)
        }
        ObliviousSort.sort(packed, count: n)
        var repeated: UInt64 = 0
        for i in 1..<n {
            let difference = (packed[i - 1] >> 31) ^ (packed[i] >> 31)
            repeated |= ((difference &- 1) >> 63)  // 1 when the two words are equal
        }
        let pi = (0..<n).map { UInt32(truncatingIfNeeded: packed[$0] & 0x1FFF) }
        return repeated == 0 ? pi : nil
    }

    /// Returns T (524160 bytes), or `nil` when the matrix has no systematic form.
    ///
    /// - Parameters:
    ///   - goppa: g_0 … g_95 (g_96 = 1).
    ///   - permutation: π; the support is α_j = bitrev13(π(j)) for j < n.
    static func publicKey(goppa: [UInt16], permutation: [UInt32]) -> [UInt8]? {
        let words = BitslicedGF.words
        let vectors = rowWords  // 72 bitsliced vectors of 64 support points each
        let bufferWords = rows * rowWords + 4 * vectors * words
        let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: bufferWords)
        buffer.initialize(repeating: 0, count: bufferWords)
        defer {
            buffer.update(repeating: 0, count: bufferWords)
            buffer.deallocate()
        }
        let matrix = buffer
        let support = buffer + rows * rowWords
        let current = support + vectors * words
        let coefficient = current + vectors * words
        let scratch = coefficient + vectors * words

        // α, bitsliced: vector v lane l is column 64v + l.
        var lanes = [UInt16](repeating: 0, count: 64)
        for v in 0..<vectors {
            for l in 0..<64 { lanes[l] = GF13.bitReverse(UInt16(truncatingIfNeeded: permutation[64 * v + l])) }
            lanes.withUnsafeBufferPointer { BitslicedGF.load(support + v * words, $0) }
        }
        for l in 0..<64 { lanes[l] = 0 }

        // g(α) by Horner, then 1/g(α).
        for v in 0..<vectors {
            let value = current + v * words
            BitslicedGF.broadcast(value, 1)
            for k in stride(from: McEliece460896.errorCount - 1, through: 0, by: -1) {
                BitslicedGF.multiply(value, value, support + v * words)
                BitslicedGF.broadcast(coefficient, goppa[k])
                for b in 0..<words { value[b] ^= coefficient[b] }
            }
            BitslicedGF.invert(scratch, value)
            for b in 0..<words { value[b] = scratch[b] }
        }
        // Rows 13i + b: bit b of α^i / g(α).
        for i in 0..<McEliece460896.errorCount {
            for v in 0..<vectors {
                let value = current + v * words
                for b in 0..<words { matrix[(13 * i + b) * rowWords + v] = value[b] }
                BitslicedGF.multiply(value, value, support + v * words)
            }
        }

        guard reduceToSystematicForm(matrix) else { return nil }

        // T: columns 1248 … 4607 of each row; 1248 = 19·64 + 32, so shift by 32 bits.
        var key = [UInt8](repeating: 0, count: McEliece460896.publicKeyBytes)
        key.withUnsafeMutableBytes { out in
            let rowBytes = McEliece460896.publicRowBytes
            for r in 0..<rows {
                let row = matrix + r * rowWords
                let destination = out.baseAddress! + r * rowBytes
                for j in 0..<52 {
                    let word = (row[19 + j] >> 32) | (row[20 + j] << 32)
                    destination.storeBytes(of: word.littleEndian, toByteOffset: 8 * j, as: UInt64.self)
                }
                let last = UInt32(truncatingIfNeeded: row[71] >> 32)
                destination.storeBytes(of: last.littleEndian, toByteOffset: 416, as: UInt32.self)
            }
        }
        return key
    }

    /// Gauss–Jordan elimination of the left 1248 × 1248 block to the identity, in constant time:
    /// the pivot of column r is made 1 by adding every later row under a mask, then column r is
    /// cleared from every other row under masks (each mask through ``opaqueMask(_:)``, or the
    /// compiler turns the additions back into branches on the pivot bits). Only "singular" is
    /// branched on.
    private static func reduceToSystematicForm(_ matrix: UnsafeMutablePointer<UInt64>) -> Bool {
        for r in 0..<rows {
            let wordIndex = r >> 6
            let bit = UInt64(r & 63)
            let pivot = matrix + r * rowWords
            // Rows are zero left of column r here, so only words from r/64 on change.
            let tail = rowWords - wordIndex
            for k in (r + 1)..<max(r + 1, rows) {
                let needed = opaqueMask(bit: ((pivot[wordIndex] >> bit) & 1) ^ 1)
                addRow(pivot + wordIndex, matrix + k * rowWords + wordIndex, mask: needed, count: tail)
            }
            if (pivot[wordIndex] >> bit) & 1 == 0 { return false }
            for k in 0..<rows where k != r {
                let row = matrix + k * rowWords
                let present = opaqueMask(bit: row[wordIndex] >> bit)
                addRow(row + wordIndex, pivot + wordIndex, mask: present, count: tail)
            }
        }
        return true
    }

    /// destination ^= source & mask, word by word.
    @inline(__always)
    private static func addRow(
        _ destination: UnsafeMutablePointer<UInt64>, _ source: UnsafePointer<UInt64>, mask: UInt64, count: Int
    ) {
        for c in 0..<count { destination[c] ^= source[c] & mask }
    }
}
