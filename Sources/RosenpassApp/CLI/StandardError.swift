// Writing to stderr, where every command line prints its messages and progress.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
