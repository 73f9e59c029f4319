// The two WireGuard backends without WireGuard: netlink messages byte for byte, and the UAPI
// conversation against an in-process fake of wireguard-go's socket.

import Foundation
import Glibc
import Testing
@testable import RosenpassBroker
import RosenpassTestSupport
import RosenpassSystem

private struct NetlinkFixture: Decodable {
    struct Message: Decodable { var sequence: UInt32; var message: String }
    struct Dump: Decodable { var payload, listedPeer, otherPeer, absentPeer: String }
    var family: UInt16
    var interface, peer, psk: String
    var setDevice, getDevice: Message
    var dumpReply: Dump
}

@Suite struct KernelNetlinkMessageTests {
    private let fixture: NetlinkFixture

    init() throws { fixture = try Fixtures.json(NetlinkFixture.self, "wireguard-netlink.json") }

    @Test func setDevice_carriesOnlyNamePublicKeyUpdateOnlyFlagAndPsk() {
        let message = KernelWireGuardBackend.setDeviceMessage(
            family: fixture.family, sequence: fixture.setDevice.sequence, interface: fixture.interface,
            peer: WireGuardPublicKey(Hex.decode(fixture.peer))!, presharedKey: PresharedKey(Hex.decode(fixture.psk))!)
        #expect(message.withMessage { Hex.encode($0) } == fixture.setDevice.message)
    }

    @Test func getDevice_isADumpRequestForTheInterface() {
        let message = KernelWireGuardBackend.getDeviceMessage(family: fixture.family, sequence: fixture.getDevice.sequence,
                                                              interface: fixture.interface)
        #expect(message.withMessage { Hex.encode($0) } == fixture.getDevice.message)
    }

    @Test func dumpReply_findsListedPeersOnly() {
        let payload = Hex.decode(fixture.dumpReply.payload)
        payload.withUnsafeBytes { bytes in
            #expect(KernelWireGuardBackend.deviceReply(bytes, containsPeer: WireGuardPublicKey(Hex.decode(fixture.dumpReply.listedPeer))!))
            #expect(KernelWireGuardBackend.deviceReply(bytes, containsPeer: WireGuardPublicKey(Hex.decode(fixture.dumpReply.otherPeer))!))
            #expect(!KernelWireGuardBackend.deviceReply(bytes, containsPeer: WireGuardPublicKey(Hex.decode(fixture.dumpReply.absentPeer))!))
            // A truncated reply is not misread.
            #expect(!KernelWireGuardBackend.deviceReply(UnsafeRawBufferPointer(rebasing: bytes[0..<60]),
                                                        containsPeer: WireGuardPublicKey(Hex.decode(fixture.dumpReply.listedPeer))!))
        }
    }
}

/// A fake wireguard-go UAPI socket: answers `get=1` with a fixed device, records `set=1` operations.
private final class FakeUAPI: @unchecked Sendable {
    let directory = TemporaryDirectory()
    let lock = NSLock()
    var operations: [String] = []
    var peers: [WireGuardPublicKey]
    var setErrno = 0
    private var listener: Int32 = -1
    private let acceptDone = DispatchSemaphoreBox()

    init(interface: String, peers: [WireGuardPublicKey]) throws {
        self.peers = peers
        listener = try UnixSocket.listen(path: "\(directory.path)/\(interface).sock", mode: 0o600, gid: nil)
        let fd = listener
        Thread.detachNewThread { [self] in
            defer { acceptDone.signal() }
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                serve(client)
            }
        }
    }

    /// Wakes the accept thread with shutdown(2) and waits for it before closing the fd, so it never
    /// accepts on an fd number another test reuses.
    func stop() {
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        _ = acceptDone.wait(seconds: 10)
        close(listener)
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var text = ""
        var chunk = [UInt8](repeating: 0, count: 512)
        while !text.hasSuffix("\n\n") {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got <= 0 { return }
            text += String(decoding: chunk[0..<got], as: UTF8.self)
        }
        lock.withLock { operations.append(text) }
        let reply: String
        if text == "get=1\n\n" {
            reply = "private_key=\(String(repeating: "ab", count: 32))\nlisten_port=51820\n"
                + peers.map { "public_key=\($0.hex)\npreshared_key=\(String(repeating: "00", count: 32))\nprotocol_version=1\n" }.joined()
                + "errno=0\n\n"
        } else {
            reply = "errno=\(lock.withLock { setErrno })\n\n"
        }
        try? POSIX.writeAll(fd, Array(reply.utf8), context: "fake uapi")
    }
}

@Suite struct UserspaceBackendTests {
    @Test func setsThePskOfAnExistingPeer_withExactlyThreeKeys() throws {
        let uapi = try FakeUAPI(interface: "wgu0", peers: [Frames.peer(1), Frames.peer(2)])
        defer { uapi.stop() }
        let backend = UserspaceWireGuardBackend(directory: uapi.directory.path)
        #expect(backend.hasSocket(for: "wgu0"))
        #expect(backend.setPresharedKey(Frames.psk(9), peer: Frames.peer(2), interface: "wgu0") == .installed)
        let operations = uapi.lock.withLock { uapi.operations }
        #expect(operations.count == 2)
        #expect(operations.first == "get=1\n\n")
        #expect(operations.last == "set=1\npublic_key=\(Frames.peer(2).hex)\nupdate_only=true\npreshared_key=\(WireGuardPublicKey(Frames.key(9))!.hex)\n\n")
    }

    @Test func unknownPeer_isNoSuchPeer_andNothingIsSet() throws {
        let uapi = try FakeUAPI(interface: "wgu1", peers: [Frames.peer(1)])
        defer { uapi.stop() }
        let backend = UserspaceWireGuardBackend(directory: uapi.directory.path)
        #expect(backend.setPresharedKey(Frames.psk(9), peer: Frames.peer(3), interface: "wgu1") == .noSuchPeer)
        #expect(uapi.lock.withLock { uapi.operations } == ["get=1\n\n"])
    }

    @Test func errnoAnswer_isAFailure() throws {
        let uapi = try FakeUAPI(interface: "wgu2", peers: [Frames.peer(1)])
        uapi.lock.withLock { uapi.setErrno = 22 }
        defer { uapi.stop() }
        let backend = UserspaceWireGuardBackend(directory: uapi.directory.path)
        guard case .failed(let message) = backend.setPresharedKey(Frames.psk(9), peer: Frames.peer(1), interface: "wgu2") else {
            Issue.record("errno=22 was not reported as a failure")
            return
        }
        #expect(message.contains("errno=22") && message.contains("wgu2"))
    }

    @Test func missingSocketOrBadName_isNoSuchInterface() {
        let directory = TemporaryDirectory()
        let backend = UserspaceWireGuardBackend(directory: directory.path)
        #expect(!backend.hasSocket(for: "wgu3"))
        #expect(backend.setPresharedKey(Frames.psk(1), peer: Frames.peer(1), interface: "wgu3") == .noSuchInterface)
        #expect(backend.setPresharedKey(Frames.psk(1), peer: Frames.peer(1), interface: "../etc") == .noSuchInterface)
    }

    @Test func automaticBackend_prefersTheUAPISocket() throws {
        let uapi = try FakeUAPI(interface: "wgu4", peers: [Frames.peer(1)])
        defer { uapi.stop() }
        let backend = AutomaticWireGuardBackend(uapiDirectory: uapi.directory.path)
        #expect(backend.backendName(for: "wgu4") == "userspace")
        #expect(backend.backendName(for: "wgu5") == "kernel")
        #expect(backend.setPresharedKey(Frames.psk(2), peer: Frames.peer(1), interface: "wgu4") == .installed)
    }
}
