// The example of docs/embedding.md, compiled and run: two crypto servers in one process, the
// datagrams carried by hand and the clock moved by hand, as an app that embeds the protocol core
// does. Only public API (no @testable import); keep it the same as the document's.

import RosenpassCrypto
import RosenpassProtocol
import Testing

@Suite("Embedding the protocol core")
struct EmbeddingExampleTests {
    @Test("the example of docs/embedding.md: two servers exchange a key, driven only by datagrams and a clock")
    func documentedExample() throws {
        var entropy = SystemEntropy()
        let alice = ClassicMcEliece460896.generateKeyPair()
        let bob = ClassicMcEliece460896.generateKeyPair()

        var aliceServer = try CryptoServer(secretKey: alice.secretKey, publicKey: alice.publicKey, entropy: &entropy)
        let bobOnAlice = try aliceServer.addPeer(PeerConfiguration(publicKey: bob.publicKey, version: .v03))
        var bobServer = try CryptoServer(secretKey: bob.secretKey, publicKey: bob.publicKey, entropy: &entropy)
        _ = try bobServer.addPeer(PeerConfiguration(publicKey: alice.publicKey, version: .v03, initiates: false))

        // Alice's timers start the handshake: an InitHello for Bob.
        var now: Seconds = 0
        let first = aliceServer.poll(now: now, entropy: &entropy)
        var toBob = first.messages.filter { $0.peer == bobOnAlice }.map(\.message)
        var toAlice: [[UInt8]] = []
        var keys: [String: Secret] = [:]

        while keys.count < 2 && now < 5 {
            for datagram in toBob {  // InitHello, then InitConf
                let outcome = try bobServer.handle(datagram: datagram, from: [192, 0, 2, 1, 0x27, 0x0F], now: now, entropy: &entropy)
                if let reply = outcome.reply { toAlice.append(reply) }
                for case .keyExchanged(_, let key) in outcome.events { keys["bob"] = key }
            }
            toBob = []
            for datagram in toAlice {  // RespHello, then EmptyData
                let outcome = try aliceServer.handle(datagram: datagram, from: [192, 0, 2, 2, 0x27, 0x0F], now: now, entropy: &entropy)
                if let reply = outcome.reply { toBob.append(reply) }
                for case .keyExchanged(_, let key) in outcome.events { keys["alice"] = key }
            }
            toAlice = []
            now += 0.01
        }
        // keys["alice"] == keys["bob"]: hand it to WireGuard as the peer's pre-shared key.

        let aliceKey = try #require(keys["alice"])
        #expect(aliceKey == keys["bob"] && aliceKey.count == 32)
    }
}
