// Comparisons and selections whose running time does not depend on secret data.

/// Returns whether `lhs` and `rhs` hold the same bytes, in time that depends only on their lengths.
///
/// Lengths are treated as public: buffers of different lengths compare unequal at once.
@inlinable
public func constantTimeEquals(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<lhs.count {
        difference |= lhs[i] ^ rhs[i]
    }
    return constantTimeIsZero(difference)
}

/// Returns whether two byte sequences are equal, in time that depends only on their lengths.
@inlinable
public func constantTimeEquals<A: Sequence<UInt8>, B: Sequence<UInt8>>(_ lhs: A, _ rhs: B) -> Bool {
    withContiguousBytes(of: lhs) { left in
        withContiguousBytes(of: rhs) { right in
            constantTimeEquals(left, right)
        }
    }
}

/// Returns whether `value` is zero without a data-dependent branch on its bits.
@inlinable
func constantTimeIsZero(_ value: UInt8) -> Bool {
    // (value - 1) has bit 8 set exactly when value == 0.
    let wide = UInt32(value)
    return ((wide &- 1) >> 8) & 1 == 1
}

/// Returns an all-ones mask when `condition` is 1 and zero when it is 0.
@inlinable
public func constantTimeMask(_ condition: UInt8) -> UInt8 {
    0 &- (condition & 1)
}

/// Copies `source` over `destination` when `condition` is 1 and leaves it unchanged when it is 0,
/// reading both buffers in full either way.
///
/// The mask goes through ``opaqueMask(_:)-(UInt8)`` first: without it the optimizer proves the mask is
/// 0 or all ones and turns the blend into one load from an address chosen by the secret condition
/// (observed with Swift 6.3 on x86-64: a `cmove` of the pointer).
@inline(never)
public func constantTimeConditionalCopy(
    _ condition: UInt8,
    from source: UnsafeRawBufferPointer,
    to destination: UnsafeMutableRawBufferPointer
) {
    precondition(source.count == destination.count)
    let mask = opaqueMask(constantTimeMask(condition))
    for i in 0..<source.count {
        destination[i] ^= mask & (destination[i] ^ source[i])
    }
}

// MARK: - Keeping masks masks

// Constant-time code selects with masks that are all ones or all zeros (`x & mask`). When the compiler
// can prove that a value is such a mask it treats it as a boolean again: it unswitches loops on it,
// turns `x & mask` into a select, and may lower a select between two loads into a load from a selected
// address, all of which leak the secret through timing. (Observed with Swift 6.3's LLVM: the masked row
// additions of McEliece's Gaussian elimination became a branch on the pivot bit, and masked copies in
// Kyber and here became loads from a selected address.) A value that comes back from a function the
// optimizer may not analyse (`@_optimize(none)`, never inlined) is an arbitrary number to it, so the
// masked arithmetic stays arithmetic. Apply these to every mask derived from secret data before the
// mask is used, at least wherever it is loop-invariant or selects between loaded values.

/// Returns `mask` unchanged, through a call the optimizer cannot look into.
@inline(never)
@_optimize(none)
@usableFromInline
func opaqueMask(_ mask: UInt64) -> UInt64 {
    mask
}

/// Returns `mask` unchanged, through a call the optimizer cannot look into.
@inline(never)
@_optimize(none)
@usableFromInline
func opaqueMask(_ mask: UInt8) -> UInt8 {
    mask
}

/// All ones when `bit` (0 or 1) is 1, zero when it is 0, hidden from the optimizer.
@inline(__always)
@usableFromInline
func opaqueMask(bit: UInt64) -> UInt64 {
    opaqueMask(0 &- (bit & 1))
}

/// Makes the optimizer forget what `words` holds, so that masks stored there and loaded later are
/// arbitrary values to it (the memory form of ``opaqueMask(_:)-(UInt64)``, one call for a whole array).
///
/// The body is not optimized and writes through the pointer, so every caller has to assume the memory
/// behind it changed.
@inline(never)
@_optimize(none)
@usableFromInline
func opaqueMasks(_ words: UnsafeMutablePointer<UInt64>, count: Int) {
    if count > 0 { words[0] = words[0] }
}

/// ``opaqueMasks(_:count:)-(UnsafeMutablePointer<UInt64>,_)`` for 32-bit masks.
@inline(never)
@_optimize(none)
@usableFromInline
func opaqueMasks(_ words: UnsafeMutablePointer<UInt32>, count: Int) {
    if count > 0 { words[0] = words[0] }
}
