// Fuzz target 8 (differential): our Keccak (SHA3-256, SHA3-512) against swift-crypto's (XKCP), on
// the same input fed to ours in pieces the fuzzer chooses. The sponge is the one behind SHAKE256 and
// the V03 keyed hash; a difference is a crash.

import Crypto
import FuzzingSupport
import RosenpassCrypto

func ours<H: FixedLengthHashFunction>(_ type: H.Type, _ message: [UInt8], pieces: [UInt8], outputCount: Int) -> [UInt8] {
    var hash = H()
    var offset = 0
    var cut = 0
    while offset < message.count {
        let size = min(message.count - offset, 1 + Int(pieces.isEmpty ? 255 : pieces[cut % pieces.count]) * 3)
        cut += 1
        message[offset..<(offset + size)].withUnsafeBytes { hash.update($0) }
        offset += size
    }
    var output = [UInt8](repeating: 0, count: outputCount)
    output.withUnsafeMutableBytes { hash.finalize(into: $0) }
    return output
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let pieces = input.take(Int(input.byte()) % 16)
    let message = input.rest()
    guard ours(RosenpassCrypto.SHA3_256.self, message, pieces: pieces, outputCount: 32) == Array(Crypto.SHA3_256.hash(data: message)) else {
        fatalError("SHA3-256 differs from swift-crypto's")
    }
    guard ours(RosenpassCrypto.SHA3_512.self, message, pieces: pieces, outputCount: 64) == Array(Crypto.SHA3_512.hash(data: message)) else {
        fatalError("SHA3-512 differs from swift-crypto's")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzHashes_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
