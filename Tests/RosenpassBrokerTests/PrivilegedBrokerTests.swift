// The privileged broker's request handling: backend calls, malformed input, policy, fail-closed timers.

import Foundation
import Glibc
import Testing
@testable import RosenpassBroker
import RosenpassSystem

@Suite struct PrivilegedBrokerTests {
    @Test func request_reachesBackendWithItsValues_andGetsFiveByteAnswer() {
        // docs/components.md §9 item 1: "wg0", all-zero key and peer.
        let backend = RecordingBackend()
        let broker = PrivilegedBroker(backend: backend, logger: LogCapture().logger)
        let payload = Frames.requestPayload(interface: "wg0", psk: [UInt8](repeating: 0, count: 32), peer: [UInt8](repeating: 0, count: 32))
        let response = payload.withUnsafeBytes { broker.handle(payload: $0) }
        #expect(response.encodedPayload == [1, 0, 0, 0, 0])
        #expect(backend.calls == [.init(interface: "wg0", peer: WireGuardPublicKey([UInt8](repeating: 0, count: 32))!, psk: [UInt8](repeating: 0, count: 32))])
    }

    @Test func backendOutcomes_mapToReturnCodes() {
        let backend = RecordingBackend()
        backend.outcomes = ["gone0": .noSuchInterface, "wg1": .noSuchPeer, "wg2": .failed("EPERM")]
        let broker = PrivilegedBroker(backend: backend, logger: LogCapture().logger)
        func code(_ name: String) -> BrokerReturnCode {
            Frames.requestPayload(interface: name, psk: Frames.key(1), peer: Frames.key(2)).withUnsafeBytes { broker.handle(payload: $0) }.returnCode
        }
        #expect(code("wg0") == .success)
        #expect(code("gone0") == .noSuchInterface)
        #expect(code("wg1") == .noSuchPeer)
        #expect(code("wg2") == .internalError)
    }

    @Test func malformedRequests_getInternalError_andNeverReachTheBackend() {
        let backend = RecordingBackend()
        let broker = PrivilegedBroker(backend: backend, logger: LogCapture().logger)
        let good = Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2))
        var badName = good
        badName[68] = 2
        badName[69] = 0xc3
        badName[70] = 0x28
        for bad in [Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2), type: 0xff),
                    Array(good.dropLast()), good + [0], [], badName] {
            #expect(bad.withUnsafeBytes { broker.handle(payload: $0) }.returnCode == .internalError)
        }
        #expect(backend.calls.isEmpty)
    }

    @Test func installs_areLoggedWithInterfacePeerAndTime_neverTheKey() {
        let log = LogCapture()
        let broker = PrivilegedBroker(backend: RecordingBackend(), logger: log.logger)
        let psk = Frames.key(42)
        _ = Frames.requestPayload(interface: "wg0", psk: psk, peer: Frames.key(2)).withUnsafeBytes { broker.handle(payload: $0) }
        let line = log.lines.first { $0.contains("installed PSK") } ?? ""
        #expect(line.contains("wg0"))
        #expect(line.contains(Frames.peer(2).base64))
        #expect(line.range(of: #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"#, options: .regularExpression) != nil)
        let pskBase64 = WireGuardPublicKey(psk)!.base64, pskHex = WireGuardPublicKey(psk)!.hex
        #expect(!log.text.contains(pskBase64) && !log.text.contains(pskHex))
    }

    @Test func policy_refusesOtherInterfacesAndPeers_withInternalErrorAndALogLine() throws {
        var policy = BrokerPolicy()
        try policy.allowInterface("wg0")
        try policy.allowPeer("wg1:\(Frames.peer(7).base64)")
        let backend = RecordingBackend()
        let log = LogCapture()
        let broker = PrivilegedBroker(backend: backend, policy: policy, logger: log.logger)
        func code(_ name: String, _ peer: UInt8) -> BrokerReturnCode {
            Frames.requestPayload(interface: name, psk: Frames.key(1), peer: Frames.key(peer)).withUnsafeBytes { broker.handle(payload: $0) }.returnCode
        }
        #expect(code("wg0", 1) == .success)
        #expect(code("wg0", 2) == .success)
        #expect(code("wg1", 7) == .success)
        #expect(code("wg1", 8) == .internalError)
        #expect(code("wg2", 7) == .internalError)
        #expect(backend.calls.map(\.interface) == ["wg0", "wg0", "wg1"])
        #expect(log.lines.filter { $0.contains("not in the allow-list") }.count == 2)
    }

    @Test func maxKeyAge_replacesAStaleKeyWithARandomOne_once() {
        let backend = RecordingBackend()
        let log = LogCapture()
        var now = 1000.0
        let broker = PrivilegedBroker(backend: backend, maxKeyAge: 180, logger: log.logger, clock: { now })
        _ = Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2)).withUnsafeBytes { broker.handle(payload: $0) }
        #expect(broker.nextDeadline == 1180)
        now = 1179
        broker.expireStaleKeys()
        #expect(backend.calls.count == 1)
        now = 1180
        broker.expireStaleKeys()
        #expect(backend.calls.count == 2)
        let replacement = backend.calls[1]
        #expect(replacement.interface == "wg0" && replacement.peer == Frames.peer(2))
        #expect(replacement.psk != Frames.key(1))
        #expect(log.lines.contains { $0.contains("replaced the PSK") && $0.contains("random") })
        // Nothing more to protect until a real key arrives again.
        #expect(broker.nextDeadline == nil)
        now = 5000
        broker.expireStaleKeys()
        #expect(backend.calls.count == 2)
    }

    @Test func maxKeyAge_freshKeysPostponeTheDeadline() {
        let backend = RecordingBackend()
        var now = 0.0
        let broker = PrivilegedBroker(backend: backend, maxKeyAge: 100, logger: LogCapture().logger, clock: { now })
        for step in 0..<5 {
            now = Double(step) * 90
            _ = Frames.requestPayload(interface: "wg0", psk: Frames.key(UInt8(step)), peer: Frames.key(2)).withUnsafeBytes { broker.handle(payload: $0) }
            broker.expireStaleKeys()
        }
        #expect(backend.calls.count == 5)
    }

    @Test func maxKeyAge_watchesAllowListedPeersFromStartUp() throws {
        var policy = BrokerPolicy()
        try policy.allowPeer(interface: "wg0", publicKey: Frames.peer(3).base64)
        let backend = RecordingBackend()
        var now = 0.0
        let broker = PrivilegedBroker(backend: backend, policy: policy, maxKeyAge: 60, logger: LogCapture().logger, clock: { now })
        broker.start(randomizeAllowedPeers: false)
        #expect(backend.calls.isEmpty)
        now = 61
        broker.expireStaleKeys()
        #expect(backend.calls.map(\.peer) == [Frames.peer(3)])
    }

    @Test func carriedOverTimers_keepTheirDeadlineAcrossARestart() throws {
        var policy = BrokerPolicy()
        try policy.allowInterface("wg0")
        let backend = RecordingBackend()
        var now = 100.0
        let broker = PrivilegedBroker(backend: backend, policy: policy, maxKeyAge: 180, logger: LogCapture().logger, clock: { now })
        let timers = [CarriedOverKeyTimer(pair: PeerOnInterface(interface: "wg0", peer: Frames.peer(1)), remainingSeconds: 30),
                      CarriedOverKeyTimer(pair: PeerOnInterface(interface: "wg9", peer: Frames.peer(2)), remainingSeconds: 5)]
        broker.start(randomizeAllowedPeers: false, carriedOver: timers)
        #expect(broker.nextDeadline == 130)  // not 100 + 180: the restart does not extend the key's life
        now = 130
        broker.expireStaleKeys()
        #expect(backend.calls.map(\.peer) == [Frames.peer(1)])  // wg9 is not allowed: never touched
    }

    @Test func carriedOverTimer_argumentRoundTrip() throws {
        let timer = CarriedOverKeyTimer(pair: PeerOnInterface(interface: "wg0", peer: Frames.peer(1)), remainingSeconds: 12.3456)
        #expect(timer.argument == "wg0:\(Frames.peer(1).base64):12.346")
        let parsed = try CarriedOverKeyTimer(parsing: timer.argument)
        #expect(parsed.pair == timer.pair && abs(parsed.remainingSeconds - 12.346) < 1e-9)
        #expect(CarriedOverKeyTimer(pair: timer.pair, remainingSeconds: -3).argument.hasSuffix(":0.000"))
        for bad in ["wg0:\(Frames.peer(1).base64)", "../x:\(Frames.peer(1).base64):1", "wg0:short:1", "wg0:\(Frames.peer(1).base64):soon"] {
            #expect(throws: BrokerError.self, "\(bad)") { try CarriedOverKeyTimer(parsing: bad) }
        }
    }

    @Test func randomPskAtStart_setsEveryAllowListedPeer() throws {
        var policy = BrokerPolicy()
        try policy.allowPeer(interface: "wg0", publicKey: Frames.peer(3).base64)
        try policy.allowPeer(interface: "wg1", publicKey: Frames.peer(4).base64)
        let backend = RecordingBackend()
        let broker = PrivilegedBroker(backend: backend, policy: policy, logger: LogCapture().logger)
        broker.start(randomizeAllowedPeers: true)
        #expect(backend.calls.map(\.interface) == ["wg0", "wg1"])
        #expect(backend.calls[0].psk != backend.calls[1].psk)
    }

    @Test func failedRandomReplacement_isRetried() {
        let backend = RecordingBackend()
        var now = 0.0
        let broker = PrivilegedBroker(backend: backend, maxKeyAge: 10, logger: LogCapture().logger, clock: { now })
        _ = Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2)).withUnsafeBytes { broker.handle(payload: $0) }
        backend.outcomes["wg0"] = .failed("netlink timeout")
        now = 10
        broker.expireStaleKeys()
        #expect(broker.nextDeadline == 15)
        backend.outcomes["wg0"] = nil
        now = 15
        broker.expireStaleKeys()
        #expect(backend.calls.count == 3)
        #expect(broker.nextDeadline == nil)
    }

    @Test func server_answersEveryFrame_malformedAndOversizedIncluded_andStaysUsable() throws {
        let (ours, theirs) = try POSIX.socketPair()
        defer { close(ours) }
        let backend = RecordingBackend()
        nonisolated(unsafe) let broker = PrivilegedBroker(backend: backend, logger: LogCapture().logger)
        let serverDone = DispatchSemaphoreBox()
        Thread.detachNewThread {
            try? PrivilegedBrokerServer(broker: broker, input: theirs, output: theirs, logger: LogCapture().logger).run()
            close(theirs)
            serverDone.signal()
        }
        let good = Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2))
        var stream = Frames.frame([9, 9, 9])                              // too short
        stream += Frames.frame([UInt8](repeating: 0xff, count: 1000))      // oversized: skipped
        stream += Frames.frame(Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2), type: 7))
        stream += Frames.frame(good)
        try POSIX.writeAll(ours, stream, context: "test")
        let answers = readExactly(ours, 4 * 13)
        #expect(answers == SetPskResponse(.internalError).encodedFrame + SetPskResponse(.internalError).encodedFrame
                + SetPskResponse(.internalError).encodedFrame + SetPskResponse(.success).encodedFrame)
        #expect(backend.calls.count == 1)
        shutdown(ours, Int32(SHUT_WR))
        #expect(serverDone.wait(seconds: 5))
    }
}

/// A semaphore with a timeout, for threads in tests.
final class DispatchSemaphoreBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var signalled = false

    func signal() {
        condition.lock()
        signalled = true
        condition.broadcast()
        condition.unlock()
    }

    func wait(seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !signalled { if !condition.wait(until: deadline) { return signalled } }
        return true
    }
}
