// Benchmarks of the hashes family for `rosenpass-crypto bench`: Keccak (SHA-3, SHAKE), BLAKE2b, the two
// Rosenpass keyed hashes, and the AEADs.
//
// The names are shared with scripts/bench/reference_hashlib.py and reference_aead.py, which time the
// same operations on the same input sizes in CPython's hashlib (OpenSSL, CPython's BLAKE2) and in
// pyca/cryptography, so that scripts/bench/compare.py can pair them.

import RosenpassCrypto

/// The size of a Classic McEliece 460896 public key, which every handshake hashes several times.
private let mcEliecePublicKeySize = 524_160

/// Deterministic, non-constant input bytes for the benchmarks.
private func benchmarkInput(count: Int) -> [UInt8] {
    var state: UInt32 = 0x9E37_79B9
    return (0..<count).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return UInt8(truncatingIfNeeded: state >> 24)
    }
}

/// A benchmark that hashes `count` bytes with `hash` per operation.
private func hashing(_ name: String, count: Int, _ hash: @escaping ([UInt8]) -> [UInt8]) -> Benchmark {
    Benchmark(name: name, bytesPerOperation: count) {
        let input = benchmarkInput(count: count)
        return { n in
            for _ in 0..<n { blackHole(hash(input)) }
        }
    }
}

/// The hashes benchmarks.
var hashBenchmarks: [Benchmark] {
    let size = mcEliecePublicKeySize
    let key = benchmarkInput(count: 32)
    return [
        // Long inputs: a McEliece public key, hashed by every handshake.
        hashing("shake256 \(size)B", count: size) { SHAKE256.hash($0, outputCount: 32) },
        hashing("blake2b \(size)B", count: size) { BLAKE2b.hash($0) },
        hashing("v02 keyed-hash \(size)B", count: size) { KeyedHash.incorrectHMACBlake2b.hash(key: key, data: $0) },
        hashing("v03 keyed-hash \(size)B", count: size) { KeyedHash.shake256.hash(key: key, data: $0) },
        hashing("shake128 \(size)B", count: size) { SHAKE128.hash($0, outputCount: 32) },
        hashing("sha3-256 \(size)B", count: size) { SHA3_256.hash($0) },
        hashing("sha3-512 \(size)B", count: size) { SHA3_512.hash($0) },
        // Short inputs, as Kyber and the protocol's chaining key use them.
        hashing("sha3-256 32B", count: 32) { SHA3_256.hash($0) },
        hashing("sha3-512 64B", count: 64) { SHA3_512.hash($0) },
        hashing("shake256 32B", count: 32) { SHAKE256.hash($0, outputCount: 32) },
        // Kyber's matrix expansion: a 34-byte seed, three 168-byte blocks squeezed.
        hashing("shake128 34B squeeze 504B", count: 34) { SHAKE128.hash($0, outputCount: 504) },
        // One more 168-byte block from a running SHAKE128, as Kyber's rejection sampling asks for it:
        // one permutation and a copy. (hashlib cannot continue squeezing, so this one has no reference.)
        Benchmark(name: "shake128 squeeze 168B block", bytesPerOperation: 168) {
            var shake = SHAKE128()
            shake.absorb(benchmarkInput(count: 34))
            var block = [UInt8](repeating: 0, count: 168)
            return { n in
                block.withUnsafeMutableBytes { buffer in
                    for _ in 0..<n { shake.squeeze(into: buffer) }
                }
                blackHole(block)
            }
        },
        // Kyber's noise: a 33-byte seed, 128 bytes squeezed.
        hashing("shake256 33B squeeze 128B", count: 33) { SHAKE256.hash($0, outputCount: 128) },
        hashing("blake2b 32B", count: 32) { BLAKE2b.hash($0, digestCount: 32) },
        hashing("v02 keyed-hash 32B", count: 32) { KeyedHash.incorrectHMACBlake2b.hash(key: key, data: $0) },
        hashing("v03 keyed-hash 32B", count: 32) { KeyedHash.shake256.hash(key: key, data: $0) },
        aead("chacha20poly1305 seal 1KiB", count: 1024, open: false, extended: false),
        aead("chacha20poly1305 open 1KiB", count: 1024, open: true, extended: false),
        aead("chacha20poly1305 seal 32B", count: 32, open: false, extended: false),
        // The biscuit: 76 bytes sealed with XChaCha20-Poly1305.
        aead("xchacha20poly1305 seal 76B", count: 76, open: false, extended: true),
        aead("xchacha20poly1305 open 76B", count: 76, open: true, extended: true),
    ]
}

/// A benchmark sealing or opening `count` bytes of plaintext with 32 bytes of associated data.
private func aead(_ name: String, count: Int, open: Bool, extended: Bool) -> Benchmark {
    Benchmark(name: name, bytesPerOperation: count) {
        let key = benchmarkInput(count: 32)
        let nonce = Array(benchmarkInput(count: extended ? 24 : 12).reversed())
        let associatedData = Array(benchmarkInput(count: 64)[32...])
        let plaintext = benchmarkInput(count: count)
        if extended {
            let sealed = XChaCha20Poly1305.seal(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext)
            if open {
                return { n in
                    for _ in 0..<n {
                        blackHole(try? XChaCha20Poly1305.open(key: key, sealed: sealed, associatedData: associatedData))
                    }
                }
            }
            return { n in
                for _ in 0..<n {
                    blackHole(XChaCha20Poly1305.seal(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext))
                }
            }
        }
        let sealed = ChaCha20Poly1305.seal(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext)
        if open {
            return { n in
                for _ in 0..<n {
                    blackHole(try? ChaCha20Poly1305.open(
                        key: key, nonce: nonce, associatedData: associatedData, ciphertextAndTag: sealed))
                }
            }
        }
        return { n in
            for _ in 0..<n {
                blackHole(ChaCha20Poly1305.seal(key: key, nonce: nonce, associatedData: associatedData, plaintext: plaintext))
            }
        }
    }
}
