// The WireGuard preshared key as a secret: zeroed when released, never printed.

#if canImport(Glibc)
import Glibc
#endif
import RosenpassSecureMemory
import RosenpassSystem

/// A 32-byte WireGuard preshared key.
///
/// The key lives in its own slot of secret memory (`SecureMemory`: locked in RAM, left out of core
/// dumps), zeroed when the last reference goes away. It prints as
/// `PresharedKey(redacted)`, so it cannot reach a log by accident; the only way to the bytes is
/// ``withUnsafeBytes(_:)``. This module does not depend on RosenpassCrypto, so it has its own type;
/// the daemon copies its `SecretBytes` in with ``init(copying:)``.
public final class PresharedKey: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    // Immutable after init; only read through withUnsafeBytes.
    private let storage: UnsafeMutableRawBufferPointer

    private init() {
        storage = SecureMemory.allocate(BrokerWire.keySize)  // locked, left out of core dumps, zeroed
    }

    /// A copy of `bytes`, or `nil` unless they are exactly 32.
    public convenience init?(copying bytes: UnsafeRawBufferPointer) {
        guard bytes.count == BrokerWire.keySize else { return nil }
        self.init()
        storage.copyMemory(from: bytes)
    }

    /// A copy of `bytes`, or `nil` unless they are exactly 32. The caller should wipe its own array.
    public convenience init?(_ bytes: [UInt8]) {
        guard let key = bytes.withUnsafeBytes({ PresharedKey(copying: $0) }) else { return nil }
        self.init(sharing: key)
    }

    private convenience init(sharing other: PresharedKey) {
        self.init()
        other.withUnsafeBytes { storage.copyMemory(from: $0) }
    }

    /// A fresh key from the system's cryptographically secure generator (`SystemRandomNumberGenerator`,
    /// which reads `getrandom(2)` on Linux), as `wg genpsk` makes.
    public static func random() -> PresharedKey {
        let key = PresharedKey()
        var generator = SystemRandomNumberGenerator()
        for index in 0..<(BrokerWire.keySize / 8) {
            key.storage.storeBytes(of: generator.next() as UInt64, toByteOffset: 8 * index, as: UInt64.self)
        }
        return key
    }

    deinit {
        wipe(storage)
        SecureMemory.deallocate(storage)
    }

    /// Calls `body` with the 32 key bytes. Do not let the pointer escape or copy the bytes into
    /// memory that is not wiped.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// Compares two keys in constant time.
    public func constantTimeEquals(_ other: PresharedKey) -> Bool {
        var difference: UInt8 = 0
        withUnsafeBytes { mine in
            other.withUnsafeBytes { theirs in
                for index in 0..<BrokerWire.keySize { difference |= mine[index] ^ theirs[index] }
            }
        }
        return difference == 0
    }

    public var description: String { "PresharedKey(redacted)" }
    public var debugDescription: String { description }
}
