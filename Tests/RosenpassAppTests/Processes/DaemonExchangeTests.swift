// Two real `rosenpass` daemons on loopback (issue 5, point 5; `docs/components.md` §9 items 6, 7, 16).

import Foundation
import RosenpassProtocol
import RosenpassTestSupport
import Testing

@testable import RosenpassApp

/// One side of a two-daemon test: its keys, port and output file.
struct Side {
    let name: String
    let keys: KeyPairFiles
    let port: UInt16
    let keyOut: String

    /// This side's configuration file text.
    func config(
        peer: Side, endpoint: Bool, version: ProtocolVersion = .v02, psk: String? = nil,
        peerVariant: McElieceVariant? = nil, listen: String? = nil
    ) -> String {
        var lines = [
            "public_key = \(TOMLQuote(keys.publicKey))",
            "secret_key = \(TOMLQuote(keys.secretKey))",
            "listen = [\(TOMLQuote(listen ?? "[::1]:\(port)"))]",
            "verbosity = \"Verbose\"",
            "",
            "[[peers]]",
            "public_key = \(TOMLQuote(peer.keys.publicKey))",
            "key_out = \(TOMLQuote(keyOut))",
            "protocol_version = \"\(version.rawValue)\"",
        ]
        if endpoint { lines.append("endpoint = \"[::1]:\(peer.port)\"") }
        if let psk { lines.append("pre_shared_key = \(TOMLQuote(psk))") }
        if let peerVariant { lines.append("mceliece_variant = \"\(peerVariant.rawValue)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The line this side prints when it exchanged (or erased) the key with `peer`.
    func expectedLine(peer: Side, version: ProtocolVersion, event: String = "exchanged") throws -> String {
        "output-key peer \(try peer.keys.peerID(version)) key-file \"\(keyOut)\" \(event)"
    }

    func key() -> String? { try? String(contentsOfFile: keyOut, encoding: .utf8) }
}

func TOMLQuote(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

/// Two daemons A and B in a temporary folder.
struct Pair {
    let folder = TemporaryFolder()
    let a: Side
    let b: Side

    init(_ aVariant: McElieceVariant = .round3, _ bVariant: McElieceVariant = .round3) async throws {
        a = Side(name: "a", keys: try await TestKeys.shared.pair("a", aVariant), port: freeUDPPort(), keyOut: folder.file("a.key"))
        b = Side(name: "b", keys: try await TestKeys.shared.pair("b", bVariant), port: freeUDPPort(), keyOut: folder.file("b.key"))
    }

    func writeConfig(_ name: String, _ text: String) -> String {
        folder.write(name, Array(text.utf8), mode: 0o644)
    }

    func start(_ side: Side, config: String, as name: String? = nil) throws -> RosenpassProcess {
        try RosenpassProcess(["exchange-config", writeConfig("\(side.name).toml", config)], name: name ?? side.name, directory: folder.path)
    }
}

/// Waits until `condition` holds, checking every 100 ms; a test failure after `timeout` seconds.
func waitFor(timeout: TimeInterval, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(TestTime.scaled(timeout))
    while !condition() {
        guard Date() < deadline else {
            Issue.record("not within \(Int(timeout)) s", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// A key file holds 44 characters of base64 of 32 bytes, no newline.
func expectWellFormedKey(_ text: String?, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let text else {
        Issue.record("no key file", sourceLocation: sourceLocation)
        return
    }
    #expect(text.count == 44 && text.hasSuffix("=") && !text.contains("\n"), sourceLocation: sourceLocation)
    #expect(Data(base64Encoded: text)?.count == 32, sourceLocation: sourceLocation)
}

struct ExchangeCase: Sendable, CustomTestStringConvertible {
    let version: ProtocolVersion
    let aVariant: McElieceVariant
    let bVariant: McElieceVariant
    /// What B configures as A's McEliece format (nil: round 3 first, probing round 4).
    let bExpects: McElieceVariant?
    var testDescription: String {
        "\(version.rawValue), A \(aVariant.rawValue) key, B \(bVariant.rawValue) key, B initiates with \(bExpects?.rawValue ?? "round3 (probing)")"
    }

    static let all = [
        ExchangeCase(version: .v02, aVariant: .round3, bVariant: .round3, bExpects: nil),
        ExchangeCase(version: .v03, aVariant: .round3, bVariant: .round3, bExpects: nil),
        ExchangeCase(version: .v02, aVariant: .round4, bVariant: .round4, bExpects: nil),
        ExchangeCase(version: .v03, aVariant: .round4, bVariant: .round4, bExpects: nil),
        ExchangeCase(version: .v03, aVariant: .round4, bVariant: .round3, bExpects: .round4),
    ]
}

@Suite("Two daemons on loopback")
struct DaemonExchangeTests {
    @Test("both daemons reach the same key", arguments: ExchangeCase.all)
    func twoDaemons_reachTheSameKey(_ example: ExchangeCase) async throws {
        let pair = try await Pair(example.aVariant, example.bVariant)
        // A only responds (no endpoint for B), B initiates: the reference's integration test shape.
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: false, version: example.version))
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true, version: example.version, peerVariant: example.bExpects))
        let aLines = try await a.waitForLines(1, timeout: 60)
        let bLines = try await b.waitForLines(1, timeout: 60)
        #expect(aLines[0] == (try pair.a.expectedLine(peer: pair.b, version: example.version)))
        #expect(bLines[0] == (try pair.b.expectedLine(peer: pair.a, version: example.version)))
        expectWellFormedKey(pair.a.key())
        #expect(pair.a.key() == pair.b.key())
        #expect(try await a.stop(SIGTERM) == 0)
        #expect(try await b.stop(SIGINT) == 0)
        #expect(a.stderr.contains("Exchanged key with peer"), "verbosity = Verbose logs exchanges")
    }

    @Test func restartedDaemon_exchangesAgain() async throws {
        let pair = try await Pair()
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: false))
        var b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        let first = try #require(pair.a.key())
        #expect(pair.b.key() == first)

        #expect(try await b.stop(SIGQUIT) == 0)
        #expect(pair.b.key() == first, "the key file is left as it was")
        b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true), as: "b-again")
        _ = try await b.waitForLines(1, timeout: 60)
        let aLines = try await a.waitForLines(2, timeout: 60)
        #expect(aLines.allSatisfy { $0 == (try? pair.a.expectedLine(peer: pair.b, version: .v02)) })
        #expect(pair.a.key() == pair.b.key())
        #expect(pair.a.key() != first)
        #expect(try await a.stop() == 0)
        #expect(try await b.stop() == 0)
    }

    /// Issue 12: SIGUSR1 killed the daemon (exit 138). It now asks for a status report.
    @Test func sigusr1_logsAStatusReport_andTheDaemonRunsOn() async throws {
        let pair = try await Pair()
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: false))
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await a.waitForLines(1, timeout: 60)
        a.process.send(SIGUSR1)
        a.process.send(SIGUSR2)
        try await waitFor(timeout: 10) { a.stderr.contains("status: peer ") }
        #expect(a.process.isRunning)
        #expect(a.stderr.contains("status: up ") && a.stderr.contains("1 peer;"), "\(a.stderr)")
        #expect(a.stderr.contains("1 handshake completed, 0 given up"), "\(a.stderr)")
        #expect(try await a.stop() == 0)
        #expect(try await b.stop() == 0)
    }

    @Test func oneDaemon_servesSeveralPeersOverIPv4AndIPv6() async throws {
        let pair = try await Pair()
        let c = Side(name: "c", keys: try await TestKeys.shared.pair("c", .round3), port: freeUDPPort(), keyOut: pair.folder.file("c.key"))
        let v4Port = freeUDPPort()
        let aConfig = """
            public_key = \(TOMLQuote(pair.a.keys.publicKey))
            secret_key = \(TOMLQuote(pair.a.keys.secretKey))
            listen = ["[::1]:\(pair.a.port)", "127.0.0.1:\(v4Port)"]

            [[peers]]
            public_key = \(TOMLQuote(pair.b.keys.publicKey))
            key_out = \(TOMLQuote(pair.folder.file("a-b.key")))

            [[peers]]
            public_key = \(TOMLQuote(c.keys.publicKey))
            key_out = \(TOMLQuote(pair.folder.file("a-c.key")))
            protocol_version = "V03"

            """
        let a = try pair.start(pair.a, config: aConfig)
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        let cConfig = c.config(peer: pair.a, endpoint: false, version: .v03, listen: "127.0.0.1:\(c.port)")
            + "endpoint = \"127.0.0.1:\(v4Port)\"\n"
        let cProcess = try pair.start(c, config: cConfig)
        let lines = try await a.waitForLines(2, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        _ = try await cProcess.waitForLines(1, timeout: 60)
        #expect(Set(lines) == [
            "output-key peer \(try pair.b.keys.peerID(.v02)) key-file \"\(pair.folder.file("a-b.key"))\" exchanged",
            "output-key peer \(try c.keys.peerID(.v03)) key-file \"\(pair.folder.file("a-c.key"))\" exchanged",
        ])
        let ab = try String(contentsOfFile: pair.folder.file("a-b.key"), encoding: .utf8)
        let ac = try String(contentsOfFile: pair.folder.file("a-c.key"), encoding: .utf8)
        #expect(ab == pair.b.key() && ac == c.key() && ab != ac)
        for process in [a, b, cProcess] { #expect(try await process.stop() == 0) }
    }

    @Test func matchingPresharedKeys_exchange() async throws {
        let pair = try await Pair()
        let psk = pair.folder.write("psk", Array((Base64(32) + "\n").utf8))
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: false, psk: psk))
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true, psk: psk))
        _ = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        #expect(pair.a.key() == pair.b.key())
        _ = try await a.stop()
        _ = try await b.stop()
    }

    @Test func wrongPresharedKey_neverWritesAKey() async throws {
        let pair = try await Pair()
        let pskA = pair.folder.write("psk-a", Array(Base64(32).utf8))
        let pskB = pair.folder.write("psk-b", Array(Base64(32).utf8))
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: true, psk: pskA))
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true, psk: pskB))
        // 30 s after start-up, each side explains why it has no key.
        for process in [a, b] {
            try await waitFor(timeout: 45) { process.stderr.contains("the pre-shared keys (pre_shared_key) differ") }
            #expect(process.stderr.contains("warning"), "\(process.stderr)")
        }
        #expect(a.process.isRunning && b.process.isRunning)
        #expect(a.stdout.isEmpty && b.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: pair.a.keyOut))
        #expect(!FileManager.default.fileExists(atPath: pair.b.keyOut))
        #expect(try await a.stop() == 0)
        #expect(try await b.stop() == 0)
    }

    @Test func garbageFlood_doesNotStopTheExchange() async throws {
        let pair = try await Pair()
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: false))
        let flood = GarbageFlood(port: pair.a.port)
        flood.start()
        try await Task.sleep(for: .seconds(2))
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        let aLines = try await a.waitForLines(1, timeout: 90)
        _ = try await b.waitForLines(1, timeout: 90)
        try await Task.sleep(for: .seconds(1))
        let sent = flood.stop()
        #expect(sent > 1000, "the flood really ran (\(sent) datagrams)")
        #expect(aLines[0] == (try pair.a.expectedLine(peer: pair.b, version: .v02)))
        #expect(pair.a.key() == pair.b.key())
        #expect(a.process.isRunning && b.process.isRunning)
        #expect(try await a.stop() == 0)
        #expect(try await b.stop() == 0)
    }

    @Test func legacyExchangeGrammar_daemonsReachTheSameKey() async throws {
        // `docs/components.md` §9 item 6, with the reference's own command lines.
        let pair = try await Pair()
        let server = try RosenpassProcess(
            ["exchange", "secret-key", pair.a.keys.secretKey, "public-key", pair.a.keys.publicKey, "listen", "::1:\(pair.a.port)",
             "verbose", "peer", "public-key", pair.b.keys.publicKey, "outfile", pair.a.keyOut],
            name: "server", directory: pair.folder.path)
        let client = try RosenpassProcess(
            ["exchange", "-c", "client.toml", "secret-key", pair.b.keys.secretKey, "public-key", pair.b.keys.publicKey, "verbose",
             "peer", "public-key", pair.a.keys.publicKey, "endpoint", "::1:\(pair.a.port)", "outfile", pair.b.keyOut],
            name: "client", directory: pair.folder.path)
        let serverLines = try await server.waitForLines(1, timeout: 60)
        _ = try await client.waitForLines(1, timeout: 60)
        #expect(serverLines[0] == (try pair.a.expectedLine(peer: pair.b, version: .v02)))
        #expect(pair.a.key() == pair.b.key())
        expectWellFormedKey(pair.a.key())
        // -c wrote the parsed configuration, and it reads back.
        let written = try String(contentsOfFile: pair.folder.file("client.toml"), encoding: .utf8)
        #expect(written.contains("endpoint = \"::1:\(pair.a.port)\""))
        #expect(written.contains("verbosity = \"Verbose\""))
        _ = try await server.stop()
        _ = try await client.stop()
    }

    @Test("boot race: both sides agree on the key", arguments: [0, 1, 2])
    func bootRace_bothSidesAgree(_ delay: Int) async throws {
        // docs/components.md §9 item 16: start A, wait 0, 1 or 2 s, start B; both have endpoints.
        let pair = try await Pair()
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: true))
        try await Task.sleep(for: .seconds(delay))
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        // Both sides initiate at about the same time; when their handshakes cross, one more handshake
        // within 3.5 s leaves them with one key (docs/handshake-collisions.md).
        try await Task.sleep(for: .seconds(5))
        expectWellFormedKey(pair.a.key())
        #expect(pair.a.key() == pair.b.key())
        #expect(try await a.stop() == 0)
        #expect(try await b.stop() == 0)
    }

    @Test func referenceConfigExamples_exchangeByHostName() async throws {
        // The shape of the reference's config-examples: relative paths, [::] listeners, localhost endpoints.
        let pair = try await Pair()
        for (side, prefix) in [(pair.a, "peer-a"), (pair.b, "peer-b")] {
            try FileManager.default.copyItem(atPath: side.keys.publicKey, toPath: pair.folder.file("\(prefix)-public-key"))
            try FileManager.default.copyItem(atPath: side.keys.secretKey, toPath: pair.folder.file("\(prefix)-secret-key"))
        }
        func config(_ own: String, _ other: String, listen: UInt16, endpoint: UInt16) -> String {
            """
            public_key = "\(own)-public-key"
            secret_key = "\(own)-secret-key"
            listen = ["[::]:\(listen)"]
            verbosity = "Quiet"

            [[peers]]
            public_key = "\(other)-public-key"
            endpoint = "localhost:\(endpoint)"
            key_out = "\(own)-rp-out-key"
            # exchange_command = ["wg", "set", "wg0", "peer", "<key>", "preshared-key", "/dev/stdin"]

            """
        }
        let a = try RosenpassProcess(
            ["exchange-config", pair.writeConfig("peer-a-config.toml", config("peer-a", "peer-b", listen: pair.a.port, endpoint: pair.b.port))],
            name: "peer-a", directory: pair.folder.path)
        let b = try RosenpassProcess(
            ["exchange-config", pair.writeConfig("peer-b-config.toml", config("peer-b", "peer-a", listen: pair.b.port, endpoint: pair.a.port))],
            name: "peer-b", directory: pair.folder.path)
        let aLines = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        #expect(aLines[0] == "output-key peer \(try pair.b.keys.peerID(.v02)) key-file \"peer-a-rp-out-key\" exchanged")
        try await Task.sleep(for: .seconds(5))  // both start at once: a crossing is repaired within 3.5 s
        let aKey = try String(contentsOfFile: pair.folder.file("peer-a-rp-out-key"), encoding: .utf8)
        let bKey = try String(contentsOfFile: pair.folder.file("peer-b-rp-out-key"), encoding: .utf8)
        expectWellFormedKey(aKey)
        #expect(aKey == bKey)
        // Quiet, the default: the start-up line and one line per key, at notice level; nothing worse.
        let lines = a.stderr.split(separator: "\n")
        #expect(lines.first?.contains("notice rosenpass: [RosenpassApp] rosenpass \(RosenpassCommand.version) listening on") == true, "\(a.stderr)")
        #expect(lines.contains { $0.contains("Exchanged key with peer [localhost:") }, "\(a.stderr)")
        #expect(lines.allSatisfy { $0.contains(" notice ") }, "\(a.stderr)")
        _ = try await a.stop()
        _ = try await b.stop()
    }
}

/// Base64 of `count` random bytes.
func Base64(_ count: Int) -> String {
    Data((0..<count).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
}

/// `count` random bytes (fast enough to flood with).
func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset < raw.count {
            var word = generator.next()
            let take = min(8, raw.count - offset)
            withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: take) }
            offset += take
        }
    }
    return bytes
}

/// Sends random datagrams to a port on ::1 from its own socket until stopped: random lengths, and
/// the exact lengths of every message type with the right type byte, so the daemon's parser, MAC
/// check and state machine all see junk.
final class GarbageFlood: @unchecked Sendable {
    private let port: UInt16
    private let lock = NSLock()
    private var running = true
    private var sent = 0
    private var thread: Thread?

    init(port: UInt16) { self.port = port }

    func start() {
        let port = port
        let thread = Thread { [self] in
            let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            address.sin6_addr = in6addr_loopback
            let shapes: [(UInt8, Int)] = [(0x81, 1060), (0x81, 1092), (0x82, 1100), (0x82, 1132), (0x83, 176), (0x84, 64), (0x86, 1060), (0x86, 1092), (0x85, 64)]
            var count = 0
            while lock.withLock({ running }) {
                var bytes: [UInt8]
                if count % 3 == 0 {
                    bytes = randomBytes(Int.random(in: 0...1500))
                } else {
                    let (type, length) = shapes[count % shapes.count]
                    bytes = randomBytes(length)
                    bytes[0] = type
                }
                _ = bytes.withUnsafeBytes { raw in
                    withUnsafePointer(to: &address) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                        }
                    }
                }
                count += 1
                if count % 8 == 0 { usleep(1000) }
                lock.withLock { sent = count }
            }
        }
        self.thread = thread
        thread.start()
    }

    /// Stops the flood and returns how many datagrams it sent.
    func stop() -> Int {
        lock.withLock { running = false }
        while let thread, !thread.isFinished { usleep(10_000) }
        return lock.withLock { sent }
    }
}

@Suite("Key files made by the reference")
struct ReferenceKeyTests {
    /// The reference's test-vector key pairs (round-4 layout, made by the Rust implementation), which
    /// the protocol tests keep as a fixture.
    static func referenceKeys() throws -> [String: [UInt8]] {
        let url = Fixtures.repositoryRoot().appendingPathComponent("Tests/RosenpassProtocolTests/Fixtures/crypto_server_v03.json")
        let object = try JSONSerialization.jsonObject(with: try Data(contentsOf: url)) as? [String: Any]
        let entries = try #require(object?["entries"] as? [[String: Any]])
        var keys: [String: [UInt8]] = [:]
        for entry in entries {
            guard let name = entry["name"] as? String, ["peer_a_sk", "peer_a_pk", "peer_b_sk", "peer_b_pk"].contains(name),
                let value = entry["value"] as? String
            else { continue }
            keys[name] = Hex.decode(value)
        }
        return keys
    }

    @Test func referenceKeyFiles_loadAndExchange() async throws {
        let keys = try Self.referenceKeys()
        let folder = TemporaryFolder()
        var sides: [Side] = []
        for name in ["a", "b"] {
            let pair = KeyPairFiles(
                publicKey: folder.write("\(name).pk", try #require(keys["peer_\(name)_pk"]), mode: 0o644),
                secretKey: folder.write("\(name).sk", try #require(keys["peer_\(name)_sk"]), mode: 0o600))
            // Raw files exactly as the reference writes them: they load, as round-4 keys.
            #expect(try StaticKeyFiles.loadSecretKey(pair.secretKey).variant == .round4)
            #expect(try StaticKeyFiles.loadPublicKey(pair.publicKey).count == 524_160)
            sides.append(Side(name: name, keys: pair, port: freeUDPPort(), keyOut: folder.file("\(name).key")))
        }
        let a = try RosenpassProcess(
            ["exchange-config", folder.write("a.toml", Array(sides[0].config(peer: sides[1], endpoint: false, version: .v03).utf8), mode: 0o644)],
            name: "a", directory: folder.path)
        let b = try RosenpassProcess(
            ["exchange-config", folder.write("b.toml", Array(sides[1].config(peer: sides[0], endpoint: true, version: .v03).utf8), mode: 0o644)],
            name: "b", directory: folder.path)
        _ = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        expectWellFormedKey(sides[0].key())
        #expect(sides[0].key() == sides[1].key())
        _ = try await a.stop()
        _ = try await b.stop()
    }
}
