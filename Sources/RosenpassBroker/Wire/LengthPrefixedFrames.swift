// Length-prefixed framing: a u64 little-endian length, then that many bytes (docs/components.md §1.1).

import RosenpassSystem

/// Encoding of broker frames.
public enum LengthPrefixedFrames {
    /// `payload` with its 8-byte little-endian length in front.
    public static func encode<Bytes: Collection<UInt8>>(_ payload: Bytes) -> [UInt8] {
        var frame = lengthPrefix(payload.count)
        frame.append(contentsOf: payload)
        return frame
    }

    /// The 8-byte little-endian length prefix for a payload of `length` bytes.
    public static func lengthPrefix(_ length: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt64(length).littleEndian) { Array($0) }
    }
}

/// What ``FrameDecoder/nextFrame(_:)`` found.
public enum DecodedFrame<Payload> {
    /// A complete frame; the value is what the caller's closure made of its payload.
    case payload(Payload)
    /// A frame longer than the decoder accepts. Its bytes are skipped as they arrive, so the stream
    /// stays in step and the caller can answer with an error and go on (docs/components.md §1.5 fix).
    case oversized(length: UInt64)
}

/// Reassembles length-prefixed frames from a byte stream that arrives in arbitrary pieces.
///
/// Feed it whatever `read(2)` returned with ``append(_:)`` or ``readInto(_:)``, then take complete
/// frames with ``nextFrame(_:)`` until it returns `nil` ("no complete frame yet").
///
/// A header announcing more than `maximumPayload` but at most `discardLimit` bytes is reported once as
/// ``DecodedFrame/oversized(length:)`` and its payload is skipped, so the peer can get an error answer
/// and the connection stays usable. A header beyond `discardLimit` cannot be a real frame: that is
/// thrown as ``BrokerError/frameTooLarge(length:limit:)`` and the connection should be closed. Every
/// byte the decoder held is zeroed once consumed or on ``reset()``, because request frames carry PSKs.
public struct FrameDecoder: ~Copyable {
    /// The largest payload accepted: 324 for requests, 5 for responses (docs/components.md §1.1).
    public let maximumPayload: Int
    /// The largest oversized frame that is skipped rather than treated as a broken stream.
    public let discardLimit: UInt64
    private var buffer: UnsafeMutableRawBufferPointer
    private var count = 0
    private var pendingDiscard: UInt64 = 0

    /// Creates a decoder that accepts payloads of at most `maximumPayload` bytes and skips oversized
    /// frames of up to `discardLimit` bytes.
    public init(maximumPayload: Int, discardLimit: UInt64 = 65536) {
        self.maximumPayload = maximumPayload
        self.discardLimit = max(discardLimit, UInt64(maximumPayload))
        buffer = .allocate(byteCount: max(2 * (maximumPayload + BrokerWire.lengthPrefixSize), 4096), alignment: 8)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        wipe(buffer)
        buffer.deallocate()
    }

    /// How many bytes are buffered and not yet returned as a frame.
    public var bufferedByteCount: Int { count }

    /// How many bytes the decoder can take before ``nextFrame(_:)`` must be called.
    public var freeCapacity: Int { buffer.count - count }

    /// Appends bytes read from the stream. Call ``nextFrame(_:)`` when ``freeCapacity`` is too small.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count <= freeCapacity, "FrameDecoder overflow: take frames before appending more")
        UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + bytes.count)]).copyMemory(from: bytes)
        count += bytes.count
        discardPending()
    }

    /// Appends bytes read from the stream.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Lets `body` read directly into the free space (for example with `read(2)`); `body` returns how
    /// many bytes it stored (0 at end of stream), and that value is returned.
    public mutating func readInto(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        let free = UnsafeMutableRawBufferPointer(rebasing: buffer[count...])
        let stored = try body(free)
        if stored > 0 {
            count += stored
            discardPending()
        }
        return stored
    }

    /// The length announced by the buffered header, if the 8 header bytes are complete.
    public var announcedLength: UInt64? {
        guard count >= BrokerWire.lengthPrefixSize else { return nil }
        var length: UInt64 = 0
        for index in 0..<8 { length |= UInt64(buffer[index]) << (8 * UInt64(index)) }
        return length
    }

    /// Takes the next complete frame and passes its payload to `body`. The payload bytes are zeroed
    /// right after `body` returns, so `body` must copy whatever it keeps.
    ///
    /// - Returns: the frame, an oversized-frame notice, or `nil` when no complete frame is buffered yet.
    /// - Throws: ``BrokerError/frameTooLarge(length:limit:)`` when the header exceeds `discardLimit`;
    ///   the stream cannot be trusted after that.
    public mutating func nextFrame<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> DecodedFrame<R>? {
        guard pendingDiscard == 0, let length = announcedLength else { return nil }
        if length > UInt64(maximumPayload) {
            guard length <= discardLimit else {
                throw BrokerError.frameTooLarge(length: length, limit: maximumPayload)
            }
            consume(BrokerWire.lengthPrefixSize)
            pendingDiscard = length
            discardPending()
            return .oversized(length: length)
        }
        let total = BrokerWire.lengthPrefixSize + Int(length)
        guard count >= total else { return nil }
        defer { consume(total) }
        return .payload(try body(UnsafeRawBufferPointer(rebasing: buffer[BrokerWire.lengthPrefixSize..<total])))
    }

    /// Drops everything buffered, zeroing it.
    public mutating func reset() {
        wipe(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        count = 0
        pendingDiscard = 0
    }

    private mutating func discardPending() {
        guard pendingDiscard > 0 else { return }
        let dropped = Int(min(pendingDiscard, UInt64(count)))
        consume(dropped)
        pendingDiscard -= UInt64(dropped)
    }

    private mutating func consume(_ bytes: Int) {
        let rest = count - bytes
        if rest > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[0..<rest])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[bytes..<count]))
        }
        wipe(UnsafeMutableRawBufferPointer(rebasing: buffer[rest..<count]))
        count = rest
    }
}
