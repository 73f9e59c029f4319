// Loading the public keys of many peers at start-up (docs/scaling.md).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassProtocol
import Synchronization
import RosenpassSystem

/// Reads each peer's public key once, computes its peer id, and keeps only the id, a short sample
/// and the file to read the key from again: 10,000 peers' keys are 5.2 GB, their ids 320 KB.
///
/// The work (a read and a pass of the keyed hash over 512 KiB per peer) runs on two threads when
/// there are many peers. Errors are returned per peer, so the caller reports the first one in
/// configuration order, as a sequential load would.
enum PeerKeyLoading {
    /// One peer's key, loaded.
    struct Loaded: Sendable {
        var publicKey: PeerPublicKey
        /// Bytes from the start, middle and end of the key: keys with different samples differ, and
        /// the few with equal samples are compared whole.
        var sample: Sample
        /// Whether it is our own public key.
        var isOurs: Bool
    }

    /// See ``Loaded/sample``.
    struct Sample: Hashable, Sendable {
        var bytes: [UInt8]

        init(_ key: [UInt8]) {
            let middle = key.count / 2
            bytes = Array(key.prefix(32)) + Array(key[middle..<min(key.count, middle + 32)]) + Array(key.suffix(32))
        }
    }

    /// With fewer peers, one thread loads them all.
    static let parallelFrom = 64

    /// Loads the keys of `peers`; `ownKey` is our public key, to notice a peer that has it.
    static func load(_ peers: [PeerSettings], ownKey: [UInt8]?) -> [Result<Loaded, AppError>] {
        let results = ResultSlots(count: peers.count)
        let work: @Sendable (Int) -> Void = { index in
            results.set(index, Result { () throws(AppError) in try loadOne(peers[index], ownKey: ownKey) })
        }
        var helper: JoinableThread?
        if peers.count >= parallelFrom {
            helper = try? JoinableThread.start("key loading") {
                for index in stride(from: 1, to: peers.count, by: 2) { work(index) }
            }
        }
        for index in stride(from: 0, to: peers.count, by: helper == nil ? 1 : 2) { work(index) }
        helper?.join()
        return results.values
    }

    private static func loadOne(_ peer: PeerSettings, ownKey: [UInt8]?) throws(AppError) -> Loaded {
        let (bytes, file) = try PublicKeyFile.open(peer.publicKeyPath)
        let version = peer.protocolVersion
        let key = file.map { PeerPublicKey(bytes: bytes, readAgainFrom: $0, version: version) }
            ?? PeerPublicKey(bytes: bytes, version: version)
        return Loaded(publicKey: key, sample: Sample(bytes), isOurs: ownKey == bytes)
    }

    /// Whether the two files hold the same public key.
    static func sameKey(_ first: String, _ second: String) throws(AppError) -> Bool {
        try StaticKeyFiles.loadPublicKey(first) == StaticKeyFiles.loadPublicKey(second)
    }

    /// One result per peer, filled from two threads.
    private final class ResultSlots: Sendable {
        private let slots: Mutex<[Result<Loaded, AppError>?]>

        init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }

        func set(_ index: Int, _ result: Result<Loaded, AppError>) { slots.withLock { $0[index] = result } }

        var values: [Result<Loaded, AppError>] { slots.withLock { $0.map { $0! } } }
    }
}
