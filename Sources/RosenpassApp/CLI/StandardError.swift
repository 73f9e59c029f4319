// Writing to stderr, where every command line prints its messages and progress.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassSystem

extension RosenpassCLI {
    /// Writes `text` to stderr without a newline.
    static func printPartial(_ text: String) {
        writeToStderr(text)
    }

    /// Writes `text` to fd 2 directly (unbuffered, so it cannot interleave with log lines); a
    /// stderr that is gone is not an error worth more than the text.
    static func writeToStderr(_ text: String) {
        try? POSIX.writeAll(STDERR_FILENO, Array(text.utf8), context: "stderr")
    }
}
