// Fuzz target 5: key files as the daemon, `validate` and `rp` load them: static public and secret keys
// (both McEliece layouts, exact sizes), pre-shared keys and WireGuard keys in base64, rp's key
// folders' files.
//
// The input chooses a kind of file and its contents; sizes near the exact key sizes are reached by
// repeating the input. The file is written to a private folder and loaded by the real loader.
// Checked beyond "no crash": a pre-shared key that loads decodes to 32 bytes, and base64 that
// decodes re-encodes to the same text.

import FuzzingSupport
import Glibc
import RosenpassCrypto
import RosenpassProtocol

@testable import RosenpassApp

/// A private folder on tmpfs when there is one: most inputs write a file, and a disk filesystem's inode
/// bookkeeping would otherwise take more time than the loaders.
let folder: String = {
    let parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    var template = Array("\(parent)/rosenpass-fuzz-keys-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp") }
    return String(cString: made)
}()

func write(_ bytes: [UInt8], mode: mode_t) -> String {
    let path = folder + "/file"
    unlink(path)
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { fatalError("open") }
    var written = 0
    while written < bytes.count {
        let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
        guard result > 0 else { fatalError("write") }
        written += result
    }
    close(fd)
    return path
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let kind = input.byte()
    let delta = Int(input.byte()) - 128
    let content = input.rest()
    func sized(_ target: Int) -> [UInt8] {
        let count = max(0, target + delta)
        guard !content.isEmpty else { return [UInt8](repeating: 0, count: count) }
        // The content repeated: doubling keeps the period, and takes a handful of copies.
        var bytes = Array(content.prefix(count))
        bytes.reserveCapacity(count)
        while bytes.count < count { bytes += bytes.prefix(count - bytes.count) }
        return bytes
    }
    switch kind % 6 {
    case 0:
        _ = try? StaticKeyFiles.loadPublicKey(write(sized(McElieceVariant.publicKeyCount), mode: 0o644))
    case 1:
        _ = try? StaticKeyFiles.loadSecretKey(write(sized(kind & 0x80 == 0 ? 13_568 : 13_608), mode: kind & 0x40 == 0 ? 0o600 : 0o644))
    case 2:
        if let loaded = try? PresharedKeyFile.load(write(content, mode: 0o600)), loaded.key.count != 32 {
            fatalError("a pre-shared key of \(loaded.key.count) bytes")
        }
    case 3:
        if let decoded = content.withUnsafeBytes({ Base64Text.decode($0) }) {
            let again = decoded.withUnsafeBytes { raw -> [UInt8] in
                var out = [UInt8](repeating: 0, count: Base64Text.encodedCount(raw.count))
                out.withUnsafeMutableBytes { Base64Text.encode(raw, into: $0) }
                return out
            }
            var trimmed = content
            while let last = trimmed.last, last == 0x0A || last == 0x0D { trimmed.removeLast() }
            guard again == trimmed else { fatalError("base64 does not re-encode to the same text") }
        }
    case 4:
        _ = Base64Text.isKey(String(decoding: content, as: UTF8.self))
    default:
        _ = try? KeyOutputFile.write(SecretBytes(sized(32)), to: folder + "/out")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzKeyFiles_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
