// Replays recorded handshakes through two crypto servers and checks every Output byte for byte.

import Foundation
import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

@Suite("Handshake vector replay")
struct HandshakeVectorReplayTests {
    /// The symmetric part of every vector: the servers run the whole handshake; only the KEM
    /// decapsulations are answered from the vector's own encapsulations (the vector records them,
    /// and the full replay below checks them with the real KEMs).
    @Test("every chaining key, biscuit, message and output key of each vector (recorded KEM outputs)")
    func replaySymmetricPart() throws {
        let urls = try VectorReplay.allVectorURLs()
        #expect(urls.count >= 3, "the V03 reference vector and the generated V02 round-4 and round-3 vectors")
        for url in urls {
            let vector = try HandshakeVector.load(url)
            let result = try VectorReplay.replay(vector, realKEMs: nil)
            #expect(result.messages.count == 4, "\(url.lastPathComponent): expected four messages")
            try VectorReplay.check(vector, result, name: url.lastPathComponent)
        }
    }

    /// The full replay: the same, with every decapsulation done by the real Kyber-512 and Classic
    /// McEliece code on the recorded secret keys (the round-3 vector through the round-3 layout).
    @Test("every Output of each vector with real KEM decapsulation")
    func replayWithRealKEMs() throws {
        for url in try VectorReplay.allVectorURLs() {
            let vector = try HandshakeVector.load(url)
            let result = try VectorReplay.replay(vector, realKEMs: StandardKEMs())
            #expect(result.messages.count == 4, "\(url.lastPathComponent): expected four messages")
            try VectorReplay.check(vector, result, name: url.lastPathComponent)
        }
    }

    @Test("the reference vector is V03, round 4, and its messages have the round-4 lengths")
    func referenceVectorShape() throws {
        let vector = try HandshakeVector.load(Fixtures.url("crypto_server_v03.json"))
        #expect(try vector.version == .v03)
        #expect(try vector.entry("TestCaseValues.peer_a_sk").bytes.count == 13_608)
        #expect(vector.entries("TestCaseValues.message").map { $0.bytes.count } == [1060, 1100, 176, 64])
    }

    @Test("a vector with one altered Output byte fails the check")
    func alteredVectorIsDetected() throws {
        let url = Fixtures.url("crypto_server_v03.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var entries = json["entries"] as! [[String: Any]]
        let target = entries.firstIndex { ($0["hook"] as! [String: Any])["set_field"] as? String == "HandleInitHelloTestValues.chaining_key_rhr_5" }!
        var value = Array((entries[target]["value"] as! String))
        value[0] = value[0] == "0" ? "1" : "0"
        entries[target]["value"] = String(value)
        json["entries"] = entries
        let vector = try JSONDecoder().decode(HandshakeVector.self, from: JSONSerialization.data(withJSONObject: json))
        let result = try VectorReplay.replay(vector, realKEMs: nil)
        let recorded = vector.entries[target].value
        #expect(result.traceB[.rhr5ChainingKey].map(Hex.encode) != recorded)
    }
}
