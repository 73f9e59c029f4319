// `rosenpass-crypto kem keygen|encaps|decaps`, run as a real process on real files, for every KEM in
// the table below (each KEM family adds its row).

import Foundation
import RosenpassTestSupport
import Testing

@Suite("rosenpass-crypto kem")
struct KEMToolTests {
    /// One KEM as the command line knows it.
    struct Case: Sendable, CustomTestStringConvertible {
        /// The `--alg` name.
        let algorithm: String
        let publicKeyCount: Int
        let secretKeyCount: Int
        let ciphertextCount: Int
        /// A secret key, a ciphertext and the shared key they give, from an independent implementation.
        let knownAnswer: @Sendable () throws -> (secretKey: [UInt8], ciphertext: [UInt8], sharedKey: String)

        var testDescription: String { algorithm }
    }

    static let cases: [Case] = [
        Case(
            algorithm: "kyber512", publicKeyCount: 800, secretKeyCount: 1632, ciphertextCount: 768,
            knownAnswer: {
                let known = try Kyber512KnownAnswers.load().cases[2]
                return (Hex.decode(known.secretKey), Hex.decode(known.ciphertext), known.sharedKey)
            }),
        Case(
            algorithm: "mceliece460896", publicKeyCount: 524_160, secretKeyCount: 13_568, ciphertextCount: 188,
            knownAnswer: {
                let known = try McElieceKnownAnswers.load("r3")
                return (Hex.decode(known.keyPairs[0].secretKey), Hex.decode(known.encapsulations[0].ciphertext),
                    known.encapsulations[0].sharedKey)
            }),
        Case(
            algorithm: "mceliece460896-r4", publicKeyCount: 524_160, secretKeyCount: 13_608, ciphertextCount: 156,
            knownAnswer: {
                let known = try McElieceKnownAnswers.load("r4")
                return (Hex.decode(known.keyPairs[0].secretKey), Hex.decode(known.encapsulations[0].ciphertext),
                    known.encapsulations[0].sharedKey)
            }),
    ]

    /// The outcome of one run of the tool.
    typealias Run = ChildProcess.Run

    /// Runs `rosenpass-crypto` with `arguments` and waits for it.
    static func run(_ arguments: [String]) throws -> Run {
        let executable = BuiltProducts.executable("rosenpass-crypto")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw ToolMissing(path: executable.path)
        }
        return try ChildProcess.run(executable: executable.path, arguments: arguments)
    }

    struct ToolMissing: Error, CustomStringConvertible {
        let path: String
        var description: String {
            "\(path) does not exist: build the package first (make build), or set ROSENPASS_BIN_DIR"
        }
    }

    /// A fresh temporary folder, removed when the test ends.
    final class Folder {
        let url: URL

        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("kem-tool-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }

        func path(_ name: String) -> String { url.appendingPathComponent(name).path }

        deinit { try? FileManager.default.removeItem(at: url) }
    }

    static func isSharedKeyLine(_ text: String) -> Bool {
        let line = text.trimmingCharacters(in: .newlines)
        return line.count == 64 && line.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    @Test(arguments: KEMToolTests.cases)
    func keygenEncapsDecaps_agreeOnTheSharedKey(_ kem: Case) throws {
        let folder = try Folder()
        let (pk, sk, ct) = (folder.path("pk"), folder.path("sk"), folder.path("ct"))

        let keygen = try Self.run(["kem", "keygen", "--alg", kem.algorithm, "--public-key", pk, "--secret-key", sk])
        #expect(keygen.status == 0, "\(keygen.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: pk)).count == kem.publicKeyCount)
        #expect(try Data(contentsOf: URL(fileURLWithPath: sk)).count == kem.secretKeyCount)
        let mode = try FileManager.default.attributesOfItem(atPath: sk)[.posixPermissions] as? Int
        #expect(mode == 0o600, "the secret key file must be private")

        let encaps = try Self.run(["kem", "encaps", "--alg", kem.algorithm, "--public-key", pk, "--ciphertext", ct])
        #expect(encaps.status == 0, "\(encaps.standardError)")
        #expect(Self.isSharedKeyLine(encaps.standardOutput), "encaps printed: \(encaps.standardOutput)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: ct)).count == kem.ciphertextCount)

        let decaps = try Self.run(["kem", "decaps", "--alg", kem.algorithm, "--secret-key", sk, "--ciphertext", ct])
        #expect(decaps.status == 0, "\(decaps.standardError)")
        #expect(decaps.standardOutput == encaps.standardOutput)

        // A changed ciphertext still decapsulates (implicit rejection), to a different key.
        var tampered = try [UInt8](Data(contentsOf: URL(fileURLWithPath: ct)))
        tampered[tampered.count / 2] ^= 0x10
        try Data(tampered).write(to: URL(fileURLWithPath: ct))
        let rejected = try Self.run(["kem", "decaps", "--alg", kem.algorithm, "--secret-key", sk, "--ciphertext", ct])
        #expect(rejected.status == 0, "\(rejected.standardError)")
        #expect(Self.isSharedKeyLine(rejected.standardOutput))
        #expect(rejected.standardOutput != encaps.standardOutput)
    }

    @Test(arguments: KEMToolTests.cases)
    func decaps_ofKnownAnswer_printsItsSharedKey(_ kem: Case) throws {
        let folder = try Folder()
        let known = try kem.knownAnswer()
        try Data(known.secretKey).write(to: URL(fileURLWithPath: folder.path("sk")))
        try Data(known.ciphertext).write(to: URL(fileURLWithPath: folder.path("ct")))
        let decaps = try Self.run([
            "kem", "decaps", "--alg", kem.algorithm, "--secret-key", folder.path("sk"), "--ciphertext", folder.path("ct"),
        ])
        #expect(decaps.status == 0, "\(decaps.standardError)")
        #expect(decaps.standardOutput == known.sharedKey + "\n")
    }

    @Test(arguments: KEMToolTests.cases)
    func wrongSizeFiles_giveClearErrorAndNonZeroExit(_ kem: Case) throws {
        let folder = try Folder()
        let shortKey = folder.path("short-public-key")
        try Data(count: kem.publicKeyCount - 1).write(to: URL(fileURLWithPath: shortKey))
        let encaps = try Self.run([
            "kem", "encaps", "--alg", kem.algorithm, "--public-key", shortKey, "--ciphertext", folder.path("ct"),
        ])
        #expect(encaps.status != 0)
        #expect(encaps.standardOutput.isEmpty, "no key may be printed: \(encaps.standardOutput)")
        #expect(encaps.standardError.contains(shortKey))
        #expect(encaps.standardError.contains("must be \(kem.publicKeyCount) bytes"), "\(encaps.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("ct")))

        let longSecretKey = folder.path("long-secret-key")
        let goodCiphertext = folder.path("good-ciphertext")
        try Data(count: kem.secretKeyCount + 1).write(to: URL(fileURLWithPath: longSecretKey))
        try Data(count: kem.ciphertextCount).write(to: URL(fileURLWithPath: goodCiphertext))
        let badSecret = try Self.run([
            "kem", "decaps", "--alg", kem.algorithm, "--secret-key", longSecretKey, "--ciphertext", goodCiphertext,
        ])
        #expect(badSecret.status != 0)
        #expect(badSecret.standardOutput.isEmpty)
        #expect(badSecret.standardError.contains(longSecretKey))
        #expect(badSecret.standardError.contains("must be \(kem.secretKeyCount) bytes"), "\(badSecret.standardError)")

        let goodSecretKey = folder.path("good-secret-key")
        let shortCiphertext = folder.path("short-ciphertext")
        try Data(count: kem.secretKeyCount).write(to: URL(fileURLWithPath: goodSecretKey))
        try Data(count: kem.ciphertextCount - 1).write(to: URL(fileURLWithPath: shortCiphertext))
        let badCiphertext = try Self.run([
            "kem", "decaps", "--alg", kem.algorithm, "--secret-key", goodSecretKey, "--ciphertext", shortCiphertext,
        ])
        #expect(badCiphertext.status != 0)
        #expect(badCiphertext.standardOutput.isEmpty)
        #expect(badCiphertext.standardError.contains(shortCiphertext))
        #expect(badCiphertext.standardError.contains("must be \(kem.ciphertextCount) bytes"), "\(badCiphertext.standardError)")

        let missing = try Self.run([
            "kem", "decaps", "--alg", kem.algorithm, "--secret-key", folder.path("absent"), "--ciphertext", goodCiphertext,
        ])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains(folder.path("absent")), "\(missing.standardError)")
    }

    @Test func unknownAlgorithm_isRefusedWithTheKnownOnes() throws {
        let folder = try Folder()
        let run = try Self.run([
            "kem", "keygen", "--alg", "kyber513", "--public-key", folder.path("pk"), "--secret-key", folder.path("sk"),
        ])
        #expect(run.status != 0)
        #expect(run.standardError.contains("kyber513"))
        for kem in Self.cases {
            #expect(run.standardError.contains(kem.algorithm), "\(run.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path("sk")))
    }
}
