// The `rp` word grammar, its messages and usage lines (`docs/components.md` §8.1, §9 item 10).

import RosenpassProtocol
import Testing

@testable import RosenpassApp

@Suite("rp command line")
struct RPCommandLineTests {
    private let generalUsage = "Usage: rp [verbose] genkey|pubkey|exchange|exchange-config [ARGS]..."
    private let exchangeUsage =
        "Usage: rp exchange PRIVATE_KEYS_DIR [dev <device>] [ip <ip1>/<cidr1>] [listen <ip>:<port>] [peer PUBLIC_KEYS_DIR [endpoint <ip>:<port>] [persistent-keepalive <interval>] [allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...]]..."

    /// The message of the usage error `words` cause, or nil when they parse.
    private func error(_ words: [String]) -> String? {
        do {
            _ = try RPCommandLine.parse(words)
            return nil
        } catch {
            #expect(error.isUsageError)
            return error.description
        }
    }

    private func address(_ text: String) -> SocketAddress { SocketAddress(literal: text)! }

    @Test func bareCommandLines_areErrors() {
        #expect(error([]) == "No command supplied\n\(generalUsage)")
        #expect(error(["verbose"]) == "No command supplied\n\(generalUsage)")
        #expect(error(["explain"]) == "No command supplied\n\(generalUsage)")
        #expect(error(["thiscommanddoesntexist"]) == "Unknown command thiscommanddoesntexist\n\(generalUsage)")
        #expect(error(["thiscommanddoesntexist", "genkey", "./fakedir/"]) == "Unknown command thiscommanddoesntexist\n\(generalUsage)")
        // Options are words, not flags.
        #expect(error(["--verbose", "genkey", "d"]) == "Unknown command --verbose\n\(generalUsage)")
    }

    @Test func genKeyAndPubKey_requireTheirFolders() throws {
        #expect(error(["genkey"]) == "Required positional argument: PRIVATE_KEYS_DIR\nUsage: rp genkey PRIVATE_KEYS_DIR")
        #expect(error(["pubkey"]) == "Required positional argument: PRIVATE_KEYS_DIR\nUsage: rp pubkey PRIVATE_KEYS_DIR PUBLIC_KEYS_DIR")
        #expect(error(["pubkey", "./fakedir"]) == "Required positional argument: PUBLIC_KEYS_DIR\nUsage: rp pubkey PRIVATE_KEYS_DIR PUBLIC_KEYS_DIR")
        #expect(error(["exchange-config"]) == "Required position argument: CONFIG_FILE\nUsage: rp exchange-config <CONFIG_FILE>")

        #expect(try RPCommandLine.parse(["genkey", "./fakedir"]) == RPInvocation(verbose: false, command: .genKey(privateKeysDir: "./fakedir")))
        #expect(
            try RPCommandLine.parse(["verbose", "pubkey", "./fakedir", "./fakedir2"])
                == RPInvocation(verbose: true, command: .pubKey(privateKeysDir: "./fakedir", publicKeysDir: "./fakedir2")))
        #expect(try RPCommandLine.parse(["exchange-config", "rp.toml"]).command == .exchangeConfig(file: "rp.toml"))
    }

    @Test func moreThanOneCommand_isAnError() {
        #expect(error(["genkey", "a", "genkey", "b"]) == "Too many commands supplied\n\(generalUsage)")
        #expect(error(["genkey", "a", "pubkey", "a", "b"]) == "Too many commands supplied\n\(generalUsage)")
        // `exchange` takes every word after it, so a second command there is an unknown option.
        #expect(error(["exchange", "a", "genkey", "b"]) == "Unknown option genkey\n\(exchangeUsage)")
    }

    @Test func help_andTheObsoleteExplainWord() throws {
        for word in ["help", "--help", "-h"] {
            #expect(try RPCommandLine.parse([word]).command == .help, "\(word)")
        }
        #expect(try RPCommandLine.parse(["--version"]).command == .version)
        #expect(RPCommandLine.helpText.hasPrefix("Usage: rp [verbose] genkey|pubkey|exchange|exchange-config [ARGS]...\n"))
        for command in ["genkey PRIVATE_KEYS_DIR", "pubkey PRIVATE_KEYS_DIR PUBLIC_KEYS_DIR", "exchange PRIVATE_KEYS_DIR", "exchange-config CONFIG_FILE"] {
            #expect(RPCommandLine.helpText.contains("\n  \(command)"), "help names \(command)")
        }
        var warnings = [String]()
        let parsed = try RPCommandLine.parse(["explain", "verbose", "genkey", "d"]) { warnings.append($0) }
        #expect(warnings == ["WARN: the explain argument is no longer supported"])
        #expect(parsed == RPInvocation(verbose: true, command: .genKey(privateKeysDir: "d")))
    }

    @Test func exchange_errors() {
        #expect(error(["exchange"]) == "Required positional argument: PRIVATE_KEYS_DIR\n\(exchangeUsage)")
        #expect(error(["exchange", "./fakedir", "notarealoption"]) == "Unknown option notarealoption\n\(exchangeUsage)")
        #expect(error(["exchange", "./fakedir", "listen"]) == "listen option requires parameter\n\(exchangeUsage)")
        #expect(error(["exchange", "./fakedir", "listen", "notarealip"]) == "invalid parameter for listen option: \(RPCommandLine.addressExpected("notarealip"))\n\(exchangeUsage)")
        // Host names are not socket-address literals.
        #expect(error(["exchange", "./fakedir", "listen", "localhost:9999"]) == "invalid parameter for listen option: \(RPCommandLine.addressExpected("localhost:9999"))\n\(exchangeUsage)")
        #expect(error(["exchange", "./fakedir", "listen", "127.0.0.1:70000"]) == "invalid parameter for listen option: \(RPCommandLine.addressExpected("127.0.0.1:70000"))\n\(exchangeUsage)")
        #expect(error(["exchange", "./fakedir", "dev"]) == "dev option requires parameter\n\(exchangeUsage)")
        #expect(error(["exchange", "./fakedir", "ip"]) == "ip option requires parameter\n\(exchangeUsage)")
        #expect(error(["exchange", "./fakedir", "peer"]) == "Required positional argument: PUBLIC_KEYS_DIR\n\(exchangeUsage)")
        #expect(error(["exchange", "d", "peer", "p", "endpoint"]) == "endpoint option requires parameter\n\(exchangeUsage)")
        #expect(error(["exchange", "d", "peer", "p", "endpoint", "example.com:9999"])
            == "invalid parameter for endpoint option: 'example.com:9999' is not an IP address and port such as 192.0.2.1:9999 or [2001:db8::1]:9999 (host names are not accepted)\n\(exchangeUsage)")
        #expect(error(["exchange", "d", "peer", "p", "persistent-keepalive", "-1"])
            == "invalid parameter for persistent-keepalive option: '-1' is not a whole number of seconds (0 turns keepalives off)\n\(exchangeUsage)")
        #expect(error(["exchange", "d", "peer", "p", "persistent-keepalive"]) == "persistent-keepalive option requires parameter\n\(exchangeUsage)")
        #expect(error(["exchange", "d", "peer", "p", "allowed-ips"]) == "allowed-ips option requires parameter\n\(exchangeUsage)")
        // Inside a peer clause only the peer options are accepted.
        #expect(error(["exchange", "d", "peer", "p", "dev", "wg0"]) == "Unknown option dev\n\(exchangeUsage)")
        #expect(error(["exchange", "d", "peer", "p", "listen", "127.0.0.1:1"]) == "Unknown option listen\n\(exchangeUsage)")
    }

    @Test func exchange_bareFolder() throws {
        let parsed = try RPCommandLine.parse(["exchange", "./fakedir"])
        #expect(parsed == RPInvocation(verbose: false, command: .exchange(RPExchangeOptions(privateKeysDir: "./fakedir"))))
        guard case .exchange(let options) = parsed.command else { return }
        #expect(options.device == "rosenpass0")
    }

    @Test func exchange_multiPeerExampleParses() throws {
        let words = [
            "verbose", "exchange", "./fakedir", "listen", "127.0.0.1:1234", "ip", "fc00::1/64", "dev", "devname",
            "peer", "./fakedir2", "endpoint", "127.0.0.1:2345", "persistent-keepalive", "15",
            "allowed-ips", "123.234.11.0/24,1.1.1.0/24",
            "peer", "./fakedir3", "endpoint", "[::1]:5432", "persistent-keepalive", "30",
        ]
        let parsed = try RPCommandLine.parse(words)
        let expected = RPExchangeOptions(
            privateKeysDir: "./fakedir", dev: "devname", ip: "fc00::1/64", listen: address("127.0.0.1:1234"),
            peers: [
                RPPeerOptions(
                    publicKeysDir: "./fakedir2", endpoint: address("127.0.0.1:2345"), persistentKeepalive: 15,
                    allowedIPs: "123.234.11.0/24,1.1.1.0/24"),
                RPPeerOptions(publicKeysDir: "./fakedir3", endpoint: address("[::1]:5432"), persistentKeepalive: 30),
            ])
        #expect(parsed == RPInvocation(verbose: true, command: .exchange(expected)))
    }

    @Test func exchange_peerClauseEndsAtTheNextPeer() throws {
        // A peer folder literally named like an option word is still a folder.
        let parsed = try RPCommandLine.parse(["exchange", "d", "peer", "endpoint", "peer", "allowed-ips", "allowed-ips", "10.0.0.2"])
        guard case .exchange(let options) = parsed.command else {
            Issue.record("not an exchange")
            return
        }
        #expect(options.peers.map(\.publicKeysDir) == ["endpoint", "allowed-ips"])
        #expect(options.peers.map(\.allowedIPs) == [nil, "10.0.0.2"])
    }
}
