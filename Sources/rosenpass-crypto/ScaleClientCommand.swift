// `rosenpass-crypto scale-client`: the load generator of the scale benchmark (scripts/bench/scale.py).

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import RosenpassCrypto
import RosenpassProtocol

/// Plays many honest peers of one daemon: each client has its own static key pair, its own source
/// address (127.x.y.z, so that the daemon's per-source budgets treat them as the separate machines
/// they stand for) and its own crypto server, and runs complete handshakes with the daemon:
/// InitHello, RespHello, InitConf, EmptyData. The latency of a handshake is the time from its first
/// InitHello to the EmptyData that confirms it, when both ends hold the key.
///
/// Closed loop (`--rate 0`): every client starts its next handshake as soon as the last one ends, so
/// the daemon works as fast as it can: the sustained rate. Open loop (`--rate R`): a handshake starts
/// every 1/R s on the next idle client, the load of a gateway whose peers rekey every two minutes.
/// Prints one JSON line.
struct ScaleClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale-client",
        abstract: "Run handshakes with a daemon from many client identities (the load generator of `make bench-scale`).")

    @Option(help: ArgumentHelp("The daemon's IPv4 address.", valueName: "HOST"))
    var host: String = "127.0.0.1"

    @Option(help: "The daemon's UDP port.")
    var port: UInt16

    @Option(name: .customLong("server-public-key"), help: ArgumentHelp("The daemon's public key file.", valueName: "PATH"))
    var serverPublicKey: String

    @Option(
        name: .customLong("client-keys"),
        help: ArgumentHelp("A folder with client-N.pk and client-N.sk for N from 0.", valueName: "DIR"))
    var clientKeys: String

    @Option(help: "How many clients to run.")
    var clients: Int

    @Option(help: ArgumentHelp("The first source address; client i sends from the i-th address after it.", valueName: "IPV4"))
    var sourceBase: String = "127.1.0.1"

    @Option(help: "How long to run, in seconds.")
    var duration: Double = 20

    @Option(help: "Handshakes started per second; 0 runs every client in a closed loop.")
    var rate: Double = 0

    @Option(help: "A handshake not confirmed within this many seconds counts as failed.")
    var timeout: Double = 10

    @Option(name: .customLong("protocol-version"), help: "V02 or V03.")
    var protocolVersion: String = "V02"

    private struct Client {
        var server: CryptoServer
        var fd: Int32
        var startedAt: Double?
        var nextPoll: Double = .infinity
    }

    func run() throws {
        guard let version = ProtocolVersion(rawValue: protocolVersion) else { throw ToolError("--protocol-version must be V02 or V03") }
        guard clients > 0 else { throw ToolError("--clients must be at least 1") }
        let daemonKey = try readWholeFile(serverPublicKey)
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &target.sin_addr) == 1 else { throw ToolError("--host must be an IPv4 address") }
        var base = in_addr()
        guard inet_pton(AF_INET, sourceBase, &base) == 1 else { throw ToolError("--source-base must be an IPv4 address") }

        var entropy = SystemEntropy()
        var all: [Client] = []
        for index in 0..<clients {
            let publicKey = try readWholeFile("\(clientKeys)/client-\(index).pk")
            let secretKey = SecretBytes(try readWholeFile("\(clientKeys)/client-\(index).sk"))
            var server = try CryptoServer(secretKey: secretKey, publicKey: publicKey, entropy: &entropy)
            try server.addPeer(PeerConfiguration(publicKey: daemonKey, version: version, initiates: false))
            let source = UInt32(bigEndian: base.s_addr) + UInt32(index)
            all.append(Client(server: server, fd: try socket(from: source, to: target)))
        }
        defer { for client in all { close(client.fd) } }

        let daemon = PeerHandle(index: 0)
        var latencies: [Double] = []
        var failed = 0
        var notStarted = 0
        var cookieReplies = 0
        var nextIdle = 0
        var buffer = [UInt8](repeating: 0, count: 2048)
        var fds = all.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let begin = monotonicSeconds()
        let end = begin + duration
        var nextStart = begin

        func start(_ index: Int, at time: Double) throws {
            let hello = try all[index].server.initiateHandshake(with: daemon, now: time - begin, entropy: &entropy)
            all[index].startedAt = time
            all[index].nextPoll = time
            _ = hello.withUnsafeBytes { send(all[index].fd, $0.baseAddress, $0.count, 0) }
        }

        if rate == 0 {
            for index in all.indices { try start(index, at: monotonicSeconds()) }
        }
        while true {
            let time = monotonicSeconds()
            if time >= end { break }
            if rate > 0 {
                while nextStart <= time {
                    nextStart += 1 / rate
                    // The next client that has no handshake open; none free means the daemon lags.
                    if let index = (0..<all.count).lazy.map({ (nextIdle + $0) % all.count }).first(where: { all[$0].startedAt == nil }) {
                        nextIdle = (index + 1) % all.count
                        try start(index, at: time)
                    } else {
                        notStarted += 1
                    }
                }
            }
            let wake = min(rate > 0 ? nextStart : end, all.map(\.nextPoll).min() ?? end, end)
            let waitMilliseconds = Int32(max(0, min(wake - monotonicSeconds(), 0.05)) * 1000)
            _ = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), waitMilliseconds) }
            for index in all.indices {
                let received = fds[index].revents != 0
                fds[index].revents = 0
                while received {
                    let got = buffer.withUnsafeMutableBytes { recv(all[index].fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    guard got > 0 else { break }
                    let datagram = Array(buffer.prefix(got))
                    if datagram.first == MessageType.cookieReply.rawValue { cookieReplies += 1 }
                    let arrived = monotonicSeconds()
                    guard let outcome = try? all[index].server.handle(datagram: datagram, from: [127, 0, 0, 1], now: arrived - begin, entropy: &entropy) else {
                        continue
                    }
                    if let reply = outcome.reply { _ = reply.withUnsafeBytes { send(all[index].fd, $0.baseAddress, $0.count, 0) } }
                    if let started = all[index].startedAt, !all[index].server.hasHandshake(with: daemon) {
                        latencies.append(arrived - started)  // EmptyData: both ends hold the key
                        all[index].startedAt = nil
                        all[index].nextPoll = .infinity
                        if rate == 0 && arrived < end { try start(index, at: arrived) }
                    }
                }
            }
            let pollTime = monotonicSeconds()
            for index in all.indices where all[index].nextPoll <= pollTime {
                if let started = all[index].startedAt, pollTime - started > timeout {
                    failed += 1
                    all[index].startedAt = nil
                    all[index].nextPoll = .infinity
                    if rate == 0 { try start(index, at: pollTime) }
                    continue
                }
                let outcome = all[index].server.poll(now: pollTime - begin, entropy: &entropy)
                for (_, message) in outcome.messages {
                    _ = message.withUnsafeBytes { send(all[index].fd, $0.baseAddress, $0.count, 0) }
                }
                all[index].nextPoll = all[index].startedAt == nil ? .infinity : begin + outcome.nextPoll
            }
        }
        let elapsed = monotonicSeconds() - begin
        latencies.sort()
        func quantile(_ q: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int((Double(latencies.count) * q).rounded(.up)) - 1)]
        }
        let milliseconds = { (seconds: Double) in String(format: "%.2f", seconds * 1000) }
        print(
            "{\"completed\": \(latencies.count), \"failed\": \(failed), \"not_started\": \(notStarted), "
                + "\"seconds\": \(String(format: "%.3f", elapsed)), \"per_second\": \(String(format: "%.1f", Double(latencies.count) / elapsed)), "
                + "\"p50_ms\": \(milliseconds(quantile(0.5))), \"p99_ms\": \(milliseconds(quantile(0.99))), "
                + "\"max_ms\": \(milliseconds(latencies.last ?? 0)), \"cookie_replies\": \(cookieReplies)}")
    }

    /// A UDP socket bound to the IPv4 address `source` (host order) and connected to `target`.
    private func socket(from source: UInt32, to target: sockaddr_in) throws -> Int32 {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw ToolError("socket: \(String(cString: strerror(errno)))") }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = source.bigEndian
        var remote = target
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw ToolError("bind: \(String(cString: strerror(errno)))") }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ToolError("connect: \(String(cString: strerror(errno)))") }
        return fd
    }
}
