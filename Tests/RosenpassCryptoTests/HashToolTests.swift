// The `rosenpass-crypto hash` command line: every --alg against known answers, and clear errors.
//
// These tests run the built executable (BuiltProducts.executable, i.e. $ROSENPASS_BIN_DIR or
// .build/release). A missing binary fails the tests with a message saying how to build it.

import Foundation
import RosenpassTestSupport
import Testing

/// The outcome of one run of a command-line tool.
typealias ToolRun = ChildProcess.Run

/// Runs `rosenpass-crypto` with `arguments`, feeding `input` on standard input.
func runRosenpassCrypto(_ arguments: [String], input: [UInt8] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> ToolRun {
    let executable = BuiltProducts.executable("rosenpass-crypto")
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
        Issue.record(
            """
            rosenpass-crypto was not found at \(executable.path). Build it first \
            (`swift build -c release -Xswiftc -enable-testing`, or `make build`), or point ROSENPASS_BIN_DIR at \
            the folder that holds it.
            """, sourceLocation: sourceLocation)
        throw FixtureError("rosenpass-crypto missing")
    }
    return try ChildProcess.run(executable: executable.path, arguments: arguments, input: input)
}

@Suite("rosenpass-crypto hash")
struct HashToolTests {
    /// Runs the tool and expects success with `expectedHex` (plus a newline) on standard output.
    func expectDigest(_ arguments: [String], input: [UInt8], _ expectedHex: String,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try runRosenpassCrypto(["hash"] + arguments, input: input, sourceLocation: sourceLocation)
        #expect(run.status == 0, "\(arguments): exit \(run.status), stderr: \(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardOutput == expectedHex + "\n", "\(arguments)", sourceLocation: sourceLocation)
    }

    /// Runs the tool and expects a non-zero exit with `message` on standard error and nothing on standard output.
    func expectFailure(_ arguments: [String], input: [UInt8] = [], mentioning message: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try runRosenpassCrypto(["hash"] + arguments, input: input, sourceLocation: sourceLocation)
        #expect(run.status != 0, "\(arguments) should fail", sourceLocation: sourceLocation)
        #expect(run.standardError.contains(message), "\(arguments): stderr was \(run.standardError)", sourceLocation: sourceLocation)
        #expect(run.standardOutput.isEmpty, "\(arguments): printed \(run.standardOutput)", sourceLocation: sourceLocation)
    }

    @Test("sha3-256, sha3-512, shake128 and shake256 give NIST's FIPS 202 example values")
    func sha3Family() throws {
        let cases = try KnownAnswers<SHA3Case>.load("sha3-fips202.json")
        for known in cases where known.input?.isEmpty == false {
            switch known.algorithm {
            case "sha3-256", "sha3-512":
                try expectDigest(["--alg", known.algorithm], input: known.message, known.output)
            case "shake128", "shake256":
                try expectDigest(["--alg", known.algorithm], input: known.message, String(known.output.prefix(64)))
                try expectDigest(["--alg", known.algorithm, "--length", "512"], input: known.message, known.output)
            default:
                continue
            }
        }
        try expectDigest(["--alg", "shake256", "--length", "0"], input: [1, 2, 3], "")
    }

    @Test("blake2b: RFC 7693's abc, a keyed official KAT case, and a shorter digest")
    func blake2b() throws {
        try expectDigest(["--alg", "blake2b"], input: Array("abc".utf8),
                         "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        let kat = try KnownAnswers<BLAKE2bCase>.load("blake2b-kat.json")
        let known = kat[200]
        try expectDigest(["--alg", "blake2b", "--key", known.key], input: known.message, known.output)
        try expectDigest(["--alg", "blake2b", "--key", known.key.uppercased(), "--length", "64"], input: known.message, known.output)
        let lengths = try KnownAnswers<BLAKE2bCase>.load("blake2b-lengths.json")
        let short = try #require(lengths.first { $0.digestLength == 7 && !$0.key.isEmpty })
        try expectDigest(["--alg", "blake2b", "--key", short.key, "--length", "7"], input: short.message, short.output)
    }

    @Test("v02 and v03 give docs/protocol.md §1.5's answers")
    func keyedHashes() throws {
        let key = String(repeating: "00", count: 32)
        let data = [UInt8](repeating: 0xFF, count: 32)
        try expectDigest(["--alg", "v02", "--key", key], input: data,
                         "0598878d976a9308dc5f26421d210368fa7283771b383b2c0b43e67170145067")
        try expectDigest(["--alg", "v03", "--key", key], input: data,
                         "ae042fbc01e4b3f6432bff5e9b0bbba1266ed917043eac1edabbf950ab1591ee")
        try expectDigest(["--alg", "v03", "--key", key, "--length", "32"], input: data,
                         "ae042fbc01e4b3f6432bff5e9b0bbba1266ed917043eac1edabbf950ab1591ee")
    }

    @Test("a long input on standard input (a McEliece public key's size)")
    func longInput() throws {
        let cases = try KnownAnswers<SHA3Case>.load("sha3-lengths.json")
        let known = try #require(cases.first { $0.algorithm == "shake256" && $0.inputLength == 524_160 })
        try expectDigest(["--alg", "shake256"], input: known.message, known.output)
    }

    @Test("bad hex, wrong key lengths, bad --length and unknown algorithms fail with a clear message")
    func errors() throws {
        let key32 = String(repeating: "ab", count: 32)
        try expectFailure(["--alg", "v02", "--key", "zz" + String(repeating: "00", count: 31)], mentioning: "not a hex digit")
        try expectFailure(["--alg", "v03", "--key", String(repeating: "0", count: 63)], mentioning: "even number of hex digits")
        try expectFailure(["--alg", "blake2b", "--key", "0x00"], mentioning: "not a hex digit")
        try expectFailure(["--alg", "v02", "--key", String(repeating: "00", count: 31)], mentioning: "must be 32 bytes, got 31")
        try expectFailure(["--alg", "v03", "--key", String(repeating: "00", count: 33)], mentioning: "must be 32 bytes, got 33")
        try expectFailure(["--alg", "v03"], mentioning: "needs --key")
        try expectFailure(["--alg", "v02", "--key", key32, "--length", "16"], mentioning: "always 32")
        try expectFailure(["--alg", "blake2b", "--key", String(repeating: "00", count: 65)], mentioning: "at most 64 bytes, got 65")
        try expectFailure(["--alg", "blake2b", "--length", "0"], mentioning: "1...64")
        try expectFailure(["--alg", "blake2b", "--length", "65"], mentioning: "1...64")
        try expectFailure(["--alg", "shake256", "--length=-1"], mentioning: "--length for shake256 must be 0...16777216, got -1")
        try expectFailure(["--alg", "shake256", "--length", "99999999999"], mentioning: "got 99999999999")
        try expectFailure(["--alg", "shake256", "--length", "ten"], mentioning: "--length")
        try expectFailure(["--alg", "sha3-256", "--length", "16"], mentioning: "does not apply")
        try expectFailure(["--alg", "sha3-512", "--key", key32], mentioning: "does not apply")
        try expectFailure(["--alg", "shake256", "--key", key32], mentioning: "does not apply")
        try expectFailure(["--alg", "shake128", "--length=-5"], mentioning: "--length for shake128 must be 0...16777216, got -5")
        try expectFailure(["--alg", "md5"], mentioning: "md5")
        try expectFailure([], mentioning: "--alg")
    }
}
