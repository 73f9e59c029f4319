// A peer's static public key as the crypto server holds it: in memory, or read again from where it
// is stored whenever a handshake needs it (docs/scaling.md).

import RosenpassCrypto

/// Reads a peer's public key whenever a handshake needs it, so that a server with thousands of peers
/// does not keep 512 KiB per peer in memory. The daemon's implementation reads the key file.
///
/// A source does no checking of its own beyond reading: it reports whether the bytes may have changed
/// since the source was made (a file written since), and the server then compares them with the
/// peer id it computed at the start before it uses them.
public protocol PublicKeySource: Sendable, CustomStringConvertible {
    /// Reads the key.
    ///
    /// - Throws: ``PublicKeyReadError`` when the key cannot be read (the file is gone, unreadable, ...).
    func read() throws(PublicKeyReadError) -> PublicKeyRead
}

/// What a ``PublicKeySource`` read.
public struct PublicKeyRead: Sendable {
    /// The key's bytes.
    public var bytes: [UInt8]
    /// Whether the bytes may differ from those the source held when it was made; the server then
    /// checks them against the peer's id before use.
    public var mayHaveChanged: Bool

    public init(bytes: [UInt8], mayHaveChanged: Bool) {
        self.bytes = bytes
        self.mayHaveChanged = mayHaveChanged
    }
}

/// Why a ``PublicKeySource`` could not read its key.
public struct PublicKeyReadError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, naming the file.
    public var detail: String

    public init(_ detail: String) { self.detail = detail }

    public var description: String { detail }
}

/// A peer's static Classic McEliece public key and its peer id under the peer's protocol version.
///
/// Made once per peer, outside the server if need be (several can be made in parallel): the peer id
/// is the one digest the server needs before the first handshake, to recognise the peer's InitHellos.
/// The other digests of the key are computed by the server when the first handshake needs them.
public struct PeerPublicKey: Sendable, Equatable {
    enum Storage: Sendable {
        case inMemory([UInt8])
        case source(any PublicKeySource)
    }

    let storage: Storage
    /// The protocol version the peer id is computed under.
    public let version: ProtocolVersion
    /// `lhash(ver, "peer id", spk)`.
    public let peerID: PeerID
    /// The size of the key as first read; the server refuses any but 524160.
    let byteCount: Int

    /// A key kept in memory.
    public init(bytes: [UInt8], version: ProtocolVersion) {
        storage = .inMemory(bytes)
        self.version = version
        byteCount = bytes.count
        peerID = PeerID(bytes: DomainConstants.of(version).peerID.adding(bytes).value)
    }

    /// A key read once from `source` now, to compute its peer id, and again whenever a handshake
    /// needs it.
    ///
    /// - Throws: ``ProtocolError`` of kind `invalidConfiguration` when the source cannot be read or
    ///   does not hold a key of 524160 bytes.
    public init(source: some PublicKeySource, version: ProtocolVersion) throws(ProtocolError) {
        let read: PublicKeyRead
        do {
            read = try source.read()
        } catch {
            throw .invalidConfiguration(error.detail)
        }
        guard read.bytes.count == McElieceVariant.publicKeyCount else {
            throw .invalidConfiguration(
                "\(source): a public key must be \(McElieceVariant.publicKeyCount) bytes, got \(read.bytes.count)")
        }
        self.init(bytes: read.bytes, readAgainFrom: source, version: version)
    }

    /// A key whose bytes were just read from `source`: the peer id is computed from them, and the
    /// key is read from `source` again whenever a handshake needs it.
    public init(bytes: [UInt8], readAgainFrom source: some PublicKeySource, version: ProtocolVersion) {
        storage = .source(source)
        self.version = version
        byteCount = bytes.count
        peerID = PeerID(bytes: DomainConstants.of(version).peerID.adding(bytes).value)
    }

    /// Whether the key's bytes stay in memory (otherwise they are read from a ``PublicKeySource``).
    public var isInMemory: Bool {
        if case .inMemory = storage { return true }
        return false
    }

    /// The key's bytes: from memory, or read from the source and, when they may have changed,
    /// checked against ``peerID``.
    ///
    /// - Throws: ``ProtocolError`` with reason ``DropReason/publicKeyUnavailable`` when the source
    ///   fails or now holds another key.
    func bytes() throws(ProtocolError) -> [UInt8] {
        switch storage {
        case .inMemory(let bytes):
            return bytes
        case .source(let source):
            let read: PublicKeyRead
            do {
                read = try source.read()
            } catch {
                throw .publicKeyUnavailable("cannot read the peer's public key: \(error.detail)")
            }
            guard read.bytes.count == McElieceVariant.publicKeyCount else {
                throw .publicKeyUnavailable(
                    "\(source) now holds \(read.bytes.count) bytes, not a public key; restore it or reload the configuration")
            }
            if read.mayHaveChanged && PeerID(bytes: DomainConstants.of(version).peerID.adding(read.bytes).value) != peerID {
                throw .publicKeyUnavailable(
                    "\(source) holds another key than when it was loaded; reload the configuration to use the new key")
            }
            return read.bytes
        }
    }

    /// Equal when the peer ids under the same version are: the same key.
    public static func == (lhs: PeerPublicKey, rhs: PeerPublicKey) -> Bool {
        lhs.version == rhs.version && lhs.peerID == rhs.peerID && lhs.byteCount == rhs.byteCount
    }
}
