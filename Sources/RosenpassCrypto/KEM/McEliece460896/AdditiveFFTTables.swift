// The constants of the additive FFT over GF(2^13), derived from the field at first use.

/// Constants for ``AdditiveFFT`` and ``AdditiveFFT/transposedEvaluate(_:into:scratch:)``.
///
/// The FFT is Gao–Mateer's additive FFT ("Additive fast Fourier transforms over finite fields",
/// 2010) in the form McBits uses (Bernstein–Chou–Schwabe 2013, §3; Chou 2017). It evaluates a
/// polynomial at every point Σ_k j_k·β_k of the span of a basis β_0 … β_12 of GF(2^13). Taking
/// β_k = z^(12−k) makes point number j the field element bitrev13(j), which is the order in which the
/// Beneš network of the secret key delivers the support (Classic McEliece specification, §8.3).
///
/// One recursion level with basis β_0 … β_(r−1) of the current subspace:
/// - twist: g(x) = f(τ·x) with τ = β_(r−1), so the points become span(γ_0 … γ_(r−2), 1) with
///   γ_i = β_i / τ;
/// - radix conversion: g(x) = g0(x² + x) + x·g1(x² + x);
/// - recurse on g0 and g1 over the basis δ_i = γ_i² + γ_i (x ↦ x² + x is linear);
/// - combine: g(α) = g0(α² + α) + α·g1(α² + α) and g(α + 1) = g(α) + g1(α² + α), where
///   α = Σ_i t_i γ_i runs over the points of the smaller span (the "twiddle" G(t)).
///
/// Level 0 twists by β_12 = 1, i.e. not at all. Everything here is public: it depends only on the field.
final class AdditiveFFTTables: @unchecked Sendable {
    // Immutable after `init`: the words are written once, before `shared` is published.

    /// The tables, computed on first use.
    static let shared = AdditiveFFTTables()

    /// τ_d: the twist factor of recursion depth d = 0…7.
    let twist: [UInt16]
    /// The basis of depth 6 (7 elements), where the 128-coefficient FFT evaluates linear polynomials.
    let depth6Basis: [UInt16]
    /// The basis of depth 7 (6 elements), where the 256-coefficient transposed FFT ends.
    let depth7Basis: [UInt16]

    private let storage: UnsafeMutablePointer<UInt64>
    private let twiddleOffsets: [Int]
    private let twist128Offset: Int
    private let twist256Offset: Int
    private let depth6BasisOffset: Int
    private let depth7BasisOffset: Int

    private init() {
        let words = BitslicedGF.words
        // The bases of depths 0…8 and the twist factors.
        var basis: [UInt16] = (0..<13).map { UInt16(1) << UInt16(12 - $0) }
        var twists: [UInt16] = []
        var twiddleBases: [[UInt16]] = []
        var bases: [[UInt16]] = [basis]
        for _ in 0..<8 {
            let tau = basis[basis.count - 1]
            let tauInverse = GF13.inverse(tau)
            let gamma = basis.dropLast().map { GF13.multiply($0, tauInverse) }
            twists.append(tau)
            twiddleBases.append(gamma)
            basis = gamma.map { GF13.square($0) ^ $0 }
            bases.append(basis)
        }
        twist = twists
        depth6Basis = bases[6]
        depth7Basis = bases[7]

        // Layout: twiddles of depths 0…6 (2^(6−d) vectors each), twists for 128 coefficients
        // (depths 1…5, 2 vectors each), twists for 256 coefficients (depths 1…6, 4 vectors each),
        // then the broadcast bases of depths 6 and 7.
        var offsets: [Int] = []
        var next = 0
        for d in 0...6 {
            offsets.append(next)
            next += (1 << (6 - d)) * words
        }
        twiddleOffsets = offsets
        twist128Offset = next
        next += 5 * 2 * words
        twist256Offset = next
        next += 6 * 4 * words
        depth6BasisOffset = next
        next += 7 * words
        depth7BasisOffset = next
        next += 6 * words

        storage = .allocate(capacity: next)
        storage.initialize(repeating: 0, count: next)

        var lanes = [UInt16](repeating: 0, count: 64)
        func store(_ destination: UnsafeMutablePointer<UInt64>) {
            lanes.withUnsafeBufferPointer { BitslicedGF.load(destination, $0) }
        }
        // Twiddles G_d(t) = Σ_i t_i γ_(d,i) for t = 64·k + lane.
        for d in 0...6 {
            let gamma = twiddleBases[d]
            for k in 0..<(1 << (6 - d)) {
                for lane in 0..<64 {
                    let t = 64 * k + lane
                    var value: UInt16 = 0
                    for (i, g) in gamma.enumerated() where (t >> i) & 1 == 1 { value ^= g }
                    lanes[lane] = value
                }
                store(storage + offsets[d] + k * words)
            }
        }
        // Twists: coefficient i of every depth-d polynomial sits in lane i·2^d + p and is multiplied by τ_d^i.
        for d in 1...5 {
            for half in 0..<2 {
                for lane in 0..<64 { lanes[lane] = GF13.power(twists[d], (64 * half + lane) >> d) }
                store(storage + twist128Offset + ((d - 1) * 2 + half) * words)
            }
        }
        for d in 1...6 {
            for quarter in 0..<4 {
                for lane in 0..<64 { lanes[lane] = GF13.power(twists[d], (64 * quarter + lane) >> d) }
                store(storage + twist256Offset + ((d - 1) * 4 + quarter) * words)
            }
        }
        for (k, element) in bases[6].enumerated() {
            BitslicedGF.broadcast(storage + depth6BasisOffset + k * words, element)
        }
        for (k, element) in bases[7].enumerated() {
            BitslicedGF.broadcast(storage + depth7BasisOffset + k * words, element)
        }
    }

    /// The twiddle vector k of depth d (0…6): lane l holds G_d(64·k + l).
    @inline(__always)
    func twiddle(depth: Int, _ k: Int) -> UnsafePointer<UInt64> {
        UnsafePointer(storage + twiddleOffsets[depth] + k * BitslicedGF.words)
    }

    /// The twist of depth d (1…5) for 128 coefficients, half 0 or 1.
    @inline(__always)
    func twist128(depth: Int, half: Int) -> UnsafePointer<UInt64> {
        UnsafePointer(storage + twist128Offset + ((depth - 1) * 2 + half) * BitslicedGF.words)
    }

    /// The twist of depth d (1…6) for 256 coefficients, quarter 0…3.
    @inline(__always)
    func twist256(depth: Int, quarter: Int) -> UnsafePointer<UInt64> {
        UnsafePointer(storage + twist256Offset + ((depth - 1) * 4 + quarter) * BitslicedGF.words)
    }

    /// Basis element k (0…6) of depth 6, broadcast to all lanes.
    @inline(__always)
    func depth6(_ k: Int) -> UnsafePointer<UInt64> {
        UnsafePointer(storage + depth6BasisOffset + k * BitslicedGF.words)
    }

    /// Basis element k (0…5) of depth 7, broadcast to all lanes.
    @inline(__always)
    func depth7(_ k: Int) -> UnsafePointer<UInt64> {
        UnsafePointer(storage + depth7BasisOffset + k * BitslicedGF.words)
    }
}
