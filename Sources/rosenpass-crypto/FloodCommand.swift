// `rosenpass-crypto flood`: the load generator of the flood benchmark (scripts/bench/flood.sh).

#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import RosenpassProtocol

/// Sends InitHellos that pass a responder's envelope checks, as fast as one thread can, from one
/// source address: what an attacker who knows the responder's public key can do. With `--cookies`
/// it first answers the responder's CookieReply, like an honest initiator, so that every later
/// InitHello carries a valid cookie and costs the responder its McEliece work unless it limits the
/// source (docs/dos-cookies.md). Prints what it sent as one JSON line.
struct FloodCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood",
        abstract: "Flood a responder with InitHellos (a load generator for the DoS benchmark; only aim it at your own daemon).")

    @Option(help: ArgumentHelp("The responder's address, an IPv4 or IPv6 literal.", valueName: "HOST"))
    var host: String

    @Option(help: "The responder's UDP port.")
    var port: UInt16

    @Option(name: .customLong("public-key"), help: ArgumentHelp("The responder's public key file.", valueName: "PATH"))
    var publicKey: String

    @Option(help: ArgumentHelp("The local address to send from (e.g. 127.0.0.2, so that honest traffic from 127.0.0.1 is another source).", valueName: "HOST"))
    var source: String?

    @Option(help: "How long to send, in seconds.")
    var duration: Double = 10

    @Option(help: "Datagrams per second; 0 sends as fast as possible.")
    var rate: Double = 0

    @Flag(help: "Solve the responder's cookie first, so the flood carries valid cookies.")
    var cookies = false

    @Option(name: .customLong("protocol-version"), help: "V02 or V03.")
    var protocolVersion: String = "V02"

    func run() throws {
        guard let version = ProtocolVersion(rawValue: protocolVersion) else { throw ToolError("--protocol-version must be V02 or V03") }
        let key = try readWholeFile(publicKey)
        guard key.count == 524_160 else { throw ToolError("\(publicKey) is not a Classic McEliece 460896 public key") }
        var probe = LoadProbe(responderPublicKey: key, version: version)
        let fd = try connectedSocket()
        defer { close(fd) }

        if cookies {
            // The responder asks for a cookie only under load: send until a CookieReply comes back.
            var solved = false
            let deadline = monotonicSeconds() + 10
            var buffer = [UInt8](repeating: 0, count: 2048)
            while !solved && monotonicSeconds() < deadline {
                _ = probe.initHello.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if got > 0 { solved = probe.accept(cookieReply: Array(buffer.prefix(got))) }
            }
            guard solved else { throw ToolError("no CookieReply within 10 s: the responder is not under load, or does not use cookies") }
        }

        let message = probe.initHello
        var sent = 0
        var refused = 0
        var replies = 0
        let start = monotonicSeconds()
        let end = start + duration
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let time = monotonicSeconds()
            if time >= end { break }
            if rate > 0 && Double(sent) >= (time - start) * rate {
                usleep(200)
                continue
            }
            for _ in 0..<64 {
                let result = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if result < 0 { refused += 1 } else { sent += 1 }
            }
            // Drain replies (CookieReplies, RespHellos) so that the socket stays usable.
            while buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 { replies += 1 }
        }
        let elapsed = monotonicSeconds() - start
        print(
            "{\"sent\": \(sent), \"seconds\": \(String(format: "%.3f", elapsed)), \"per_second\": \(Int(Double(sent) / elapsed)), "
                + "\"send_errors\": \(refused), \"replies\": \(replies), \"cookies\": \(cookies)}")
    }

    private func connectedSocket() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let target = result else {
            throw ToolError("--host must be an IP address, not \(host)")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(target.pointee.ai_family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw ToolError("socket: \(String(cString: strerror(errno)))") }
        var size: Int32 = 4 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        if let source {
            var sourceHints = addrinfo()
            sourceHints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
            sourceHints.ai_family = target.pointee.ai_family
            sourceHints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
            var local: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(source, "0", &sourceHints, &local) == 0, let address = local else {
                throw ToolError("--source must be an IP address of the same family as --host")
            }
            defer { freeaddrinfo(local) }
            guard bind(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
                throw ToolError("bind \(source): \(String(cString: strerror(errno)))")
            }
        }
        guard connect(fd, target.pointee.ai_addr, target.pointee.ai_addrlen) == 0 else {
            throw ToolError("connect: \(String(cString: strerror(errno)))")
        }
        return fd
    }
}
