// What `rosenpass status` shows and `rosenpass metrics` exports: a snapshot of the daemon, made on
// the daemon's thread and sent as JSON over the control socket (docs/control-socket.md).

import Foundation

/// The daemon and every peer at one moment. Times are ages and delays in seconds relative to that
/// moment, so the snapshot means the same to a client on another clock.
public struct DaemonStatus: Codable, Sendable, Equatable {
    /// The version of this JSON schema; bumped when a field changes meaning or goes away.
    public var schema = 1
    /// `rosenpass --version`.
    public var version: String
    public var uptimeSeconds: Double
    /// The UDP addresses the daemon is bound to.
    public var listen: [String]
    public var broker: Broker
    public var datagrams: Datagrams
    public var peers: [Peer]

    /// How keys reach WireGuard.
    public struct Broker: Codable, Sendable, Equatable {
        /// `none` (no peer has a WireGuard section), `broker` (a PSK broker), `wg` (`wg set` for
        /// peers with `extra_params`).
        public var kind: String
        /// Where: the socket path, `spawned` or `fd N`.
        public var endpoint: String?
        /// Whether the broker connection is up (nil when there is no broker).
        public var connected: Bool?
        /// Keys handed over since start-up, and keys the broker refused or could not take.
        public var keysDelivered: Int
        public var keysFailed: Int
    }

    /// Datagrams since start-up.
    public struct Datagrams: Codable, Sendable, Equatable {
        public var received: Int
        /// By reason (`bad_mac`, `rate_limited`, …; see ``DropReason``).
        public var dropped: [String: Int]
        public var cookieRepliesSent: Int
    }

    /// One peer.
    public struct Peer: Codable, Sendable, Equatable {
        /// The configured `name`, if any.
        public var name: String?
        /// The Rosenpass peer id, standard base64 (as in the `output-key` lines).
        public var id: String
        /// How the log names the peer.
        public var label: String
        /// `endpoint` as configured (nil: responder only), and where the peer last completed a handshake from.
        public var endpoint: String?
        public var lastSeenAt: String?
        /// The WireGuard interface and peer key its keys go to.
        public var wireGuardDevice: String?
        public var wireGuardPeer: String?
        public var keyOut: String?
        /// `V02` or `V03`.
        public var protocolVersion: String
        /// `round3` or `round4`: the McEliece format of our next InitHello; and `configured`,
        /// `learned` or `probing`.
        public var mcelieceVariant: String
        public var mcelieceVariantSource: String
        /// Whether we start handshakes (an endpoint is configured).
        public var initiates: Bool
        /// Seconds since the last key was exchanged (nil: none yet).
        public var lastExchangeSecondsAgo: Double?
        /// Seconds until the next handshake is due (nil: none planned; 0: due now or under way).
        public var nextRekeySeconds: Double?
        /// The answer our open handshake waits for (`RespHello`, `EmptyData`), if one is open.
        public var handshakeAwaiting: String?
        public var handshakesStarted: Int
        public var handshakesCompleted: Int
        /// Handshakes given up without a RespHello.
        public var handshakesFailed: Int
        /// The last thing that went wrong, and how long ago.
        public var lastFailure: String?
        public var lastFailureSecondsAgo: Double?
        /// Whether the peer is under load and gave us a cookie that our handshake carries, and how
        /// often it asked since our last key.
        public var holdsCookie: Bool
        public var cookieRequests: Int
        /// Whether the peer has gone too long without a key (the log warns about it).
        public var overdue: Bool

        /// `wireguard_device` and `wireguard_peer` in the JSON, as the tool is spelled.
        enum CodingKeys: String, CodingKey {
            case name, id, label, endpoint, lastSeenAt, keyOut, protocolVersion, mcelieceVariant, mcelieceVariantSource, initiates
            case lastExchangeSecondsAgo, nextRekeySeconds, handshakeAwaiting, handshakesStarted, handshakesCompleted, handshakesFailed
            case lastFailure, lastFailureSecondsAgo, holdsCookie, cookieRequests, overdue
            case wireGuardDevice = "wireguardDevice"
            case wireGuardPeer = "wireguardPeer"
        }
    }

    /// The JSON sent over the control socket (snake_case keys, sorted).
    public func encodedJSON() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Reads ``encodedJSON()``.
    public init(json: [UInt8]) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        self = try decoder.decode(DaemonStatus.self, from: Data(json))
    }

    public init(version: String, uptimeSeconds: Double, listen: [String], broker: Broker, datagrams: Datagrams, peers: [Peer]) {
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.listen = listen
        self.broker = broker
        self.datagrams = datagrams
        self.peers = peers
    }
}

// MARK: - The human form

extension DaemonStatus {
    /// The status as `rosenpass status` prints it: the daemon, then one block per peer, as `wg show` does.
    public var table: String {
        var lines = [String]()
        let dropped = datagrams.dropped.values.reduce(0, +)
        lines.append("rosenpass: \(version)")
        lines.append("  up: \(humanDuration(uptimeSeconds))")
        lines.append("  listening on: \(listen.isEmpty ? "nothing" : listen.joined(separator: ", "))")
        switch broker.kind {
        case "none": lines.append("  wireguard: no peer has a WireGuard interface")
        case "wg": lines.append("  wireguard: wg set (extra_params), \(broker.keysDelivered) keys set, \(broker.keysFailed) failed")
        default:
            let state = broker.connected == true ? "connected" : "not connected"
            lines.append("  psk broker: \(broker.endpoint ?? "in-process"), \(state), \(broker.keysDelivered) keys delivered, \(broker.keysFailed) failed")
        }
        var traffic = "  datagrams: \(datagrams.received) received, \(dropped) dropped"
        if dropped > 0 {
            let reasons = datagrams.dropped.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value > $1.value }
            traffic += " (" + reasons.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        }
        if datagrams.cookieRepliesSent > 0 { traffic += ", \(datagrams.cookieRepliesSent) cookie replies sent" }
        lines.append(traffic)
        for peer in peers {
            lines.append("")
            lines.append("peer: \(peer.label)\(peer.overdue ? "  (overdue)" : "")")
            lines.append("  id: \(peer.id)")
            if let endpoint = peer.endpoint {
                let seen = peer.lastSeenAt.map { $0 == endpoint ? "" : ", last seen at \($0)" } ?? ""
                lines.append("  endpoint: \(endpoint)\(seen)")
            } else {
                lines.append("  endpoint: none (responder only)\(peer.lastSeenAt.map { ", last seen at \($0)" } ?? "")")
            }
            if let device = peer.wireGuardDevice, let key = peer.wireGuardPeer { lines.append("  wireguard: \(device) peer \(key)") }
            if let keyOut = peer.keyOut { lines.append("  key out: \(keyOut)") }
            let variant = peer.mcelieceVariant == "round4" ? "round 4" : "round 3"
            lines.append("  protocol: \(peer.protocolVersion), McEliece \(variant) (\(peer.mcelieceVariantSource))")
            lines.append("  latest key exchange: \(peer.lastExchangeSecondsAgo.map { "\(humanDuration($0)) ago" } ?? "none yet")")
            if let awaiting = peer.handshakeAwaiting {
                lines.append("  handshake: under way, awaiting \(awaiting)\(peer.holdsCookie ? " (with the peer's cookie)" : "")")
            } else if let next = peer.nextRekeySeconds {
                lines.append("  next key exchange: \(next <= 0 ? "now" : "in \(humanDuration(next))")")
            } else if !peer.initiates {
                lines.append("  next key exchange: when the peer starts it")
            }
            lines.append("  handshakes: \(peer.handshakesCompleted) completed, \(peer.handshakesFailed) failed, \(peer.handshakesStarted) started by us")
            if let failure = peer.lastFailure {
                lines.append("  last failure: \(failure)\(peer.lastFailureSecondsAgo.map { ", \(humanDuration($0)) ago" } ?? "")")
            }
            if peer.cookieRequests > 0 { lines.append("  cookie requests since the last key: \(peer.cookieRequests)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

// MARK: - Prometheus

extension DaemonStatus {
    /// The Prometheus text exposition format (version 0.0.4) of the snapshot.
    public var prometheusText: String {
        var out = PrometheusWriter()
        out.family("rosenpass_info", "gauge", "Always 1; the labels name the running version.")
        out.sample("rosenpass_info", ["version": version], 1)
        out.family("rosenpass_uptime_seconds", "gauge", "Seconds since the daemon started.")
        out.sample("rosenpass_uptime_seconds", [:], uptimeSeconds)
        out.family("rosenpass_peers", "gauge", "Configured peers.")
        out.sample("rosenpass_peers", [:], Double(peers.count))
        out.family("rosenpass_broker_connected", "gauge", "1 when the PSK broker connection is up, 0 when not; absent without a broker.")
        if let connected = broker.connected { out.sample("rosenpass_broker_connected", [:], connected ? 1 : 0) }
        out.family("rosenpass_broker_keys_total", "counter", "Keys handed to WireGuard (through the PSK broker or wg), by result.")
        out.sample("rosenpass_broker_keys_total", ["result": "delivered"], Double(broker.keysDelivered))
        out.sample("rosenpass_broker_keys_total", ["result": "failed"], Double(broker.keysFailed))
        out.family("rosenpass_datagrams_received_total", "counter", "UDP datagrams received.")
        out.sample("rosenpass_datagrams_received_total", [:], Double(datagrams.received))
        out.family("rosenpass_datagrams_dropped_total", "counter", "Datagrams dropped, by reason.")
        for reason in datagrams.dropped.keys.sorted() {
            out.sample("rosenpass_datagrams_dropped_total", ["reason": reason], Double(datagrams.dropped[reason]!))
        }
        out.family("rosenpass_cookie_replies_sent_total", "counter", "CookieReply messages sent while under load.")
        out.sample("rosenpass_cookie_replies_sent_total", [:], Double(datagrams.cookieRepliesSent))

        func labels(_ peer: Peer) -> [String: String] {
            var labels = ["peer_id": peer.id]
            if let name = peer.name { labels["name"] = name }
            if let device = peer.wireGuardDevice { labels["device"] = device }
            return labels
        }
        out.family("rosenpass_peer_last_exchange_seconds", "gauge", "Seconds since the last key exchange with the peer; absent before the first.")
        for peer in peers { if let age = peer.lastExchangeSecondsAgo { out.sample("rosenpass_peer_last_exchange_seconds", labels(peer), age) } }
        out.family("rosenpass_peer_overdue", "gauge", "1 when the peer has gone too long without a key.")
        for peer in peers { out.sample("rosenpass_peer_overdue", labels(peer), peer.overdue ? 1 : 0) }
        out.family("rosenpass_handshakes_total", "counter", "Handshakes by result: completed (a key), failed (given up), started (by us).")
        for peer in peers {
            for (result, count) in [("completed", peer.handshakesCompleted), ("failed", peer.handshakesFailed), ("started", peer.handshakesStarted)] {
                out.sample("rosenpass_handshakes_total", labels(peer).merging(["result": result]) { $1 }, Double(count))
            }
        }
        return out.text
    }
}

/// Writes the Prometheus text format: `# HELP`, `# TYPE`, then samples with escaped label values.
struct PrometheusWriter {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
        text += name
        if !labels.isEmpty {
            let pairs = labels.keys.sorted().map { "\($0)=\"\(Self.escape(labels[$0]!))\"" }
            text += "{" + pairs.joined(separator: ",") + "}"
        }
        text += " \(Self.format(value))\n"
    }

    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
