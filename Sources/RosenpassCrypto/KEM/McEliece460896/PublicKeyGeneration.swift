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

    /// Gauss–Jordan elimination of the left 1248 × 1248 block to the identity, in constant time.
    ///
    /// For pivot column r: the pivot row first takes every later row while its pivot bit is still 0;
    /// which rows those are depends only on the pivot word, so a pass over single words computes the
    /// masks. Then every other row with a 1 in column r takes the pivot row. Both steps apply their
    /// masks to every row, eight words at a time with the pivot row's eight words held in registers.
    /// The masks go through ``opaqueMasks(_:count:)`` so that the compiler cannot turn the masked
    /// additions back into branches on the pivot bits. Only "singular" is branched on.
    private static func reduceToSystematicForm(_ matrix: UnsafeMutablePointer<UInt64>) -> Bool {
        let masks = UnsafeMutablePointer<UInt64>.allocate(capacity: rows)
        masks.initialize(repeating: 0, count: rows)
        defer {
            masks.update(repeating: 0, count: rows)
            masks.deallocate()
        }
        for r in 0..<rows {
            let wordIndex = r >> 6
            let bit = UInt64(r & 63)
            let pivot = matrix + r &* rowWords
            // Rows are zero left of column r here; chunks start at a multiple of eight words.
            let firstChunk = wordIndex & ~7

            // Make the pivot: masks of the later rows the pivot row takes.
            var pivotWord = pivot[wordIndex]
            let later = r &+ 1
            for k in later..<rows {
                let needed = 0 &- (((pivotWord >> bit) & 1) ^ 1)
                pivotWord ^= matrix[k &* rowWords &+ wordIndex] & needed
                masks[k] = needed
            }
            opaqueMasks(masks, count: rows)
            var chunk = firstChunk
            while chunk < rowWords {
                addMaskedRows(
                    into: pivot + chunk, from: matrix + (later &* rowWords &+ chunk), masks: masks + later,
                    count: rows &- later)
                chunk &+= 8
            }
            if (pivot[wordIndex] >> bit) & 1 == 0 { return false }

            // Clear column r from every other row.
            for k in 0..<rows {
                masks[k] = 0 &- ((matrix[k &* rowWords &+ wordIndex] >> bit) & 1)
            }
            masks[r] = 0
            opaqueMasks(masks, count: rows)
            chunk = firstChunk
            while chunk < rowWords {
                addMaskedRow(pivot + chunk, into: matrix + chunk, masks: masks)
                chunk &+= 8
            }
        }
        return true
    }

    /// destination[0..<8] ^= Σ_k rows[k][0..<8] & masks[k] for k < count, with the destination in
    /// registers.
    @inline(__always)
    private static func addMaskedRows(
        into destination: UnsafeMutablePointer<UInt64>, from rowsStart: UnsafePointer<UInt64>,
        masks: UnsafePointer<UInt64>, count: Int
    ) {
        typealias Pair = SIMD2<UInt64>
        let out = UnsafeMutableRawPointer(destination)
        var a = out.loadUnaligned(fromByteOffset: 0, as: Pair.self)
        var b = out.loadUnaligned(fromByteOffset: 16, as: Pair.self)
        var c = out.loadUnaligned(fromByteOffset: 32, as: Pair.self)
        var d = out.loadUnaligned(fromByteOffset: 48, as: Pair.self)
        var row = UnsafeRawPointer(rowsStart)
        for k in 0..<count {
            let mask = Pair(repeating: masks[k])
            a ^= row.loadUnaligned(fromByteOffset: 0, as: Pair.self) & mask
            b ^= row.loadUnaligned(fromByteOffset: 16, as: Pair.self) & mask
            c ^= row.loadUnaligned(fromByteOffset: 32, as: Pair.self) & mask
            d ^= row.loadUnaligned(fromByteOffset: 48, as: Pair.self) & mask
            row += 8 &* rowWords
        }
        out.storeBytes(of: a, toByteOffset: 0, as: Pair.self)
        out.storeBytes(of: b, toByteOffset: 16, as: Pair.self)
        out.storeBytes(of: c, toByteOffset: 32, as: Pair.self)
        out.storeBytes(of: d, toByteOffset: 48, as: Pair.self)
    }

    /// rows[k][0..<8] ^= source[0..<8] & masks[k] for every row k, with the source in registers.
    @inline(__always)
    private static func addMaskedRow(
        _ source: UnsafePointer<UInt64>, into rowsStart: UnsafeMutablePointer<UInt64>, masks: UnsafePointer<UInt64>
    ) {
        typealias Pair = SIMD2<UInt64>
        let input = UnsafeRawPointer(source)
        let a = input.loadUnaligned(fromByteOffset: 0, as: Pair.self)
        let b = input.loadUnaligned(fromByteOffset: 16, as: Pair.self)
        let c = input.loadUnaligned(fromByteOffset: 32, as: Pair.self)
        let d = input.loadUnaligned(fromByteOffset: 48, as: Pair.self)
        var row = UnsafeMutableRawPointer(rowsStart)
        for k in 0..<rows {
            let mask = Pair(repeating: masks[k])
            row.storeBytes(of: row.loadUnaligned(fromByteOffset: 0, as: Pair.self) ^ (a & mask), toByteOffset: 0, as: Pair.self)
            row.storeBytes(of: row.loadUnaligned(fromByteOffset: 16, as: Pair.self) ^ (b & mask), toByteOffset: 16, as: Pair.self)
            row.storeBytes(of: row.loadUnaligned(fromByteOffset: 32, as: Pair.self) ^ (c & mask), toByteOffset: 32, as: Pair.self)
            row.storeBytes(of: row.loadUnaligned(fromByteOffset: 48, as: Pair.self) ^ (d & mask), toByteOffset: 48, as: Pair.self)
            row += 8 &* rowWords
        }
    }
}
