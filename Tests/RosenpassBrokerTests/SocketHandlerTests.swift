// The socket handler in-process, with the real privileged broker as its child: routing, garbage,
// and the listening socket's permissions.

import Foundation
import Glibc
import Testing
@testable import RosenpassBroker
@testable import RosenpassSocketHandler
@testable import RosenpassBrokerClient
import RosenpassTestSupport
import RosenpassSystem

@Suite(.serialized) struct SocketHandlerTests {
    /// Runs a handler on `path` whose child only allows interface `allowed0` (which does not exist, so
    /// allowed requests answer NoSuchInterface and refused ones InternalError: two codes to route).
    private func withHandler(_ body: (String) throws -> Void) throws {
        let privileged = BuiltProducts.executable("rosenpass-wireguard-broker-privileged").path
        try #require(FileManager.default.isExecutableFile(atPath: privileged), "build the products first: \(privileged)")
        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        try whileRunning(.init(source: .listenPath(path, mode: 0o600, group: nil), command: [privileged, "--allow-interface", "allowed0"])) {
            #expect(eventually { access(path, F_OK) == 0 })
            try body(path)
        }
    }

    private func request(_ interface: String) -> [UInt8] {
        Frames.frame(Frames.requestPayload(interface: interface, psk: Frames.key(1), peer: Frames.key(2)))
    }

    private func ask(_ fd: Int32, _ bytes: [UInt8]) throws -> [UInt8] {
        try POSIX.writeAll(fd, bytes, context: "test")
        return readExactly(fd, 13)
    }

    @Test func answersReachTheClientThatAsked() throws {
        try withHandler { path in
            let clients = try (0..<6).map { _ in try UnixSocket.connect(path: path) }
            defer { clients.forEach { close($0) } }
            for fd in clients { POSIX.setSocketTimeouts(fd, seconds: 10) }
            // Interleave: even clients ask for the allowed interface, odd ones for a refused one.
            for (index, fd) in clients.enumerated() {
                try POSIX.writeAll(fd, request(index % 2 == 0 ? "allowed0" : "refused0"), context: "test")
            }
            for (index, fd) in clients.enumerated() {
                let expected: BrokerReturnCode = index % 2 == 0 ? .noSuchInterface : .internalError
                #expect(readExactly(fd, 13) == SetPskResponse(expected).encodedFrame, "client \(index)")
            }
        }
    }

    @Test func garbageGetsAnErrorOrADisconnect_andNeverWedgesOthers() throws {
        try withHandler { path in
            let good = try UnixSocket.connect(path: path)
            let sloppy = try UnixSocket.connect(path: path)
            let hostile = try UnixSocket.connect(path: path)
            let silent = try UnixSocket.connect(path: path)
            defer { [good, sloppy, hostile, silent].forEach { close($0) } }
            for fd in [good, sloppy, hostile, silent] { POSIX.setSocketTimeouts(fd, seconds: 10) }

            // A half frame that never completes must not hold up anyone.
            try POSIX.writeAll(silent, Array(request("allowed0").prefix(100)), context: "test")
            // Malformed but framed: an error answer, and the connection still works.
            #expect(try ask(sloppy, Frames.frame([1, 2, 3])) == SetPskResponse(.internalError).encodedFrame)
            #expect(try ask(sloppy, Frames.frame([UInt8](repeating: 7, count: 500))) == SetPskResponse(.internalError).encodedFrame)
            #expect(try ask(sloppy, request("allowed0")) == SetPskResponse(.noSuchInterface).encodedFrame)
            // A length no frame can have: disconnected.
            try POSIX.writeAll(hostile, LengthPrefixedFrames.lengthPrefix(1 << 40) + [0, 0], context: "test")
            #expect(readExactly(hostile, 1).isEmpty)
            // Everyone else is still served.
            #expect(try ask(good, request("allowed0")) == SetPskResponse(.noSuchInterface).encodedFrame)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        try withHandler { path in
            let fd = try UnixSocket.connect(path: path)
            defer { close(fd) }
            POSIX.setSocketTimeouts(fd, seconds: 10)
            try POSIX.writeAll(fd, request("allowed0") + request("refused0") + request("allowed0"), context: "test")
            #expect(readExactly(fd, 39) == SetPskResponse(.noSuchInterface).encodedFrame + SetPskResponse(.internalError).encodedFrame
                    + SetPskResponse(.noSuchInterface).encodedFrame)
        }
    }

    @Test func listeningSocket_isOwnerOnly_replacesStaleSockets_andRefusesOthers() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        let first = try UnixSocket.listen(path: path, mode: 0o600, gid: nil)
        var status = stat()
        #expect(lstat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        // A live socket is not taken over.
        #expect(throws: SystemError.self) { try UnixSocket.listen(path: path, mode: 0o600, gid: nil) }
        // A stale one (its process gone) is.
        close(first)
        let second = try UnixSocket.listen(path: path, mode: 0o660, gid: getegid())
        #expect(lstat(path, &status) == 0 && status.st_mode & 0o777 == 0o660 && status.st_gid == getegid())
        close(second)
        // A regular file is never deleted.
        unlink(path)
        #expect(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
        #expect(throws: SystemError.self) { try UnixSocket.listen(path: path, mode: 0o600, gid: nil) }
        #expect(FileManager.default.contents(atPath: path) == Data("keep me".utf8))
    }
}

/// Issue 12: shutting down could hang in `waitpid` when a child ignored SIGTERM.
@Suite(.serialized) struct StubbornChildTests {
    /// A child that ignores SIGTERM and never reads its stdin.
    static let stubborn = ["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"]

    @Test func end_killsAChildThatIgnoresSIGTERM() throws {
        let pid = try ProcessSpawner.spawn(executable: Self.stubborn[0], arguments: Array(Self.stubborn.dropFirst()), descriptors: [])
        usleep(200_000)  // let the shell install its trap
        let started = POSIX.monotonicNow()
        let status = ProcessSpawner.end(pid, patience: 0.3)
        #expect(POSIX.monotonicNow() - started < 3)
        #expect(ProcessSpawner.describe(status: status) == "killed by signal 9")
        #expect(kill(pid, 0) != 0, "reaped")
    }

    @Test func socketHandler_stopsWithAStubbornChild() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        let handler = try SocketHandler(
            configuration: .init(source: .listenPath(path, mode: 0o600, group: nil), command: Self.stubborn), logger: LogCapture().logger)
        nonisolated(unsafe) let running = handler
        let done = DispatchSemaphoreBox()
        Thread.detachNewThread {
            try? running.run()
            done.signal()
        }
        #expect(eventually { !processes(named: "sh", parent: getpid()).isEmpty })
        let child = processes(named: "sh", parent: getpid())
        usleep(200_000)
        let started = POSIX.monotonicNow()
        handler.stop()
        #expect(done.wait(seconds: 10), "the handler's loop ended")
        #expect(POSIX.monotonicNow() - started < 8)
        #expect(child.allSatisfy { kill($0, 0) != 0 }, "the child was killed and reaped")
    }

    @Test func brokerClient_shutsDownWithAStubbornChild() throws {
        let client = try PSKBrokerClient(
            endpoint: .spawnBroker(executable: Self.stubborn[0], arguments: Array(Self.stubborn.dropFirst())), logger: LogCapture().logger)
        try client.start()
        #expect(eventually { !processes(named: "sh", parent: getpid()).isEmpty })
        let child = processes(named: "sh", parent: getpid())
        usleep(200_000)
        let started = POSIX.monotonicNow()
        client.shutdown()
        #expect(POSIX.monotonicNow() - started < 10)
        #expect(child.allSatisfy { kill($0, 0) != 0 }, "the child was killed and reaped")
    }
}

@Suite(.serialized) struct SpawnedBrokerTests {
    @Test func spawnMode_runsHandlerAndChild_deliversAnswers_andLeavesNoOrphans() throws {
        let handlerPath = BuiltProducts.executable("rosenpass-wireguard-broker-socket-handler").path
        let privileged = BuiltProducts.executable("rosenpass-wireguard-broker-privileged").path
        try #require(FileManager.default.isExecutableFile(atPath: handlerPath), "build the products first: \(handlerPath)")
        let events = EventLog()
        let client = try PSKBrokerClient(
            endpoint: .spawn(executable: handlerPath, arguments: ["--allow-interface", "allowed0", "--", privileged]),
            logger: LogCapture().logger) { events.record($0) }
        try client.start()
        // allowed0 does not exist on the test machine: the answer comes from the privileged child.
        try client.setPresharedKey(Frames.psk(1), peer: Frames.peer(1), interface: "allowed0")
        try client.setPresharedKey(Frames.psk(2), peer: Frames.peer(2), interface: "refused0")
        #expect(eventually { client.state(peer: Frames.peer(1), interface: "allowed0") == .failed(.noSuchInterface) })
        #expect(eventually { client.state(peer: Frames.peer(2), interface: "refused0") == .failed(.internalError) })
        let handlers = processes(named: "rosenpass-wireguard-broker-socket-handler", parent: getpid())
        #expect(handlers.count == 1)
        let children = handlers.flatMap { processes(named: "rosenpass-wireguard-broker-privileged", parent: $0) }
        #expect(children.count == 1)
        client.shutdown()
        // EOF reaches the handler only if no copy of our end leaked into it or its child (the
        // reference's missing CLOEXEC, docs/components.md §2.3); then it exits, and so does its child.
        #expect(eventually { handlers.allSatisfy { kill($0, 0) != 0 } && children.allSatisfy { kill($0, 0) != 0 } })
    }

    @Test func listenDescriptor_servesAnInheritedListeningSocket() throws {
        let privileged = BuiltProducts.executable("rosenpass-wireguard-broker-privileged").path
        try #require(FileManager.default.isExecutableFile(atPath: privileged))
        let directory = TemporaryDirectory()
        let path = directory.path + "/activated.sock"
        let listening = try UnixSocket.listen(path: path, mode: 0o600, gid: nil)
        try whileRunning(.init(source: .listenDescriptor(listening), command: [privileged])) {
            let fd = try UnixSocket.connect(path: path)
            defer { close(fd) }
            POSIX.setSocketTimeouts(fd, seconds: 10)
            try POSIX.writeAll(fd, Frames.frame(Frames.requestPayload(interface: "nosuch0", psk: Frames.key(1), peer: Frames.key(2))), context: "test")
            #expect(readExactly(fd, 13) == SetPskResponse(.noSuchInterface).encodedFrame)
        }
    }
}

/// Runs a socket handler with `configuration` on a thread while `body` runs, then stops it and waits
/// for its thread.
private func whileRunning(_ configuration: SocketHandler.Configuration, logs: LogCapture = LogCapture(), _ body: () throws -> Void) throws {
    let handler = try SocketHandler(configuration: configuration, logger: logs.logger)
    nonisolated(unsafe) let running = handler
    let done = DispatchSemaphoreBox()
    Thread.detachNewThread {
        try? running.run()
        done.signal()
    }
    defer {
        handler.stop()
        _ = done.wait(seconds: 10)
    }
    try body()
}

/// Pids of processes whose program (argv[0]'s last component) is `name` and whose parent is `parent`.
private func processes(named name: String, parent: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap(pid_t.init).filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"),
              let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        let program = cmdline.split(separator: 0).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return program.split(separator: "/").last.map(String.init) == name && fields.count > 1 && pid_t(fields[1]) == parent
    }
}

@Suite struct SocketHandlerWithoutBrokerTests {
    @Test func missingBrokerCommand_answersInternalError_insteadOfHoldingClients() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        try whileRunning(.init(source: .listenPath(path, mode: 0o600, group: nil), command: [directory.path + "/no-such-broker"])) {
            #expect(eventually { access(path, F_OK) == 0 })
            let fd = try UnixSocket.connect(path: path)
            defer { close(fd) }
            POSIX.setSocketTimeouts(fd, seconds: 5)
            for _ in 0..<2 {
                try POSIX.writeAll(fd, Frames.frame(Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2))), context: "test")
                #expect(readExactly(fd, 13) == SetPskResponse(.internalError).encodedFrame)
            }
            // Pipelined requests are all answered too.
            let request = Frames.frame(Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2)))
            try POSIX.writeAll(fd, request + request + request, context: "test")
            #expect(readExactly(fd, 39) == Array([[UInt8]](repeating: SetPskResponse(.internalError).encodedFrame, count: 3).joined()))
        }
    }
}

/// Clients that hold slots, trickle bytes or send nonsense, by the thousand (issue: 256 silent
/// connections used to shut the daemon out).
@Suite(.serialized) struct SocketHandlerLimitsTests {
    private func configuration(_ path: String) throws -> SocketHandler.Configuration {
        let privileged = BuiltProducts.executable("rosenpass-wireguard-broker-privileged").path
        try #require(FileManager.default.isExecutableFile(atPath: privileged), "build the products first: \(privileged)")
        return .init(source: .listenPath(path, mode: 0o600, group: nil), command: [privileged, "--allow-interface", "allowed0"])
    }

    private let request = Frames.frame(Frames.requestPayload(interface: "allowed0", psk: Frames.key(1), peer: Frames.key(2)))
    private let answer = SetPskResponse(.noSuchInterface).encodedFrame

    /// Whether the handler closed `fd` within `seconds` (a read returns end of file).
    private func closedByHandler(_ fd: Int32, within seconds: Int) -> Bool {
        POSIX.setSocketTimeouts(fd, seconds: seconds)
        var byte: UInt8 = 0
        return read(fd, &byte, 1) == 0
    }

    @Test func anUnfinishedFrame_andASilentClient_areDisconnectedByTheLoopsTimers() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        var settings = try configuration(path)
        settings.frameTimeout = 0.5
        settings.idleTimeout = 1
        let logs = LogCapture()
        try whileRunning(settings, logs: logs) {
            #expect(eventually { access(path, F_OK) == 0 })
            let trickler = try UnixSocket.connect(path: path)
            let silent = try UnixSocket.connect(path: path)
            let honest = try UnixSocket.connect(path: path)
            defer { [trickler, silent, honest].forEach { close($0) } }
            POSIX.setSocketTimeouts(honest, seconds: 10)
            try POSIX.writeAll(honest, request, context: "test")
            #expect(readExactly(honest, 13) == answer)

            // Three bytes of a frame and no more; the timing itself is SocketHandlerStateTests' to check.
            #expect(send(trickler, Array(request.prefix(3)), 3, Int32(MSG_NOSIGNAL)) == 3)
            #expect(closedByHandler(trickler, within: 5))
            #expect(closedByHandler(silent, within: 5))
            // A client that has sent a request may stay idle: it is the daemon between two keys.
            usleep(1_200_000)
            try POSIX.writeAll(honest, request, context: "test")
            #expect(readExactly(honest, 13) == answer)
        }
        #expect(logs.text.contains("of a frame and not the rest within 0.5 s; disconnecting"))
        #expect(logs.text.contains("disconnected: no request within 1 s of connecting"))
    }

    @Test func theDaemonsClient_reconnectsQuietly_whenItsIdleConnectionIsClosed() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        var settings = try configuration(path)
        settings.idleTimeout = 0.5
        let handlerLogs = LogCapture()
        try whileRunning(settings, logs: handlerLogs) {
            #expect(eventually { access(path, F_OK) == 0 })
            var options = PSKBrokerClient.Options()
            options.idleConnectionAge = 0.3
            let clientLogs = LogCapture()
            let events = EventLog()
            let client = try PSKBrokerClient(endpoint: .socketPath(path), options: options, logger: clientLogs.logger) { events.record($0) }
            try client.start()
            defer { client.shutdown() }
            // No key yet: the connection idles, is closed by the handler, and is made again.
            #expect(eventually { clientLogs.text.components(separatedBy: "the PSK broker closed the idle connection").count >= 3 })
            #expect(!clientLogs.text.contains("lost the PSK broker"))
            #expect(events.count { if case .disconnected = $0 { return true } else { return false } } == 0)
            // Keys still arrive (the allowed interface does not exist: NoSuchInterface is the answer).
            try client.setPresharedKey(Frames.psk(1), peer: Frames.peer(2), interface: "allowed0")
            #expect(eventually { handlerLogs.text.contains("SetPsk for peer \(Frames.peer(2)) on interface allowed0: NoSuchInterface") })
        }
    }

    @Test func anHonestClientIsServed_whileAThousandHostileConnectionsAreOpen() throws {
        // Room for the thousand on our side (the handler keeps at most its 256).
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let saved = limit
        if limit.rlim_cur < 4096 { limit.rlim_cur = min(4096, limit.rlim_max) }
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        defer { var restore = saved; setrlimit(Int32(RLIMIT_NOFILE.rawValue), &restore) }
        try #require(limit.rlim_cur >= 1200, "needs 1,200 file descriptors, the hard limit is \(limit.rlim_max)")

        let directory = TemporaryDirectory()
        let path = directory.path + "/broker.sock"
        let logs = LogCapture()
        try whileRunning(try configuration(path), logs: logs) {
            #expect(eventually { access(path, F_OK) == 0 })
            // The daemon, connected before the attack and proven by a request.
            let daemon = try UnixSocket.connect(path: path)
            defer { close(daemon) }
            POSIX.setSocketTimeouts(daemon, seconds: 10)
            try POSIX.writeAll(daemon, request, context: "test")
            #expect(readExactly(daemon, 13) == answer)

            var hostile: [Int32] = []
            defer { hostile.forEach { close($0) } }
            let hugePrefix = withUnsafeBytes(of: (UInt64(1) << 63).littleEndian) { Array($0) }
            let oversized = Frames.frame([UInt8](repeating: 7, count: 400))  // longer than a request: not one
            for index in 0..<1000 {
                let fd = try UnixSocket.connect(path: path)
                hostile.append(fd)
                switch index % 5 {
                case 0: break  // silent
                case 1: _ = send(fd, Array(request.prefix(3)), 3, Int32(MSG_NOSIGNAL))  // a frame begun, never finished
                case 2: _ = send(fd, hugePrefix, 8, Int32(MSG_NOSIGNAL))  // a length of 2^63
                case 3: _ = send(fd, oversized, oversized.count, Int32(MSG_NOSIGNAL))  // answered, then silent
                default: _ = send(fd, Array(request.prefix(100)), 100, Int32(MSG_NOSIGNAL)); shutdown(fd, Int32(SHUT_WR))  // truncated
                }
            }
            // Both the connected daemon and a newcomer are answered while the thousand are open.
            let start = POSIX.monotonicNow()
            try POSIX.writeAll(daemon, request, context: "test")
            #expect(readExactly(daemon, 13) == answer)
            let newcomer = try UnixSocket.connect(path: path)
            defer { close(newcomer) }
            POSIX.setSocketTimeouts(newcomer, seconds: 10)
            try POSIX.writeAll(newcomer, request, context: "test")
            #expect(readExactly(newcomer, 13) == answer)
            #expect(POSIX.monotonicNow() - start < 5)
        }
        // The misbehaviour is reported, but not line by line.
        let warnings = logs.lines.filter { $0.hasPrefix("warning") }
        #expect(warnings.count <= 20, "\(warnings.count) warnings")
        #expect(logs.text.contains("disconnected: made room for a new connection"))
    }
}

@Suite struct LogBudgetTests {
    @Test func tenLinesPerWindow_thenACount_thenTheSummary() {
        var budget = LogBudget(window: 10, linesPerWindow: 10)
        var logged: [String] = []
        for second in 0..<25 {
            if let line = budget.admit("event \(second)", now: Double(second) * 0.1) { logged.append(line) }
        }
        #expect(logged == (0..<10).map { "event \($0)" })
        #expect(budget.nextSummaryAt == 10)
        #expect(budget.summary(now: 9.9, describing: "events") == nil)
        #expect(budget.summary(now: 10, describing: "events") == "15 more events in 10 s were not logged")
        #expect(budget.summary(now: 11, describing: "events") == nil)
        #expect(budget.nextSummaryAt == nil)

        // Held-back lines are counted on the next line logged, when no summary came first.
        var other = LogBudget(window: 10, linesPerWindow: 1)
        #expect(other.admit("a", now: 0) == "a")
        #expect(other.admit("b", now: 1) == nil)
        #expect(other.admit("c", now: 10) == "c (and 1 more like it before, not logged)")
        #expect(other.admit("d", now: 11) == nil)
    }
}
