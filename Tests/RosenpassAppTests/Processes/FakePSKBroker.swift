// A stand-in for `rosenpass-wireguard-broker-socket-handler`, written from the wire format of
// `docs/components.md` §1 (not with the broker module), so the daemon's requests are checked independently.

import Foundation
import RosenpassTestSupport

/// One SetPsk request as received.
struct SetPskRequestSeen: Sendable, Equatable {
    let psk: [UInt8]
    let peer: [UInt8]
    let interface: String
}

/// Serves the PSK broker protocol on a unix socket path (or on connected sockets handed to it),
/// answers every request with Success, and records what it got.
final class FakePSKBroker: @unchecked Sendable {
    let path: String?
    private let lock = NSLock()
    private var received: [SetPskRequestSeen] = []
    private var connections: [Int32] = []
    private var listener: Int32 = -1
    /// Signalled when the accept thread of the current listener has returned.
    private var acceptDone: DispatchSemaphore?
    private var stopped = false
    private(set) var malformed = 0

    /// Listens at `path`.
    init(path: String) throws {
        self.path = path
        try listen()
    }

    /// Serves one already connected socket (e.g. one end of a socket pair).
    init(connected fd: Int32) {
        path = nil
        serve(fd)
    }

    /// A copy made under the lock (`map`, not a shared buffer: ThreadSanitizer cannot see the
    /// uninstrumented runtime's reference counting that makes sharing one safe).
    var requests: [SetPskRequestSeen] { lock.withLock { received.map { $0 } } }

    /// Waits until at least `count` requests arrived.
    func waitForRequests(_ count: Int, timeout: TimeInterval) async throws -> [SetPskRequestSeen] {
        let timeout = TestTime.scaled(timeout)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let seen = requests
            if seen.count >= count { return seen }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ProcessFailure("the fake broker got \(requests.count) of \(count) request(s) within \(Int(timeout)) s")
    }

    /// Goes away like a crashed socket handler: closes every connection and the listening socket and
    /// removes the socket file. Connections are shut down under the lock their threads close them
    /// in, and the listener is closed only once its accept thread has returned, so no fd number that
    /// another test reuses is ever touched.
    func crash() {
        let (fd, done) = lock.withLock { () -> (Int32, DispatchSemaphore?) in
            for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
            let fd = listener
            if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
            listener = -1
            defer { acceptDone = nil }
            return (fd, acceptDone)
        }
        if fd >= 0 {
            _ = done?.wait(timeout: .now() + 10)
            close(fd)
        }
        if let path { unlink(path) }
    }

    /// Comes back at the same path.
    func restart() throws { try listen() }

    func stop() {
        lock.withLock { stopped = true }
        crash()
    }

    private func listen() throws {
        guard let path else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8.prefix(raw.count - 1)))
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 8) == 0 else {
            close(fd)
            throw ProcessFailure("cannot listen at \(path): errno \(errno)")
        }
        let done = DispatchSemaphore(value: 0)
        lock.withLock {
            listener = fd
            acceptDone = done
        }
        Thread.detachNewThread { [self] in
            defer { done.signal() }
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else {
                    if errno == EINTR { continue }
                    return
                }
                serve(client)
            }
        }
    }

    private func serve(_ fd: Int32) {
        lock.withLock { connections.append(fd) }
        Thread.detachNewThread { [self] in
            defer {
                lock.withLock {
                    connections.removeAll { $0 == fd }
                    close(fd)
                }
            }
            while true {
                guard let header = readExactly(fd, 8) else { return }
                let length = header.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                guard length == 324, let payload = readExactly(fd, 324), payload[0] == 0x01 else {
                    lock.withLock { malformed += 1 }
                    return
                }
                let nameLength = Int(payload[68])
                let request = SetPskRequestSeen(
                    psk: Array(payload[4..<36]), peer: Array(payload[36..<68]),
                    interface: String(decoding: payload[69..<69 + nameLength], as: UTF8.self))
                lock.withLock { received.append(request) }
                let response: [UInt8] = [5, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0x00]
                guard response.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == response.count else { return }
            }
        }
    }

    private func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, count - got) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            got += n
        }
        return buffer
    }
}
