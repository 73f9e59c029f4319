// An in-process broker server for client tests: listens on a unix socket, records requests, answers
// with a chosen code, and can drop its connections or go away entirely.

import Foundation
import Glibc
@testable import RosenpassBroker
@testable import RosenpassBrokerClient
import RosenpassSystem

final class FakeBrokerServer: @unchecked Sendable {
    struct Received: Equatable {
        var interface: String
        var peer: WireGuardPublicKey
        var psk: [UInt8]
    }

    let path: String
    private let lock = NSLock()
    private var _received: [Received] = []
    private var _connections: Int = 0
    private var listener: Int32 = -1
    private var clientFDs: [Int32] = []
    private var running = false
    private let acceptDone = DispatchSemaphoreBox()
    /// The code answered for each interface (default Success).
    var codes: [String: BrokerReturnCode] {
        get { lock.withLock { _codes } }
        set { lock.withLock { _codes = newValue } }
    }
    private var _codes: [String: BrokerReturnCode] = [:]

    /// Copies made under the lock (`map`, not a shared buffer: ThreadSanitizer cannot see the
    /// uninstrumented runtime's reference counting that makes sharing one safe).
    var received: [Received] { lock.withLock { _received.map { $0 } } }
    var connections: Int { lock.withLock { _connections } }

    init(path: String) {
        self.path = path
    }

    func start() throws {
        let fd = try UnixSocket.listen(path: path, mode: 0o600, gid: nil)
        lock.withLock {
            listener = fd
            running = true
        }
        Thread.detachNewThread { [self] in acceptLoop(fd) }
    }

    /// Closes the listener and every connection, removing the socket file. The accept thread is
    /// woken with shutdown(2) and waited for before the fd is closed, so it can never touch an fd
    /// number another test reuses; connections are shut down under the lock their threads close them in.
    func stop() {
        let fd = lock.withLock { () -> Int32 in
            running = false
            for client in clientFDs { Glibc.shutdown(client, Int32(SHUT_RDWR)) }
            return listener
        }
        Glibc.shutdown(fd, Int32(SHUT_RDWR))
        _ = acceptDone.wait(seconds: 10)
        close(fd)
        unlink(path)
    }

    private func acceptLoop(_ listener: Int32) {
        defer { acceptDone.signal() }
        while true {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else {
                if errno == EINTR { continue }
                return
            }
            let accepted = lock.withLock { () -> Bool in
                guard running else { return false }
                _connections += 1
                clientFDs.append(fd)
                return true
            }
            guard accepted else {
                close(fd)
                return
            }
            Thread.detachNewThread { [self] in serve(fd) }
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            lock.withLock {
                clientFDs.removeAll { $0 == fd }
                close(fd)
            }
        }
        var decoder = FrameDecoder(maximumPayload: BrokerWire.requestSize)
        while true {
            let got = (try? decoder.readInto { free in try POSIX.readSome(fd, into: free, context: "fake") ?? 0 }) ?? 0
            if got <= 0 { return }
            while let frame = try? decoder.nextFrame({ try SetPskRequest(decodingPayload: $0) }) {
                guard case .payload(let request) = frame else { return }
                let code = lock.withLock { () -> BrokerReturnCode in
                    _received.append(Received(interface: request.interface, peer: request.peer,
                                              psk: request.presharedKey.withUnsafeBytes { Array($0) }))
                    return _codes[request.interface] ?? .success
                }
                guard (try? POSIX.writeAll(fd, SetPskResponse(code).encodedFrame, context: "fake")) != nil else { return }
            }
        }
    }
}

/// Collects client events.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _events: [PSKBrokerClientEvent] = []

    var events: [PSKBrokerClientEvent] { lock.withLock { _events.map { $0 } } }

    func record(_ event: PSKBrokerClientEvent) { lock.withLock { _events.append(event) } }

    func count(_ predicate: (PSKBrokerClientEvent) -> Bool) -> Int { events.filter(predicate).count }
}
