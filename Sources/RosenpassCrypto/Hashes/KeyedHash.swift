// The two keyed hashes of the Rosenpass protocol (`protocol.md` §1.5).

/// A Rosenpass keyed hash `H(key, data)`: a 32-byte key, any data, a 32-byte output.
///
/// The protocol version of a peer decides which one is used: V02 uses ``incorrectHMACBlake2b``,
/// V03 uses ``shake256``.
public enum KeyedHash: Sendable, Hashable, CaseIterable {
    /// V02: "incorrect HMAC-BLAKE2b". With `B` = keyed BLAKE2b-256 (RFC 7693, 32-byte key):
    /// `H(k, d) = B(k ^ 0x36.., B'(...))`, precisely `inner = B(k ^ 0x36^32, d)` and
    /// `H = B(k ^ 0x5C^32, inner)`. Not RFC 2104 HMAC; reproduced for compatibility.
    case incorrectHMACBlake2b
    /// V03: the first 32 bytes of `SHAKE256(key || data)`.
    case shake256

    /// The key length in bytes.
    public static let keyCount = 32
    /// The output length in bytes.
    public static let outputCount = 32

    /// Returns `H(key, data)`; `key` must be 32 bytes.
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
    public func hash<Key: Sequence<UInt8>, Data: Sequence<UInt8>>(key: Key, data: Data) -> [UInt8] {
        withContiguousBytes(of: key) { k in withContiguousBytes(of: data) { hash(key: k, data: $0) } }
    }
}
