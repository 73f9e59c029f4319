// The two keyed hashes of the Rosenpass protocol (`docs/protocol.md` §1.5).

/// A Rosenpass keyed hash `H(key, data)`: a 32-byte key, any data, a 32-byte output (`docs/protocol.md` §1.5).
///
/// The protocol version of a peer decides which one is used: V02 uses ``incorrectHMACBlake2b``,
/// V03 uses ``shake256``. Intermediate state derived from the key is wiped before returning.
public enum KeyedHash: Sendable, Hashable, CaseIterable {
    /// V02: "incorrect HMAC-BLAKE2b". With `B(k, d)` = BLAKE2b in its native keyed mode with a
    /// 32-byte key and a 32-byte digest (RFC 7693): `inner = B(key ^ 0x36^32, data)` and
    /// `H = B(key ^ 0x5C^32, inner)`. Not RFC 2104 HMAC (nothing is concatenated); reproduced for
    /// compatibility with the reference implementation.
    case incorrectHMACBlake2b
    /// V03: the first 32 bytes of `SHAKE256(key || data)`.
    case shake256

    /// The key length in bytes.
    public static let keyCount = 32
    /// The output length in bytes.
    public static let outputCount = 32

    /// Returns `H(key, data)`.
    ///
    /// - Parameters:
    ///   - key: exactly 32 bytes (a shorter or longer key is a programming error and traps).
    ///   - data: any number of bytes.
    /// - Returns: the 32-byte hash.
    public func hash(key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.outputCount) { buffer, initialized in
            hash(key: key, data: data, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = Self.outputCount
        }
    }

    /// Writes `H(key, data)` into `output` (32 bytes); `key` must be 32 bytes.
    public func hash(key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(key.count == Self.keyCount, "keyed hash key must be 32 bytes")
        precondition(output.count == Self.outputCount, "keyed hash output must be 32 bytes")
        switch self {
        case .shake256:
            var shake = SHAKE256()
            shake.absorb(key)
            shake.absorb(data)
            shake.squeeze(into: output)
            shake.wipe()
        case .incorrectHMACBlake2b:
            var paddedKey: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            withUnsafeMutableBytes(of: &paddedKey) { padded in
                for i in 0..<32 { padded[i] = key[i] ^ 0x36 }
                var inner = BLAKE2b(digestCount: 32, key: UnsafeRawBufferPointer(padded))
                inner.update(data)
                var innerDigest: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
                withUnsafeMutableBytes(of: &innerDigest) { digest in
                    inner.finalize(into: digest)
                    for i in 0..<32 { padded[i] = key[i] ^ 0x5C }
                    var outer = BLAKE2b(digestCount: 32, key: UnsafeRawBufferPointer(padded))
                    outer.update(UnsafeRawBufferPointer(digest))
                    outer.finalize(into: output)
                    secureZero(digest)
                }
                secureZero(padded)
            }
        }
    }

    /// Returns `H(key, data)` for byte sequences; `key` must be 32 bytes.
    @inlinable
    public func hash<Key: Sequence<UInt8>, Data: Sequence<UInt8>>(key: Key, data: Data) -> [UInt8] {
        withContiguousBytes(of: key) { k in withContiguousBytes(of: data) { hash(key: k, data: $0) } }
    }
}
