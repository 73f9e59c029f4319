// Known answers for the two Rosenpass keyed hashes (docs/protocol.md §1.5) and the hash domains built from
// them (§2.1, Appendix A).
//
// Fixtures (written by scripts/fixtures/generate-symmetric-fixtures.py):
//   keyed-hash-protocol.json   §1.5: V02, V03 and the plain keyed BLAKE2b-256 step, key 0^32, data 0xFF^32
//   keyed-hash-domains.json    Appendix A: root and lhash(...) constants for V02 and V03
//   keyed-hash-lengths.json    hashlib: V02 and V03 over data of many lengths, up to 524160 bytes

import RosenpassCrypto
import RosenpassTestSupport
import Testing

/// A case of `keyed-hash-protocol.json` and `keyed-hash-lengths.json`.
struct KeyedHashCase: Decodable, CustomStringConvertible {
    let function: String
    let key: String
    let data: String?
    let inputLength: Int?
    let output: String

    var message: [UInt8] { data.map(Hex.decode) ?? generatedInput(count: inputLength ?? 0) }
    var description: String { "\(function) over \(data.map { $0.count / 2 } ?? inputLength ?? 0) bytes" }
}

/// A case of `keyed-hash-domains.json`: `lhash(version, labels...)`.
struct HashDomainCase: Decodable, CustomStringConvertible {
    let version: String
    let labels: [String]
    let output: String
    var description: String { "\(version) lhash\(labels)" }
}

@Suite("Rosenpass keyed hashes (docs/protocol.md §1.5)")
struct KeyedHashTests {
    func function(named name: String) throws -> KeyedHash {
        switch name {
        case "v02": return .incorrectHMACBlake2b
        case "v03": return .shake256
        default: throw FixtureError("unknown keyed hash \(name)")
        }
    }

    @Test("the known answers of docs/protocol.md §1.5")
    func protocolAnswers() throws {
        let cases = try KnownAnswers<KeyedHashCase>.load("keyed-hash-protocol.json")
        #expect(Set(cases.map(\.function)) == ["v02", "v03", "blake2b-256"])
        for known in cases {
            let key = Hex.decode(known.key)
            let output: [UInt8]
            if known.function == "blake2b-256" {
                output = BLAKE2b.hash(known.message, digestCount: 32, key: key)
            } else {
                output = try function(named: known.function).hash(key: key, data: known.message)
            }
            #expect(Hex.encode(output) == known.output, "\(known)")
        }
    }

    @Test("Appendix A: root(ver) and every lhash(ver, labels...) constant, recomputed label by label")
    func hashDomains() throws {
        let cases = try KnownAnswers<HashDomainCase>.load("keyed-hash-domains.json")
        let protocolStrings = [
            "v02": "Rosenpass v1 mceliece460896 Kyber512 ChaChaPoly1305 BLAKE2s",
            "v03": "Rosenpass v1 mceliece460896 Kyber512 ChaChaPoly1305 SHAKE256",
        ]
        #expect(cases.filter { $0.version == "v02" }.count == 16)
        #expect(cases.filter { $0.version == "v03" }.count == 17)
        for known in cases {
            let hash = try function(named: known.version)
            let protocolString = try #require(protocolStrings[known.version])
            var value = hash.hash(key: [UInt8](repeating: 0, count: 32), data: Array(protocolString.utf8))
            for label in known.labels {
                value = hash.hash(key: value, data: Array(label.utf8))
            }
            #expect(Hex.encode(value) == known.output, "\(known)")
        }
    }

    @Test("V02 and V03 over data of many lengths, one-shot and into a buffer")
    func lengths() throws {
        let cases = try KnownAnswers<KeyedHashCase>.load("keyed-hash-lengths.json")
        let longest = generatedInput(count: cases.map { $0.inputLength ?? 0 }.max() ?? 0)
        for known in cases {
            let hash = try function(named: known.function)
            let key = Hex.decode(known.key)
            let data = Array(longest[0..<(known.inputLength ?? 0)])
            #expect(Hex.encode(hash.hash(key: key, data: data)) == known.output, "\(known)")
            var output = [UInt8](repeating: 0, count: KeyedHash.outputCount)
            key.withUnsafeBytes { k in
                data.withUnsafeBytes { d in
                    output.withUnsafeMutableBytes { hash.hash(key: k, data: d, into: $0) }
                }
            }
            #expect(Hex.encode(output) == known.output, "\(known), into a buffer")
        }
    }

    @Test("a key that is not 32 bytes is a programming error and stops the process")
    func wrongKeyLengthTraps() async {
        await #expect(processExitsWith: .failure) {
            _ = KeyedHash.shake256.hash(key: [UInt8](repeating: 0, count: 31), data: [UInt8]())
        }
        await #expect(processExitsWith: .failure) {
            _ = KeyedHash.incorrectHMACBlake2b.hash(key: [UInt8](repeating: 0, count: 33), data: [UInt8]())
        }
    }

    @Test("V02 is not RFC 2104 HMAC, and V03 is SHAKE256 of key || data with nothing in between")
    func constructions() {
        let key = generatedInput(count: 32)
        let data = generatedInput(count: 50)
        let inner = BLAKE2b.hash(data, digestCount: 32, key: key.map { $0 ^ 0x36 })
        let outer = BLAKE2b.hash(inner, digestCount: 32, key: key.map { $0 ^ 0x5C })
        #expect(KeyedHash.incorrectHMACBlake2b.hash(key: key, data: data) == outer)
        #expect(KeyedHash.shake256.hash(key: key, data: data) == SHAKE256.hash(key + data, outputCount: 32))
        #expect(KeyedHash.incorrectHMACBlake2b.hash(key: key, data: data) != KeyedHash.shake256.hash(key: key, data: data))
    }
}
