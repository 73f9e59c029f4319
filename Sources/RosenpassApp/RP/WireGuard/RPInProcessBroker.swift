// The PSK broker of `rp`: the privileged broker's code on a thread of `rp` itself.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import RosenpassBroker

/// Delivers `rp`'s exchanged keys to its WireGuard interface.
///
/// `rp` creates the interface itself and so already holds `CAP_NET_ADMIN`; a separate broker
/// process would add nothing. The daemon core hands keys to its ``PSKBrokerClient`` as always; the
/// client's connection is one end of a socket pair (``daemonDescriptor``, given to the daemon as an
/// inherited descriptor), and the other end is served on a thread by the same
/// ``PrivilegedBroker`` the `rosenpass-wireguard-broker-privileged` executable runs: it only
/// overwrites the PSK of an existing peer, and its allow-list names exactly `rp`'s interface and
/// peers. The daemon core's retries, ordering and fail-safe behaviour are unchanged.
final class RPInProcessBroker: @unchecked Sendable {
    /// The daemon's end of the socket pair (for `PSKBrokerEndpoint.inheritedDescriptor`). The
    /// client claims it, leaving `/dev/null` on this number, which ``finish()`` closes.
    let daemonDescriptor: Int32
    private let brokerDescriptor: Int32
    private var thread: JoinableThread?

    /// Creates the socket pair; nothing runs until ``start(backend:policy:logger:)``.
    init() throws(AppError) {
        do {
            (daemonDescriptor, brokerDescriptor) = try POSIX.socketPair()
        } catch {
            throw .runtime("cannot create the PSK broker's socket pair: \(error)")
        }
    }

    /// Starts serving requests with `backend`, limited by `policy`.
    func start(backend: WireGuardBackend, policy: BrokerPolicy, logger: Logger) throws(AppError) {
        let descriptor = brokerDescriptor
        let box = BackendBox(backend)
        do {
            thread = try JoinableThread.start("PSK broker thread") {
                let broker = PrivilegedBroker(backend: box.backend, policy: policy, logger: logger)
                do {
                    try PrivilegedBrokerServer(broker: broker, input: descriptor, output: descriptor, logger: logger).run()
                } catch {
                    logger.error("the PSK broker stopped: \(error)")
                }
            }
        } catch {
            throw .runtime("cannot start the PSK broker: \(error)")
        }
    }

    /// Ends the broker once the daemon is done with it: closes the daemon's end (so the broker
    /// sees end-of-file even if the daemon never connected), waits for the thread, closes the rest.
    func finish() {
        close(daemonDescriptor)
        thread?.join()
        thread = nil
        close(brokerDescriptor)
    }
}

/// Moves the backend (not `Sendable`) to the broker thread, which alone uses it from then on.
private final class BackendBox: @unchecked Sendable {
    let backend: WireGuardBackend
    init(_ backend: WireGuardBackend) { self.backend = backend }
}
