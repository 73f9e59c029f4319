// Progress on stderr for slow steps (McEliece key generation takes a second or so).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassSystem

/// Shows that a slow step is working: on a terminal, the message with a growing row of dots; when
/// stderr is not a terminal, the message once. ``finish()`` ends the line with the time taken.
final class Progress: Sendable {
    private let running = RunningFlag()
    private let dots: JoinableThread?
    private let started = POSIX.monotonicNow()

    init(message: String) {
        RosenpassCLI.printPartial("\(message) ")
        guard isatty(STDERR_FILENO) == 1 else {
            dots = nil
            return
        }
        let running = running
        dots = try? JoinableThread.start("progress dots") {
            while running.waitWhileRunning(seconds: 0.25) { RosenpassCLI.printPartial(".") }
        }
    }

    /// Stops the dots and prints how long it took.
    func finish() {
        running.stop()
        dots?.join()
        let seconds = POSIX.monotonicNow() - started
        RosenpassCLI.printError(" done (\((seconds * 10).rounded() / 10) s)")
    }

    /// Whether the dots should go on: a pipe that ``stop()`` writes to, so the waiting thread wakes
    /// at once rather than after its next sleep.
    private final class RunningFlag: Sendable {
        private let readEnd: Int32
        private let writeEnd: Int32

        init() {
            let ends = (try? POSIX.pipe()) ?? (read: -1, write: -1)  // close-on-exec
            readEnd = ends.read
            writeEnd = ends.write
        }

        deinit {
            if readEnd >= 0 { close(readEnd) }
            if writeEnd >= 0 { close(writeEnd) }
        }

        func stop() {
            var byte: UInt8 = 1
            if writeEnd >= 0 { _ = write(writeEnd, &byte, 1) }
        }

        /// Waits up to `seconds`; true when ``stop()`` has not been called by then.
        func waitWhileRunning(seconds: Double) -> Bool {
            guard readEnd >= 0 else { return false }  // no pipe: no dots
            var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(seconds * 1000))
            return ready == 0 || (ready < 0 && errno == EINTR)
        }
    }
}
