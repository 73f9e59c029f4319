// A secret value that compares in constant time, so protocol state can be `Equatable`.

import RosenpassCrypto

/// Secret bytes (keys, chaining keys, PSKs) held in a wiped ``SecretBytes`` buffer.
///
/// Equality is constant-time in the contents; it exists so that tests can compare whole server
/// states before and after a rejected message. The description never shows the bytes.
public struct Secret: Equatable, Sendable, CustomStringConvertible {
    /// The bytes, wiped when the last copy is released.
    public internal(set) var bytes: SecretBytes

    /// Wraps `bytes`.
    public init(_ bytes: SecretBytes) { self.bytes = bytes }

    /// Copies `bytes` into a wiped buffer.
    public init(copying bytes: [UInt8]) { self.bytes = SecretBytes(bytes) }

    /// `count` zero bytes.
    init(zeros count: Int) { bytes = SecretBytes(zeros: count) }

    /// The number of bytes.
    public var count: Int { bytes.count }

    /// Calls `body` with the bytes.
    @inline(__always)
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    /// Calls `body` with the bytes for writing.
    @inline(__always)
    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeMutableBytes(body)
    }

    public static func == (lhs: Secret, rhs: Secret) -> Bool { lhs.bytes.constantTimeEquals(rhs.bytes) }

    public var description: String { "Secret(\(count) bytes)" }

    /// `count` bytes drawn from `entropy` for `purpose`.
    static func random(count: Int, for purpose: EntropyPurpose, using entropy: inout some HandshakeEntropy) -> Secret {
        var secret = Secret(zeros: count)
        secret.withUnsafeMutableBytes { entropy.fill($0, for: purpose) }
        return secret
    }
}
