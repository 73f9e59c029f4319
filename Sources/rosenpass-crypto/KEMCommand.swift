// `rosenpass-crypto kem`: key generation, encapsulation and decapsulation on raw files.

import ArgumentParser
import Foundation
import RosenpassCrypto

/// The KEMs the tool knows, by their `--alg` name (each family lists its own in its benchmark file).
let kemAlgorithms: [(name: String, kem: any KeyEncapsulationMechanism.Type)] = kyberAlgorithms + mcelieceAlgorithms

/// Selects a KEM by name.
struct KEMAlgorithmOption: ParsableArguments {
    @Option(name: .long, help: "The KEM. Known: \(kemAlgorithms.map(\.name).joined(separator: ", ")).")
    var alg: String

    func kem() throws -> any KeyEncapsulationMechanism.Type {
        guard let entry = kemAlgorithms.first(where: { $0.name == alg }) else {
            throw ToolError("unknown --alg '\(alg)'; known: \(kemAlgorithms.map(\.name).joined(separator: ", "))")
        }
        return entry.kem
    }
}

struct KEMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kem",
        abstract: "Key generation, encapsulation and decapsulation on raw key and ciphertext files.",
        subcommands: [KeygenCommand.self, EncapsCommand.self, DecapsCommand.self]
    )

    struct KeygenCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Write a new key pair as raw files (the secret key with mode 0600)."
        )
        @OptionGroup var algorithm: KEMAlgorithmOption
        @Option(name: .long, help: "Where to write the public key.") var publicKey: String
        @Option(name: .long, help: "Where to write the secret key.") var secretKey: String

        func run() throws {
            let kem = try algorithm.kem()
            let (publicKeyBytes, secretKeyBytes) = kem.generateKeyPair()
            try publicKeyBytes.withUnsafeBytes { try writeFile(publicKey, bytes: $0, mode: 0o644) }
            try secretKeyBytes.withUnsafeBytes { try writeFile(secretKey, bytes: $0, mode: 0o600) }
        }
    }

    struct EncapsCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "encaps",
            abstract: "Encapsulate to a public key: write the ciphertext, print the shared key as hex."
        )
        @OptionGroup var algorithm: KEMAlgorithmOption
        @Option(name: .long, help: "The public key file to read.") var publicKey: String
        @Option(name: .long, help: "Where to write the ciphertext.") var ciphertext: String

        func run() throws {
            let kem = try algorithm.kem()
            let publicKeyBytes = try readFile(publicKey, expectedCount: kem.publicKeyCount, what: "public key")
            let (ciphertextBytes, sharedKey) = try kem.encapsulate(publicKey: publicKeyBytes)
            try ciphertextBytes.withUnsafeBytes { try writeFile(ciphertext, bytes: $0, mode: 0o644) }
            print(sharedKey.withUnsafeBytes { hexString($0) })
        }
    }

    struct DecapsCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decaps",
            abstract: "Decapsulate a ciphertext with a secret key and print the shared key as hex."
        )
        @OptionGroup var algorithm: KEMAlgorithmOption
        @Option(name: .long, help: "The secret key file to read.") var secretKey: String
        @Option(name: .long, help: "The ciphertext file to read.") var ciphertext: String

        func run() throws {
            let kem = try algorithm.kem()
            var secretKeyFile = try readFile(secretKey, expectedCount: kem.secretKeyCount, what: "secret key")
            let secretKeyBytes = SecretBytes(secretKeyFile)
            secureZero(&secretKeyFile)
            let ciphertextBytes = try readFile(ciphertext, expectedCount: kem.ciphertextCount, what: "ciphertext")
            let sharedKey = try kem.decapsulate(secretKey: secretKeyBytes, ciphertext: ciphertextBytes)
            print(sharedKey.withUnsafeBytes { hexString($0) })
        }
    }
}

/// Reads a whole file and checks its size.
func readFile(_ path: String, expectedCount: Int, what: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ToolError("\(path): cannot read the \(what) file")
    }
    guard data.count == expectedCount else {
        throw ToolError("\(path): a \(what) must be \(expectedCount) bytes, this file has \(data.count)")
    }
    return [UInt8](data)
}

/// Writes `bytes` to `path`, replacing its contents, and sets its permissions to `mode` (also when the
/// file existed before). The bytes are written straight from the caller's buffer, so a secret key is
/// never copied into memory that is not wiped.
func writeFile(_ path: String, bytes: UnsafeRawBufferPointer, mode: mode_t) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw ToolError("\(path): cannot write the file: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard fchmod(fd, mode) == 0 else {
        throw ToolError("\(path): cannot set its permissions: \(String(cString: strerror(errno)))")
    }
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { throw ToolError("\(path): write failed: \(String(cString: strerror(errno)))") }
        offset += written
    }
}
