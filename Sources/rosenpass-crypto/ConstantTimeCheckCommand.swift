// `rosenpass-crypto ct-check`: run the KEMs' secret-key operations under valgrind's memcheck with the
// secrets marked undefined, so that any branch or memory address that depends on them is reported.

import ArgumentParser
import CValgrindShim
import RosenpassCrypto

struct ConstantTimeCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ct-check",
        abstract: "Check that secret-key operations are constant time (run under valgrind memcheck).",
        discussion: """
            Run as `valgrind --error-exitcode=3 rosenpass-crypto ct-check`. Secret keys (and Kyber's \
            encapsulation coins) are marked undefined for memcheck, which then reports every conditional \
            jump or memory address that depends on them (the "ctgrind" technique). Checked: Kyber-512 \
            encapsulation and decapsulation; Classic McEliece decapsulation (both variants), of valid and \
            tampered ciphertexts. Not checked, by design: key generation and McEliece encapsulation, whose \
            rejection-sampling and retry verdicts are allowed to leak (they are independent of the result). \
            --leaky-control runs a deliberately leaky comparison instead, to show that the check can fail.
            """
    )

    @Option(name: .long, help: "Algorithms to check (repeatable). Default: all.")
    var alg: [String] = []

    @Option(name: .long, help: "Operations per case.")
    var rounds: Int = 2

    @Flag(name: .long, help: "Run a deliberately leaky comparison (expect memcheck errors).")
    var leakyControl = false

    func run() throws {
        guard rp_valgrind_available() == 1 else {
            throw ToolError("this build has no valgrind client requests (valgrind's headers were missing at build time)")
        }
        guard rp_running_on_valgrind() == 1 else {
            throw ToolError("ct-check only means something under valgrind: valgrind --error-exitcode=3 \(CommandLine.arguments[0]) ct-check")
        }
        if leakyControl {
            let errors = measure("leaky control: early-exit comparison of a secret") {
                var secret = SecretBytes.random(count: 32)
                secret.withUnsafeMutableBytes { $0[0] = 7 }
                markSecret(secret)
                let guess = [UInt8](repeating: 7, count: 32)
                var equalPrefix = 0
                secret.withUnsafeBytes { bytes in
                    for i in 0..<32 {
                        if bytes[i] != guess[i] { break }  // the leak: a branch on secret data
                        equalPrefix += 1
                    }
                }
                blackHole(equalPrefix)
            }
            print("leaky control: \(errors) memcheck error(s) (expected: at least one)")
            return
        }
        let names = alg.isEmpty ? ["kyber512", "mceliece460896", "mceliece460896-r4"] : alg
        var failures = 0
        for name in names {
            switch name {
            case "kyber512": failures += try checkKyber()
            case "mceliece460896": failures += try checkMcEliece(ClassicMcEliece460896.self, tamperConfirmation: true)
            case "mceliece460896-r4": failures += try checkMcEliece(ClassicMcEliece460896Round4.self, tamperConfirmation: false)
            default: throw ToolError("unknown --alg '\(name)'; known: kyber512, mceliece460896, mceliece460896-r4")
            }
        }
        if failures > 0 { throw ToolError("\(failures) case(s) depend on secret data (see memcheck's reports above)") }
        print("all checked operations are free of secret-dependent branches and addresses")
    }

    private func checkKyber() throws -> Int {
        var failures = 0
        let (publicKey, secretKey) = try Kyber512.generateKeyPair(coins: [UInt8](repeating: 0x5A, count: 64))
        for round in 0..<rounds {
            let coins = SecretBytes.random(count: 32)
            let expected = try Kyber512.encapsulate(publicKey: publicKey, coins: coins)
            var ciphertext: [UInt8] = []
            failures += report("kyber512 encaps (coins secret), round \(round)") {
                markSecret(coins)
                let (ct, key) = try! Kyber512.encapsulate(publicKey: publicKey, coins: coins)
                markPublic(ct)
                markPublic(key)
                ciphertext = ct
                precondition(ct == expected.ciphertext && key.constantTimeEquals(expected.sharedKey))
            }
            for (label, tampered) in [("valid", ciphertext), ("tampered u", flip(ciphertext, at: 3)), ("tampered v", flip(ciphertext, at: 700))] {
                failures += report("kyber512 decaps (\(label)), round \(round)") {
                    // The secret parts of a Kyber secret key are ŝ (bytes 0..<768) and z (the last 32);
                    // the public key and its hash in between are public.
                    markSecret(secretKey, ranges: [0..<768, 1600..<1632])
                    let key = try! Kyber512.decapsulate(secretKey: secretKey, ciphertext: tampered)
                    markPublic(key)
                    markPublic(secretKey)
                    precondition((label == "valid") == key.constantTimeEquals(expected.sharedKey))
                }
            }
        }
        return failures
    }

    private func checkMcEliece<KEM: KeyEncapsulationMechanism>(_ kem: KEM.Type, tamperConfirmation: Bool) throws -> Int {
        var failures = 0
        let seed = SecretBytes([UInt8](repeating: 0x3C, count: 32))
        let (publicKey, secretKey) = try generateMcElieceKeyPair(kem, seed: seed)
        for round in 0..<rounds {
            let (ciphertext, expected) = try kem.encapsulate(publicKey: publicKey)
            var cases = [("valid", ciphertext), ("tampered C0", flip(ciphertext, at: 17))]
            if tamperConfirmation { cases.append(("tampered C1", flip(ciphertext, at: 170))) }
            for (label, input) in cases {
                failures += report("\(kem.name) decaps (\(label)), round \(round)") {
                    markSecret(secretKey)
                    let key = try! kem.decapsulate(secretKey: secretKey, ciphertext: input)
                    markPublic(key)
                    markPublic(secretKey)
                    precondition((label == "valid") == key.constantTimeEquals(expected))
                }
            }
        }
        return failures
    }

    private func generateMcElieceKeyPair<KEM: KeyEncapsulationMechanism>(
        _ kem: KEM.Type, seed: SecretBytes
    ) throws -> (publicKey: [UInt8], secretKey: SecretBytes) {
        if kem == ClassicMcEliece460896.self { return try ClassicMcEliece460896.generateKeyPair(seed: seed) }
        return try ClassicMcEliece460896Round4.generateKeyPair(seed: seed)
    }

    /// Runs `body` and returns 1 (and says so) if memcheck reported errors during it.
    private func report(_ label: String, _ body: () -> Void) -> Int {
        let errors = measure(label, body)
        print("\(label): \(errors == 0 ? "ok" : "\(errors) memcheck error(s)")")
        return errors == 0 ? 0 : 1
    }

    private func measure(_ label: String, _ body: () -> Void) -> UInt {
        let before = rp_valgrind_error_count()
        body()
        return rp_valgrind_error_count() - before
    }

    private func flip(_ bytes: [UInt8], at index: Int) -> [UInt8] {
        var copy = bytes
        copy[index] ^= 0x10
        return copy
    }
}

private func markSecret(_ secret: SecretBytes, ranges: [Range<Int>]? = nil) {
    secret.withUnsafeBytes { bytes in
        for range in ranges ?? [0..<bytes.count] {
            rp_valgrind_mark_secret(bytes.baseAddress! + range.lowerBound, range.count)
        }
    }
}

private func markPublic(_ secret: SecretBytes) {
    secret.withUnsafeBytes { rp_valgrind_mark_public($0.baseAddress, $0.count) }
}

private func markPublic(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { rp_valgrind_mark_public($0.baseAddress, $0.count) }
}
