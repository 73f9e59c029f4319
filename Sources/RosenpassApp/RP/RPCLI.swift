// The entry point of the `rp` executable (`docs/components.md` §8).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging

/// `rp`: WireGuard and Rosenpass set up together, a drop-in for the reference's `rp`.
///
/// ```
/// rp genkey ./alice.private                      # wgsk, pqsk, pqpk (folder 0700)
/// rp pubkey ./alice.private ./alice.public       # wgpk, pqpk: give this folder to the peer
/// rp exchange ./alice.private dev rp0 ip 10.42.0.1/24 listen 192.0.2.1:9999 \
///     peer ./bob.public allowed-ips 10.42.0.2/32
/// rp exchange-config ./rp.toml
/// ```
///
/// Exit status: 0 on success (for `exchange`, after a signal ended it), 1 for any error, command
/// line mistakes included (as the reference). Errors are printed to stderr as `Error: …`; usage
/// mistakes as the reason and a usage line. Logging follows `RUST_LOG` (`error`, `warn`, `info`,
/// `debug`, `trace`); `verbose` only makes the daemon log each exchange (at info level, shown
/// unless `RUST_LOG` says otherwise).
public enum RPCLI {
    /// Runs the command line `arguments` (without the program name) and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        let invocation: RPInvocation
        do {
            invocation = try RPCommandLine.parse(arguments, warn: printError)
        } catch {
            printError("\(error)")
            return 1
        }
        AppLogging.bootstrap()
        do {
            switch invocation.command {
            case .help:
                print(RPCommandLine.helpText)
            case .version:
                print(RosenpassCommand.version)
            case .genKey(let directory):
                try RPKeyFolders.generate(privateKeysDir: directory, report: printError)
            case .pubKey(let privateDirectory, let publicDirectory):
                try RPKeyFolders.derivePublic(privateKeysDir: privateDirectory, publicKeysDir: publicDirectory)
            case .exchange(var options):
                options.verbose = invocation.verbose
                try RPExchange.run(options, logger: logger(verbose: options.verbose), note: printError)
            case .exchangeConfig(let file):
                var options = try RPExchangeOptions.load(file: file)
                options.verbose = options.verbose || invocation.verbose
                try RPExchange.run(options, logger: logger(verbose: options.verbose), note: printError)
            }
            return 0
        } catch {
            printError("Error: \(error)")
            return 1
        }
    }

    /// The log level: `RUST_LOG` if it names one, else info with `verbose` and notice (start-up, every
    /// key, and anything worse) without.
    private static func logger(verbose: Bool) -> Logger {
        var logger = Logger(label: "rp")
        logger.logLevel = AppLogging.explicitLevel(logLevel: nil, verbose: false, quiet: false) ?? (verbose ? .info : .notice)
        return logger
    }

    private static func printError(_ message: String) {
        RosenpassCLI.printError(message)
    }
}
