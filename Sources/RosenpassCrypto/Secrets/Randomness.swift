// Sources of random bytes: the system CSPRNG, and an injectable protocol for tests and replays.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Android)
import Android
#endif

/// Something that fills buffers with random bytes.
///
/// Production code uses ``SystemRandom``. Tests and the handshake-vector replay inject their own
/// generator so that every random choice can be reproduced.
public protocol RandomBytesGenerator {
    /// Fills `buffer` with random bytes.
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

extension RandomBytesGenerator {
    /// Returns `count` random bytes.
    public mutating func bytes(count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }
}

/// The operating system's cryptographically secure random number generator.
///
/// It reads `getentropy(3)`, which is `getrandom(2)` on Linux (blocking only until the kernel's pool
/// has been seeded once at boot) and the kernel CSPRNG on Darwin, 256 bytes per call. If the system
/// cannot deliver, the process stops: continuing without randomness would be unsafe.
public struct SystemRandom: RandomBytesGenerator, Sendable {
    /// Creates a handle to the system generator. It holds no state.
    public init() {}

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Self.fill(buffer)
    }

    /// The most `getentropy(3)` hands out per call.
    private static let chunk = 256

    /// Fills `buffer` from the system generator.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let take = Swift.min(chunk, buffer.count - offset)
            if getentropy(base + offset, take) != 0 {
                let code = errno
                fatalError("SystemRandom: getentropy failed (errno \(code)); refusing to continue without randomness")
            }
            offset += take
        }
    }
}
