// The PSK broker of `rp`: the privileged broker's code on a thread of `rp` itself.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import RosenpassBroker
import RosenpassBrokerClient
import RosenpassSystem
import Synchronization

/// Delivers `rp`'s exchanged keys to its WireGuard interface.
///
/// `rp` creates the interface itself and so already holds `CAP_NET_ADMIN`; a separate broker
/// process would add nothing. The daemon core hands keys to its ``PSKBrokerClient`` as always, over
/// two pipes (``endpoint``; pipes rather than a socket pair, so `rp` needs no `AF_UNIX`, as under the
/// reference's `rp@.service`), to a thread that runs the same ``PrivilegedBroker`` the
/// `rosenpass-wireguard-broker-privileged` executable runs: it only overwrites the PSK of an existing
/// peer, and its allow-list names exactly `rp`'s interface and peers. The daemon core's retries,
/// ordering and fail-safe behaviour are unchanged.
final class RPInProcessBroker: Sendable {
    private let requests: (read: Int32, write: Int32)
    private let responses: (read: Int32, write: Int32)
    private let thread = Mutex<JoinableThread?>(nil)

    /// How the daemon's broker client reaches this broker (it works on duplicates of the pipe ends).
    var endpoint: PSKBrokerEndpoint { .inProcessPipes(requests: requests.write, responses: responses.read) }

    /// Creates the pipes; nothing runs until ``start(backend:policy:logger:)``.
    init() throws(AppError) {
        do {
            requests = try POSIX.pipe()
            do {
                responses = try POSIX.pipe()
            } catch {
                close(requests.read)
                close(requests.write)
                throw error
            }
        } catch {
            throw .runtime("cannot create the PSK broker's pipes: \(error)")
        }
    }

    /// Starts serving requests with `backend`, limited by `policy`.
    func start(backend: WireGuardBackend, policy: BrokerPolicy, logger: Logger) throws(AppError) {
        let (input, output) = (requests.read, responses.write)
        let box = BackendBox(backend)
        do {
            let started = try JoinableThread.start("PSK broker thread") {
                let broker = PrivilegedBroker(backend: box.backend, policy: policy, logger: logger)
                do {
                    try PrivilegedBrokerServer(broker: broker, input: input, output: output, logger: logger).run()
                } catch {
                    logger.error("the PSK broker stopped: \(error)")
                }
            }
            thread.withLock { $0 = started }
        } catch {
            throw .runtime("cannot start the PSK broker: \(error)")
        }
    }

    /// Ends the broker once the daemon is done with it (its client has closed its duplicates): closes
    /// the request pipe's write end, so the broker sees end-of-file, waits for the thread, closes the rest.
    func finish() {
        close(requests.write)
        let running = thread.withLock { thread -> JoinableThread? in
            defer { thread = nil }
            return thread
        }
        running?.join()
        close(requests.read)
        close(responses.read)
        close(responses.write)
    }
}

/// Moves the backend (not `Sendable`) to the broker thread, which alone uses it from then on.
private final class BackendBox: @unchecked Sendable {
    let backend: WireGuardBackend
    init(_ backend: WireGuardBackend) { self.backend = backend }
}
