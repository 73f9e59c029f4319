// Benchmarks of the kyber family for `rosenpass-crypto bench`.

import RosenpassCrypto

/// The kyber benchmarks.
var kyberBenchmarks: [Benchmark] {
    []
}

/// The Kyber KEMs known to `rosenpass-crypto kem`.
let kyberAlgorithms: [(name: String, kem: any KeyEncapsulationMechanism.Type)] = []
