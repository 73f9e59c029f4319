// Injected randomness (`docs/protocol.md` §1.7).

import RosenpassCrypto

/// What a random draw is for. Replays of a recorded handshake use it to hand out the recorded value.
public enum EntropyPurpose: Sendable, Hashable {
    /// A session id, `sidi` or `sidr` (4 bytes).
    case sessionID
    /// The initiator's first cookie value of a handshake (16 bytes, §3.8).
    case cookieValue
    /// A fresh biscuit key (32 bytes, §5.6).
    case biscuitKey
    /// A biscuit nonce (24 bytes, §3.6).
    case biscuitNonce
    /// A fresh cookie secret (16 bytes, §5.7).
    case cookieSecret
    /// The nonce of a CookieReply (24 bytes, §3.9).
    case cookieReplyNonce
    /// The padding of a CookieReply (§3.9).
    case cookieReplyPadding
    /// The retransmission jitter (8 bytes read as a fraction in [0, 1), §5.4).
    case retransmitJitter
    /// Randomness consumed inside a KEM operation (key generation or encapsulation coins).
    case kem
}

/// A source of randomness for the protocol core. The core never reads global randomness: every
/// draw goes through this protocol, so that tests and vector replays are deterministic.
public protocol HandshakeEntropy {
    /// Fills `buffer` with random bytes for `purpose`.
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer, for purpose: EntropyPurpose)

    /// Receives an intermediate value of the handshake (a chaining key, a biscuit, ...). Only
    /// test-vector replays implement it; the default does nothing. The values include secrets:
    /// an implementation must not log or keep them outside a test.
    mutating func record(_ point: TracePoint, _ value: UnsafeRawBufferPointer)
}

extension HandshakeEntropy {
    /// Records a chaining key at `point`.
    mutating func record(_ point: TracePoint, _ chainingKey: ChainingKey) {
        chainingKey.value.withUnsafeBytes { record(point, $0) }
    }

    /// Records public bytes at `point`.
    mutating func record(_ point: TracePoint, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { record(point, $0) }
    }

    /// `count` random bytes for `purpose`.
    mutating func bytes(_ count: Int, for purpose: EntropyPurpose) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer), for: purpose)
            initialized = count
        }
    }

    /// A fraction uniform in [0, 1) from 53 random bits.
    mutating func unitInterval(for purpose: EntropyPurpose) -> Double {
        let raw = bytes(8, for: purpose).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(raw >> 11) * 0x1p-53
    }
}

/// The operating system's CSPRNG for every purpose.
public struct SystemEntropy: HandshakeEntropy, RandomBytesGenerator, Sendable {
    /// Creates a handle to the system generator.
    public init() {}

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer, for purpose: EntropyPurpose) {
        SystemRandom.fill(buffer)
    }

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        SystemRandom.fill(buffer)
    }
}

/// Adapts a ``HandshakeEntropy`` to the crypto module's ``RandomBytesGenerator`` for KEM coins.
struct KEMCoins<Source: HandshakeEntropy>: RandomBytesGenerator {
    var source: Source
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) { source.fill(buffer, for: .kem) }
}

/// A point of the handshake whose value a test-vector replay checks (the reference records the
/// same points, `docs/protocol.md` §10). Values are reported through
/// ``HandshakeEntropy/record(_:_:)``, which production sources ignore.
public enum TracePoint: String, Sendable, Hashable, CaseIterable {
    case ihi4ChainingKey, ihi5ChainingKey, ihi6PeerIDCiphertext, ihi6ChainingKey, ihi7ChainingKey
    case ihi8Auth, ihi8ChainingKey
    case ihr4ChainingKey, ihr5ChainingKey, ihr6ChainingKey, ihr7ChainingKey, ihr8ChainingKey
    case rhr3ChainingKey, rhr4ChainingKey, rhr5ChainingKey, rhr6BiscuitPlaintext, rhr6BiscuitCiphertext
    case rhr6ChainingKey, rhr7ChainingKey
}

extension HandshakeEntropy {
    /// Ignores trace values; replays of recorded vectors implement ``HandshakeEntropy/record(_:_:)``.
    public mutating func record(_ point: TracePoint, _ value: UnsafeRawBufferPointer) {}
}
