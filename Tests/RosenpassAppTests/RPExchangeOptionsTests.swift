// `rp exchange` options: the `exchange-config` TOML (`docs/components.md` §8.4) and the checks and fixes
// of the plan (§8.3: ports + 1, comma-separated allowed-ips, port 65535).

import Foundation
import RosenpassProtocol
import Testing

@testable import RosenpassApp

@Suite("rp exchange options")
struct RPExchangeOptionsTests {
    private func address(_ text: String) -> SocketAddress { SocketAddress(literal: text)! }

    private func configError(_ text: String) -> String {
        do {
            _ = try RPExchangeOptions.parse(text, file: "rp.toml")
            return "no error"
        } catch {
            return error.description
        }
    }

    private func planError(_ options: RPExchangeOptions) -> String {
        do {
            _ = try RPExchangePlan(options)
            return "no error"
        } catch {
            return error.description
        }
    }

    // MARK: - exchange-config

    @Test func referenceExample_parses() throws {
        let text = """
            # as pkgs/example.toml
            verbose = true
            private_keys_dir = "/run/credentials/rp@example.service"
            dev = "rp-example"
            ip = "fc00::1/64"
            listen = "[::]:51821"

            [[peers]]
            public_keys_dir = "/etc/rosenpass/example/peers/client"
            allowed_ips = "fc00::2"

            [[peers]]
            public_keys_dir = "/etc/rosenpass/example/peers/other"
            endpoint = "192.0.2.7:9999"
            persistent_keepalive = 25
            protocol_version = "V03"
            """
        let options = try RPExchangeOptions.parse(text, file: "example.toml")
        let expected = RPExchangeOptions(
            verbose: true, privateKeysDir: "/run/credentials/rp@example.service", dev: "rp-example", ip: "fc00::1/64",
            listen: address("[::]:51821"),
            peers: [
                RPPeerOptions(publicKeysDir: "/etc/rosenpass/example/peers/client", allowedIPs: "fc00::2"),
                RPPeerOptions(
                    publicKeysDir: "/etc/rosenpass/example/peers/other", endpoint: address("192.0.2.7:9999"),
                    persistentKeepalive: 25, protocolVersion: .v03),
            ])
        #expect(options == expected)
        #expect(options.peers[0].protocolVersion == .v02, "V02 unless the file says otherwise")
    }

    @Test func schemaErrors_nameFileLineAndKey() {
        let base = "verbose = false\nprivate_keys_dir = \"k\"\n"
        #expect(configError(base + "peers = []\nlisten_port = 3\n").hasPrefix("rp.toml:4: unknown key 'listen_port' in the top level"))
        #expect(configError(base + "[[peers]]\npublic_keys_dir = \"p\"\nallowed-ips = \"10.0.0.2\"\n").contains("rp.toml:5: unknown key 'allowed-ips'"))
        #expect(configError(base + "[[peers]]\npublic_keys_dir = \"p\"\nallowed-ips = \"10.0.0.2\"\n").contains("did you mean 'allowed_ips'?"))
        #expect(configError("private_keys_dir = \"k\"\npeers = []\n") == "rp.toml: the required key 'verbose' is missing (write verbose = false or true)")
        #expect(configError("verbose = 1\nprivate_keys_dir = \"k\"\npeers = []\n").hasPrefix("rp.toml:1: 'verbose' must be a boolean"))
        #expect(configError("verbose = true\npeers = []\n").contains("the required key 'private_keys_dir' is missing"))
        #expect(configError(base).contains("the required key 'peers' is missing"))
        // listen is one string, not an array as in the rosenpass configuration.
        #expect(configError(base + "listen = [\"[::]:9999\"]\npeers = []\n").hasPrefix("rp.toml:3: 'listen' must be a string"))
        #expect(configError(base + "listen = \"localhost:9999\"\npeers = []\n").hasPrefix("rp.toml:3: 'listen' must be one IP socket address"))
        #expect(configError(base + "[[peers]]\nendpoint = \"10.0.0.1:1\"\n").hasPrefix("rp.toml:3: peer 0: the required key 'public_keys_dir' is missing"))
        #expect(configError(base + "[[peers]]\npublic_keys_dir = \"p\"\npersistent_keepalive = -1\n").hasPrefix("rp.toml:5: peer 0: 'persistent_keepalive' must be between 0"))
        #expect(configError(base + "[[peers]]\npublic_keys_dir = \"p\"\nprotocol_version = \"V04\"\n").hasPrefix("rp.toml:5: peer 0: 'protocol_version' must be \"V02\" or \"V03\""))
        #expect(configError("verbose = \n").hasPrefix("rp.toml:1"), "TOML syntax errors name the line too")
    }

    @Test func unreadableFiles_areErrors() {
        #expect(throws: AppError.self) { try RPExchangeOptions.load(file: "/nonexistent/rp.toml") }
        do {
            _ = try RPExchangeOptions.load(file: "/")
            Issue.record("a directory loaded as a config file")
        } catch {
            #expect(error.description.contains("Is a directory (os error 21)"))
        }
    }

    // MARK: - The plan

    @Test func plan_portsAreThePlusOneOfRosenpass() throws {
        var options = RPExchangeOptions(privateKeysDir: "k", listen: address("[::]:9999"))
        options.peers = [RPPeerOptions(publicKeysDir: "p", endpoint: address("192.0.2.1:51821"), persistentKeepalive: 25)]
        let plan = try RPExchangePlan(options)
        #expect(plan.device == "rosenpass0")
        #expect(plan.listen == address("[::]:9999"))
        #expect(plan.wireGuardListenPort == 10000)
        #expect(plan.peers[0].rosenpassEndpoint == address("192.0.2.1:51821"))
        #expect(plan.peers[0].wireGuardEndpoint == address("192.0.2.1:51822"))
        #expect(plan.peers[0].persistentKeepalive == 25)
        #expect(try RPExchangePlan(RPExchangeOptions(privateKeysDir: "k")).wireGuardListenPort == nil)
    }

    @Test func plan_port65535_isRefusedInsteadOfOverflowing() {
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", listen: address("0.0.0.0:65535"))).contains("no port after 65535"))
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", listen: address("0.0.0.0:0"))).contains("port 0 is not supported"))
        let peer = RPPeerOptions(publicKeysDir: "p", endpoint: address("192.0.2.1:65535"))
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", peers: [peer])).contains("the port must be 1 to 65534"))
    }

    @Test func plan_allowedIPs_areSplitAtCommas() throws {
        let peer = RPPeerOptions(publicKeysDir: "p", allowedIPs: "123.234.11.0/24, 1.1.1.0/24,fc00::2,10.9.9.9/8")
        let plan = try RPExchangePlan(RPExchangeOptions(privateKeysDir: "k", ip: "fc00::1/64", peers: [peer]))
        #expect(plan.peers[0].allowedIPs.map(\.description) == ["123.234.11.0/24", "1.1.1.0/24", "fc00::2/128", "10.0.0.0/8"])
        #expect(plan.warnings == ["peer p: allowed IP 10.9.9.9/8 has host bits set; using 10.0.0.0/8"])
        #expect(plan.address?.description == "fc00::1/64", "the interface address keeps its host bits")
    }

    @Test func plan_rejectsWhatWireGuardWouldRejectLater() {
        let bad = RPPeerOptions(publicKeysDir: "p", allowedIPs: "10.0.0.0/24,10.0.0.300")
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", peers: [bad])).contains("entry \"10.0.0.300\" is not an address"))
        let long = RPPeerOptions(publicKeysDir: "p", persistentKeepalive: 70000)
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", peers: [long])).contains("at most 65535 seconds"))
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", dev: "a/b")).contains("not a usable interface name"))
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", dev: "sixteen-letters!")).contains("not a usable interface name"))
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", ip: "10.0.0.1/33")).contains("is not an address with a prefix length"))
        let a = RPPeerOptions(publicKeysDir: "a", allowedIPs: "10.0.0.2/32")
        let b = RPPeerOptions(publicKeysDir: "b", allowedIPs: "10.0.0.3,10.0.0.2")
        #expect(planError(RPExchangeOptions(privateKeysDir: "k", peers: [a, b])).contains("allowed IP 10.0.0.2/32 is given to two peers"))
    }

    @Test func plan_errorsFromAFile_nameTheLine() throws {
        let text = "verbose = false\nprivate_keys_dir = \"k\"\nlisten = \"127.0.0.1:65535\"\npeers = []\n"
        let options = try RPExchangeOptions.parse(text, file: "rp.toml")
        #expect(planError(options).hasPrefix("rp.toml:3: 'listen' 127.0.0.1:65535"))
    }

    @Test func ipPrefixes_parseAndPrint() {
        #expect(IPPrefix("10.0.0.1/24")?.description == "10.0.0.1/24")
        #expect(IPPrefix("10.0.0.1/24")?.network.description == "10.0.0.0/24")
        #expect(IPPrefix("fc00::1")?.description == "fc00::1/128")
        #expect(IPPrefix("fc00::1:2:3/33")?.network.description == "fc00::/33")
        #expect(IPPrefix("0.0.0.0/0")?.network.description == "0.0.0.0/0")
        for invalid in ["", "10.0.0.1/", "10.0.0.1/-1", "10.0.0.1/+8", "fc00::1/129", "host/24", "10.0.0.1/24/1", "fe80::1%eth0"] {
            #expect(IPPrefix(invalid) == nil, "\(invalid)")
        }
        #expect((try? IPPrefix.list(" ").get()) == [])
    }
}
