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
/// touching every byte either way.
@inlinable
public func constantTimeConditionalCopy(
    _ condition: UInt8,
    from source: UnsafeRawBufferPointer,
    to destination: UnsafeMutableRawBufferPointer
) {
    precondition(source.count == destination.count)
    let mask = constantTimeMask(condition)
    for i in 0..<source.count {
        destination[i] ^= mask & (destination[i] ^ source[i])
    }
}
