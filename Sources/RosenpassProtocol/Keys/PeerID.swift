// Peer ids (`docs/protocol.md` §7).

import Foundation

/// A peer id: `lhash(ver, "peer id", spk)`, 32 bytes, under the version configured for the peer.
///
/// The daemon prints it as standard base64 (``base64``), as the reference does.
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes.
    public let bytes: [UInt8]

    init(bytes: [UInt8]) {
        precondition(bytes.count == 32)
        self.bytes = bytes
    }

    /// Standard base64 with padding.
    public var base64: String { Data(bytes).base64EncodedString() }

    public var description: String { base64 }
}
