// Progress on stderr for slow steps (McEliece key generation takes a second or so).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Shows that a slow step is working: on a terminal, the message with a growing row of dots; when
/// stderr is not a terminal, the message once. ``finish()`` ends the line with the time taken.
final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var thread: Thread?
    private let started = Date()

    init(message: String) {
        RosenpassCLI.printPartial("\(message) ")
        guard isatty(STDERR_FILENO) == 1 else { return }
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                usleep(250_000)
                if lock.withLock({ running }) { RosenpassCLI.printPartial(".") }
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Stops the dots and prints how long it took.
    func finish() {
        lock.withLock { running = false }
        while let thread, !thread.isFinished { usleep(10_000) }
        let seconds = Date().timeIntervalSince(started)
        RosenpassCLI.printError(" done (\((seconds * 10).rounded() / 10) s)")
    }
}

/// The process environment the configuration needs.
enum Environment {
    /// `$HOME`, for `~` in configured paths.
    static var home: String? { getenv("HOME").map { String(cString: $0) } }
}

extension RosenpassCLI {
    /// Writes `text` to stderr without a newline.
    static func printPartial(_ text: String) {
        writeToStderr(text)
    }

    /// Writes `text` to fd 2 directly (unbuffered, so it cannot interleave with log lines).
    static func writeToStderr(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
