// Key files, PSK files, key output files and their permissions (`docs/components.md` §5).

import Foundation
import RosenpassCrypto
import RosenpassProtocol
import RosenpassTestSupport
import Testing

@testable import RosenpassApp

/// A fresh temporary folder, removed when the value is released.
final class TemporaryFolder {
    let path: String

    init() {
        let template = NSTemporaryDirectory() + "rosenpass-app-tests-XXXXXX"
        var bytes = Array(template.utf8CString)
        path = bytes.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ bytes: [UInt8], mode: mode_t = 0o600) -> String {
        let file = file(name)
        // Close-on-exec: a process another test spawns meanwhile must not keep it open for writing
        // (exec of a script written here would then fail with ETXTBSY).
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "cannot create \(file): errno \(errno)")
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            precondition(result > 0 || errno == EINTR, "cannot write \(file): errno \(errno)")
            if result > 0 { written += result }
        }
        fchmod(fd, mode)
        close(fd)
        return file
    }

    func mode(_ name: String) -> mode_t {
        var info = stat()
        stat(file(name), &info)
        return info.st_mode & 0o7777
    }

    var entries: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted() ?? [] }
}

@Suite("Key files")
struct KeyFilesTests {
    @Test(arguments: McElieceVariant.allCases)
    func keyPair_roundTripsWithModes(_ variant: McElieceVariant) throws {
        let folder = TemporaryFolder()
        let publicKey = (0..<McElieceVariant.publicKeyCount).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let secretKey = SecretBytes((0..<variant.secretKeyCount).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try StaticKeyFiles.write(publicKey: publicKey, secretKey: secretKey, publicPath: folder.file("pk"), secretPath: folder.file("sk"))
        #expect(folder.mode("sk") == 0o600)
        #expect(folder.mode("pk") == 0o644)
        #expect(folder.entries == ["pk", "sk"], "no temporary files are left behind")
        #expect(try StaticKeyFiles.loadPublicKey(folder.file("pk")) == publicKey)
        let loaded = try StaticKeyFiles.loadSecretKey(folder.file("sk"))
        #expect(loaded.variant == variant)
        #expect(loaded.key.constantTimeEquals(secretKey))
        // Raw bytes on disk, no header: byte-compatible with the reference's files.
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("sk"))) == Data(secretKey.unprotectedArray()))
    }

    /// Issue 12: a key path that named a FIFO blocked `validate` and `exchange-config` forever.
    @Test func namedPipes_neverHang() throws {
        let folder = TemporaryFolder()
        let fifo = folder.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = Date()
        // Nobody opens it for writing: the open does not block, and the read gives up after the wait.
        #expect(errorText { _ = try FileIO.readBytes(fifo, limit: 10, waitMilliseconds: 200) }
            .contains("nothing to read within 0 s: this is a pipe, FIFO or device that no one writes to"))
        // A writer that comes a little later is waited for, as a blocking open would.
        let late = Thread {
            usleep(100_000)
            let fd = open(fifo, O_WRONLY | O_CLOEXEC)
            _ = write(fd, "xyz", 3)
            close(fd)
        }
        late.start()
        #expect(try FileIO.readBytes(fifo, limit: 10, waitMilliseconds: 5_000) == Array("xyz".utf8))
        // A writer that never writes: the read gives up after the wait.
        let writer = open(fifo, O_RDWR | O_CLOEXEC)
        defer { close(writer) }
        #expect(errorText { _ = try FileIO.readBytes(fifo, limit: 10, waitMilliseconds: 200) }
            .contains("nothing to read within 0 s: this is a pipe, FIFO or device that no one writes to"))
        #expect(Date().timeIntervalSince(started) < 5)
        // A pipe whose writer wrote and closed (`<(cat key)`, /dev/stdin) is read as a file.
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        #expect(write(ends[1], "abc", 3) == 3)
        close(ends[1])
        defer { close(ends[0]) }
        #expect(try FileIO.readBytes("/dev/fd/\(ends[0])", limit: 3, waitMilliseconds: 200) == Array("abc".utf8))
    }

    @Test func wrongSizes_areRejectedNamingTheFile() {
        let folder = TemporaryFolder()
        let shortPublic = folder.write("short-pk", [UInt8](repeating: 1, count: 1000), mode: 0o644)
        let longPublic = folder.write("long-pk", [UInt8](repeating: 1, count: McElieceVariant.publicKeyCount + 1), mode: 0o644)
        let oddSecret = folder.write("odd-sk", [UInt8](repeating: 1, count: 13_600))
        let longSecret = folder.write("long-sk", [UInt8](repeating: 1, count: 13_609))
        #expect(errorText { _ = try StaticKeyFiles.loadPublicKey(shortPublic) }
            == "\(shortPublic): not a Classic McEliece 460896 public key: expected 524160 bytes, the file has 1000")
        #expect(errorText { _ = try StaticKeyFiles.loadPublicKey(longPublic) }.contains("longer than 524160 bytes"))
        #expect(errorText { _ = try StaticKeyFiles.loadSecretKey(oddSecret) }
            == "\(oddSecret): not a Classic McEliece 460896 secret key: expected 13568 bytes (round 3) or 13608 bytes (round 4), the file has 13600")
        #expect(errorText { _ = try StaticKeyFiles.loadSecretKey(longSecret) }.hasPrefix("\(longSecret): not a Classic McEliece 460896 secret key"))
        #expect(errorText { _ = try StaticKeyFiles.loadPublicKey(folder.file("missing")) }
            == "\(folder.file("missing")): open failed: No such file or directory (os error 2)")
        #expect(errorText { _ = try StaticKeyFiles.loadPublicKey(folder.path) }.hasSuffix("Is a directory (os error 21)"))
    }

    /// A unit's dynamic user that may not reach a key file is told who it is: that user exists only
    /// while the unit runs, and the cause is usually a folder on the way (as rp@'s key folder).
    @Test func permissionDenied_namesTheUserAndTheFolders() {
        #expect(AppError.system("open", "/etc/rosenpass/server/peers/client/wgpk", errno: EACCES).description
            == "/etc/rosenpass/server/peers/client/wgpk: open failed: Permission denied (os error 13); "
            + "user \(geteuid()) may not open it or search a folder on its way")
    }

    @Test(arguments: [0o640, 0o604, 0o644, 0o660, 0o602] as [mode_t])
    func secretKeyReadableByOthers_isRefusedWithTheFix(_ mode: mode_t) {
        let folder = TemporaryFolder()
        let path = folder.write("sk", [UInt8](repeating: 2, count: 13_568), mode: mode)
        let message = errorText { _ = try StaticKeyFiles.loadSecretKey(path) }
        #expect(message.hasPrefix("\(path): secret key file is accessible by"), "\(message)")
        #expect(message.hasSuffix("Fix it with: chmod 600 \(path)"), "\(message)")
    }

    /// systemd's `LoadCredential=` may grant a dynamic user access through an ACL, which shows as mode
    /// 0440: accepted inside the credentials directory only, and only while nobody else can write it
    /// and others cannot read it.
    @Test func credentialsDirectory_acceptsTheACLModeOnlyThere() throws {
        let credentials = TemporaryFolder()
        let elsewhere = TemporaryFolder()
        func check(_ folder: TemporaryFolder, _ mode: mode_t, credentialsDirectory: String?) -> String {
            let path = folder.write("sk-\(String(mode, radix: 8))", [UInt8](repeating: 2, count: 13_568), mode: mode)
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            return errorText { try FileIO.requirePrivate(fd, path: path, credentialsDirectory: credentialsDirectory) }
        }
        #expect(check(credentials, 0o440, credentialsDirectory: credentials.path) == "no error")
        #expect(check(credentials, 0o440, credentialsDirectory: credentials.path + "/") == "no error")
        #expect(check(credentials, 0o640, credentialsDirectory: credentials.path) == "no error")
        #expect(check(credentials, 0o460, credentialsDirectory: credentials.path).contains("accessible by its group"))
        #expect(check(credentials, 0o444, credentialsDirectory: credentials.path).contains("accessible by group and others"))
        #expect(check(elsewhere, 0o440, credentialsDirectory: credentials.path).contains("chmod 600"))
        #expect(check(credentials, 0o440, credentialsDirectory: nil).contains("chmod 600"))
    }

    @Test(arguments: [0o600, 0o400] as [mode_t])
    func privateSecretKey_isAccepted(_ mode: mode_t) throws {
        let folder = TemporaryFolder()
        let path = folder.write("sk", [UInt8](repeating: 2, count: 13_608), mode: mode)
        #expect(try StaticKeyFiles.loadSecretKey(path).variant == .round4)
    }

    @Test func presharedKey_acceptsOneLineEnding() throws {
        let folder = TemporaryFolder()
        let key = Array(0..<32) as [UInt8]
        let text = Array(Base64Text.encode(key).utf8)
        for (name, suffix) in [("plain", [] as [UInt8]), ("lf", [10]), ("cr", [13]), ("crlf", [13, 10])] {
            let loaded = try PresharedKeyFile.load(folder.write(name, text + suffix))
            #expect(loaded.key.unprotectedArray() == key)
            #expect(loaded.warning == nil)
        }
        for (name, bytes) in [
            ("two-newlines", text + [10, 10]), ("short", Array(Base64Text.encode(Array(key.prefix(16))).utf8)),
            ("not-base64", Array("not base64 at all, definitely not!!!!!!!!!!=".utf8)), ("empty", []),
        ] {
            let path = folder.write(name, bytes)
            #expect(errorText { _ = try PresharedKeyFile.load(path) }.hasPrefix("\(path): not a pre-shared key"))
        }
        let open = try PresharedKeyFile.load(folder.write("open", text, mode: 0o644))
        #expect(open.warning?.contains("chmod 600") == true)
    }

    @Test func keyOutput_isBase64WithoutNewlineMode0600AndReplacedAtomically() throws {
        let folder = TemporaryFolder()
        let path = folder.write("key_out", Array("old".utf8), mode: 0o644)
        var before = stat()
        stat(path, &before)
        let key = SecretBytes(Array(repeating: 0xAB, count: 32))
        try KeyOutputFile.write(key, to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == Base64Text.encode(Array(repeating: 0xAB, count: 32)))
        #expect(text.count == 44 && !text.hasSuffix("\n"))
        #expect(folder.mode("key_out") == 0o600)
        var after = stat()
        stat(path, &after)
        #expect(before.st_ino != after.st_ino, "a new file was renamed into place")
        #expect(folder.entries == ["key_out"])
    }

    @Test func keyOutput_intoMissingFolder_namesTheFile() {
        let folder = TemporaryFolder()
        let message = errorText { try KeyOutputFile.write(SecretBytes(zeros: 32), to: folder.file("nope/key")) }
        #expect(message == "cannot write \(folder.file("nope/key")): the folder \(folder.file("nope")) does not exist", "the path given, not a temporary file: \(message)")
    }

    @Test func base64_decodesOnlyCanonicalPaddedText() {
        func decode(_ text: String) -> [UInt8]? {
            Array(text.utf8).withUnsafeBytes { Base64Text.decode($0)?.unprotectedArray() }
        }
        #expect(decode("Zm9v") == Array("foo".utf8))
        #expect(decode("Zm8=") == Array("fo".utf8))
        #expect(decode("Zg==") == Array("f".utf8))
        #expect(decode("") == [])
        #expect(decode("Zm9") == nil)
        #expect(decode("Zh==") == nil, "non-zero padding bits")
        #expect(decode("Z===") == nil)
        #expect(decode("Zm=v") == nil)
        #expect(decode("Zm9v\n\n") == nil)
        #expect(Base64Text.isKey("mB0Ydpz9Z8XwJcKxq1L1g6l0yq1hZ1fVsw3D5VfUEl8="))
        #expect(!Base64Text.isKey("Zm9v"))
    }
}
