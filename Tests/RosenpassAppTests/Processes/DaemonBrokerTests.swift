// The daemon's side of the PSK broker with real processes (issue 6 point 4, `docs/components.md` §2.3, §6.1).

import Foundation
import RosenpassTestSupport
import Testing
import RosenpassSystem

/// A WireGuard public key for the tests' peers (any 32 bytes will do; the fake broker only echoes).
let testWireGuardPeer = Data((0..<32).map { UInt8($0 &* 7 &+ 3) }).base64EncodedString()

extension Side {
    /// This side's configuration with a WireGuard target for `peer` (and `key_out` unless `keyOut` is false).
    func wireGuardConfig(peer: Side, endpoint: Bool, keyOut: Bool = true, broker: String? = nil) -> String {
        var lines = [
            "public_key = \(TOMLQuote(keys.publicKey))",
            "secret_key = \(TOMLQuote(keys.secretKey))",
            "listen = [\"[::1]:\(port)\"]",
        ]
        if let broker { lines.append("psk_broker = \(TOMLQuote(broker))") }
        lines += ["", "[[peers]]", "public_key = \(TOMLQuote(peer.keys.publicKey))", "device = \"rp-test0\"", "peer = \"\(testWireGuardPeer)\""]
        if keyOut { lines.append("key_out = \(TOMLQuote(self.keyOut))") }
        if endpoint { lines.append("endpoint = \"[::1]:\(peer.port)\"") }
        return lines.joined(separator: "\n") + "\n"
    }
}

enum BrokerOption: String, CaseIterable, CustomTestStringConvertible {
    case pskBroker = "--psk-broker"
    case pskBrokerPath = "--psk-broker-path"
    case configKey = "psk_broker"
    var testDescription: String { rawValue }
}

@Suite("Daemon and PSK broker")
struct DaemonBrokerTests {
    @Test("keys reach a running broker", arguments: BrokerOption.allCases)
    func keys_reachARunningBroker(_ option: BrokerOption) async throws {
        let pair = try await Pair()
        let socketPath = pair.folder.file("broker.sock")
        let broker = try FakePSKBroker(path: socketPath)
        defer { broker.stop() }
        let config = pair.writeConfig(
            "a.toml", pair.a.wireGuardConfig(peer: pair.b, endpoint: false, broker: option == .configKey ? socketPath : nil))
        let arguments = option == .configKey ? ["exchange-config", config] : [option.rawValue, socketPath, "exchange-config", config]
        let a = try RosenpassProcess(arguments, name: "a", directory: pair.folder.path)
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        let keyText = try #require(pair.a.key())
        let key = try #require(Data(base64Encoded: keyText))

        let requests = try await broker.waitForRequests(2, timeout: 30)
        // First a random key (WireGuard must not keep an old key until the first exchange), then the
        // exchanged one, for the configured interface and peer.
        #expect(requests.allSatisfy { $0.interface == "rp-test0" && Data($0.peer).base64EncodedString() == testWireGuardPeer })
        #expect(Data(requests[0].psk) != key)
        #expect(Data(requests.last!.psk) == key)
        #expect(broker.malformed == 0)
        #expect(try await a.stop() == 0)
        _ = try await b.stop()
    }

    @Test("reload: a removed peer's WireGuard PSK becomes a random key through the broker (fail closed); added back, the peer gets a fresh exchanged key")
    func reload_removedPeerFailsClosedThroughTheBroker() async throws {
        let pair = try await Pair()
        let socketPath = pair.folder.file("broker.sock")
        let broker = try FakePSKBroker(path: socketPath)
        defer { broker.stop() }
        // A initiates, so that the peer added back starts its handshake at once.
        let withPeer = pair.a.wireGuardConfig(peer: pair.b, endpoint: true)
        let config = pair.writeConfig("a.toml", withPeer)
        let a = try RosenpassProcess(["--psk-broker", socketPath, "exchange-config", config], name: "a", directory: pair.folder.path)
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: false))
        _ = try await a.waitForLines(1, timeout: 60)
        let firstText = try #require(pair.a.key())
        let first = try #require(Data(base64Encoded: firstText))
        try await waitFor(timeout: 30) { broker.requests.last.map { Data($0.psk) == first } ?? false }

        // Removed: one more request for the same WireGuard peer, with a key that is not the exchanged one.
        let beforeRemoval = broker.requests.count
        _ = pair.writeConfig("a.toml", withPeer.components(separatedBy: "\n[[peers]]")[0] + "\npeers = []\n")
        a.process.send(SIGHUP)
        let removal: SetPskRequestSeen
        do {
            removal = try await broker.waitForRequests(beforeRemoval + 1, timeout: 30)[beforeRemoval]
        } catch {
            Issue.record("no request after the removal; a's stderr:\n\(a.stderr)")
            throw error
        }
        #expect(removal.interface == "rp-test0" && Data(removal.peer).base64EncodedString() == testWireGuardPeer)
        #expect(Data(removal.psk) != first && removal.psk.count == 32)
        let lines = try await a.waitForLines(2, timeout: 30)
        #expect(lines[1].hasSuffix("stale"), "key_out is told too: \(lines)")

        // Added back: a fresh handshake, and its key reaches the broker.
        _ = pair.writeConfig("a.toml", withPeer)
        a.process.send(SIGHUP)
        _ = try await a.waitForLines(3, timeout: 60)
        let secondText = try #require(pair.a.key())
        let second = try #require(Data(base64Encoded: secondText))
        #expect(second != first)
        try await waitFor(timeout: 30) { broker.requests.last.map { Data($0.psk) == second } ?? false }
        #expect(broker.malformed == 0)
        #expect(try await a.stop() == 0)
        _ = try await b.stop()
    }

    @Test func brokerRestart_getsTheCurrentKeyAgain() async throws {
        let pair = try await Pair()
        let socketPath = pair.folder.file("broker.sock")
        let broker = try FakePSKBroker(path: socketPath)
        defer { broker.stop() }
        // A peer that only has WireGuard: no key_out, so no stdout line; B's key file is the reference.
        let a = try RosenpassProcess(
            ["--psk-broker", socketPath, "exchange-config", pair.writeConfig("a.toml", pair.a.wireGuardConfig(peer: pair.b, endpoint: false, keyOut: false))],
            name: "a", directory: pair.folder.path)
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await b.waitForLines(1, timeout: 60)
        let keyText = try #require(pair.b.key())
        let key = try #require(Data(base64Encoded: keyText))
        var requests = try await broker.waitForRequests(2, timeout: 30)
        #expect(Data(requests.last!.psk) == key)

        broker.crash()
        try await Task.sleep(for: .seconds(1))
        #expect(a.process.isRunning, "the daemon keeps running without its broker")
        let before = broker.requests.count
        try broker.restart()
        requests = try await broker.waitForRequests(before + 1, timeout: 30)
        #expect(Data(requests.last!.psk) == key, "the current key is sent again after reconnecting")
        #expect(a.stdout.isEmpty, "a peer without key_out prints nothing")
        #expect(try await a.stop() == 0)
        _ = try await b.stop()
    }

    @Test func inheritedBrokerDescriptor_getsTheKeys() async throws {
        let pair = try await Pair()
        var ends: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        let broker = FakePSKBroker(connected: ends[0])
        defer { broker.stop() }
        let config = pair.writeConfig("a.toml", pair.a.wireGuardConfig(peer: pair.b, endpoint: false))
        let a = try SpawnedRosenpass(["--psk-broker-fd", "3", "exchange-config", config], fd3: ends[1], directory: pair.folder.path)
        close(ends[1])
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await b.waitForLines(1, timeout: 60)
        let keyText = try #require(pair.b.key())
        let key = try #require(Data(base64Encoded: keyText))
        let requests = try await broker.waitForRequests(2, timeout: 30)
        #expect(Data(requests.last!.psk) == key)
        #expect(try await a.stop() == 0)
        _ = try await b.stop()
    }

    /// With no broker option the daemon spawns the privileged broker itself and talks to it over its
    /// stdin and stdout: no unix socket anywhere, so it runs under the reference's systemd unit, which
    /// allows no AF_UNIX (docs/components.md §2.4).
    @Test func defaultBroker_isThePrivilegedBrokerOverPipes_withNoUnixSocket_andEndsWithTheDaemon() async throws {
        let pair = try await Pair()
        let a = try pair.start(pair.a, config: pair.a.wireGuardConfig(peer: pair.b, endpoint: false))
        let pid = a.process.processIdentifier
        let spawned = try #require(try await child(of: pid, named: "rosenpass-wireguard-broker-privileged"),
                                   "the daemon spawned the privileged broker; stderr:\n\(a.stderr)")
        #expect(spawned.command.hasPrefix(BuiltProducts.executable("rosenpass-wireguard-broker-privileged").resolvingSymlinksInPath().path + "\u{0}")
                    || spawned.command.hasPrefix(BuiltProducts.executable("rosenpass-wireguard-broker-privileged").path + "\u{0}"),
                "the privileged broker next to rosenpass is used: \(spawned.command)")
        #expect(children(of: pid).allSatisfy { !$0.command.contains("rosenpass-wireguard-broker-socket-handler") })
        #expect(descriptorTarget(spawned.pid, 0).hasPrefix("pipe:"), "its stdin: \(descriptorTarget(spawned.pid, 0))")
        #expect(descriptorTarget(spawned.pid, 1).hasPrefix("pipe:"), "its stdout: \(descriptorTarget(spawned.pid, 1))")
        let unixSockets = unixSocketInodes()
        let daemonSockets = socketInodes(of: pid)
        #expect(!daemonSockets.isEmpty, "the daemon's UDP sockets are seen")
        #expect(daemonSockets.isDisjoint(with: unixSockets), "the daemon holds no unix socket")
        #expect(socketInodes(of: spawned.pid).isDisjoint(with: unixSockets), "neither does the privileged broker")
        #expect(spawned.command.hasSuffix("\u{0}--allow-peer\u{0}rp-test0:\(testWireGuardPeer)\u{0}"),
                "its allow-list is the configured peer: \(spawned.command)")
        #expect(try await a.stop() == 0)
        #expect(kill(spawned.pid, 0) != 0 || processState(spawned.pid) == "Z", "the privileged broker ended with the daemon")
    }

    /// A reload that adds a WireGuard peer starts the default broker again with the longer
    /// allow-list; a peer taken out stays on it (its random key on the way out must pass).
    @Test func defaultBroker_allowList_growsWithAReload() async throws {
        let pair = try await Pair()
        let first = pair.a.wireGuardConfig(peer: pair.b, endpoint: false)
        let config = pair.writeConfig("a.toml", first)
        let a = try RosenpassProcess(["exchange-config", config], name: "a", directory: pair.folder.path)
        let pid = a.process.processIdentifier
        let before = try #require(try await child(of: pid, named: "rosenpass-wireguard-broker-privileged"), "stderr:\n\(a.stderr)")
        let otherPeer = Data((0..<32).map { UInt8($0 &* 5 &+ 1) }).base64EncodedString()
        // A second peer (with a's own key: allowed, with a warning; no handshake is needed here).
        let second = first + "\n[[peers]]\npublic_key = \(TOMLQuote(pair.a.keys.publicKey))\ndevice = \"rp-test1\"\npeer = \"\(otherPeer)\"\n"
        _ = pair.writeConfig("a.toml", second)
        a.process.send(SIGHUP)
        let deadline = Date().addingTimeInterval(TestTime.scaled(20))
        var after: (pid: Int32, command: String)?
        while Date() < deadline {
            after = children(of: pid).first { $0.command.contains("rosenpass-wireguard-broker-privileged") && $0.command.contains("rp-test1") }
            if after != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let replaced = try #require(after, "no broker with the longer allow-list; stderr:\n\(a.stderr)")
        #expect(replaced.command.hasSuffix("\u{0}--allow-peer\u{0}rp-test0:\(testWireGuardPeer)\u{0}--allow-peer\u{0}rp-test1:\(otherPeer)\u{0}"),
                "\(replaced.command)")
        #expect(replaced.pid != before.pid)
        #expect(kill(before.pid, 0) != 0 || processState(before.pid) == "Z", "the broker with the old list ended")
        #expect(try await a.stop() == 0)
    }

    /// `--psk-broker-spawn`: the reference's spawn mode, the socket handler on a socket pair at fd 3.
    @Test func pskBrokerSpawn_isASpawnedSocketHandlerThatEndsWithTheDaemon() async throws {
        let pair = try await Pair()
        let config = pair.writeConfig("a.toml", pair.a.wireGuardConfig(peer: pair.b, endpoint: false))
        let a = try RosenpassProcess(["--psk-broker-spawn", "exchange-config", config], name: "a", directory: pair.folder.path)
        let pid = a.process.processIdentifier
        let spawned = try #require(try await child(of: pid, named: "rosenpass-wireguard-broker-socket-handler"),
                                   "the daemon spawned a socket handler; stderr:\n\(a.stderr)")
        #expect(spawned.command.contains("--stream-fd\u{0}3"))
        #expect(spawned.command.contains(BuiltProducts.executable("rosenpass-wireguard-broker-privileged").resolvingSymlinksInPath().path),
                "the privileged broker next to rosenpass is used")
        #expect(try await a.stop() == 0)
        #expect(kill(spawned.pid, 0) != 0 || processState(spawned.pid) == "Z", "the socket handler ended with the daemon")
    }

    /// The first child of `pid` whose command line contains `name`, waiting up to 20 s for it.
    private func child(of pid: Int32, named name: String) async throws -> (pid: Int32, command: String)? {
        let deadline = Date().addingTimeInterval(TestTime.scaled(20))
        while Date() < deadline {
            if let found = children(of: pid).first(where: { $0.command.contains(name) }) { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// What fd `fd` of process `pid` is, e.g. `pipe:[1234]` or `socket:[5678]`.
    private func descriptorTarget(_ pid: Int32, _ fd: Int32) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? "unreadable"
    }

    /// The inodes of the sockets process `pid` has open.
    private func socketInodes(of pid: Int32) -> Set<String> {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return Set(fds.compactMap { fd in
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? ""
            guard target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst("socket:[".count).dropLast())
        })
    }

    /// The inodes of every unix socket of this network namespace (`/proc/net/unix`, column 7).
    private func unixSocketInodes() -> Set<String> {
        let table = (try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8)) ?? ""
        return Set(table.split(separator: "\n").dropFirst().compactMap { line in
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            return columns.count > 6 ? String(columns[6]) : nil
        })
    }

    /// The children of `pid` with their command lines (NUL-separated), from /proc.
    private func children(of pid: Int32) -> [(pid: Int32, command: String)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.compactMap { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == pid else { return nil }
            let command = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(child)/cmdline"))).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return (child, command)
        }
    }

    private func processState(_ pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
    }
}

/// `rosenpass` started with `posix_spawn`, so that a test can hand it a descriptor at fd 3
/// (Foundation's `Process` closes every descriptor above 2).
final class SpawnedRosenpass {
    let pid: pid_t

    init(_ arguments: [String], fd3: Int32, directory: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fd3, 3)
        posix_spawn_file_actions_addopen(&actions, 1, directory + "/spawned.stdout", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, directory + "/spawned.stderr", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Relative paths in the arguments are relative to `directory`; the test passes absolute ones.
        let executable = BuiltProducts.executable("rosenpass").path
        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pointers: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        var pid: pid_t = 0
        let status = pointers.withUnsafeMutableBufferPointer { posix_spawn(&pid, executable, &actions, nil, $0.baseAddress!, environ) }
        guard status == 0 else { throw ProcessFailure("posix_spawn failed: \(status)") }
        self.pid = pid
    }

    private var exited = false

    /// SIGTERM, then the exit status (polled, so no concurrency thread is blocked).
    func stop(timeout: TimeInterval = 20) async throws -> Int32 {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(TestTime.scaled(timeout))
        var status: Int32 = 0
        while Date() < deadline {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                exited = true
                return (status >> 8) & 0xff
            }
            if result < 0 { throw ProcessFailure("waitpid(\(pid)) failed: errno \(errno)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ProcessFailure("rosenpass (pid \(pid)) did not exit within \(Int(timeout)) s of SIGTERM")
    }

    deinit {
        guard !exited else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, WNOHANG)
    }
}
