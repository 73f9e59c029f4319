// The TOML configuration schema (`docs/components.md` §4): accepted forms, rejected keys, messages.

import Foundation
import RosenpassProtocol
import RosenpassTestSupport
import Testing

@testable import RosenpassApp

@Suite("Configuration")
struct ConfigurationTests {
    private func parse(_ text: String, home: String? = "/home/user") throws -> Configuration {
        try Configuration.parse(text, file: "test.toml", home: home)
    }

    private func message(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func referenceConfigExamples_areAccepted() throws {
        for name in ["peer-a-config.toml", "peer-b-config.toml", "psk-broker-peer.toml"] {
            let file = Fixtures.url("config-examples/\(name)").path
            _ = try Configuration.load(file: file, home: nil)
        }
        let a = try Configuration.load(file: Fixtures.url("config-examples/peer-a-config.toml").path, home: nil)
        #expect(a.publicKeyPath == "peer-a-public-key" && a.secretKeyPath == "peer-a-secret-key")
        #expect(a.listen == ["[::]:10001"] && a.verbosity == .quiet)
        #expect(a.peers == [PeerSettings(publicKeyPath: "peer-b-public-key", endpoint: "localhost:10002", keyOut: "peer-a-rp-out-key")])

        let broker = try Configuration.load(file: Fixtures.url("config-examples/psk-broker-peer.toml").path, home: nil)
        #expect(broker.hasAPITable)
        #expect(broker.peers[0].wireGuard == WireGuardTarget(device: "rpPskBrkTestA", peer: "mB0Ydpz9Z8XwJcKxq1L1g6l0yq1hZ1fVsw3D5VfUEl8="))
    }

    @Test func genConfigExample_isAccepted() throws {
        let config = try parse(Configuration.exampleText)
        #expect(config.publicKeyPath == "/path/to/rp-public-key")
        #expect(config.verbosity == .verbose && config.listen.isEmpty)
        #expect(config.peers.count == 1 && config.peers[0].endpoint == "127.0.0.1:9998")
        #expect(config.peers[0].keyOut == "/path/to/rp-key-out.txt")
    }

    @Test func allKeys_areRead() throws {
        let config = try parse(
            """
            public_key = "~/pk"
            secret_key = "~/sk"
            listen = ["0.0.0.0:9999", "[::1]:9999"]
            verbosity = "Verbose"
            psk_broker = "~/broker.sock"

            [[peers]]
            public_key = "peer.pk"
            endpoint = "example.com:9999"
            pre_shared_key = "~/psk"
            key_out = "out.key"
            device = "wg0"
            peer = "mB0Ydpz9Z8XwJcKxq1L1g6l0yq1hZ1fVsw3D5VfUEl8="
            extra_params = ["persistent-keepalive", "25"]
            protocol_version = "V03"
            osk_organization = "myorg.com"
            osk_label = ["My Custom Messenger app"]
            mceliece_variant = "round4"
            name = "gateway 2"
            """)
        #expect(config.publicKeyPath == "/home/user/pk" && config.secretKeyPath == "/home/user/sk")
        #expect(config.peers.first?.name == "gateway 2")
        #expect(try parse(config.tomlText).peers == config.peers, "name survives writing and reading back")
        #expect(config.pskBroker == "/home/user/broker.sock")
        let peer = try #require(config.peers.first)
        #expect(peer.presharedKeyPath == "/home/user/psk" && peer.keyOut == "out.key")
        #expect(peer.wireGuard?.extraParams == ["persistent-keepalive", "25"])
        #expect(peer.protocolVersion == .v03 && peer.mcelieceVariant == .round4)
        #expect(peer.outputKeySeparator == OutputKeyDomainSeparator(organization: "myorg.com", labels: ["My Custom Messenger app"]))
    }

    @Test func peerNames_areCheckedAndUnique() throws {
        let two = """
            listen = []
            [[peers]]
            name = "bob"
            public_key = "a.pk"
            key_out = "a.key"
            [[peers]]
            name = "NAME"
            public_key = "b.pk"
            key_out = "b.key"
            """
        #expect(try parse(two.replacingOccurrences(of: "NAME", with: "carol")).peers.map(\.name) == ["bob", "carol"])
        #expect(message(two.replacingOccurrences(of: "NAME", with: "bob")) == "test.toml:7: peer 1: the name \"bob\" is already used by peer 0; names must be unique")
        for bad in ["", " bob", "a\\tb", String(repeating: "x", count: 65)] {
            #expect(message(two.replacingOccurrences(of: "NAME", with: bad)).contains("'name' must be 1 to 64 printable characters"), "\(bad)")
        }
    }

    @Test func defaults_matchTheReference() throws {
        let config = try parse("listen = []\npeers = []\n")
        #expect(config == Configuration())
        let peer = try parse("listen = []\n[[peers]]\npublic_key = \"p\"\nkey_out = \"o\"\n").peers[0]
        #expect(peer.protocolVersion == .v02 && peer.mcelieceVariant == nil && peer.outputKeySeparator == nil)
    }

    @Test func unknownKeys_nameFileLineAndKey() {
        let top = message("listen = []\npeers = []\nexchange_command = [\"wg\"]\n")
        #expect(top.hasPrefix("test.toml:3: unknown key 'exchange_command'"), "\(top)")
        let peer = message("listen = []\n\n[[peers]]\npublic_key = \"p\"\nkey_out = \"o\"\n\n[[peers]]\npublic_key = \"q\"\nkeyout = \"o\"\n")
        #expect(peer.hasPrefix("test.toml:9: unknown key 'keyout' in [[peers]] entry 1"), "\(peer)")
        let singular = message("listen = []\n[[peer]]\npublic_key = \"p\"\n")
        #expect(singular.contains("test.toml:2: unknown key 'peer'") && singular.contains("'peers'"), "\(singular)")
    }

    @Test func schemaErrors_nameTheLine() {
        let cases: [(String, String)] = [
            ("peers = []\n", "test.toml:1: the required key 'listen' is missing"),
            ("listen = []\n", "test.toml:1: the required key 'peers' is missing"),
            ("listen = \"0.0.0.0:1\"\npeers = []\n", "test.toml:1: 'listen' must be an array of strings, not a string"),
            ("listen = [\n \"0.0.0.0:1\",\n \"localhost:2\"\n]\npeers = []\n", "test.toml:3: 'listen' entry \"localhost:2\" is not an IP socket address"),
            ("listen = []\nverbosity = \"loud\"\npeers = []\n", "test.toml:2: 'verbosity' must be \"Quiet\" or \"Verbose\""),
            ("public_key = \"p\"\nlisten = []\npeers = []\n", "test.toml:1: 'public_key' is set but 'secret_key' is not"),
            ("listen = []\n[[peers]]\nkey_out = \"o\"\n", "test.toml:2: peer 0: the required key 'public_key' is missing"),
            ("listen = []\n[[peers]]\npublic_key = \"p\"\nprotocol_version = \"v3\"\n", "test.toml:4: peer 0: 'protocol_version' must be \"V02\" or \"V03\""),
            ("listen = []\n[[peers]]\npublic_key = \"p\"\nosk_label = [\"x\"]\n", "test.toml:4: peer 0: 'osk_label' is set but 'osk_organization' is not"),
            ("listen = []\n[[peers]]\npublic_key = \"p\"\ndevice = \"wg0\"\n", "test.toml:4: peer 0: 'device' is set but 'peer' is not"),
            ("listen = []\n[[peers]]\npublic_key = \"p\"\ndevice = \"wg0\"\npeer = \"Zm9v\"\n", "test.toml:5: peer 0: 'peer' must be the peer's WireGuard public key"),
            ("listen = []\n[[peers]]\npublic_key = \"p\"\nmceliece_variant = \"round5\"\n", "test.toml:4: peer 0: 'mceliece_variant' must be \"round3\" or \"round4\""),
            ("listen = []\n[[peers]]\npublic_key = \"p\"\nendpoint = \"nohostport\"\n", "test.toml:4: peer 0: 'endpoint' must be \"host:port\""),
            ("listen = []\npeers = []\n[api]\nlisten_path = [\"/x\"]\nlisten_fd = []\nstream_fd = []\n", "test.toml:4: 'api.listen_path' is not supported"),
            ("listen = []\npeers = []\nlisten = []\n", "test.toml:3: invalid TOML"),
        ]
        for (text, expected) in cases {
            let got = message(text)
            #expect(got.hasPrefix(expected), "expected \(expected)\n got \(got)")
        }
    }

    @Test func tildeExpansion_followsTheReferenceRules() throws {
        let cases: [(String, String)] = [
            ("~/foo.toml", "/home/dummy/foo.toml"),
            ("~//foo", "/home/dummy/foo"),
            ("~/../other_user/foo", "/home/dummy/../other_user/foo"),
            ("~", "/home/dummy"),
            ("~foo/bar", "~foo/bar"),
            (".~/foo", ".~/foo"),
            ("/~/foo.toml", "/~/foo.toml"),
            ("~\\foo", "~\\foo"),
            ("relative/path", "relative/path"),
        ]
        for (input, expected) in cases {
            #expect(try PathExpansion.expand(input, home: "/home/dummy", file: "f", line: 1) == expected)
        }
        #expect(throws: AppError.self) { try PathExpansion.expand("~/x", home: nil, file: "f", line: 1) }
    }

    @Test func serialization_roundTrips() throws {
        var config = Configuration(publicKeyPath: "/my/pk", secretKeyPath: "/my/sk", listen: ["0.0.0.0:9999"], verbosity: .verbose)
        config.peers = [
            PeerSettings(publicKeyPath: "/peer \"a\"/pk", endpoint: "peer.test:9999", presharedKeyPath: "/psk", keyOut: "/out\\key"),
            PeerSettings(
                publicKeyPath: "b", wireGuard: WireGuardTarget(device: "wg0", peer: "mB0Ydpz9Z8XwJcKxq1L1g6l0yq1hZ1fVsw3D5VfUEl8=", extraParams: ["a b"]),
                protocolVersion: .v03, outputKeySeparator: .init(organization: "o", labels: []), mcelieceVariant: .round3),
        ]
        #expect(try parse(config.tomlText, home: nil) == config)
        let empty = Configuration()
        #expect(empty.tomlText == "listen = []\nverbosity = \"Quiet\"\npeers = []\n")
        #expect(try parse(empty.tomlText) == empty)
    }

    @Test func protocolVersion_roundTripsAsText() throws {
        for version in ProtocolVersion.allCases {
            let text = "listen = []\n[[peers]]\npublic_key = \"p\"\nkey_out = \"o\"\nprotocol_version = \"\(version.rawValue)\"\n"
            let config = try parse(text)
            #expect(config.peers[0].protocolVersion == version)
            #expect(config.tomlText.contains("protocol_version = \"\(version.rawValue)\""))
        }
    }
}
