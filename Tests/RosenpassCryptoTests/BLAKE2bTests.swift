// Known answers for BLAKE2b (RFC 7693), keyed and unkeyed, every digest length.
//
// Fixtures (written by scripts/fixtures/generate-symmetric-fixtures.py):
//   blake2b-rfc7693.json   RFC 7693 Appendix A: BLAKE2b-512("abc")
//   blake2b-kat.json       the BLAKE2 reference package's keyed KAT set (blake2b-kat.txt), 256 cases
//   blake2b-lengths.json   hashlib: digest lengths 1...64, key lengths 0...64, inputs up to 524160 bytes

import RosenpassCrypto
import RosenpassTestSupport
import Testing

/// A case of `blake2b-*.json`.
struct BLAKE2bCase: Decodable, CustomStringConvertible {
    let input: String?
    let inputLength: Int?
    let key: String
    let digestLength: Int
    let output: String

    var message: [UInt8] { input.map(Hex.decode) ?? generatedInput(count: inputLength ?? 0) }
    var description: String {
        "BLAKE2b-\(digestLength * 8), \(key.count / 2)-byte key, \(input.map { $0.count / 2 } ?? inputLength ?? 0)-byte input"
    }
}

@Suite("BLAKE2b (RFC 7693)")
struct BLAKE2bTests {
    /// Checks one case one-shot, through the incremental API in uneven pieces, and into a buffer.
    func check(_ known: BLAKE2bCase, message: [UInt8], piecesOffset: Int = 0) {
        let key = Hex.decode(known.key)
        #expect(Hex.encode(BLAKE2b.hash(message, digestCount: known.digestLength, key: key)) == known.output, "\(known)")

        var hasher = BLAKE2b(digestCount: known.digestLength, key: key)
        for piece in unevenPieces(of: message, startingAt: piecesOffset) { hasher.update(piece) }
        var digest = [UInt8](repeating: 0, count: known.digestLength)
        digest.withUnsafeMutableBytes { hasher.finalize(into: $0) }
        #expect(Hex.encode(digest) == known.output, "\(known), in pieces")
    }

    @Test("RFC 7693 Appendix A: BLAKE2b-512 of \"abc\"")
    func rfc7693() throws {
        let cases = try KnownAnswers<BLAKE2bCase>.load("blake2b-rfc7693.json")
        for known in cases { check(known, message: known.message) }
        #expect(Hex.encode(BLAKE2b.hash(Array("abc".utf8)))
            == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
    }

    @Test("the official keyed KAT set: key 0x00...0x3f, inputs 0x00... of length 0 to 255")
    func officialKeyedKAT() throws {
        let cases = try KnownAnswers<BLAKE2bCase>.load("blake2b-kat.json")
        #expect(cases.count == 256)
        for (length, known) in cases.enumerated() {
            #expect(known.message == (0..<length).map { UInt8($0) }, "input of case \(length)")
            #expect(Hex.decode(known.key) == (0..<64).map { UInt8($0) })
            check(known, message: known.message, piecesOffset: length)
        }
    }

    @Test("every digest length 1...64, unkeyed and keyed; every key length; long inputs")
    func lengths() throws {
        let cases = try KnownAnswers<BLAKE2bCase>.load("blake2b-lengths.json")
        let longest = generatedInput(count: cases.map { $0.inputLength ?? 0 }.max() ?? 0)
        #expect(Set(cases.map(\.digestLength)) == Set(1...64))
        #expect(Set(cases.map { $0.key.count / 2 }) == Set(0...64))
        for (index, known) in cases.enumerated() {
            check(known, message: Array(longest[0..<(known.inputLength ?? 0)]), piecesOffset: index)
        }
    }

    @Test("digest lengths outside 1...64, keys over 64 bytes and use after finalize are programming errors")
    func invalidParametersTrap() async {
        await #expect(processExitsWith: .failure) { _ = BLAKE2b(digestCount: 0) }
        await #expect(processExitsWith: .failure) { _ = BLAKE2b(digestCount: 65) }
        await #expect(processExitsWith: .failure) { _ = BLAKE2b(digestCount: 32, key: [UInt8](repeating: 1, count: 65)) }
        await #expect(processExitsWith: .failure) {
            var hasher = BLAKE2b(digestCount: 32)
            var digest = [UInt8](repeating: 0, count: 31)
            digest.withUnsafeMutableBytes { hasher.finalize(into: $0) }
        }
        await #expect(processExitsWith: .failure) {
            var hasher = BLAKE2b(digestCount: 32, key: [UInt8](repeating: 1, count: 32))
            _ = hasher.finalize()
            hasher.update([1, 2, 3])  // the key is gone: refusing beats a silently wrong digest
        }
    }

    @Test("an empty key means unkeyed, and a key changes the digest")
    func keyedAndUnkeyedDiffer() {
        let message = generatedInput(count: 100)
        #expect(BLAKE2b.hash(message, digestCount: 32, key: []) == BLAKE2b.hash(message, digestCount: 32))
        #expect(BLAKE2b.hash(message, digestCount: 32, key: [0]) != BLAKE2b.hash(message, digestCount: 32))
        // The digest length is in the parameter block: a short digest is not a prefix of a long one.
        #expect(BLAKE2b.hash(message, digestCount: 32) != Array(BLAKE2b.hash(message, digestCount: 64)[0..<32]))
    }
}
