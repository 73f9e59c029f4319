// Benchmarks of the hashes family for `rosenpass-crypto bench`.

import RosenpassCrypto

/// The hashes benchmarks.
var hashBenchmarks: [Benchmark] {
    []
}
