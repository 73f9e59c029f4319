// SHA3-256, SHA3-512, SHAKE128 and SHAKE256 (FIPS 202), written over `KeccakSponge`.

/// An extendable-output function (FIPS 202, section 6.2): absorb any number of pieces, then squeeze
/// any number of bytes in any number of pieces.
///
/// Absorbing after the first squeeze is a programming error. Squeezing `n` bytes and then `m` bytes
/// gives the same bytes as squeezing `n + m` at once.
public protocol ExtendableOutputFunction: Sendable {
    /// Creates an instance that has absorbed nothing.
    init()
    /// Absorbs the bytes in `input`.
    mutating func absorb(_ input: UnsafeRawBufferPointer)
    /// Writes the next `output.count` output bytes into `output`.
    mutating func squeeze(into output: UnsafeMutableRawBufferPointer)
    /// Overwrites the internal state with zeros; call it when the input was secret. The instance then
    /// behaves as if it had absorbed nothing.
    mutating func wipe()
}

extension ExtendableOutputFunction {
    /// Absorbs the bytes of `input`.
    @inlinable
    public mutating func absorb<Bytes: Sequence<UInt8>>(_ input: Bytes) {
        withContiguousBytes(of: input) { absorb($0) }
    }

    /// Returns the next `count` output bytes.
    @inlinable
    public mutating func squeeze(count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            squeeze(into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Returns the first `outputCount` output bytes for `input`, wiping the state afterwards.
    @inlinable
    public static func hash<Bytes: Sequence<UInt8>>(_ input: Bytes, outputCount: Int) -> [UInt8] {
        var function = Self()
        function.absorb(input)
        defer { function.wipe() }
        return function.squeeze(count: outputCount)
    }
}

/// A hash function with a fixed digest length and an incremental `update`.
public protocol FixedLengthHashFunction: Sendable {
    /// The digest length in bytes.
    static var digestCount: Int { get }
    /// Creates an instance that has hashed nothing.
    init()
    /// Hashes the bytes in `input`.
    mutating func update(_ input: UnsafeRawBufferPointer)
    /// Writes the digest into `output`, which must be exactly `digestCount` bytes long, and wipes the
    /// internal state (the instance then behaves as if it had hashed nothing).
    mutating func finalize(into output: UnsafeMutableRawBufferPointer)
}

extension FixedLengthHashFunction {
    /// Hashes the bytes of `input`.
    @inlinable
    public mutating func update<Bytes: Sequence<UInt8>>(_ input: Bytes) {
        withContiguousBytes(of: input) { update($0) }
    }

    /// Returns the digest.
    @inlinable
    public mutating func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.digestCount) { buffer, initialized in
            finalize(into: UnsafeMutableRawBufferPointer(buffer))
            initialized = Self.digestCount
        }
    }

    /// Returns the digest of `input`.
    @inlinable
    public static func hash<Bytes: Sequence<UInt8>>(_ input: Bytes) -> [UInt8] {
        var hasher = Self()
        hasher.update(input)
        return hasher.finalize()
    }
}

/// SHAKE256 (FIPS 202, section 6.2): `Keccak[512](M || 1111, d)`, rate 136 bytes.
public struct SHAKE256: ExtendableOutputFunction {
    @usableFromInline
    var sponge = KeccakSponge(rate: 136, suffix: 0x1F)

    /// Creates an empty SHAKE256 instance.
    @inlinable
    public init() {}

    @inlinable
    public mutating func absorb(_ input: UnsafeRawBufferPointer) { sponge.absorb(input) }

    @inlinable
    public mutating func squeeze(into output: UnsafeMutableRawBufferPointer) { sponge.squeeze(into: output) }

    /// Overwrites the internal state with zeros. Call it after absorbing secrets.
    public mutating func wipe() { sponge.wipe() }
}

/// SHAKE128 (FIPS 202, section 6.2): `Keccak[256](M || 1111, d)`, rate 168 bytes.
public struct SHAKE128: ExtendableOutputFunction {
    @usableFromInline
    var sponge = KeccakSponge(rate: 168, suffix: 0x1F)

    /// Creates an empty SHAKE128 instance.
    @inlinable
    public init() {}

    @inlinable
    public mutating func absorb(_ input: UnsafeRawBufferPointer) { sponge.absorb(input) }

    @inlinable
    public mutating func squeeze(into output: UnsafeMutableRawBufferPointer) { sponge.squeeze(into: output) }

    /// Overwrites the internal state with zeros. Call it after absorbing secrets.
    public mutating func wipe() { sponge.wipe() }
}

/// SHA3-256 (FIPS 202, section 6.1): `Keccak[512](M || 01, 256)`, rate 136 bytes, a 32-byte digest.
public struct SHA3_256: FixedLengthHashFunction {
    public static let digestCount = 32

    @usableFromInline
    var sponge = KeccakSponge(rate: 136, suffix: 0x06)

    /// Creates an empty SHA3-256 instance.
    @inlinable
    public init() {}

    @inlinable
    public mutating func update(_ input: UnsafeRawBufferPointer) { sponge.absorb(input) }

    @inlinable
    public mutating func finalize(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count == Self.digestCount, "SHA3-256 digest buffer must be 32 bytes")
        sponge.squeeze(into: output)
        sponge.wipe()
    }
}

/// SHA3-512 (FIPS 202, section 6.1): `Keccak[1024](M || 01, 512)`, rate 72 bytes, a 64-byte digest.
public struct SHA3_512: FixedLengthHashFunction {
    public static let digestCount = 64

    @usableFromInline
    var sponge = KeccakSponge(rate: 72, suffix: 0x06)

    /// Creates an empty SHA3-512 instance.
    @inlinable
    public init() {}

    @inlinable
    public mutating func update(_ input: UnsafeRawBufferPointer) { sponge.absorb(input) }

    @inlinable
    public mutating func finalize(into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count == Self.digestCount, "SHA3-512 digest buffer must be 64 bytes")
        sponge.squeeze(into: output)
        sponge.wipe()
    }
}

/// Calls `body` with the bytes of `input` as one contiguous buffer, copying only when the
/// sequence has no contiguous storage of its own.
@inlinable
func withContiguousBytes<Bytes: Sequence<UInt8>, R>(
    of input: Bytes,
    _ body: (UnsafeRawBufferPointer) throws -> R
) rethrows -> R {
    if let result = try input.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return try Array(input).withUnsafeBytes(body)
}
