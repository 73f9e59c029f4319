// `metrics_listen`: the Prometheus metrics over plain HTTP, for a scraper (docs/control-socket.md).
// Runs in the daemon's poll loop like the control socket: non-blocking, one short answer per
// connection.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import RosenpassBroker
import RosenpassProtocol
import RosenpassSystem

/// Answers `GET /metrics` with the Prometheus text format, and nothing else.
///
/// It reads at most ``maximumRequest`` bytes of request head, answers, and closes the connection
/// (`Connection: close`). A client gets ``requestTimeout`` for the whole exchange; at most
/// ``maximumClients`` are served at once. Bind it to a loopback or management address: the metrics
/// name peers and interfaces, and there is no authentication (as with node_exporter).
final class MetricsHTTPServer {
    static let maximumClients = 16
    static let maximumRequest = 8192
    static let requestTimeout: Seconds = 5

    private final class Client {
        let fd: Int32
        let connectedAt: Seconds
        var request: [UInt8] = []
        var output = PendingOutput()
        var answered = false

        init(fd: Int32, connectedAt: Seconds) {
            self.fd = fd
            self.connectedAt = connectedAt
        }

        deinit { close(fd) }
    }

    private let listener: Int32
    /// The address it is bound to (with the port the kernel picked for port 0).
    let localAddress: SocketAddress
    private var clients: [Client] = []
    private let logger: Logger
    private var complaints = LogBudget()

    /// Binds and listens on `address`.
    ///
    /// - Throws: ``AppError`` naming the address.
    init(binding address: SocketAddress, logger: Logger) throws(AppError) {
        self.logger = logger
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", "metrics_listen \(address)", errno: errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard address.withSockAddr({ bind(fd, $0, $1) }) == 0, Glibc.listen(fd, 16) == 0 else {
            let code = errno
            close(fd)
            throw .system("bind", "metrics_listen \(address)", errno: code)
        }
        listener = fd
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        localAddress = named == 0 ? (withUnsafeBytes(of: &storage) { SocketAddress($0.baseAddress!, length: length) } ?? address) : address
    }

    deinit {
        clients.removeAll()
        close(listener)
    }

    /// The listener, then each client (reading its request, or writing the answer).
    var pollDescriptors: [pollfd] {
        [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            + clients.map { pollfd(fd: $0.fd, events: Int16($0.answered ? POLLOUT : POLLIN), revents: 0) }
    }

    /// When the oldest client's time runs out.
    var nextDeadline: Seconds { clients.map { $0.connectedAt + Self.requestTimeout }.min() ?? .infinity }

    /// Handles what `poll` reported for ``pollDescriptors``; `metrics` makes the body when a request
    /// for it is complete.
    func handle(_ fds: ArraySlice<pollfd>, now: Seconds, metrics: () -> String) {
        let ready = Array(fds)
        var done = Set<Int32>()
        for (offset, client) in clients.enumerated() where offset + 1 < ready.count && ready[offset + 1].fd == client.fd {
            guard ready[offset + 1].revents != 0 else { continue }
            if !client.answered { read(client, metrics: metrics) }
            if client.answered && !write(client) { done.insert(client.fd) }
        }
        for client in clients where now >= client.connectedAt + Self.requestTimeout { done.insert(client.fd) }
        clients.removeAll { done.contains($0.fd) }
        if let first = ready.first, first.revents != 0 { accept(now: now) }
    }

    private func accept(now: Seconds) {
        _ = POSIX.acceptWaitingConnections(listener) { fd in
            guard clients.count < Self.maximumClients else {
                close(fd)
                if let line = complaints.admit("metrics: \(Self.maximumClients) scrapes are open already; refused one more", now: now) {
                    logger.warning("\(line)")
                }
                return
            }
            clients.append(Client(fd: fd, connectedAt: now))
        }
    }

    /// Reads the request head; once it is complete (or broken), prepares the answer.
    private func read(_ client: Client, metrics: () -> String) {
        var buffer = [UInt8](repeating: 0, count: 2048)
        while !client.answered {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(client.fd, $0.baseAddress, $0.count) }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
            guard count > 0 else {
                client.answered = true  // the client left; nothing to send
                return
            }
            client.request += buffer[0..<count]
            if let answer = Self.respond(to: client.request, metrics: metrics) {
                client.output.start(answer)
                client.answered = true
            }
        }
    }

    /// The answer to a request head, or nil while the head is incomplete.
    static func respond(to request: [UInt8], metrics: () -> String) -> [UInt8]? {
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        let complete = request.count >= 4 && (0...(request.count - 4)).contains { Array(request[$0..<($0 + 4)]) == terminator }
        if !complete {
            guard request.count > maximumRequest else { return nil }
            return response(431, "Request Header Fields Too Large", body: "request head too large\n")
        }
        let firstLine = String(decoding: request.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let parts = firstLine.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return response(400, "Bad Request", body: "bad request\n") }
        let method = parts[0]
        let path = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard method == "GET" || method == "HEAD" else { return response(405, "Method Not Allowed", body: "only GET\n", extra: "Allow: GET, HEAD\r\n") }
        guard path == "/metrics" else { return response(404, "Not Found", body: "the metrics are at /metrics\n") }
        let body = metrics()
        let full = response(200, "OK", body: body, contentType: "text/plain; version=0.0.4; charset=utf-8")
        if method == "HEAD" {
            return Array(full.prefix(full.count - body.utf8.count))
        }
        return full
    }

    private static func response(_ code: Int, _ reason: String, body: String, contentType: String = "text/plain; charset=utf-8", extra: String = "") -> [UInt8] {
        let bytes = Array(body.utf8)
        let head = "HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(bytes.count)\r\n\(extra)Connection: close\r\n\r\n"
        return Array(head.utf8) + bytes
    }

    /// Writes what the socket takes; returns false when the client is done (all written, or gone).
    private func write(_ client: Client) -> Bool {
        client.output.send(to: client.fd) != nil && client.output.isPending
    }
}
