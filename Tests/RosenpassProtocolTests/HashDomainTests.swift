// Hash domains, the precomputed constants of both versions and the OSK separators (docs/protocol.md §2, Appendix A).

import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

@Suite("Hash domains")
struct HashDomainTests {
    struct DomainCase: Decodable {
        let version: String
        let labels: [String]
        let value: String
    }

    /// Appendix A of docs/protocol.md, both versions, as a JSON fixture.
    @Test("Appendix A constants for V02 and V03")
    func appendixA() throws {
        let cases = try Fixtures.json([DomainCase].self, "domain-constants.json")
        #expect(cases.count == 32)
        for item in cases {
            let version = try #require(ProtocolVersion(rawValue: item.version))
            var domain = HashDomain.root(version)
            for label in item.labels { domain = domain.adding(label) }
            #expect(Hex.encode(domain.value) == item.value, "\(item.version) \(item.labels)")
        }
    }

    @Test("the cached constants equal the label chains")
    func cachedConstants() throws {
        for version in ProtocolVersion.allCases {
            let constants = DomainConstants.of(version)
            let extract = HashDomain.labels(version, "chaining key extract")
            #expect(constants.mix == extract.adding("mix").value)
            #expect(constants.handshakeEncryption == extract.adding("handshake encryption").value)
            #expect(constants.initiatorEncryption == extract.adding("initiator handshake encryption").value)
            #expect(constants.responderEncryption == extract.adding("responder handshake encryption").value)
            #expect(constants.mac == HashDomain.labels(version, "mac"))
        }
        #expect(DomainConstants.cookies.version == .v03)
    }

    @Test("the default OSK separator is rosenpass.eu / wireguard psk; custom ones hash each label")
    func outputKeySeparators() {
        #expect(
            Hex.encode(OutputKeyDomainSeparator.wireGuardPSK.compressed(.v03))
                == "c1ebe9d9c7da6409587dad055da222ac4bffd30ec3c99963e54231f73cdf8ebe")
        #expect(
            Hex.encode(OutputKeyDomainSeparator.wireGuardPSK.compressed(.v02))
                == "0cf2591fd46ab229d5df5a72688ce75801e8e6b8673755189cc36482a7cac9c0")
        let custom = OutputKeyDomainSeparator(organization: "myorg.com", labels: ["My Custom Messenger app"])
        #expect(Hex.encode(custom.compressed(.v03)) == "8404bba251e247f17fe365d851555b9119e03e8866f934d23237be49851769f3")
        let split = OutputKeyDomainSeparator(organization: "x", labels: ["a", "b"])
        let joined = OutputKeyDomainSeparator(organization: "x", labels: ["ab"])
        #expect(split.compressed(.v03) != joined.compressed(.v03))
        #expect(OutputKeyDomainSeparator(organization: "x", labels: []).compressed(.v03) == DomainConstants.of(.v03).user.adding("x").value)
    }

    @Test("mix is two keyed-hash calls under the MIX constant")
    func mixDefinition() {
        for version in ProtocolVersion.allCases {
            let start = [UInt8](repeating: 7, count: 32)
            var chain = ChainingKey(start: start, version: version)
            chain.mix([1, 2, 3])
            let inner = version.hash(key: start, data: DomainConstants.of(version).mix)
            let expected = version.hash(key: inner, data: [1, 2, 3])
            #expect(chain.value == Secret(copying: expected))
        }
    }

    @Test("decrypt_and_mix undoes encrypt_and_mix and mixes the ciphertext; a bad tag leaves the chain")
    func encryptDecrypt() throws {
        for version in ProtocolVersion.allCases {
            var sender = ChainingKey(start: [UInt8](repeating: 1, count: 32), version: version)
            var receiver = sender
            let ciphertext = [UInt8]("peer id 32 bytes of plaintext...".utf8).withUnsafeBytes { sender.encryptAndMix($0) }
            #expect(ciphertext.count == 48)
            var tampered = ciphertext
            tampered[47] ^= 1
            let before = receiver
            #expect(throws: ProtocolError.self) { try receiver.decryptAndMix(tampered, what: "test") }
            #expect(receiver == before)
            let plaintext = try receiver.decryptAndMix(ciphertext, what: "test")
            #expect(plaintext == Secret(copying: Array("peer id 32 bytes of plaintext...".utf8)))
            #expect(receiver == sender)
        }
    }
}
