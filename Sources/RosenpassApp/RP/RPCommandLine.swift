// The `rp` command line: the reference's hand-written word grammar (`docs/components.md` §8.1).

import RosenpassProtocol

/// What `rp` was asked to do.
public enum RPCommand: Sendable, Equatable {
    /// `rp genkey PRIVATE_KEYS_DIR`: make the key folder of `docs/components.md` §8.2.
    case genKey(privateKeysDir: String)
    /// `rp pubkey PRIVATE_KEYS_DIR PUBLIC_KEYS_DIR`: make the public folder to give to peers.
    case pubKey(privateKeysDir: String, publicKeysDir: String)
    /// `rp exchange PRIVATE_KEYS_DIR …`: set up WireGuard and run the key exchange (§8.3).
    case exchange(RPExchangeOptions)
    /// `rp exchange-config CONFIG_FILE`: the same, configured by a TOML file (§8.4).
    case exchangeConfig(file: String)
    /// `rp help`, `rp --help`, `rp -h`.
    case help
    /// `rp --version`.
    case version
}

/// A parsed `rp` command line.
public struct RPInvocation: Sendable, Equatable {
    /// Whether `verbose` was given (it sets the daemon's verbosity, `docs/components.md` §8.1).
    public var verbose: Bool
    /// The command.
    public var command: RPCommand
}

/// The grammar of `rp` (`docs/components.md` §8.1), parsed by hand like the reference does, with the
/// reference's messages and usage lines:
///
/// ```
/// rp [verbose] [explain] genkey PRIVATE_KEYS_DIR
///                      | pubkey PRIVATE_KEYS_DIR PUBLIC_KEYS_DIR
///                      | exchange PRIVATE_KEYS_DIR [dev NAME] [ip ADDR/CIDR] [listen IP:PORT]
///                          [peer PUBLIC_KEYS_DIR [endpoint IP:PORT] [persistent-keepalive SECS]
///                                                [allowed-ips LIST]]...
///                      | exchange-config CONFIG_FILE
///                      | help | --help | -h | --version
/// ```
///
/// Words have no leading dashes. `exchange` takes every word after it; `dev`, `ip` and `listen` may
/// come in any order before the first `peer`, and a peer's options last until the next `peer`.
/// `listen` and `endpoint` must be IP socket-address literals (no host names). Every error is a
/// usage error whose message is the reason, a newline, and the usage line of the command.
public enum RPCommandLine {
    /// What `rp help` (and `--help`, `-h`) prints: the general usage line, then every command. (The
    /// reference prints only a usage line, and one that leaves out `exchange-config`.)
    public static let helpText = """
        \(Usage.general.rawValue)

        Set up a WireGuard interface and keep its peers' pre-shared keys fresh with Rosenpass.

        Commands:
          genkey PRIVATE_KEYS_DIR
              Make a folder (mode 0700) with a new WireGuard secret key (wgsk) and Rosenpass key pair
              (pqsk, pqpk).
          pubkey PRIVATE_KEYS_DIR PUBLIC_KEYS_DIR
              Write the public keys (wgpk, pqpk) into a folder to give to peers.
          exchange PRIVATE_KEYS_DIR [dev <device>] [ip <ip>/<cidr>] [listen <ip>:<port>]
                   [peer PUBLIC_KEYS_DIR [endpoint <ip>:<port>] [persistent-keepalive <seconds>]
                                         [allowed-ips <ip>/<cidr>[,<ip>/<cidr>]...]]...
              Create the WireGuard interface and run the key exchange with every peer until
              SIGINT or SIGTERM; the interface is removed at the end. Needs CAP_NET_ADMIN.
          exchange-config CONFIG_FILE
              The same, configured by a TOML file.
          help, --help, -h
              Print this text.
          --version
              Print the version.

        Words before the command: verbose (log every key exchange). Addresses are IP literals, not
        host names. Exit status: 0 on success, 1 on any error. See rp(1).
        """

    /// The usage line printed after an error, per command (the reference's texts).
    enum Usage: String {
        case general = "Usage: rp [verbose] genkey|pubkey|exchange|exchange-config [ARGS]..."
        case genKey = "Usage: rp genkey PRIVATE_KEYS_DIR"
        case pubKey = "Usage: rp pubkey PRIVATE_KEYS_DIR PUBLIC_KEYS_DIR"
        case exchange = "Usage: rp exchange PRIVATE_KEYS_DIR [dev <device>] [ip <ip1>/<cidr1>] [listen <ip>:<port>] [peer PUBLIC_KEYS_DIR [endpoint <ip>:<port>] [persistent-keepalive <interval>] [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...]]..."
        case exchangeConfig = "Usage: rp exchange-config <CONFIG_FILE>"
    }

    /// Parses the words after the program name.
    ///
    /// - Parameters:
    ///   - arguments: the command line without `argv[0]`.
    ///   - warn: receives warnings (the obsolete `explain` word), as they are met.
    /// - Returns: the command and the `verbose` flag.
    /// - Throws: ``AppError`` (a usage error): the reason and the usage line, e.g.
    ///   `"No command supplied\nUsage: rp [verbose] genkey|pubkey|exchange|exchange-config [ARGS]..."`.
    public static func parse(_ arguments: [String], warn: (String) -> Void = { _ in }) throws(AppError) -> RPInvocation {
        var words = Words(arguments)
        var verbose = false
        var command: RPCommand?

        while let word = words.next() {
            switch word {
            case "verbose":
                verbose = true
            case "explain":
                warn("WARN: the explain argument is no longer supported")
            case "genkey":
                guard command == nil else { throw fatal("Too many commands supplied", .general) }
                guard let directory = words.next() else { throw fatal("Required positional argument: PRIVATE_KEYS_DIR", .genKey) }
                command = .genKey(privateKeysDir: directory)
            case "pubkey":
                guard command == nil else { throw fatal("Too many commands supplied", .general) }
                guard let privateDirectory = words.next() else { throw fatal("Required positional argument: PRIVATE_KEYS_DIR", .pubKey) }
                guard let publicDirectory = words.next() else { throw fatal("Required positional argument: PUBLIC_KEYS_DIR", .pubKey) }
                command = .pubKey(privateKeysDir: privateDirectory, publicKeysDir: publicDirectory)
            case "exchange":
                guard command == nil else { throw fatal("Too many commands supplied", .general) }
                command = .exchange(try exchange(&words))
            case "exchange-config":
                guard command == nil else { throw fatal("Too many commands supplied", .general) }
                // "position" (sic) is the reference's wording.
                guard let file = words.next() else { throw fatal("Required position argument: CONFIG_FILE", .exchangeConfig) }
                command = .exchangeConfig(file: file)
            case "help", "--help", "-h":
                // As in the reference, `help` replaces any command given before it.
                command = .help
            case "--version":
                command = .version
            default:
                throw fatal("Unknown command \(word)", .general)
            }
        }
        guard let command else { throw fatal("No command supplied", .general) }
        return RPInvocation(verbose: verbose, command: command)
    }

    /// `exchange PRIVATE_KEYS_DIR [dev …] [ip …] [listen …] [peer …]…`: consumes every word left.
    private static func exchange(_ words: inout Words) throws(AppError) -> RPExchangeOptions {
        guard let directory = words.next() else { throw fatal("Required positional argument: PRIVATE_KEYS_DIR", .exchange) }
        var options = RPExchangeOptions(privateKeysDir: directory)
        while let word = words.next() {
            switch word {
            case "dev":
                guard let device = words.next() else { throw fatal("dev option requires parameter", .exchange) }
                options.dev = device
            case "ip":
                guard let address = words.next() else { throw fatal("ip option requires parameter", .exchange) }
                options.ip = address
            case "listen":
                guard let text = words.next() else { throw fatal("listen option requires parameter", .exchange) }
                guard let address = SocketAddress(literal: text) else {
                    throw fatal("invalid parameter for listen option: \(Self.addressExpected(text))", .exchange)
                }
                options.listen = address
            case "peer":
                options.peers.append(try peer(&words))
            default:
                throw fatal("Unknown option \(word)", .exchange)
            }
        }
        return options
    }

    /// `peer PUBLIC_KEYS_DIR [endpoint …] [persistent-keepalive …] [allowed-ips …]`, up to the next `peer`.
    private static func peer(_ words: inout Words) throws(AppError) -> RPPeerOptions {
        guard let directory = words.next() else { throw fatal("Required positional argument: PUBLIC_KEYS_DIR", .exchange) }
        var peer = RPPeerOptions(publicKeysDir: directory)
        while let word = words.peek(), word != "peer" {
            _ = words.next()
            switch word {
            case "endpoint":
                guard let text = words.next() else { throw fatal("endpoint option requires parameter", .exchange) }
                guard let address = SocketAddress(literal: text) else {
                    throw fatal("invalid parameter for endpoint option: \(Self.addressExpected(text))", .exchange)
                }
                peer.endpoint = address
            case "persistent-keepalive":
                guard let text = words.next() else { throw fatal("persistent-keepalive option requires parameter", .exchange) }
                guard let seconds = UInt32(text) else {
                    throw fatal(
                        "invalid parameter for persistent-keepalive option: '\(text)' is not a whole number of seconds (0 turns keepalives off)",
                        .exchange)
                }
                peer.persistentKeepalive = seconds
            case "allowed-ips":
                guard let list = words.next() else { throw fatal("allowed-ips option requires parameter", .exchange) }
                peer.allowedIPs = list
            default:
                throw fatal("Unknown option \(word)", .exchange)
            }
        }
        return peer
    }

    /// What an address word must look like, for the error about `text`.
    static func addressExpected(_ text: String) -> String {
        "'\(text)' is not an IP address and port such as 192.0.2.1:9999 or [2001:db8::1]:9999 (host names are not accepted)"
    }

    private static func fatal(_ note: String, _ usage: Usage) -> AppError {
        .usage("\(note)\n\(usage.rawValue)")
    }

    /// The remaining words, with one word of look-ahead.
    private struct Words {
        private let words: [String]
        private var index = 0

        init(_ words: [String]) { self.words = words }

        func peek() -> String? { index < words.count ? words[index] : nil }

        mutating func next() -> String? {
            defer { index += 1 }
            return peek()
        }
    }
}
