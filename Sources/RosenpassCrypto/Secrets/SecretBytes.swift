// A byte buffer for key material: wiped when released, never printed.

/// Bytes of secret key material.
///
/// The bytes live in one heap allocation that is zeroed with ``secureZero(_:)-(UnsafeMutableRawBufferPointer)``
/// when the last copy of the value is released. Copies share the allocation until one of them is
/// mutated (copy on write). The value prints as `SecretBytes(<count> bytes)` so that it cannot end up
/// in a log by accident, and equality is only offered in constant time (``constantTimeEquals(_:)``).
public struct SecretBytes: Sendable {
    @usableFromInline
    final class Storage: @unchecked Sendable {
        @usableFromInline
        let bytes: UnsafeMutableRawBufferPointer

        @usableFromInline
        let count: Int

        @usableFromInline
        init(count: Int) {
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(count, 1), alignment: 16)
            bytes.initializeMemory(as: UInt8.self, repeating: 0)
            self.bytes = bytes
            self.count = count
        }

        @usableFromInline
        var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: bytes[0..<count]) }

        deinit {
            secureZero(bytes)
            bytes.deallocate()
        }
    }

    @usableFromInline
    var storage: Storage

    /// Creates `count` zero bytes.
    public init(zeros count: Int) {
        storage = Storage(count: count)
    }

    /// Creates secret bytes holding a copy of `bytes`.
    public init<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        let copy = withContiguousBytes(of: bytes) { source -> Storage in
            let storage = Storage(count: source.count)
            storage.buffer.copyMemory(from: source)
            return storage
        }
        storage = copy
    }

    /// Creates secret bytes from a buffer, copying it.
    public init(copying source: UnsafeRawBufferPointer) {
        storage = Storage(count: source.count)
        storage.buffer.copyMemory(from: source)
    }

    /// Creates `count` bytes from the system's secure random number generator.
    public static func random(count: Int) -> SecretBytes {
        var secret = SecretBytes(zeros: count)
        secret.withUnsafeMutableBytes { SystemRandom.fill($0) }
        return secret
    }

    /// Creates `count` bytes from `generator`.
    public static func random(count: Int, using generator: inout some RandomBytesGenerator) -> SecretBytes {
        var secret = SecretBytes(zeros: count)
        secret.withUnsafeMutableBytes { generator.fill($0) }
        return secret
    }

    /// The number of bytes.
    @inlinable
    public var count: Int { storage.count }

    /// Calls `body` with the bytes. Do not let the pointer escape.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage.buffer))
    }

    /// Calls `body` with the bytes for writing, after making this copy unique.
    @inlinable
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let copy = Storage(count: storage.count)
            copy.buffer.copyMemory(from: UnsafeRawBufferPointer(storage.buffer))
            storage = copy
        }
        return try body(storage.buffer)
    }

    /// Returns whether both values hold the same bytes, in constant time.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        withUnsafeBytes { mine in other.withUnsafeBytes { RosenpassCrypto.constantTimeEquals(mine, $0) } }
    }

    /// Returns a plain array copy of the bytes. The copy is not wiped automatically: use it only where an
    /// API needs an array, and prefer ``withUnsafeBytes(_:)``.
    public func unprotectedArray() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible {
    /// Never shows the bytes.
    public var description: String { "SecretBytes(\(count) bytes)" }
    /// Never shows the bytes.
    public var debugDescription: String { description }
}
