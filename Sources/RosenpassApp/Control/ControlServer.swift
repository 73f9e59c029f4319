// The daemon's end of the control socket (docs/control-socket.md). It runs inside the daemon's
// poll loop, on the daemon's thread: requests read and change the daemon's state directly, with no
// locks, between two datagrams.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import RosenpassBroker
import RosenpassProtocol
import RosenpassSystem

/// Serves control requests on a unix stream socket.
///
/// Lock-step per connection: a request is read, answered, and only when the whole answer is written
/// is the next request read. Limits keep a misbehaving local client from stalling the daemon: at
/// most ``maximumClients`` connections (a further one is closed at once), a frame must be complete
/// ``frameTimeout`` after its first byte, and a connection that sends nothing for ``idleTimeout`` is
/// closed. Nothing here blocks: every descriptor is non-blocking and driven by the daemon's `poll`.
final class ControlServer {
    static let maximumClients = 16
    static let frameTimeout: Seconds = 5
    static let idleTimeout: Seconds = 60

    /// One connected client.
    private final class Client {
        let fd: Int32
        let credentials: (uid: UInt32, gid: UInt32, pid: Int32)?
        var decoder = FrameDecoder(maximumPayload: ControlProtocol.maximumRequest, discardLimit: UInt64(ControlProtocol.maximumRequest) * 16)
        /// The answer being written.
        var output = PendingOutput()
        var lastActivity: Seconds
        /// When the first byte of a frame that is not complete yet arrived.
        var frameStartedAt: Seconds?

        init(fd: Int32, now: Seconds) {
            self.fd = fd
            credentials = POSIX.peerCredentials(fd)
            lastActivity = now
        }

        deinit { close(fd) }

        var isWriting: Bool { output.isPending }

        /// Who is asking, for the log.
        var who: String {
            guard let credentials else { return "a client" }
            return "uid \(credentials.uid) pid \(credentials.pid)"
        }
    }

    /// The socket's path.
    let path: String
    private let listener: Int32
    private var clients: [Client] = []
    private var isShutDown = false
    private let logger: Logger
    /// Misbehaving clients are logged within this budget.
    private var complaints = LogBudget()

    /// Creates the socket at `path`, mode 0600, or 0660 and owned by `group` when one is given.
    ///
    /// - Throws: ``AppError`` naming the path (a live socket of another daemon, a file that is not a
    ///   socket, a folder that does not exist).
    init(path: String, group: gid_t?, logger: Logger) throws(AppError) {
        self.path = path
        self.logger = logger
        do {
            listener = try UnixSocket.listen(path: path, mode: group == nil ? 0o600 : 0o660, gid: group)
            try POSIX.setNonBlocking(listener)
        } catch {
            throw .runtime("cannot open the control socket \(path): \(error)")
        }
    }

    deinit { shutdown() }

    /// Closes every connection and the socket, and removes the socket file. Called when the daemon
    /// stops (the process may exit before this object is released).
    func shutdown() {
        guard !isShutDown else { return }
        isShutDown = true
        clients.removeAll()
        close(listener)
        unlink(path)
    }

    /// The descriptors to watch: the listener, then each client (reading, or writing while an answer
    /// is pending). Pass the same slice, with `revents` filled in, to ``handle(_:now:answer:)``.
    var pollDescriptors: [pollfd] {
        var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        for client in clients {
            fds.append(pollfd(fd: client.fd, events: Int16(client.isWriting ? POLLOUT : POLLIN), revents: 0))
        }
        return fds
    }

    /// The earliest moment a client's time limit runs out.
    var nextDeadline: Seconds {
        clients.map { client in
            min(client.lastActivity + Self.idleTimeout, client.frameStartedAt.map { $0 + Self.frameTimeout } ?? .infinity)
        }.min() ?? .infinity
    }

    /// Handles what `poll` reported for ``pollDescriptors``: new connections, requests (answered with
    /// `answer`), the rest of pending answers; then closes clients whose time ran out.
    func handle(_ fds: ArraySlice<pollfd>, now: Seconds, answer: (ControlRequest, _ who: String) -> ControlResponse) {
        let ready = Array(fds)
        var closing = Set<Int32>()
        for (offset, client) in clients.enumerated() where offset + 1 < ready.count && ready[offset + 1].fd == client.fd {
            let events = Int32(ready[offset + 1].revents)
            guard events != 0 else { continue }
            if client.isWriting {
                // An answer finished: requests that arrived meanwhile are answered now.
                if !flush(client, now: now) || (!client.isWriting && !answerBuffered(client, now: now, answer: answer)) {
                    closing.insert(client.fd)
                }
            } else if events & Int32(POLLIN | POLLHUP | POLLERR) != 0 {
                if !read(client, now: now, answer: answer) { closing.insert(client.fd) }
            }
        }
        for client in clients where !closing.contains(client.fd) {
            if now >= client.lastActivity + Self.idleTimeout && !client.isWriting {
                complain("control client (\(client.who)) sent nothing for \(Int(Self.idleTimeout)) s; closing its connection", at: now)
                closing.insert(client.fd)
            } else if let started = client.frameStartedAt, now >= started + Self.frameTimeout {
                complain("control client (\(client.who)) did not finish its request within \(Int(Self.frameTimeout)) s; closing its connection", at: now)
                closing.insert(client.fd)
            }
        }
        clients.removeAll { closing.contains($0.fd) }
        if let first = ready.first, first.revents != 0 { accept(now: now) }
    }

    // MARK: - Connections

    private func accept(now: Seconds) {
        let failure = POSIX.acceptWaitingConnections(listener) { fd in
            guard clients.count < Self.maximumClients else {
                close(fd)
                complain("control socket \(path): \(Self.maximumClients) clients are connected already; refused one more", at: now)
                return
            }
            clients.append(Client(fd: fd, now: now))
        }
        if let failure { complain("control socket \(path): accept: \(String(cString: strerror(failure)))", at: now) }
    }

    /// Reads what the client sent and answers every complete request. Returns false to close it.
    private func read(_ client: Client, now: Seconds, answer: (ControlRequest, String) -> ControlResponse) -> Bool {
        while !client.isWriting {
            let count: Int
            do {
                count = try client.decoder.readInto { free in
                    let result = Glibc.read(client.fd, free.baseAddress, free.count)
                    if result < 0 {
                        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return -1 }
                        throw AppError.system("read", "control socket \(path)", errno: errno)
                    }
                    return result
                }
            } catch {
                return false
            }
            if count == 0 { return false }  // the client is done
            if count < 0 { break }  // nothing more for now
            client.lastActivity = now
            if !answerBuffered(client, now: now, answer: answer) { return false }
        }
        return true
    }

    /// Answers the complete requests the client's buffer holds, one at a time: the next only once the
    /// answer to the last is written (requests sent together wait in the buffer until then). Returns
    /// false to close the client.
    private func answerBuffered(_ client: Client, now: Seconds, answer: (ControlRequest, String) -> ControlResponse) -> Bool {
        do {
            while !client.isWriting, let frame = try client.decoder.nextFrame({ Array($0) }) {
                let response: ControlResponse
                switch frame {
                case .oversized(let length):
                    response = ControlResponse(
                        kindCode: 0, result: .badRequest,
                        text: "a request of \(length) bytes is larger than the \(ControlProtocol.maximumRequest) bytes allowed")
                case .payload(let payload):
                    switch ControlRequest.decode(payload) {
                    case .request(let request): response = answer(request, client.who)
                    case .refused(let refusal): response = refusal
                    }
                }
                client.output.start(response.encodedFrame)
                if !flush(client, now: now) { return false }
            }
        } catch {
            complain("control client (\(client.who)) sent a frame header that cannot be a request; closing its connection", at: now)
            return false
        }
        client.frameStartedAt = client.decoder.bufferedByteCount > 0 ? (client.frameStartedAt ?? now) : nil
        return true
    }

    /// Writes as much of the pending answer as the socket takes. Returns false to close the client.
    private func flush(_ client: Client, now: Seconds) -> Bool {
        guard let sent = client.output.send(to: client.fd) else { return false }
        if sent > 0 { client.lastActivity = now }
        return true
    }

    private func complain(_ message: String, at now: Seconds) {
        if let line = complaints.admit(message, now: now) { logger.warning("\(line)") }
    }
}
