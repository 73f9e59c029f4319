// Writing a configuration as TOML (`exchange -c`, `docs/components.md` §4.4) and the `gen-config` example.

extension Configuration {
    /// The configuration as TOML that ``Configuration/parse(_:file:home:)`` reads back to an equal
    /// value. Plain values come first, then tables, as TOML requires; absent optional values are
    /// left out.
    public var tomlText: String {
        var lines = [String]()
        if let publicKeyPath { lines.append("public_key = \(TOMLString.quote(publicKeyPath))") }
        if let secretKeyPath { lines.append("secret_key = \(TOMLString.quote(secretKeyPath))") }
        lines.append("listen = \(TOMLString.array(listen))")
        lines.append("verbosity = \(TOMLString.quote(verbosity.rawValue))")
        if let pskBroker { lines.append("psk_broker = \(TOMLString.quote(pskBroker))") }
        if let controlSocket { lines.append("control_socket = \(TOMLString.quote(controlSocket))") }
        if let controlSocketGroup { lines.append("control_socket_group = \(TOMLString.quote(controlSocketGroup))") }
        if let metricsListen { lines.append("metrics_listen = \(TOMLString.quote(metricsListen))") }
        if logFormat != .text { lines.append("log_format = \(TOMLString.quote(logFormat.rawValue))") }
        if peers.isEmpty { lines.append("peers = []") }
        if hasAPITable {
            lines += ["", "[api]", "listen_path = []", "listen_fd = []", "stream_fd = []"]
        }
        for peer in peers {
            lines += ["", "[[peers]]"]
            if let name = peer.name { lines.append("name = \(TOMLString.quote(name))") }
            lines.append("public_key = \(TOMLString.quote(peer.publicKeyPath))")
            if let endpoint = peer.endpoint { lines.append("endpoint = \(TOMLString.quote(endpoint))") }
            if let psk = peer.presharedKeyPath { lines.append("pre_shared_key = \(TOMLString.quote(psk))") }
            if let keyOut = peer.keyOut { lines.append("key_out = \(TOMLString.quote(keyOut))") }
            if let wireGuard = peer.wireGuard {
                lines.append("device = \(TOMLString.quote(wireGuard.device))")
                lines.append("peer = \(TOMLString.quote(wireGuard.peer))")
                if !wireGuard.extraParams.isEmpty { lines.append("extra_params = \(TOMLString.array(wireGuard.extraParams))") }
            }
            lines.append("protocol_version = \(TOMLString.quote(peer.protocolVersion.rawValue))")
            if let separator = peer.outputKeySeparator {
                lines.append("osk_organization = \(TOMLString.quote(separator.organization))")
                lines.append("osk_label = \(TOMLString.array(separator.labels))")
            }
            if let variant = peer.mcelieceVariant { lines.append("mceliece_variant = \(TOMLString.quote(variant.rawValue))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The example written by `gen-config` (`docs/components.md` §4.4): our key pair, no listen
    /// addresses, verbose, and one peer with an endpoint and `key_out`; the optional keys appear as
    /// comments that explain them.
    public static let exampleText = """
        # rosenpass configuration (read by `rosenpass exchange-config FILE`).
        # Paths may start with ~/ for the home folder; relative paths are relative to the folder
        # rosenpass is started in. Check a file with `rosenpass validate FILE`.

        # Our key pair; make it with `rosenpass gen-keys THIS-FILE`.
        public_key = "/path/to/rp-public-key"
        secret_key = "/path/to/rp-secret-key"

        # UDP addresses to listen on, e.g. ["0.0.0.0:9999", "[::]:9999"]; [] picks a free port.
        listen = []
        # Every key exchange, start-up and trouble are logged on stderr either way; "Verbose" adds
        # each handshake's progress and every dropped datagram.
        verbosity = "Verbose"
        # One JSON object per log line (for journald or ELK) instead of text:
        # log_format = "json"

        # Hand WireGuard keys to a running rosenpass-wireguard-broker-socket-handler:
        # psk_broker = "/run/rosenpass/broker.sock"

        # Serve `rosenpass status`, `rosenpass metrics` and `rosenpass reload` on a unix socket
        # (mode 0600, or 0660 for the group named), and Prometheus metrics over HTTP:
        # control_socket = "/run/rosenpass/rosenpass.sock"
        # control_socket_group = "rosenpass"
        # metrics_listen = "127.0.0.1:9586"

        [[peers]]
        # How the log names this peer (optional keys are commented out):
        # name = "peer-a"
        # The peer's public key file.
        public_key = "/path/to/rp-peer-public-key"
        # Where the peer listens; without it we only answer the peer's handshakes.
        endpoint = "127.0.0.1:9998"
        # An extra secret shared with this peer, base64 (e.g. from `wg genpsk`):
        # pre_shared_key = "/path/to/preshared-key"

        # Each new key goes to `key_out` (and a line on stdout), or to WireGuard through the PSK
        # broker when `device` and `peer` are set; both may be used.
        key_out = "/path/to/rp-key-out.txt"
        # device = "wg0"                # the WireGuard interface
        # peer = "<base64 WireGuard public key of this peer>"
        # extra_params = []             # e.g. ["allowed-ips", "10.0.0.2/32"]: rosenpass then runs
        #                               # `wg set ... preshared-key /dev/stdin EXTRA` itself, as the
        #                               # reference does, and needs CAP_NET_ADMIN (not with psk_broker)

        # Both sides must agree on these:
        # protocol_version = "V02"      # "V02" (BLAKE2b, the default) or "V03" (SHAKE256)
        # osk_organization = "rosenpass.eu"
        # osk_label = ["wireguard psk"]
        # The Classic McEliece format this peer reads when we start a handshake: "round3"
        # (Rosenpass 0.2.x, go-rosenpass, the reference since 2026-09) or "round4" (the reference
        # 2024 to 2026-08). Default: round 3, then whatever format the peer is seen to use.
        # mceliece_variant = "round3"

        """
}

/// TOML basic strings and arrays of them.
enum TOMLString {
    /// `text` as a TOML basic string.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// An inline array of strings.
    static func array(_ items: [String]) -> String {
        "[" + items.map(quote).joined(separator: ", ") + "]"
    }
}
