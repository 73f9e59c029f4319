// The daemon's broker client: delivery, one answer per request, reconnection and re-sending.

import Foundation
import Glibc
import Testing
import RosenpassTestSupport
@testable import RosenpassBroker
@testable import RosenpassBrokerClient
import RosenpassSystem

@Suite(.serialized) struct PSKBrokerClientTests {
    private func makeClient(_ endpoint: PSKBrokerEndpoint, events: EventLog, retry: Double = 0.05, log: LogCapture = LogCapture()) throws -> PSKBrokerClient {
        var options = PSKBrokerClient.Options()
        options.initialBackoff = 0.02
        options.maximumBackoff = 0.2
        options.initialRetryDelay = retry
        options.maximumRetryDelay = retry
        return try PSKBrokerClient(endpoint: endpoint, options: options, logger: log.logger) { events.record($0) }
    }

    @Test func deliversKeys_andConsumesEveryResponseOnce() throws {
        let directory = TemporaryDirectory()
        let server = FakeBrokerServer(path: directory.path + "/broker.sock")
        try server.start()
        defer { server.stop() }
        let events = EventLog()
        let client = try makeClient(.socketPath(server.path), events: events)
        try client.start()
        defer { client.shutdown() }
        // Many updates for several peers: each response must be matched to its own request.
        for round in 0..<20 {
            for peer in 0..<3 {
                try client.setPresharedKey(Frames.psk(UInt8(round * 3 + peer)), peer: Frames.peer(UInt8(100 + peer)), interface: "wg\(peer)")
            }
            usleep(2_000)
        }
        #expect(eventually { (0..<3).allSatisfy { client.state(peer: Frames.peer(UInt8(100 + $0)), interface: "wg\($0)") == .delivered } })
        // The last key of every peer reached the broker, and the newest one was the last sent for it.
        for peer in 0..<3 {
            let forPeer = server.received.filter { $0.interface == "wg\(peer)" }
            #expect(forPeer.last?.psk == Frames.key(UInt8(19 * 3 + peer)))
        }
        #expect(events.count { if case .delivered = $0 { return true } else { return false } } == server.received.count)
    }

    @Test func reconnectsWithBackoff_andResendsEveryCurrentKey() throws {
        let directory = TemporaryDirectory()
        let server = FakeBrokerServer(path: directory.path + "/broker.sock")
        try server.start()
        let events = EventLog()
        let client = try makeClient(.socketPath(server.path), events: events)
        try client.start()
        defer { client.shutdown() }
        try client.setPresharedKey(Frames.psk(1), peer: Frames.peer(1), interface: "wg0")
        try client.setPresharedKey(Frames.psk(2), peer: Frames.peer(2), interface: "wg0")
        #expect(eventually { server.received.count == 2 })

        // The broker goes away; a key set meanwhile must not be lost.
        server.stop()
        #expect(eventually { events.count { if case .disconnected = $0 { return true } else { return false } } >= 1 })
        try client.setPresharedKey(Frames.psk(3), peer: Frames.peer(1), interface: "wg0")
        usleep(300_000)
        #expect(client.state(peer: Frames.peer(1), interface: "wg0") == .pending)

        let restarted = FakeBrokerServer(path: server.path)
        try restarted.start()
        defer { restarted.stop() }
        #expect(eventually { restarted.received.count >= 2 })
        let resent = Dictionary(restarted.received.map { ($0.peer, $0.psk) }, uniquingKeysWith: { _, last in last })
        #expect(resent[Frames.peer(1)] == Frames.key(3))  // the newest key, not the one delivered before
        #expect(resent[Frames.peer(2)] == Frames.key(2))  // delivered before, re-sent anyway: the broker may have restarted
        #expect(eventually { client.state(peer: Frames.peer(1), interface: "wg0") == .delivered })
        #expect(events.count { $0 == .connected } == 2)
    }

    @Test func errorAnswers_areRetriedUntilDelivered() throws {
        let directory = TemporaryDirectory()
        let server = FakeBrokerServer(path: directory.path + "/broker.sock")
        server.codes = ["wg0": .noSuchPeer]
        try server.start()
        defer { server.stop() }
        let events = EventLog()
        let client = try makeClient(.socketPath(server.path), events: events)
        try client.start()
        defer { client.shutdown() }
        try client.setPresharedKey(Frames.psk(1), peer: Frames.peer(1), interface: "wg0")
        #expect(eventually { client.state(peer: Frames.peer(1), interface: "wg0") == .failed(.noSuchPeer) })
        #expect(eventually { server.received.count >= 3 })  // retried
        server.codes = [:]
        #expect(eventually { client.state(peer: Frames.peer(1), interface: "wg0") == .delivered })
        #expect(events.events.contains(.failed(interface: "wg0", peer: Frames.peer(1), code: .noSuchPeer)))
    }

    @Test func startsBeforeTheBrokerExists_andDeliversOnceItAppears() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        let events = EventLog()
        let client = try makeClient(.socketPath(path), events: events)
        try client.start()
        defer { client.shutdown() }
        try client.setPresharedKey(Frames.psk(5), peer: Frames.peer(5), interface: "wg0")
        usleep(200_000)
        let server = FakeBrokerServer(path: path)
        try server.start()
        defer { server.stop() }
        #expect(eventually { server.received.map(\.psk) == [Frames.key(5)] },
                "received \(server.received.count) keys over \(server.connections) connections; events \(events.events)")
    }

    @Test func inheritedDescriptor_talksOverASocketPair_andReportsWhenItIsGone() throws {
        let (ours, theirs) = try POSIX.socketPair()
        let events = EventLog()
        let client = try makeClient(.inheritedDescriptor(theirs), events: events)
        try client.start()
        defer { client.shutdown() }
        try client.setPresharedKey(Frames.psk(8), peer: Frames.peer(8), interface: "wg0")
        let request = readExactly(ours, 8 + BrokerWire.requestSize)
        #expect(Array(request[8 + 4..<8 + 36]) == Frames.key(8))
        try POSIX.writeAll(ours, SetPskResponse(.success).encodedFrame, context: "test")
        #expect(eventually { client.state(peer: Frames.peer(8), interface: "wg0") == .delivered })
        close(ours)
        #expect(eventually { events.events.contains { if case .unrecoverable = $0 { return true } else { return false } } })
    }

    /// A forwarded broker socket whose far end is missing (an SSH or socat link up while the local
    /// peer's broker is down) accepts every connection and closes it at once. The client keeps the
    /// key and keeps trying; once the broker answers again the key is delivered.
    @Test func connectionsClosedAtOnce_backOff_andTheKeyIsDeliveredWhenTheBrokerAnswers() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        let listener = try UnixSocket.listen(path: path, mode: 0o600, gid: nil)
        let accepted = Counter()
        let acceptorDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { acceptorDone.signal() }
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 { if errno == EINTR { continue } else { return } }
                accepted.increment()
                close(fd)
            }
        }
        let events = EventLog()
        let client = try makeClient(.socketPath(path), events: events)
        try client.start()
        defer { client.shutdown() }
        try client.setPresharedKey(Frames.psk(4), peer: Frames.peer(4), interface: "wg0")
        // The back-off itself (how often, how long) is PSKDeliveryQueueTests' to check on a fake
        // clock; here, that the client keeps trying and keeps the key.
        #expect(eventually { accepted.value >= 3 })
        let state = client.state(peer: Frames.peer(4), interface: "wg0")
        #expect(state == .pending || state == .sent, "not delivered, and not forgotten")

        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        _ = acceptorDone.wait(timeout: .now() + 10)
        close(listener)
        unlink(path)
        let server = FakeBrokerServer(path: path)
        try server.start()
        defer { server.stop() }
        #expect(eventually { client.state(peer: Frames.peer(4), interface: "wg0") == .delivered })
        #expect(server.received.map(\.psk) == [Frames.key(4)])
    }

    /// The daemon's default broker: `rosenpass-wireguard-broker-privileged` spawned over its stdin and
    /// stdout, two pipes and no unix socket (docs/components.md §2.4). Its refusal comes back through the
    /// pipes; a killed broker is replaced and the key sent again.
    @Test func spawnedPrivilegedBroker_talksOverPipes_andIsReplacedWhenItDies() throws {
        let privileged = BuiltProducts.executable("rosenpass-wireguard-broker-privileged").path
        let marker = "rpt\(getpid() % 1_000_000)"  // the only interface it may touch: none that exists
        let events = EventLog()
        let log = LogCapture()
        let client = try makeClient(.spawnBroker(executable: privileged, arguments: ["--allow-interface", marker]), events: events, retry: 5, log: log)
        try client.start()
        defer { client.shutdown() }
        try client.setPresharedKey(Frames.psk(9), peer: Frames.peer(9), interface: "wg-not-allowed")
        let refused = PSKBrokerClientEvent.failed(interface: "wg-not-allowed", peer: Frames.peer(9), code: .internalError)
        #expect(eventually { events.count { $0 == refused } == 1 }, "events \(events.events); log:\n\(log.text)")

        let children = childProcesses(withArgument: marker)
        #expect(children.count == 1)
        let child = try #require(children.first)
        #expect(descriptorTarget(child, 0).hasPrefix("pipe:"), "stdin: \(descriptorTarget(child, 0))")
        #expect(descriptorTarget(child, 1).hasPrefix("pipe:"), "stdout: \(descriptorTarget(child, 1))")
        kill(child, SIGKILL)
        #expect(eventually { events.count { $0 == .connected } >= 2 })
        #expect(eventually { events.count { $0 == refused } >= 2 }, "the key goes to the new broker at once")
        #expect(eventually { childProcesses(withArgument: marker).count == 1 && !childProcesses(withArgument: marker).contains(child) })
    }

    /// The daemon's default broker gets the allow-list of its peers (setBrokerArguments); when a
    /// reload adds a peer, the broker is started again with the longer list and the key goes through.
    @Test func spawnedPrivilegedBroker_isStartedAgain_whenItsArgumentsChange() throws {
        let privileged = BuiltProducts.executable("rosenpass-wireguard-broker-privileged").path
        let marker = "rpa\(getpid() % 1_000_000)"  // interface names that do not exist
        let events = EventLog()
        let log = LogCapture()
        let client = try makeClient(.spawnBroker(executable: privileged, arguments: []), events: events, retry: 5, log: log)
        client.setBrokerArguments(["--allow-peer", "\(marker)a:\(Frames.peer(1).base64)"])
        try client.start()
        defer { client.shutdown() }
        try client.setPresharedKey(Frames.psk(1), peer: Frames.peer(1), interface: "\(marker)a")
        try client.setPresharedKey(Frames.psk(2), peer: Frames.peer(2), interface: "\(marker)b")
        // Allowed: the broker looks for the interface (there is none); not allowed: refused.
        #expect(eventually { client.state(peer: Frames.peer(1), interface: "\(marker)a") == .failed(.noSuchInterface) }, "\(log.text)")
        #expect(eventually { client.state(peer: Frames.peer(2), interface: "\(marker)b") == .failed(.internalError) })
        let first = childProcesses(withArgument: "\(marker)a:\(Frames.peer(1).base64)")
        #expect(first.count == 1)

        client.setBrokerArguments(["--allow-peer", "\(marker)a:\(Frames.peer(1).base64)", "--allow-peer", "\(marker)b:\(Frames.peer(2).base64)"])
        #expect(eventually { client.state(peer: Frames.peer(2), interface: "\(marker)b") == .failed(.noSuchInterface) }, "\(log.text)")
        #expect(log.text.contains("the PSK broker's arguments (its allow-list) changed; starting it again with them"))
        #expect(!log.text.contains("lost the PSK broker"), "a planned restart is not a lost broker")
        let second = childProcesses(withArgument: "\(marker)b:\(Frames.peer(2).base64)")
        #expect(second.count == 1 && Set(second).isDisjoint(with: first), "the first broker was replaced")
        // The same arguments again change nothing.
        client.setBrokerArguments(["--allow-peer", "\(marker)a:\(Frames.peer(1).base64)", "--allow-peer", "\(marker)b:\(Frames.peer(2).base64)"])
        usleep(300_000)
        #expect(childProcesses(withArgument: "\(marker)b:\(Frames.peer(2).base64)") == second)
    }

    @Test func malformedResponse_dropsTheConnection_andTheKeyIsResent() throws {
        let (ours, theirs) = try POSIX.socketPair()
        let events = EventLog()
        let client = try makeClient(.inheritedDescriptor(theirs), events: events)
        try client.start()
        defer { client.shutdown() }
        try client.setPresharedKey(Frames.psk(8), peer: Frames.peer(8), interface: "wg0")
        _ = readExactly(ours, 8 + BrokerWire.requestSize)
        try POSIX.writeAll(ours, LengthPrefixedFrames.encode([0xff, 0, 0, 0, 0]), context: "test")
        #expect(eventually { events.events.contains { if case .unrecoverable = $0 { return true } else { return false } } })
        #expect(client.state(peer: Frames.peer(8), interface: "wg0") == .pending)
        close(ours)
    }
}

/// A thread-safe counter.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}

/// Our child processes whose command line has `argument`.
private func childProcesses(withArgument argument: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, fields[0] != "Z", Int32(fields[1]) == getpid() else { return false }
        let commandLine = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return commandLine.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
    }
}

/// What fd `fd` of process `pid` is (`/proc/PID/fd/FD`), e.g. `pipe:[1234]` or `socket:[5678]`.
private func descriptorTarget(_ pid: pid_t, _ fd: Int32) -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? "unreadable"
}
