// The control socket (docs/control-socket.md): the request and response codec, the status JSON,
// its table and Prometheus forms, the metrics HTTP answers, the configuration keys, and the server
// on a real unix socket (lock-step answers, hostile clients, time limits).

import Foundation
import Glibc
import Logging
import RosenpassBroker
import RosenpassProtocol
import Testing

@testable import RosenpassApp
import RosenpassSystem

@Suite("Control protocol")
struct ControlProtocolTests {
    @Test func requests_roundTrip() {
        let request = ControlRequest(.metrics, body: [1, 2, 3])
        #expect(request.encodedPayload == [1, 2, 1, 2, 3])
        #expect(ControlRequest.decode([1, 3]) == .request(ControlRequest(.reload)))
        #expect(ControlRequest.decode(request.encodedPayload) == .request(request))
    }

    @Test("a request this daemon cannot serve is refused with a response that says why, in version 1")
    func refusals() {
        guard case .refused(let version) = ControlRequest.decode([2, 1]) else { Issue.record("accepted version 2"); return }
        #expect(version.result == .unsupportedVersion && version.kindCode == 1 && version.text.contains("version 1, not 2"))
        guard case .refused(let unknown) = ControlRequest.decode([1, 99, 0]) else { Issue.record("accepted kind 99"); return }
        #expect(unknown.result == .unknownRequest && unknown.kindCode == 99)
        guard case .refused(let short) = ControlRequest.decode([1]) else { Issue.record("accepted 1 byte"); return }
        #expect(short.result == .badRequest)
        #expect(version.encodedPayload.prefix(3) == [1, 1, 3])
    }

    @Test func responses_roundTripAndBadOnesAreErrors() throws {
        let response = ControlResponse(kindCode: 2, result: .ok, text: "x 1\n")
        #expect(try ControlResponse(decoding: response.encodedPayload) == response)
        #expect(Array(response.encodedFrame.prefix(8)) == [7, 0, 0, 0, 0, 0, 0, 0])
        #expect(throws: AppError.self) { try ControlResponse(decoding: [1, 2]) }
        #expect(throws: AppError.self) { try ControlResponse(decoding: [2, 1, 0]) }
        #expect(throws: AppError.self) { try ControlResponse(decoding: [1, 1, 77]) }
    }
}

@Suite("Daemon status")
struct DaemonStatusTests {
    static func sample() -> DaemonStatus {
        DaemonStatus(
            version: "0.3.0-dev (swift-rosenpass)", uptimeSeconds: 3725, listen: ["[::]:9999"],
            broker: .init(kind: "broker", endpoint: "socket /run/rosenpass/broker.sock", connected: true, keysDelivered: 4, keysFailed: 1),
            datagrams: .init(received: 120, dropped: ["bad_mac": 3, "rate_limited": 7], cookieRepliesSent: 2),
            peers: [
                .init(
                    name: "office \"main\"", id: "AUMR5821+yCQ25EOUIdXSZk4/CqYijdqB+bFmFa6Xas=", label: "office \"main\"",
                    endpoint: "gw.example:9999", lastSeenAt: "192.0.2.7:9999", wireGuardDevice: "wg0",
                    wireGuardPeer: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", keyOut: nil, protocolVersion: "V03",
                    mcelieceVariant: "round4", mcelieceVariantSource: "learned", initiates: true, lastExchangeSecondsAgo: 12.5,
                    nextRekeySeconds: 117.5, handshakeAwaiting: nil, handshakesStarted: 30, handshakesCompleted: 31,
                    handshakesFailed: 2, lastFailure: "handshake given up: no RespHello in 180 s", lastFailureSecondsAgo: 600,
                    holdsCookie: false, cookieRequests: 0, overdue: false),
                .init(
                    name: nil, id: "pqG+eaeZ386naMbCF9GvqFgVDsdJqdUx19Yeueq8anI=", label: "[id:pqG+eaeZ]", endpoint: nil,
                    lastSeenAt: nil, wireGuardDevice: nil, wireGuardPeer: nil, keyOut: "/var/lib/rp/key", protocolVersion: "V02",
                    mcelieceVariant: "round3", mcelieceVariantSource: "probing", initiates: false, lastExchangeSecondsAgo: nil,
                    nextRekeySeconds: nil, handshakeAwaiting: nil, handshakesStarted: 0, handshakesCompleted: 0, handshakesFailed: 0,
                    lastFailure: nil, lastFailureSecondsAgo: nil, holdsCookie: false, cookieRequests: 0, overdue: true),
            ])
    }

    @Test func json_roundTripsWithSnakeCaseKeys() throws {
        let status = Self.sample()
        let json = try status.encodedJSON()
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"last_exchange_seconds_ago\":12.5") && text.contains("\"schema\":1"))
        #expect(text.contains("\"wireguard_device\":\"wg0\""))
        #expect(try DaemonStatus(json: json) == status)
    }

    @Test("the table names every peer with what an operator looks for")
    func table() {
        let table = Self.sample().table
        for expected in [
            "up: 1 h 2 min", "psk broker: socket /run/rosenpass/broker.sock, connected, 4 keys delivered, 1 failed",
            "datagrams: 120 received, 10 dropped (rate_limited 7, bad_mac 3), 2 cookie replies sent",
            "peer: office \"main\"", "endpoint: gw.example:9999, last seen at 192.0.2.7:9999",
            "wireguard: wg0 peer xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "protocol: V03, McEliece round 4 (learned)",
            "latest key exchange: 13 s ago", "next key exchange: in 1 min 58 s", "handshakes: 31 completed, 2 failed",
            "last failure: handshake given up: no RespHello in 180 s, 10 min ago",
            "peer: [id:pqG+eaeZ]  (overdue)", "endpoint: none (responder only)", "latest key exchange: none yet",
            "next key exchange: when the peer starts it", "key out: /var/lib/rp/key",
        ] {
            #expect(table.contains(expected), "\(expected)\n\(table)")
        }
    }

    @Test("Prometheus text: HELP and TYPE per family, escaped label values, counters ending in _total")
    func prometheus() {
        let text = Self.sample().prometheusText
        for expected in [
            "# TYPE rosenpass_handshakes_total counter\n",
            #"rosenpass_handshakes_total{device="wg0",name="office \"main\"",peer_id="AUMR5821+yCQ25EOUIdXSZk4/CqYijdqB+bFmFa6Xas=",result="completed"} 31"#,
            #"rosenpass_peer_last_exchange_seconds{device="wg0",name="office \"main\"",peer_id="AUMR5821+yCQ25EOUIdXSZk4/CqYijdqB+bFmFa6Xas="} 12.5"#,
            #"rosenpass_datagrams_dropped_total{reason="rate_limited"} 7"#, "rosenpass_broker_connected 1\n",
            #"rosenpass_peer_overdue{peer_id="pqG+eaeZ386naMbCF9GvqFgVDsdJqdUx19Yeueq8anI="} 1"#, "rosenpass_uptime_seconds 3725\n",
        ] {
            #expect(text.contains(expected), "\(expected)")
        }
        #expect(!text.contains("rosenpass_peer_last_exchange_seconds{peer_id=\"pqG"), "no sample before the first exchange")
        #expect(PrometheusWriter.escape("a\\b\n\"") == #"a\\b\n\""#)
        #expect(PrometheusWriter.format(.infinity) == "+Inf" && PrometheusWriter.format(0.25) == "0.25")
    }
}

@Suite("Metrics over HTTP")
struct MetricsHTTPTests {
    private func answer(_ request: String) -> String? {
        MetricsHTTPServer.respond(to: Array(request.utf8)) { "m 1\n" }.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func answers() {
        let ok = answer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") ?? ""
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n") && ok.contains("Content-Type: text/plain; version=0.0.4") && ok.hasSuffix("\r\n\r\nm 1\n"))
        #expect(ok.contains("Content-Length: 4\r\n"))
        let head = answer("HEAD /metrics?x=1 HTTP/1.0\r\n\r\n") ?? ""
        #expect(head.hasPrefix("HTTP/1.1 200") && head.hasSuffix("\r\n\r\n"))
        #expect(answer("GET / HTTP/1.1\r\n\r\n")?.hasPrefix("HTTP/1.1 404") == true)
        #expect(answer("POST /metrics HTTP/1.1\r\n\r\n")?.hasPrefix("HTTP/1.1 405") == true)
        #expect(answer("garbage\r\n\r\n")?.hasPrefix("HTTP/1.1 400") == true)
        #expect(answer("GET /metrics HTTP/1.1\r\nHost") == nil, "an incomplete head waits for more")
        #expect(answer("GET /" + String(repeating: "a", count: 9000))?.hasPrefix("HTTP/1.1 431") == true)
    }
}

@Suite("Control configuration keys")
struct ControlConfigurationTests {
    private let base = "public_key = \"pk\"\nsecret_key = \"sk\"\nlisten = []\npeers = []\n"

    @Test func keys_areReadAndWrittenBack() throws {
        let text = base + "control_socket = \"~/rp.sock\"\ncontrol_socket_group = \"rosenpass\"\nmetrics_listen = \"127.0.0.1:9586\"\n"
        let config = try Configuration.parse(text, file: "c.toml", home: "/home/u")
        #expect(config.controlSocket == "/home/u/rp.sock" && config.controlSocketGroup == "rosenpass" && config.metricsListen == "127.0.0.1:9586")
        #expect(try Configuration.parse(config.tomlText, file: "again.toml", home: nil) == config)
    }

    @Test func mistakes_areNamedWithTheirLine() {
        func message(_ extra: String) -> String {
            do {
                _ = try Configuration.parse(base + extra, file: "c.toml", home: nil)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(message("control_socket_group = \"g\"\n").contains("'control_socket_group' is set but 'control_socket' is not"))
        #expect(message("metrics_listen = \"localhost:9586\"\n").hasPrefix("c.toml:5: "))
        #expect(message("metrics_listen = \"localhost:9586\"\n").contains("'metrics_listen' must be an IP socket address"))
        #expect(message("control_socket = \"\"\n").contains("not empty"))
    }
}

@Suite("Control server", .serialized)
final class ControlServerTests {
    private let folder: String
    private let path: String

    init() {
        var template = Array("/tmp/rp-control-test-XXXXXX".utf8CString)
        folder = String(cString: mkdtemp(&template)!)
        path = folder + "/c.sock"
    }

    deinit {
        unlink(path)
        rmdir(folder)
    }

    /// Drives `server` from this thread until `done` is true or 10 s pass, with time `clock()`.
    private func serve(_ server: ControlServer, clock: () -> Seconds = { 0 }, padding: Int = 0, until done: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !done() && Date() < deadline {
            var fds = server.pollDescriptors
            _ = poll(&fds, nfds_t(fds.count), 20)
            server.handle(fds[...], now: clock()) { request, _ in
                ControlResponse(
                    answering: request, .ok,
                    text: "answer to \(request.kind) with \(request.body.count) bytes" + String(repeating: " ", count: padding))
            }
        }
    }

    @Test("requests sent together are all answered when the answers are too large for the socket buffer")
    func pipelinedLargeAnswers() throws {
        let server = try ControlServer(path: path, group: nil, logger: Logger(label: "test"))
        let sizes = Locked<[Int]>([])
        let path = self.path
        let padding = 3 << 20
        let thread = Thread {
            let fd = try! UnixSocket.connect(path: path)
            defer { close(fd) }
            let frames = (0..<3).flatMap { _ in LengthPrefixedFrames.encode(ControlRequest(.status).encodedPayload) }
            try! POSIX.writeAll(fd, frames, context: "test")
            for _ in 0..<3 {
                var header = [UInt8](repeating: 0, count: 8)
                guard recv(fd, &header, 8, Int32(MSG_WAITALL)) == 8 else { return }
                let length = header.enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
                var body = [UInt8](repeating: 0, count: length)
                guard recv(fd, &body, length, Int32(MSG_WAITALL)) == length else { return }
                sizes.withLock { $0.append(length) }
            }
        }
        thread.start()
        serve(server, padding: padding) { sizes.withLock { $0.count } == 3 }
        #expect(sizes.withLock { $0 }.count == 3)
        #expect(sizes.withLock { $0 }.allSatisfy { $0 > padding })
    }

    @Test("a client gets one answer per request, in order, also when the requests arrive together")
    func lockStepAnswers() throws {
        let server = try ControlServer(path: path, group: nil, logger: Logger(label: "test"))
        var mode = stat()
        stat(path, &mode)
        #expect(mode.st_mode & 0o777 == 0o600)
        let result = Locked<[String]>([])
        let finished = Locked(false)
        let path = self.path
        let thread = Thread {
            let fd = try! UnixSocket.connect(path: path)
            defer { close(fd) }
            let frames = LengthPrefixedFrames.encode(ControlRequest(.status).encodedPayload)
                + LengthPrefixedFrames.encode(ControlRequest(.metrics, body: [9, 9]).encodedPayload)
            try! POSIX.writeAll(fd, frames, context: "test")
            for _ in 0..<2 {
                var header = [UInt8](repeating: 0, count: 8)
                _ = recv(fd, &header, 8, Int32(MSG_WAITALL))
                var body = [UInt8](repeating: 0, count: Int(header[0]))
                _ = recv(fd, &body, body.count, Int32(MSG_WAITALL))
                let response = try! ControlResponse(decoding: body)
                result.withLock { $0.append(response.text) }
            }
            finished.withLock { $0 = true }
        }
        thread.start()
        serve(server) { finished.withLock { $0 } }
        #expect(result.withLock { $0 } == ["answer to status with 0 bytes", "answer to metrics with 2 bytes"])
        server.shutdown()
        #expect(access(path, F_OK) != 0, "the socket file is removed")
    }

    @Test("ControlClient: the answer through the real client; an oversized request is refused and the connection goes on")
    func clientAndOversizedRequest() throws {
        let server = try ControlServer(path: path, group: nil, logger: Logger(label: "test"))
        let answers = Locked<[ControlResponse]>([])
        let path = self.path
        let thread = Thread {
            if let response = try? ControlClient.send(ControlRequest(.status, body: [UInt8](repeating: 1, count: 100)), to: path) {
                answers.withLock { $0.append(response) }
            }
            let fd = try! UnixSocket.connect(path: path)
            defer { close(fd) }
            try! POSIX.writeAll(fd, LengthPrefixedFrames.encode([UInt8](repeating: 0, count: ControlProtocol.maximumRequest + 1)), context: "test")
            try! POSIX.writeAll(fd, LengthPrefixedFrames.encode(ControlRequest(.status).encodedPayload), context: "test")
            for _ in 0..<2 {
                var header = [UInt8](repeating: 0, count: 8)
                _ = recv(fd, &header, 8, Int32(MSG_WAITALL))
                let length = Int(header[0]) | Int(header[1]) << 8
                var body = [UInt8](repeating: 0, count: length)
                _ = recv(fd, &body, length, Int32(MSG_WAITALL))
                if let response = try? ControlResponse(decoding: body) { answers.withLock { $0.append(response) } }
            }
        }
        thread.start()
        serve(server) { answers.withLock { $0.count } == 3 }
        let got = answers.withLock { $0 }
        #expect(got.count == 3)
        #expect(got.first?.text == "answer to status with 100 bytes")
        #expect(got.dropFirst().first?.result == .badRequest && got.dropFirst().first?.text.contains("larger than") == true)
        #expect(got.last?.text == "answer to status with 0 bytes")
    }

    @Test("a client that never finishes its frame, or never sends, is closed when its time is up; others stay")
    func timeLimits() throws {
        let server = try ControlServer(path: path, group: nil, logger: Logger(label: "test"))
        let slow = try UnixSocket.connect(path: path)
        let silent = try UnixSocket.connect(path: path)
        defer {
            close(slow)
            close(silent)
        }
        var now: Seconds = 0
        serve(server, clock: { now }) { server.pollDescriptors.count == 3 }
        _ = write(slow, [5, 0, 0], 3)  // three bytes of a header
        serve(server, clock: { now }) { server.nextDeadline == ControlServer.frameTimeout }
        #expect(server.nextDeadline == ControlServer.frameTimeout)
        now = ControlServer.frameTimeout
        server.handle(server.pollDescriptors[...], now: now) { request, _ in ControlResponse(answering: request, .ok, text: "") }
        #expect(server.pollDescriptors.count == 2, "the unfinished frame's client is closed")
        now = ControlServer.idleTimeout
        server.handle(server.pollDescriptors[...], now: now) { request, _ in ControlResponse(answering: request, .ok, text: "") }
        #expect(server.pollDescriptors.count == 1, "the silent client is closed")
        var byte: UInt8 = 0
        #expect(read(slow, &byte, 1) == 0 && read(silent, &byte, 1) == 0, "both see the connection closed")
    }

    @Test("beyond the client limit a newcomer is closed at once; a socket file of a live server is not taken over")
    func limits() throws {
        let server = try ControlServer(path: path, group: nil, logger: Logger(label: "test"))
        var clients = [Int32]()
        defer { clients.forEach { close($0) } }
        for _ in 0...ControlServer.maximumClients { clients.append(try UnixSocket.connect(path: path)) }
        serve(server) { server.pollDescriptors.count == ControlServer.maximumClients + 1 }
        var byte: UInt8 = 0
        #expect(read(clients.last!, &byte, 1) == 0, "the one too many is closed")
        #expect(throws: AppError.self) { _ = try ControlServer(path: self.path, group: nil, logger: Logger(label: "test")) }
    }
}

/// A value shared between a test and its helper thread.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

@Suite("JSON log lines")
struct JSONLogTests {
    @Test func lines_areOneEscapedObjectEach() throws {
        let line = JSONLogHandler.line(
            time: "2026-12-06T10:57:10.123Z", level: .notice, label: "rosenpass", message: "peer \"a\\b\"\n\u{1}tab\t",
            metadata: ["peer": "bob", "message": "not this one"])
        #expect(line == #"{"time":"2026-12-06T10:57:10.123Z","level":"notice","logger":"rosenpass","message":"peer \"a\\b\"\n\u0001tab\t","peer":"bob"}"# + "\n")
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(object?["message"] == "peer \"a\\b\"\n\u{1}tab\t")
        #expect(JSONLogHandler.now().count == 24 && JSONLogHandler.now().hasSuffix("Z"))
    }

    @Test func logFormat_isConfigured() throws {
        let base = "public_key = \"pk\"\nsecret_key = \"sk\"\nlisten = []\npeers = []\n"
        let config = try Configuration.parse(base + "log_format = \"json\"\n", file: "c.toml", home: nil)
        #expect(config.logFormat == .json)
        #expect(try Configuration.parse(config.tomlText, file: "c.toml", home: nil).logFormat == .json)
        #expect(throws: AppError.self) { try Configuration.parse(base + "log_format = \"xml\"\n", file: "c.toml", home: nil) }
    }
}
