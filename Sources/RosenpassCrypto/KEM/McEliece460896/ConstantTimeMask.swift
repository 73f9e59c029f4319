// Keeping masks masks: an optimisation barrier for the constant-time code of this folder.

/// Returns `mask` unchanged, through a call the optimiser cannot look into.
///
/// Constant-time code selects with masks that are all ones or all zeros (`x & mask`). When the
/// compiler can prove that a value is such a mask it treats it as a boolean again: it unswitches
/// loops on it, turns `x & mask` into a select, and may lower a select between two loads into a load
/// from a selected address, all of which leak the secret through timing. (Observed with Swift 6.3's
/// LLVM: the masked row additions of Gaussian elimination became a branch on the pivot bit, and a
/// masked copy became a load from a selected address.) A value that comes back from a function the
/// optimiser may not analyse (`@_optimize(none)`, never inlined) is an arbitrary 64-bit number to
/// it, so the masked arithmetic stays arithmetic.
///
/// Use it on every mask derived from secret data before the mask is applied, at least wherever the
/// mask is loop-invariant or selects between loaded values.
@inline(never)
@_optimize(none)
func opaqueMask(_ mask: UInt64) -> UInt64 {
    mask
}

/// All ones when `bit` (0 or 1) is 1, zero when it is 0, hidden from the optimiser.
@inline(__always)
func opaqueMask(bit: UInt64) -> UInt64 {
    opaqueMask(0 &- (bit & 1))
}

/// Makes the optimiser forget what `words` holds, so that masks stored there and loaded later are
/// arbitrary values to it (the memory form of ``opaqueMask(_:)``, one call for a whole array).
///
/// The body is not optimised and writes through the pointer, so every caller has to assume the
/// memory behind it changed.
@inline(never)
@_optimize(none)
func opaqueMasks(_ words: UnsafeMutablePointer<UInt64>, count: Int) {
    if count > 0 { words[0] = words[0] }
}

/// ``opaqueMasks(_:count:)`` for 32-bit masks.
@inline(never)
@_optimize(none)
func opaqueMasks(_ words: UnsafeMutablePointer<UInt32>, count: Int) {
    if count > 0 { words[0] = words[0] }
}
