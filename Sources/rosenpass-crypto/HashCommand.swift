// `rosenpass-crypto hash`: hash standard input with one of the module's hash functions.

import ArgumentParser
import RosenpassCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Hash standard input and print the digest as hex.",
        discussion: """
            v02 and v03 are Rosenpass' keyed hashes (incorrect HMAC-BLAKE2b and keyed SHAKE256, docs/protocol.md \
            section 1.5); they need a 32-byte --key and always give 32 bytes. blake2b takes an optional key of up \
            to 64 bytes and --length 1...64 (default 64). shake128 and shake256 take --length \
            0...\(maximumXOFLength) (default 32). sha3-256 and sha3-512 take neither. Keys are hex; the digest is printed as lower-case \
            hex and a newline.
            """
    )

    enum Algorithm: String, ExpressibleByArgument, CaseIterable {
        case sha3_256 = "sha3-256"
        case sha3_512 = "sha3-512"
        case shake128
        case shake256
        case blake2b
        case v02
        case v03
    }

    @Option(name: .long, help: "One of: \(Algorithm.allCases.map(\.rawValue).joined(separator: ", ")).")
    var alg: Algorithm

    @Option(name: .long, help: "Key as hex (blake2b, v02, v03).")
    var key: String?

    @Option(name: .long, help: "Output length in bytes (shake128, shake256, blake2b).")
    var length: Int?

    func run() throws {
        let keyBytes = try key.map { try parseHex($0, what: "--key") }
        let input = readAllStandardInput()
        let digest: [UInt8]
        switch alg {
        case .sha3_256, .sha3_512:
            try refuse(keyBytes != nil, "--key does not apply to \(alg.rawValue)")
            try refuse(length != nil, "--length does not apply to \(alg.rawValue)")
            digest = alg == .sha3_256 ? SHA3_256.hash(input) : SHA3_512.hash(input)
        case .shake128, .shake256:
            try refuse(keyBytes != nil, "--key does not apply to \(alg.rawValue)")
            let count = length ?? 32
            try refuse(
                !(0...Self.maximumXOFLength).contains(count),
                "--length for \(alg.rawValue) must be 0...\(Self.maximumXOFLength), got \(count)")
            digest = alg == .shake128 ? SHAKE128.hash(input, outputCount: count) : SHAKE256.hash(input, outputCount: count)
        case .blake2b:
            let count = length ?? 64
            try refuse(!(1...64).contains(count), "--length for blake2b must be 1...64, got \(count)")
            try refuse(
                (keyBytes?.count ?? 0) > BLAKE2b.maximumKeyCount,
                "--key for blake2b must be at most 64 bytes, got \(keyBytes?.count ?? 0)")
            digest = BLAKE2b.hash(input, digestCount: count, key: keyBytes ?? [])
        case .v02, .v03:
            try refuse(length != nil && length != 32, "--length for \(alg.rawValue) is always 32")
            guard let keyBytes else { throw ToolError("\(alg.rawValue) needs --key (32 bytes as hex)") }
            try refuse(keyBytes.count != 32, "--key for \(alg.rawValue) must be 32 bytes, got \(keyBytes.count)")
            let function: KeyedHash = alg == .v02 ? .incorrectHMACBlake2b : .shake256
            digest = function.hash(key: keyBytes, data: input)
        }
        print(hexString(digest))
    }

    /// The longest shake256 output the tool prints (16 MiB), so that a typo cannot exhaust memory.
    static let maximumXOFLength = 1 << 24

    private func refuse(_ condition: Bool, _ message: String) throws {
        if condition { throw ToolError(message) }
    }
}

/// Reads standard input to its end.
func readAllStandardInput() -> [UInt8] {
    var data = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let got = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if got < 0 && errno == EINTR { continue }
        if got <= 0 { break }
        data.append(contentsOf: chunk[0..<got])
    }
    return data
}

/// Parses a hex string (upper or lower case, an even number of digits, nothing else).
func parseHex(_ text: String, what: String) throws -> [UInt8] {
    let characters = Array(text.unicodeScalars)
    func value(_ index: Int) throws -> UInt8 {
        let scalar = characters[index]
        switch scalar {
        case "0"..."9": return UInt8(scalar.value - 0x30)
        case "a"..."f": return UInt8(scalar.value - 0x61 + 10)
        case "A"..."F": return UInt8(scalar.value - 0x41 + 10)
        default:
            throw ToolError("\(what): '\(scalar.escaped(asASCII: true))' at position \(index + 1) is not a hex digit")
        }
    }
    for index in characters.indices { _ = try value(index) }
    guard characters.count % 2 == 0 else {
        throw ToolError("\(what): expected an even number of hex digits, got \(characters.count)")
    }
    var bytes = [UInt8]()
    bytes.reserveCapacity(characters.count / 2)
    for index in stride(from: 0, to: characters.count, by: 2) {
        bytes.append(try value(index) << 4 | value(index + 1))
    }
    return bytes
}

/// Lower-case hex of `bytes`.
func hexString<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
