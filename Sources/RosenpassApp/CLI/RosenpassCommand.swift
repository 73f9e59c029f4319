// The `rosenpass` command line (`docs/components.md` §3): the root command and the entry point.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Logging
import RosenpassBroker

/// `rosenpass`: the root command and its top-level options (`docs/components.md` §3.1).
///
/// Options placed before the subcommand are top-level. `--generate-manpage` and
/// `--print-completions` are handled before anything else; options without a subcommand do nothing.
public struct RosenpassCommand: ParsableCommand {
    public static let version = SwiftRosenpassVersion.description

    public static let configuration = CommandConfiguration(
        commandName: "rosenpass",
        abstract: "Rosenpass: post-quantum-secure key exchange for WireGuard (Classic McEliece 460896 + Kyber-512).",
        discussion: """
            rosenpass exchanges a fresh key with each configured peer every two minutes and hands it to \
            WireGuard as its pre-shared key (through the PSK broker), or writes it to a file and announces it \
            on stdout. Start with `rosenpass gen-config FILE` and `rosenpass gen-keys FILE`, then run \
            `rosenpass exchange-config FILE`. The protocol is described in the whitepaper: \(ManPage.whitepaperURL)
            """,
        version: version,
        subcommands: [
            ExchangeConfigCommand.self, ExchangeCommand.self, GenConfigCommand.self, GenKeysCommand.self,
            ValidateCommand.self, ConvertKeyCommand.self, KeygenCommand.self, StatusCommand.self, MetricsCommand.self, ReloadCommand.self, PeerCommand.self,
        ]
    )

    @Option(name: .customLong("log-level"), help: "Log level: off, error, warn, info, debug or trace (stderr).")
    public var logLevel: LogLevelName?

    @Flag(name: .shortAndLong, help: "Log more: info level (stderr).")
    public var verbose = false

    @Flag(name: .shortAndLong, help: "Log less: errors only (stderr).")
    public var quiet = false

    @Option(name: .customLong("generate-manpage"), help: ArgumentHelp("Write man pages for rosenpass and its commands into DIR, then exit.", valueName: "DIR"))
    public var generateManpage: String?

    /// For packaging: with `--generate-manpage`, also a page for each other program whose
    /// `--experimental-dump-help` output is in FILE (the broker programs have no man-page writer
    /// of their own, and no Foundation to run one).
    @Option(name: .customLong("manpage-for-program"), help: ArgumentHelp("With --generate-manpage: also a page for the program described in FILE (its --experimental-dump-help output).", valueName: "FILE", visibility: .hidden))
    public var manpageForProgram: [String] = []

    @Option(name: .customLong("print-completions"), help: ArgumentHelp("Print a shell completion script (bash, zsh or fish), then exit.", valueName: "SHELL"))
    public var printCompletions: CompletionShellName?

    @Option(name: .customLong("psk-broker"), help: ArgumentHelp("Hand WireGuard keys to the rosenpass-wireguard-broker-socket-handler listening at PATH (overrides psk_broker in the config).", valueName: "PATH"))
    public var pskBroker: String?

    @Option(name: .customLong("psk-broker-path"), help: ArgumentHelp("The reference's name for --psk-broker.", valueName: "PATH"))
    public var pskBrokerPath: String?

    @Option(name: .customLong("psk-broker-fd"), help: ArgumentHelp("Use the connected unix stream socket at file descriptor FD as the PSK broker.", valueName: "FD"))
    public var pskBrokerFD: Int32?

    // The reference also spells this `-p`, but ArgumentParser lets root options follow the
    // subcommand, where `-p` must stay `gen-keys --public-key`; so only the long form is offered.
    @Flag(name: .customLong("psk-broker-spawn"), help: "Spawn rosenpass-wireguard-broker-socket-handler on a socket pair as the PSK broker (the reference's spawn mode). Without any broker option, rosenpass spawns rosenpass-wireguard-broker-privileged itself, over pipes.")
    public var pskBrokerSpawn = false

    public init() {}

    public func validate() throws {
        if [logLevel != nil, verbose, quiet].filter({ $0 }).count > 1 {
            throw ValidationError("--log-level, --verbose and --quiet cannot be combined")
        }
        if [pskBroker != nil, pskBrokerPath != nil, pskBrokerFD != nil, pskBrokerSpawn].filter({ $0 }).count > 1 {
            throw ValidationError("--psk-broker, --psk-broker-path, --psk-broker-fd and --psk-broker-spawn cannot be combined")
        }
        if let pskBrokerFD, pskBrokerFD < 0 { throw ValidationError("--psk-broker-fd needs a file descriptor number, not \(pskBrokerFD)") }
    }

    /// Without a subcommand: nothing to do (the man page and completion options are handled first).
    public func run() throws {}

    /// The log level from the command line or `RUST_LOG`, if any says.
    var explicitLogLevel: Logger.Level? {
        AppLogging.explicitLevel(logLevel: logLevel, verbose: verbose, quiet: quiet)
    }
}

/// `--print-completions` shells: those ArgumentParser writes scripts for. The reference also lists
/// elvish and powershell; offering them only to refuse them would be worse than not offering them.
public enum CompletionShellName: String, CaseIterable, ExpressibleByArgument, Sendable {
    case bash, fish, zsh
}

/// Subcommands that read the root command's options (`--log-level`, `--psk-broker`, …), which may
/// appear before or after the subcommand's name; ArgumentParser hands them the parsed root.
protocol RootOptionsReading {
    var root: RosenpassCommand { get }
}

/// The entry point of the `rosenpass` executable.
public enum RosenpassCLI {
    /// Runs the command line `arguments` (without the program name) and returns the exit status:
    /// 0 on success, 2 for a usage error (also for no arguments at all, after printing help), and 1
    /// for a run-time error, as `docs/components.md` §3 describes.
    public static func main(_ arguments: [String]) -> Int32 {
        if arguments.isEmpty {
            printError(RosenpassCommand.helpMessage())
            return 2
        }
        var command: any ParsableCommand
        do {
            command = try RosenpassCommand.parseAsRoot(arguments)
        } catch {
            return RosenpassCommand.report(error)  // --help, --version, or a usage error (2)
        }
        let root = (command as? RosenpassCommand) ?? (command as? any RootOptionsReading)?.root
            ?? (try? RosenpassCommand.parse([])) ?? RosenpassCommand()
        do {
            if let directory = root.generateManpage {
                try ManPage.writeAll(to: directory, programDescriptions: root.manpageForProgram)
                return 0
            }
            if let shell = root.printCompletions {
                printCompletionScript(shell)
                return 0
            }
            AppLogging.bootstrap()
            try command.run()
            return 0
        } catch let error as AppError {
            printError("error: \(error)")
            return error.isUsageError ? 2 : 1
        } catch let error as ExitCode {
            return error.rawValue
        } catch {
            // `help` and `--help` arrive here as a clean exit from ArgumentParser's help command.
            return RosenpassCommand.report(error)
        }
    }

    private static func printCompletionScript(_ shell: CompletionShellName) {
        let script: String
        switch shell {
        case .bash: script = RosenpassCommand.completionScript(for: .bash)
        case .zsh: script = RosenpassCommand.completionScript(for: .zsh)
        case .fish: script = RosenpassCommand.completionScript(for: .fish)
        }
        print(script, terminator: script.hasSuffix("\n") ? "" : "\n")
    }

    /// Writes `message` and a newline to stderr.
    static func printError(_ message: String) {
        var text = message
        if !text.hasSuffix("\n") { text += "\n" }
        writeToStderr(text)
    }
}
