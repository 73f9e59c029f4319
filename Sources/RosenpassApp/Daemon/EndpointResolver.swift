// Resolving peer endpoints again while the daemon runs (dynamic DNS), off the event loop.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassProtocol
import Synchronization
import RosenpassSystem

/// Looks endpoints up again on threads of their own, because `getaddrinfo` can block for seconds,
/// and hands the results to the event loop, which it wakes through a pipe.
///
/// The daemon asks for a lookup when a peer whose endpoint is a host name stops answering
/// (``Daemon``), as WireGuard's `reresolve-dns` does; at most one lookup per peer runs at a time.
final class EndpointResolver: Sendable {
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
    private struct Lookups {
        var finished: [Result] = []
        /// Lookups whose thread could not be started: already failed, nothing to join.
        var notStarted: [Result] = []
        var running: [Int: JoinableThread] = [:]
    }

    private let lookups = Mutex(Lookups())

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
    func isResolving(_ peer: Int) -> Bool { lookups.withLock { $0.running[peer] != nil } }

    /// Starts a lookup of `endpoint` for `peer`, unless one is under way.
    func request(peer: Int, endpoint: HostAndPort) {
        lookups.withLock { lookups in
            guard lookups.running[peer] == nil else { return }
            let resolve = self.resolve
            do {
                lookups.running[peer] = try JoinableThread.start("endpoint lookup") { [self] in
                    let addresses = Swift.Result { () throws(AppError) in try resolve(endpoint) }
                    self.lookups.withLock { $0.finished.append(Result(peer: peer, endpoint: endpoint, addresses: addresses)) }
                    var byte: UInt8 = 1
                    _ = write(wakeWriteEnd, &byte, 1)
                }
            } catch {
                // No thread to join for this one: kept apart from `finished`, whose entries each
                // have their thread in `running`.
                lookups.notStarted.append(Result(peer: peer, endpoint: endpoint, addresses: .failure(.runtime("cannot start a lookup: \(error)"))))
                var byte: UInt8 = 1
                _ = write(wakeWriteEnd, &byte, 1)
            }
        }
    }

    /// The lookups finished since the last call; their threads are joined.
    func takeResults() -> [Result] {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeReadEnd, &buffer, buffer.count) > 0 {}
        let (results, threads) = lookups.withLock { lookups -> ([Result], [JoinableThread]) in
            let threads = lookups.finished.compactMap { lookups.running.removeValue(forKey: $0.peer) }
            let results = lookups.finished + lookups.notStarted
            lookups.finished = []
            lookups.notStarted = []
            return (results, threads)
        }
        for thread in threads { thread.join() }
        return results
    }

    /// Waits for every lookup under way (at most the resolver's own timeout).
    func shutdown() {
        let threads = lookups.withLock { Array($0.running.values) }
        for thread in threads { thread.join() }
        _ = takeResults()
    }
}
