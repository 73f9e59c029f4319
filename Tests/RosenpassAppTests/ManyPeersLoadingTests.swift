// Peers' public keys read from their files when needed, and loading many of them (docs/scaling.md).

import Foundation
import RosenpassCrypto
import RosenpassProtocol
import RosenpassTestSupport
import Testing

@testable import RosenpassApp

@Suite("Public key files read when needed")
struct PublicKeyFileTests {
    static func randomKey() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<McElieceVariant.publicKeyCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    @Test("an unchanged file reads as unchanged; one written again may have changed; a truncated or removed one is an error naming it")
    func identity() throws {
        let folder = TemporaryFolder()
        let key = Self.randomKey()
        let path = folder.write("peer.pk", key, mode: 0o644)
        let (bytes, file) = try PublicKeyFile.open(path)
        let source = try #require(file)
        #expect(bytes == key)
        let first = try source.read()
        #expect(first.bytes == key && !first.mayHaveChanged)

        usleep(10_000)  // a later modification time
        _ = folder.write("peer.pk", key, mode: 0o644)
        let rewritten = try source.read()
        #expect(rewritten.bytes == key && rewritten.mayHaveChanged)

        _ = folder.write("peer.pk", Array(key.prefix(1000)), mode: 0o644)
        #expect(throws: PublicKeyReadError.self) { try source.read() }
        let message = errorText { _ = try source.read() }
        #expect(message.contains(path) && message.contains("1000"), "\(message)")
        unlink(path)
        #expect(throws: PublicKeyReadError.self) { try source.read() }
    }

    @Test("the server refuses a key file rewritten with another key, and takes it back once it holds the key again")
    func rewrittenWithAnotherKey() throws {
        let folder = TemporaryFolder()
        let key = Self.randomKey()
        let path = folder.write("peer.pk", key, mode: 0o644)
        let (bytes, file) = try PublicKeyFile.open(path)
        let publicKey = PeerPublicKey(bytes: bytes, readAgainFrom: try #require(file), version: .v02)
        #expect(!publicKey.isInMemory)
        var entropy = SystemEntropy()
        let (ourPublic, ourSecret) = try Self.ourKeys()
        var server = try CryptoServer(secretKey: ourSecret, publicKey: ourPublic, entropy: &entropy)
        let peer = try server.addPeer(PeerConfiguration(key: publicKey))

        var other = key
        other[1000] ^= 0xFF
        usleep(10_000)
        _ = folder.write("peer.pk", other, mode: 0o644)
        do {
            _ = try server.initiateHandshake(with: peer, now: 0, entropy: &entropy)
            Issue.record("a handshake started with another key")
        } catch {
            #expect(error.reason == .publicKeyUnavailable && error.detail.contains("reload"))
        }
        _ = folder.write("peer.pk", key, mode: 0o644)
        #expect(throws: Never.self) { try server.initiateHandshake(with: peer, now: 1, entropy: &entropy) }
    }

    static func ourKeys() throws -> ([UInt8], SecretBytes) {
        let pair = try ClassicMcEliece460896.generateKeyPair()
        return (pair.publicKey, pair.secretKey)
    }
}

@Suite("Loading many peers")
struct ManyPeersLoadingTests {
    @Test("70 peers load on two threads: ids as computed in memory, keys not kept, duplicates found even when samples agree")
    func loadMany() throws {
        let folder = TemporaryFolder()
        var keys: [[UInt8]] = []
        var peers: [PeerSettings] = []
        for index in 0..<70 {
            var key = PublicKeyFileTests.randomKey()
            if index == 5 {  // the same samples as peer 4's key, another key
                key = keys[4]
                key[100_000] ^= 1
            }
            keys.append(key)
            let path = folder.write("peer-\(index).pk", key, mode: 0o644)
            peers.append(PeerSettings(publicKeyPath: path, keyOut: folder.file("out-\(index)"), protocolVersion: index % 2 == 0 ? .v02 : .v03))
        }
        let loaded = try Configuration(peers: peers).load()
        #expect(loaded.peers.count == 70)
        for (index, peer) in loaded.peers.enumerated() {
            #expect(!peer.publicKey.isInMemory)
            #expect(peer.publicKey == PeerPublicKey(bytes: keys[index], version: peers[index].protocolVersion))
        }

        var withDuplicate = peers
        withDuplicate.append(PeerSettings(publicKeyPath: folder.write("copy.pk", keys[37], mode: 0o644), keyOut: folder.file("out-copy")))
        #expect(throws: AppError.self) { try Configuration(peers: withDuplicate).load() }
        #expect(errorText { _ = try Configuration(peers: withDuplicate).load() }.contains("peer 70 has the same public key as peer 37"))

        var broken = peers
        broken[41].publicKeyPath = folder.file("missing.pk")
        let missing = errorText { _ = try Configuration(peers: broken).load() }
        #expect(missing.contains("peer 41") && missing.contains("missing.pk"), "\(missing)")
    }
}
