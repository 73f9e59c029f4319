// The two biscuit key slots and their rotation (`docs/protocol.md` §5.6).

import RosenpassCrypto

/// One biscuit key slot.
struct BiscuitKeySlot: Equatable, Sendable {
    var key: Secret
    var createdAt: Seconds
}

/// The responder's two biscuit keys.
///
/// A key issues biscuits for 300 s after it was made and decrypts them, whatever its age, until it
/// is erased at 600 s; so a biscuit stays valid for 300–600 s. The slot index travels in the top
/// bit of the biscuit nonce.
struct BiscuitKeyRing: Equatable, Sendable {
    private(set) var slots: [BiscuitKeySlot]

    /// Two slots holding random keys that were "never" created, so the first biscuit refills slot 1.
    init(using entropy: inout some HandshakeEntropy) {
        slots = (0..<2).map { _ in
            BiscuitKeySlot(key: .random(count: 32, for: .biscuitKey, using: &entropy), createdAt: TimerConstants.never)
        }
    }

    /// The slot and key for a new biscuit, rotating when the newest key is 300 s old.
    mutating func keyForIssuing(now: Seconds, using entropy: inout some HandshakeEntropy) -> (slot: Int, key: Secret) {
        let newest = slots[1].createdAt > slots[0].createdAt ? 1 : 0
        if now - slots[newest].createdAt < TimerConstants.biscuitEpoch {
            return (newest, slots[newest].key)
        }
        let other = 1 - newest
        slots[other] = BiscuitKeySlot(key: .random(count: 32, for: .biscuitKey, using: &entropy), createdAt: now)
        return (other, slots[other].key)
    }

    /// The key of `slot`, whatever its age.
    func key(slot: Int) -> Secret { slots[slot].key }

    /// Erases keys older than 600 s: a fresh random key, marked as never created.
    mutating func eraseExpired(now: Seconds, using entropy: inout some HandshakeEntropy) {
        for index in slots.indices where slots[index].createdAt != TimerConstants.never
            && reached(slots[index].createdAt + 2 * TimerConstants.biscuitEpoch, now)
        {
            slots[index] = BiscuitKeySlot(key: .random(count: 32, for: .biscuitKey, using: &entropy), createdAt: TimerConstants.never)
        }
    }

    /// When the next key erasure is due.
    var nextErasure: Seconds {
        slots.filter { $0.createdAt != TimerConstants.never }.map { $0.createdAt + 2 * TimerConstants.biscuitEpoch }.min()
            ?? .infinity
    }

    /// Overwrites a slot (test-vector replays inject the recorded keys).
    mutating func inject(slot: Int, key: Secret, createdAt: Seconds) {
        slots[slot] = BiscuitKeySlot(key: key, createdAt: createdAt)
    }
}
