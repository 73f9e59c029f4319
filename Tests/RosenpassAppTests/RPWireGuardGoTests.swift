// `rp exchange`'s userspace fallback and its end (`docs/components.md` §8.3): a UAPI socket left by a
// killed wireguard-go must neither stop rp nor pass for the new wireguard-go's socket, a live one
// means the name is taken, and a failed removal of the interface is reported as a failure.
//
// wireguard-go itself is stood in for by a shell script: these tests are about rp's side (what it
// does with the socket path and the child), not about wireguard-go.

import Foundation
import RosenpassBroker
import RosenpassTestSupport
import Testing

@testable import RosenpassApp
import RosenpassSystem

@Suite("rp wireguard-go process")
struct RPWireGuardGoTests {
    /// A unix socket file nobody listens on any more, as a SIGKILLed wireguard-go leaves it.
    private func staleSocket(_ path: String) throws {
        close(try UnixSocket.listen(path: path, mode: 0o600, gid: nil))
    }

    private func isSocket(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
    }

    /// An executable script standing in for wireguard-go.
    private func fakeWireGuardGo(_ folder: TemporaryFolder, _ body: String) -> String {
        folder.write("fake-wireguard-go", Array("#!/bin/sh\n\(body)\n".utf8), mode: 0o755)
    }

    @Test func clearStaleSocket_removesASocketNobodyServes() throws {
        let folder = TemporaryFolder()
        let path = folder.file("wg7.sock")
        try WireGuardGoProcess.clearStaleSocket(path, interface: "wg7")  // nothing there: fine

        try staleSocket(path)
        #expect(isSocket(path))
        try WireGuardGoProcess.clearStaleSocket(path, interface: "wg7")
        #expect(!isSocket(path), "the stale socket was not removed")
    }

    @Test func clearStaleSocket_refusesASocketSomeoneServes() throws {
        let folder = TemporaryFolder()
        let path = folder.file("wg7.sock")
        let listener = try UnixSocket.listen(path: path, mode: 0o600, gid: nil)
        defer { close(listener) }
        let message = errorText { try WireGuardGoProcess.clearStaleSocket(path, interface: "wg7") }
        #expect(message.contains("a WireGuard interface wg7 already exists"), "\(message)")
        #expect(message.contains(path))
        #expect(isSocket(path), "a live socket was removed")
    }

    @Test func clearStaleSocket_leavesOtherFilesAlone() throws {
        let folder = TemporaryFolder()
        let path = folder.write("wg7.sock", Array("data".utf8))
        let message = errorText { try WireGuardGoProcess.clearStaleSocket(path, interface: "wg7") }
        #expect(message.contains("is not a socket"), "\(message)")
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func waitForSocket_doesNotTakeAStaleSocketForTheNewOne() throws {
        let folder = TemporaryFolder()
        let path = folder.file("wg7.sock")
        try staleSocket(path)
        let process = try WireGuardGoProcess(executable: fakeWireGuardGo(folder, "exec sleep 30"), interface: "wg7")
        defer { process.stop() }
        let message = errorText { try process.waitForSocket(path, timeout: 0.3) }
        #expect(message.contains("did not answer on its UAPI socket \(path)"), "\(message)")
        #expect(message.contains("refuses connections"), "\(message)")
    }

    @Test func waitForSocket_returnsOnceTheSocketAccepts() throws {
        let folder = TemporaryFolder()
        let path = folder.file("wg7.sock")
        let listener = try UnixSocket.listen(path: path, mode: 0o600, gid: nil)
        defer { close(listener) }
        let process = try WireGuardGoProcess(executable: fakeWireGuardGo(folder, "exec sleep 30"), interface: "wg7")
        defer { process.stop() }
        try process.waitForSocket(path, timeout: 5)
        #expect(process.unexpectedExit == nil)
    }

    @Test func waitForSocket_reportsAnEarlyExit() throws {
        let folder = TemporaryFolder()
        let process = try WireGuardGoProcess(executable: fakeWireGuardGo(folder, "exit 3"), interface: "wg7")
        defer { process.stop() }
        let message = errorText { try process.waitForSocket(folder.file("wg7.sock"), timeout: 10) }
        #expect(message.contains("before it created wg7"), "\(message)")
        #expect(message.contains("exited with status 3"), "\(message)")
    }

    @Test func conclude_aFailedRemovalIsAFailureAndNotReportedAsRemoved() {
        var notes = [String]()
        let removal = AppError.runtime("could not remove the interface rp0: RTM_DELLINK failed")
        let alone = errorText { try RPExchange.conclude(device: "rp0", failure: nil, removal: removal) { notes.append($0) } }
        #expect(alone.contains("could not remove the interface rp0"), "\(alone)")
        #expect(notes.isEmpty, "a note was printed although the removal failed: \(notes)")

        let both = errorText {
            try RPExchange.conclude(device: "rp0", failure: .runtime("wireguard-go exited"), removal: removal) { notes.append($0) }
        }
        #expect(both.contains("wireguard-go exited") && both.contains("could not remove the interface rp0"), "\(both)")
        #expect(notes.isEmpty)
    }

    @Test func conclude_aSuccessfulRemovalIsReported() {
        var notes = [String]()
        #expect(errorText { try RPExchange.conclude(device: "rp0", failure: nil, removal: nil) { notes.append($0) } } == "no error")
        #expect(notes == ["rp: removed rp0"])
        let failed = errorText { try RPExchange.conclude(device: "rp0", failure: .runtime("boom"), removal: nil) { notes.append($0) } }
        #expect(failed.contains("boom"))
        #expect(notes == ["rp: removed rp0", "rp: removed rp0"])
    }
}
