// The sponge construction over Keccak-f[1600] (FIPS 202, section 4), with incremental absorb and squeeze.

// The state is addressed both as 25 lanes and as 200 bytes; byte i of the state must be byte i % 8
// of lane i / 8, which holds on little-endian machines only.
#if _endian(big)
#error("KeccakSponge assumes a little-endian machine")
#endif

/// A Keccak sponge with a fixed rate and domain-separation suffix.
///
/// `SHA3_256`, `SHA3_512`, `SHAKE128` and `SHAKE256` are thin wrappers around this type. Data can be
/// absorbed in any number of pieces; once squeezing has started, absorbing is a programming error.
/// Padding is `pad10*1` after the domain-separation bits (FIPS 202, sections 5.1 and 6). The state is
/// overwritten by ``wipe()``; callers that hash secrets call it.
@usableFromInline
struct KeccakSponge: Sendable {
    /// The 25 lanes of the state, little-endian.
    @usableFromInline
    var lanes: (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64
    ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// The rate in bytes (136 for SHAKE256 and SHA3-256, 168 for SHAKE128, 72 for SHA3-512).
    @usableFromInline
    let rate: Int

    /// The domain-separation bits and the first padding bit: 0x06 for SHA-3, 0x1F for SHAKE.
    @usableFromInline
    let suffix: UInt8

    /// While absorbing: bytes absorbed into the current block. While squeezing: bytes of the
    /// current block already handed out.
    @usableFromInline
    var position: Int = 0

    @usableFromInline
    var squeezing = false

    @usableFromInline
    init(rate: Int, suffix: UInt8) {
        precondition(rate > 0 && rate < 200 && rate % 8 == 0)
        self.rate = rate
        self.suffix = suffix
    }

    @inline(__always)
    @usableFromInline
    mutating func withLanes<R>(_ body: (UnsafeMutablePointer<UInt64>) throws -> R) rethrows -> R {
        try withUnsafeMutableBytes(of: &lanes) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: UInt64.self))
        }
    }

    /// Absorbs `input` into the sponge.
    @usableFromInline
    mutating func absorb(_ input: UnsafeRawBufferPointer) {
        precondition(!squeezing, "Keccak sponge: absorb after squeeze")
        guard var source = input.baseAddress, input.count > 0 else { return }
        var remaining = input.count
        let rate = self.rate
        var position = self.position
        withLanes { lanes in
            let stateBytes = UnsafeMutableRawPointer(lanes)
            // Finish a partly filled block.
            if position > 0 {
                let take = min(remaining, rate - position)
                Self.xor(take, from: source, into: stateBytes, at: position)
                position += take
                source += take
                remaining -= take
                if position == rate {
                    keccakF1600(lanes)
                    position = 0
                }
            }
            // Whole blocks, a lane at a time.
            let laneCount = rate / 8
            while remaining >= rate {
                for i in 0..<laneCount {
                    lanes[i] ^= UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                }
                keccakF1600(lanes)
                source += rate
                remaining -= rate
            }
            // The tail.
            Self.xor(remaining, from: source, into: stateBytes, at: position)
            position += remaining
        }
        self.position = position
    }

    /// XORs `count` bytes from `source` into the state at byte `offset`: byte by byte up to a lane
    /// boundary, then eight bytes at a time, then the remaining bytes. (XOR acts on each byte on its
    /// own, so the eight-byte steps do not depend on byte order.)
    @inline(__always)
    static func xor(_ count: Int, from source: UnsafeRawPointer, into state: UnsafeMutableRawPointer, at offset: Int) {
        var index = 0
        while index < count && (offset + index) & 7 != 0 {
            state.storeBytes(
                of: state.load(fromByteOffset: offset + index, as: UInt8.self) ^ source.load(fromByteOffset: index, as: UInt8.self),
                toByteOffset: offset + index, as: UInt8.self)
            index += 1
        }
        while count - index >= 8 {
            let lane = state.load(fromByteOffset: offset + index, as: UInt64.self)
                ^ source.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            state.storeBytes(of: lane, toByteOffset: offset + index, as: UInt64.self)
            index += 8
        }
        while index < count {
            state.storeBytes(
                of: state.load(fromByteOffset: offset + index, as: UInt8.self) ^ source.load(fromByteOffset: index, as: UInt8.self),
                toByteOffset: offset + index, as: UInt8.self)
            index += 1
        }
    }

    /// Pads the message and switches to squeezing.
    @usableFromInline
    mutating func finalizeAbsorb() {
        let rate = self.rate
        let position = self.position
        let suffix = self.suffix
        withLanes { lanes in
            let stateBytes = UnsafeMutableRawPointer(lanes).assumingMemoryBound(to: UInt8.self)
            stateBytes[position] ^= suffix
            stateBytes[rate - 1] ^= 0x80
            keccakF1600(lanes)
        }
        self.position = 0
        self.squeezing = true
    }

    /// Writes the next `output.count` bytes of the sponge's output into `output`.
    @usableFromInline
    mutating func squeeze(into output: UnsafeMutableRawBufferPointer) {
        if !squeezing { finalizeAbsorb() }
        guard var destination = output.baseAddress else { return }
        var remaining = output.count
        let rate = self.rate
        var position = self.position
        withLanes { lanes in
            let stateBytes = UnsafeRawPointer(lanes)
            while remaining > 0 {
                if position == rate {
                    keccakF1600(lanes)
                    position = 0
                }
                let take = min(remaining, rate - position)
                destination.copyMemory(from: stateBytes + position, byteCount: take)
                destination += take
                remaining -= take
                position += take
            }
        }
        self.position = position
    }

    /// Overwrites the state with zeros (for sponges that absorbed secrets) with ``secureZero(_:)``, so
    /// the optimizer cannot drop the stores, and returns the sponge to its initial, absorbing state.
    @usableFromInline
    mutating func wipe() {
        withUnsafeMutableBytes(of: &lanes) { secureZero($0) }
        position = 0
        squeezing = false
    }
}
