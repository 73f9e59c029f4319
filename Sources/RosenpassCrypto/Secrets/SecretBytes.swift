// A byte buffer for key material: wiped when released, never printed.

import RosenpassSecureMemory

/// Bytes of secret key material.
///
/// The bytes live in one allocation of secret memory (`SecureMemory`: locked in RAM, left out of core
/// dumps) that is zeroed with ``secureZero(_:)-(UnsafeMutableRawBufferPointer)`` when the last copy of
/// the value is released. Copies share the allocation until one of them is
/// mutated (copy on write); the copy made then is a new allocation that is wiped in its turn. The value
/// prints as `SecretBytes(<count> bytes)` so that it cannot end up in a log by accident, and equality
/// is only offered in constant time (``constantTimeEquals(_:)``).
public struct SecretBytes: Sendable {
    /// Observes a storage's memory right after it was wiped and right before it is deallocated.
    /// Only tests install one, to check that released secrets are zero.
    typealias ReleaseObserver = @Sendable (UnsafeRawBufferPointer) -> Void

    @usableFromInline
    final class Storage: @unchecked Sendable {
        @usableFromInline
        let bytes: UnsafeMutableRawBufferPointer

        @usableFromInline
        let count: Int

        let releaseObserver: ReleaseObserver?

        @usableFromInline
        init(count: Int) {
            self.bytes = Storage.allocateZeroed(count: count)
            self.count = count
            self.releaseObserver = nil
        }

        init(count: Int, releaseObserver: ReleaseObserver?) {
            self.bytes = Storage.allocateZeroed(count: count)
            self.count = count
            self.releaseObserver = releaseObserver
        }

        private static func allocateZeroed(count: Int) -> UnsafeMutableRawBufferPointer {
            precondition(count >= 0, "SecretBytes: negative count")
            return SecureMemory.allocate(Swift.max(count, 1))
        }

        /// A new storage holding the same bytes (and the same observer), for copy on write.
        @usableFromInline
        func copy() -> Storage {
            let copy = Storage(count: count, releaseObserver: releaseObserver)
            copy.buffer.copyMemory(from: UnsafeRawBufferPointer(buffer))
            return copy
        }

        @usableFromInline
        var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: bytes[0..<count]) }

        deinit {
            secureZero(bytes)
            releaseObserver?(UnsafeRawBufferPointer(bytes))
            SecureMemory.deallocate(bytes)
        }
    }

    @usableFromInline
    var storage: Storage

    /// Creates `count` zero bytes.
    public init(zeros count: Int) {
        storage = Storage(count: count)
    }

    /// Creates secret bytes holding a copy of `bytes`.
    ///
    /// The source is not wiped: prefer ``init(count:initializingWith:)`` to create secrets in place.
    @inlinable
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

    /// Creates `count` bytes and lets `body` write them in place, so the secret never exists outside
    /// the wiped allocation. The buffer starts out zeroed. If `body` throws, the allocation is wiped and
    /// released and the error is rethrown.
    @inlinable
    public init<E: Error>(
        count: Int,
        initializingWith body: (UnsafeMutableRawBufferPointer) throws(E) -> Void
    ) throws(E) {
        let storage = Storage(count: count)
        try body(storage.buffer)
        self.storage = storage
    }

    /// Secret bytes whose storage reports its wiped memory to `releaseObserver` before deallocation
    /// (tests only).
    init(copying source: UnsafeRawBufferPointer, releaseObserver: @escaping ReleaseObserver) {
        storage = Storage(count: source.count, releaseObserver: releaseObserver)
        storage.buffer.copyMemory(from: source)
    }

    /// Creates `count` bytes from the system's secure random number generator.
    public static func random(count: Int) -> SecretBytes {
        SecretBytes(count: count) { SystemRandom.fill($0) }
    }

    /// Creates `count` bytes from `generator`.
    public static func random(count: Int, using generator: inout some RandomBytesGenerator) -> SecretBytes {
        SecretBytes(count: count) { generator.fill($0) }
    }

    /// The number of bytes.
    @inlinable
    public var count: Int { storage.count }

    /// Calls `body` with the bytes. Do not let the pointer escape.
    @inlinable
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(storage.buffer))
    }

    /// Calls `body` with the bytes for writing, after making this copy unique. Do not let the pointer
    /// escape.
    @inlinable
    public mutating func withUnsafeMutableBytes<R, E: Error>(
        _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy()
        }
        return try body(storage.buffer)
    }

    /// Returns whether both values hold the same bytes, in time that depends only on the lengths.
    public func constantTimeEquals(_ other: SecretBytes) -> Bool {
        withUnsafeBytes { mine in other.withUnsafeBytes { RosenpassCrypto.constantTimeEquals(mine, $0) } }
    }

    /// Returns a plain array copy of the bytes. The copy is not wiped automatically: use it only where an
    /// API needs an array, and prefer ``withUnsafeBytes(_:)``.
    public func unprotectedArray() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}

extension SecretBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Never shows the bytes.
    public var description: String { "SecretBytes(\(count) bytes)" }
    /// Never shows the bytes.
    public var debugDescription: String { description }
    /// Never shows the bytes, so that `dump(_:)` and debuggers' summaries cannot print them either.
    public var customMirror: Mirror { Mirror(self, children: ["count": count], displayStyle: .struct) }
}
