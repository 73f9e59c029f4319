// SIGINT, SIGTERM and SIGQUIT as readable bytes for the event loop (`docs/components.md` §6.2).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassSystem
import Synchronization

/// The write end of the signal pipe, for the handler (a C function cannot capture context).
/// Set before the handlers are installed; an atomic load is async-signal-safe.
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The self-pipe trick: a signal handler writes the signal number into a pipe, and the event loop
/// polls the read end with its sockets. This works on every POSIX system and keeps all work out of
/// the handler (which only calls `write`, an async-signal-safe function).
final class SignalPipe {
    /// The read end, to poll for `POLLIN`.
    let readEnd: Int32
    private let writeEnd: Int32
    private let signals: [Int32]

    /// Installs handlers for `signals`.
    init(signals: [Int32]) throws(AppError) {
        // Close-on-exec from the start (pipe2), so no other thread's spawn can inherit it.
        do {
            (readEnd, writeEnd) = try POSIX.pipe(nonBlocking: true)
        } catch {
            throw .runtime("cannot create the signal pipe: \(error)")
        }
        self.signals = signals
        signalPipeWriteEnd.store(writeEnd, ordering: .sequentiallyConsistent)
        // A parent may have started us with these signals blocked (the mask is inherited across
        // exec); unblock them, or the daemon could not be stopped.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in signals { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                let saved = errno
                _ = write(signalPipeWriteEnd.load(ordering: .sequentiallyConsistent), &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(signal, &action, nil)
        }
    }

    deinit {
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = SIG_DFL
            sigaction(signal, &action, nil)
        }
        signalPipeWriteEnd.store(-1, ordering: .sequentiallyConsistent)
        close(readEnd)
        close(writeEnd)
    }

    /// The signals received since the last call.
    func drain() -> [Int32] {
        var received = [Int32]()
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = read(readEnd, &buffer, buffer.count)
            guard count > 0 else { return received }
            received += buffer.prefix(count).map { Int32($0) }
        }
    }

    /// Ignores SIGPIPE, so that writing to a closed stdout or socket is an error, not death.
    static func ignoreSIGPIPE() {
        signal(SIGPIPE, SIG_IGN)
    }
}
