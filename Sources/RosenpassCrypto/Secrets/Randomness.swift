// Sources of random bytes: the system CSPRNG, and an injectable protocol for tests and replays.

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
/// It draws from Swift's `SystemRandomNumberGenerator`, which reads `getrandom(2)` on Linux and
/// `arc4random_buf(3)` on Darwin, and stops the process if the system cannot deliver.
public struct SystemRandom: RandomBytesGenerator, Sendable {
    /// Creates a handle to the system generator. It holds no state.
    public init() {}

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Self.fill(buffer)
    }

    /// Fills `buffer` from the system generator.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var generator = SystemRandomNumberGenerator()
        var offset = 0
        while offset < buffer.count {
            var word = generator.next()
            let take = Swift.min(8, buffer.count - offset)
            withUnsafeBytes(of: &word) { bytes in
                for i in 0..<take { buffer[offset + i] = bytes[i] }
            }
            word = 0
            offset += take
        }
    }
}
