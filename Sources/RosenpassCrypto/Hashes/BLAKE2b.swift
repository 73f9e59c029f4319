// BLAKE2b (RFC 7693) with a key of up to 64 bytes and a digest of 1 to 64 bytes.

/// BLAKE2b as specified in RFC 7693 (sections 2 and 3), in its native keyed mode.
///
/// The parameter block sets only the digest length and the key length (no salt, no
/// personalisation), so `BLAKE2b(digestCount: 32, key: k)` equals Python's
/// `hashlib.blake2b(data, key=k, digest_size=32)`.
public struct BLAKE2b: Sendable {
    /// The largest digest and key length in bytes.
    public static let maximumDigestCount = 64
    /// The largest key length in bytes.
    public static let maximumKeyCount = 64

    @usableFromInline
    typealias Words = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

    @usableFromInline
    var chain: Words
    @usableFromInline
    var block: (Words, Words) = ((0, 0, 0, 0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 0, 0, 0))
    @usableFromInline
    var blockCount = 0
    @usableFromInline
    var counter: UInt64 = 0
    /// Set by `finalize`; the state is wiped then and the instance cannot be used again.
    @usableFromInline
    var isFinalized = false
    /// The digest length in bytes.
    public let digestCount: Int

    /// Creates a BLAKE2b instance.
    ///
    /// - Parameters:
    ///   - digestCount: the digest length in bytes, 1 to 64.
    ///   - key: an optional key of at most 64 bytes; an empty key means unkeyed.
    public init(digestCount: Int = 64, key: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) {
        precondition((1...Self.maximumDigestCount).contains(digestCount), "BLAKE2b digest length must be 1...64")
        precondition(key.count <= Self.maximumKeyCount, "BLAKE2b key must be at most 64 bytes")
        self.digestCount = digestCount
        var chain = blake2bIV
        chain.0 ^= 0x0101_0000 ^ (UInt64(key.count) << 8) ^ UInt64(digestCount)
        self.chain = chain
        if key.count > 0 {
            withUnsafeMutableBytes(of: &block) { $0.copyMemory(from: key) }
            blockCount = 128
        }
    }

    /// Creates a keyed BLAKE2b instance; `key` holds at most 64 bytes.
    @inlinable
    public init<Key: Sequence<UInt8>>(digestCount: Int = 64, key: Key) {
        self = withContiguousBytes(of: key) { BLAKE2b(digestCount: digestCount, key: $0) }
    }

    /// Hashes the bytes in `input`.
    public mutating func update(_ input: UnsafeRawBufferPointer) {
        precondition(!isFinalized, "BLAKE2b: update after finalize")
        guard var source = input.baseAddress, input.count > 0 else { return }
        var remaining = input.count
        var counter = self.counter
        var blockCount = self.blockCount
        withUnsafeMutableBytes(of: &chain) { chainBytes in
            let h = chainBytes.baseAddress!.assumingMemoryBound(to: UInt64.self)
            withUnsafeMutableBytes(of: &block) { blockBytes in
                let buffer = blockBytes.baseAddress!
                // A full buffered block is compressed only once more data follows it.
                if blockCount > 0 {
                    let take = min(remaining, 128 - blockCount)
                    (buffer + blockCount).copyMemory(from: source, byteCount: take)
                    blockCount += take
                    source += take
                    remaining -= take
                    if remaining > 0 {
                        counter &+= 128
                        blake2bCompress(h, block: buffer, counter: counter, isLastBlock: false)
                        blockCount = 0
                    }
                }
                // Whole blocks straight from the input, keeping at least one byte back.
                while remaining > 128 {
                    counter &+= 128
                    blake2bCompress(h, block: UnsafeRawPointer(source), counter: counter, isLastBlock: false)
                    source += 128
                    remaining -= 128
                }
                if remaining > 0 {
                    buffer.copyMemory(from: source, byteCount: remaining)
                    blockCount = remaining
                }
            }
        }
        self.counter = counter
        self.blockCount = blockCount
    }

    /// Hashes the bytes of `input`.
    @inlinable
    public mutating func update<Bytes: Sequence<UInt8>>(_ input: Bytes) {
        withContiguousBytes(of: input) { update($0) }
    }

    /// Writes the digest into `output`, which must be exactly `digestCount` bytes long, and wipes the
    /// instance's state (with ``secureZero(_:)``, including a key still held in the block buffer).
    /// Using the instance afterwards is a programming error and stops the process.
    public mutating func finalize(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count == digestCount, "BLAKE2b digest buffer has the wrong length")
        precondition(!isFinalized, "BLAKE2b: finalize called twice")
        let counter = self.counter &+ UInt64(blockCount)
        let blockCount = self.blockCount
        withUnsafeMutableBytes(of: &chain) { chainBytes in
            let h = chainBytes.baseAddress!.assumingMemoryBound(to: UInt64.self)
            withUnsafeMutableBytes(of: &block) { blockBytes in
                for i in blockCount..<128 { blockBytes[i] = 0 }
                blake2bCompress(h, block: blockBytes.baseAddress!, counter: counter, isLastBlock: true)
                secureZero(blockBytes)
            }
            for i in 0..<8 { h[i] = h[i].littleEndian }
            output.copyMemory(from: UnsafeRawBufferPointer(rebasing: chainBytes[0..<output.count]))
            secureZero(chainBytes)
        }
        self.blockCount = 0
        self.isFinalized = true
    }

    /// Returns the digest.
    @inlinable
    public mutating func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: digestCount) { buffer, initialized in
            finalize(into: UnsafeMutableRawBufferPointer(buffer))
            initialized = digestCount
        }
    }

    /// Returns BLAKE2b of `input` with the given digest length and optional key.
    @inlinable
    public static func hash<Bytes: Sequence<UInt8>>(
        _ input: Bytes,
        digestCount: Int = 64,
        key: [UInt8] = []
    ) -> [UInt8] {
        var hasher = BLAKE2b(digestCount: digestCount, key: key)
        hasher.update(input)
        return hasher.finalize()
    }
}
