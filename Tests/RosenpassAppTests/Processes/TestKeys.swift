// Static key pairs for the process tests, made once per test run with the built `gen-keys`.

import Foundation
import RosenpassProtocol
import Testing

@testable import RosenpassProtocol

/// A key pair on disk.
struct KeyPairFiles: Sendable {
    let publicKey: String
    let secretKey: String

    /// The raw public key.
    func publicKeyBytes() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: publicKey))) }

    /// The peer id a daemon prints for this key under `version` (`docs/protocol.md` §7).
    func peerID(_ version: ProtocolVersion) throws -> String {
        PublicKeyDigests(publicKey: try publicKeyBytes(), version: version).peerID.base64
    }
}

/// Key pairs shared by the process tests (McEliece key generation takes a moment, so each is made
/// once). They live in one folder that is removed when the test process exits.
actor TestKeys {
    static let shared = TestKeys()

    private let folder: String
    private var made: [String: Task<KeyPairFiles, any Error>] = [:]

    private init() {
        let template = NSTemporaryDirectory() + "rosenpass-test-keys-XXXXXX"
        var bytes = Array(template.utf8CString)
        let path = bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        folder = path
        TestKeys.removeAtExit(path)
    }

    /// The key pair called `name` of `variant`, generated on first use.
    func pair(_ name: String, _ variant: McElieceVariant) async throws -> KeyPairFiles {
        let key = "\(name)-\(variant.rawValue)"
        if let task = made[key] { return try await task.value }
        let folder = folder
        let task = Task {
            let files = KeyPairFiles(publicKey: "\(folder)/\(key).pk", secretKey: "\(folder)/\(key).sk")
            let result = try await RosenpassProcess.run(
                ["gen-keys", "--public-key", files.publicKey, "--secret-key", files.secretKey, "--mceliece-variant", variant.rawValue],
                directory: folder)
            guard result.status == 0 else { throw ProcessFailure("gen-keys failed (\(result.status)): \(result.stderr)") }
            return files
        }
        made[key] = task
        return try await task.value
    }

    private nonisolated(unsafe) static var folders: [String] = []

    private static func removeAtExit(_ path: String) {
        folders.append(path)
        if folders.count == 1 {
            atexit {
                for folder in TestKeys.folders { try? FileManager.default.removeItem(atPath: folder) }
            }
        }
    }
}
