// What every swift-rosenpass program shares on its command line: the version it reports and the
// exit statuses of usage and run-time errors.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The C library's `exit`, which a `ParsableCommand` extension cannot name unqualified.
private func exitProcess(_ code: Int32) -> Never {
    exit(code)
}
import ArgumentParser
import RosenpassSystem

/// The version every swift-rosenpass program reports with `--version`; the one place it is set.
public enum SwiftRosenpassVersion {
    /// The release number, e.g. `0.3.0-dev`.
    public static let number = "0.3.0-dev"
    /// What `--version` prints.
    public static let description = "\(number) (swift-rosenpass)"
}

extension ParsableCommand {
    /// Parses the process's arguments and runs the command, with the exit statuses of every
    /// swift-rosenpass program (those of the reference's programs): 0 on success and for `--help`
    /// and `--version`, 2 for a usage error (ArgumentParser's own default is 64), and 1, or the code
    /// of a thrown `ExitCode`, for a run-time error. Help goes to stdout, errors to stderr.
    public static func mainWithProjectExitStatus() -> Never {
        let code: Int32
        do {
            var command = try parseAsRoot()
            try command.run()
            code = 0
        } catch {
            code = report(error)
        }
        exitProcess(code)  // not ParsableCommand.exit(withError:), which would print again
    }

    /// Prints what ArgumentParser has to say about `error` (help and the version to stdout, errors
    /// to stderr) and returns the exit status for it: 0, 2 for a usage error, else 1 or the code of
    /// a thrown `ExitCode`.
    package static func report(_ error: any Error) -> Int32 {
        let status = exitCode(for: error)
        let message = fullMessage(for: error)
        if status == .success {
            if !message.isEmpty { print(message) }
            return 0
        }
        if !message.isEmpty {
            try? POSIX.writeAll(STDERR_FILENO, Array((message.hasSuffix("\n") ? message : message + "\n").utf8), context: "stderr")
        }
        return status == .validationFailure ? 2 : status.rawValue
    }
}
