// Benchmarks of the handshake family for `rosenpass-crypto bench`.

import RosenpassCrypto

/// The handshake benchmarks.
var handshakeBenchmarks: [Benchmark] {
    []
}
