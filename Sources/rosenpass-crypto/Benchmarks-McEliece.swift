// Benchmarks of the mceliece family for `rosenpass-crypto bench`.

import RosenpassCrypto

/// The mceliece benchmarks.
var mcelieceBenchmarks: [Benchmark] {
    []
}

/// The McEliece KEMs known to `rosenpass-crypto kem`.
let mcelieceAlgorithms: [(name: String, kem: any KeyEncapsulationMechanism.Type)] = []
