// Resolving peer endpoints again while the daemon runs (dynamic DNS), off the event loop.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker
import RosenpassProtocol

/// Looks endpoints up again on threads of their own, because `getaddrinfo` can block for seconds,
/// and hands the results to the event loop, which it wakes through a pipe.
///
/// The daemon asks for a lookup when a peer whose endpoint is a host name stops answering
/// (``Daemon``), as WireGuard's `reresolve-dns` does; at most one lookup per peer runs at a time.
final class EndpointResolver: @unchecked Sendable {
    /// A finished lookup.
    struct Result: Sendable {
        let peer: Int
        let endpoint: HostAndPort
        let addresses: Swift.Result<[SocketAddress], AppError>
    }

    typealias Resolve = @Sendable (HostAndPort) throws(AppError) -> [SocketAddress]

    /// Readable when results are waiting; poll it with the sockets.
    let wakeReadEnd: Int32
    private let wakeWriteEnd: Int32
    private let resolve: Resolve
    private let lock = PThreadMutex()
    private var finished: [Result] = []
    /// Lookups whose thread could not be started: already failed, nothing to join.
    private var notStarted: [Result] = []
    private var running: [Int: JoinableThread] = [:]

    init(resolve: @escaping Resolve) throws(AppError) {
        self.resolve = resolve
        do {
            (wakeReadEnd, wakeWriteEnd) = try POSIX.pipe(nonBlocking: true)
        } catch {
            throw .runtime("cannot create the resolver's wake-up pipe: \(error)")
        }
    }

    deinit {
        close(wakeReadEnd)
        close(wakeWriteEnd)
    }

    /// Whether a lookup for `peer` is under way.
    func isResolving(_ peer: Int) -> Bool { lock.withLock { running[peer] != nil } }

    /// Starts a lookup of `endpoint` for `peer`, unless one is under way.
    func request(peer: Int, endpoint: HostAndPort) {
        lock.withLock {
            guard running[peer] == nil else { return }
            let resolve = self.resolve
            do {
                running[peer] = try JoinableThread.start("endpoint lookup") { [self] in
                    let addresses = Swift.Result { () throws(AppError) in try resolve(endpoint) }
                    lock.withLock { finished.append(Result(peer: peer, endpoint: endpoint, addresses: addresses)) }
                    var byte: UInt8 = 1
                    _ = write(wakeWriteEnd, &byte, 1)
                }
            } catch {
                // No thread to join for this one: kept apart from `finished`, whose entries each
                // have their thread in `running`.
                notStarted.append(Result(peer: peer, endpoint: endpoint, addresses: .failure(.runtime("cannot start a lookup: \(error)"))))
                var byte: UInt8 = 1
                _ = write(wakeWriteEnd, &byte, 1)
            }
        }
    }

    /// The lookups finished since the last call; their threads are joined.
    func takeResults() -> [Result] {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeReadEnd, &buffer, buffer.count) > 0 {}
        let (results, threads) = lock.withLock { () -> ([Result], [JoinableThread]) in
            let threads = finished.compactMap { running.removeValue(forKey: $0.peer) }
            let results = finished + notStarted
            finished = []
            notStarted = []
            return (results, threads)
        }
        for thread in threads { thread.join() }
        return results
    }

    /// Waits for every lookup under way (at most the resolver's own timeout).
    func shutdown() {
        let threads = lock.withLock { Array(running.values) }
        for thread in threads { thread.join() }
        _ = takeResults()
    }
}
