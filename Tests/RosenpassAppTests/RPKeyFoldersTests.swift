// `rp genkey` / `rp pubkey` key folders and their permissions (`docs/components.md` §8.2, §9 item 10).

import Foundation
import RosenpassBroker
import RosenpassCrypto
import RosenpassProtocol
import RosenpassTestSupport
import Testing

@testable import RosenpassApp

@Suite("rp key folders")
struct RPKeyFoldersTests {
    private func mode(_ path: String) -> mode_t {
        var info = stat()
        stat(path, &info)
        return info.st_mode & 0o7777
    }

    private func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    private func hex(_ text: String) -> [UInt8] {
        var bytes = [UInt8]()
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    @Test func genKeyThenPubKey_makeLoadableFolders() throws {
        let folder = TemporaryFolder()
        let privateDir = folder.file("nested/alice.private")
        let publicDir = folder.file("published/alice.public")
        var notes = [String]()
        try RPKeyFolders.generate(privateKeysDir: privateDir) { notes.append($0) }
        #expect(notes.isEmpty)
        #expect(mode(privateDir) == 0o700, "the private folder is 0700 whatever the umask")
        #expect(Set((try? FileManager.default.contentsOfDirectory(atPath: privateDir)) ?? []) == ["wgsk", "pqsk", "pqpk"])
        #expect(mode(privateDir + "/wgsk") == 0o600)
        #expect(mode(privateDir + "/pqsk") == 0o600)

        let wgsk = try #require(contents(privateDir + "/wgsk"))
        #expect(wgsk.count == 44 && !wgsk.contains(UInt8(ascii: "\n")), "base64 of 32 bytes, no newline")
        let secret = try RPKeyFolders.loadWireGuardSecretKey(privateDir + "/wgsk")
        #expect(secret.count == 32)
        let (staticSecret, variant) = try StaticKeyFiles.loadSecretKey(privateDir + "/pqsk")
        #expect(variant == .round3)
        #expect(staticSecret.count == variant.secretKeyCount)
        let staticPublic = try StaticKeyFiles.loadPublicKey(privateDir + "/pqpk")
        #expect(staticPublic.count == McElieceVariant.publicKeyCount)

        try RPKeyFolders.derivePublic(privateKeysDir: privateDir, publicKeysDir: publicDir)
        #expect(Set((try? FileManager.default.contentsOfDirectory(atPath: publicDir)) ?? []) == ["wgpk", "pqpk"])
        #expect(contents(publicDir + "/pqpk") == contents(privateDir + "/pqpk"), "pqpk is copied byte for byte")
        let wgpk = try RPKeyFolders.loadWireGuardPublicKey(publicDir + "/wgpk")
        #expect(wgpk == (try WireGuardKeys.publicKey(of: secret)))
        #expect(String(decoding: try #require(contents(publicDir + "/wgpk")), as: UTF8.self) == wgpk.base64)

        // pubkey never writes into an existing folder.
        #expect(errorText { try RPKeyFolders.derivePublic(privateKeysDir: privateDir, publicKeysDir: publicDir) }.contains("already exists"))
        // genkey again keeps every key and says so.
        try RPKeyFolders.generate(privateKeysDir: privateDir) { notes.append($0) }
        #expect(notes.count == 2)
        #expect(notes.allSatisfy { $0.contains("already exist") && $0.hasSuffix("not regenerating") })
        #expect(contents(privateDir + "/wgsk") == wgsk)
        #expect(try StaticKeyFiles.loadPublicKey(privateDir + "/pqpk") == staticPublic)
    }

    @Test func genKey_acceptsAnExisting0700Folder() throws {
        // The reference compared the whole st_mode with 0o700 and so refused every existing folder.
        let folder = TemporaryFolder()
        let privateDir = folder.file("keys")
        #expect(mkdir(privateDir, 0o700) == 0)
        chmod(privateDir, 0o700)
        let placeholderSecret = [UInt8](repeating: 1, count: 10)
        _ = FileManager.default.createFile(atPath: privateDir + "/pqsk", contents: Data(placeholderSecret))
        _ = FileManager.default.createFile(atPath: privateDir + "/pqpk", contents: Data([2, 3]))
        chmod(privateDir + "/pqsk", 0o600)
        var notes = [String]()
        try RPKeyFolders.generate(privateKeysDir: privateDir) { notes.append($0) }
        #expect(notes.count == 1 && notes[0].contains("Rosenpass keys already exist"))
        #expect(contents(privateDir + "/pqsk") == placeholderSecret, "existing keys are never replaced")
        #expect(mode(privateDir + "/wgsk") == 0o600, "the missing WireGuard key is added")
    }

    @Test func genKey_refusesAFolderOthersCanEnter() {
        let folder = TemporaryFolder()
        let privateDir = folder.file("keys")
        mkdir(privateDir, 0o755)
        chmod(privateDir, 0o755)
        let message = errorText { try RPKeyFolders.generate(privateKeysDir: privateDir) { _ in } }
        #expect(message.contains("has incorrect permissions: please use 0700"))
        #expect(message.contains("it has 755"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: privateDir)) == [], "nothing is written")
    }

    @Test func genKey_refusesHalfAKeyPair() {
        let folder = TemporaryFolder()
        let privateDir = folder.file("keys")
        mkdir(privateDir, 0o700)
        chmod(privateDir, 0o700)
        _ = FileManager.default.createFile(atPath: privateDir + "/pqsk", contents: Data([1]))
        chmod(privateDir + "/pqsk", 0o600)
        #expect(errorText { try RPKeyFolders.generate(privateKeysDir: privateDir) { _ in } }.contains("the Rosenpass key pair is incomplete"))
        let file = folder.file("plain")
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        #expect(errorText { try RPKeyFolders.generate(privateKeysDir: file) { _ in } }.contains("exists and is not a directory"))
    }

    @Test func pubKey_ofAnIncompleteFolder_createsNothing() {
        let folder = TemporaryFolder()
        let privateDir = folder.file("keys")
        mkdir(privateDir, 0o700)
        let message = errorText { try RPKeyFolders.derivePublic(privateKeysDir: privateDir, publicKeysDir: folder.file("pub")) }
        #expect(message.contains("wgsk"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("pub")))
    }

    @Test func wireGuardKeyFiles_formatAndPermissions() throws {
        let folder = TemporaryFolder()
        // RFC 7748 §6.1: Alice's private key and X25519 public key.
        let secret = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
        let expectedPublic = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        #expect(try WireGuardKeys.publicKey(of: SecretBytes(secret)).rawBytes == expectedPublic)

        // `wg genkey` output (with its newline) is accepted; group- or world-readable secrets are not.
        let text = Array((Base64Text.encode(secret) + "\n").utf8)
        let good = folder.write("wgsk", text, mode: 0o600)
        #expect(try RPKeyFolders.loadWireGuardSecretKey(good).unprotectedArray() == secret)
        let open = folder.write("open-wgsk", text, mode: 0o644)
        let openMessage = errorText { _ = try RPKeyFolders.loadWireGuardSecretKey(open) }
        #expect(openMessage.contains(open) && openMessage.contains("mode 644"), "names the file and its mode: \(openMessage)")
        #expect(openMessage.contains("chmod 600"), "says how to fix it: \(openMessage)")
        let short = folder.write("short", Array("AAAA".utf8), mode: 0o600)
        #expect(errorText { _ = try RPKeyFolders.loadWireGuardSecretKey(short) }.contains("not a WireGuard private key"))
        let long = folder.write("long", [UInt8](repeating: UInt8(ascii: "A"), count: 60), mode: 0o600)
        #expect(errorText { _ = try RPKeyFolders.loadWireGuardSecretKey(long) }.contains("longer than 53 bytes"))
        let publicFile = folder.write("wgpk", Array("not base64 at all!".utf8), mode: 0o644)
        #expect(errorText { _ = try RPKeyFolders.loadWireGuardPublicKey(publicFile) }.contains("not a WireGuard public key"))
    }
}
