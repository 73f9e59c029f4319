// extra_params: the reference's `wg set … preshared-key /dev/stdin EXTRA_PARAMS` path, with a
// stand-in `wg` that records how it was called (the real one runs in IntegrationTests/test-wireguard-e2e.sh).

import Foundation
import RosenpassTestSupport
import Testing

@Suite("Daemon and wg set (extra_params)")
struct DaemonWireGuardCommandTests {
    /// A folder holding an executable `wg` that appends "ARGS|STDIN" lines to `wg.log` beside it.
    static func fakeWireGuard(in folder: TemporaryFolder) -> (bin: String, log: String) {
        let bin = folder.file("bin")
        try? FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let log = folder.file("wg.log")
        let script = "#!/bin/sh\nstdin=$(cat)\nprintf '%s|%s\\n' \"$*\" \"$stdin\" >> \(TOMLQuote(log))\n"
        _ = folder.write("bin/wg", Array(script.utf8), mode: 0o755)
        return (bin, log)
    }

    func config(_ pair: Pair, extra: String) -> String {
        pair.a.wireGuardConfig(peer: pair.b, endpoint: false) + "extra_params = \(extra)\n"
    }

    @Test("with extra_params and no broker option, each key goes to `wg set DEVICE peer KEY preshared-key /dev/stdin EXTRA`, a random one first")
    func extraParams_runWireGuardSet() async throws {
        let pair = try await Pair()
        let fake = Self.fakeWireGuard(in: pair.folder)
        let configPath = pair.writeConfig("a.toml", config(pair, extra: "[\"allowed-ips\", \"10.0.0.2/32\", \"persistent-keepalive\", \"25\"]"))
        let path = fake.bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let a = try RosenpassProcess(["exchange-config", configPath], name: "a", directory: pair.folder.path, environment: ["PATH": path])
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        let key = try #require(pair.a.key())
        var calls: [String] = []
        try await waitFor(timeout: 10) {
            calls = ((try? String(contentsOfFile: fake.log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
            return calls.last?.hasSuffix("|\(key)") == true
        }
        let expected = "set rp-test0 peer \(testWireGuardPeer) preshared-key /dev/stdin allowed-ips 10.0.0.2/32 persistent-keepalive 25|"
        #expect(calls.count >= 2 && calls.allSatisfy { $0.hasPrefix(expected) }, "\(calls)")
        #expect(calls.first.map { $0.count == expected.count + 44 && !$0.hasSuffix(key) } == true, "a random key at start-up")
        #expect(a.stderr.contains("as the reference does; this needs CAP_NET_ADMIN in rosenpass itself"), "\(a.stderr)")
        #expect(!a.stderr.contains("privileged"), "no PSK broker was needed")
        #expect(try await a.stop() == 0)
        _ = try await b.stop()
    }

    @Test("without wg in PATH, a peer with extra_params stops the start with a clear message")
    func extraParams_withoutWireGuardTools() async throws {
        let pair = try await Pair()
        let configPath = pair.writeConfig("a.toml", config(pair, extra: "[\"allowed-ips\", \"10.0.0.2/32\"]"))
        let a = try RosenpassProcess(["exchange-config", configPath], name: "a", directory: pair.folder.path, environment: ["PATH": "/nonexistent"])
        #expect(try await a.process.waitForExit(timeout: 30))
        #expect(a.process.terminationStatus == 1)
        #expect(a.stderr.contains("peer 0 has extra_params, which rosenpass applies by running `wg set` as the reference does, but `wg` is not in PATH"), "\(a.stderr)")
    }

    @Test("with a PSK broker chosen, extra_params are ignored with a warning, as the reference ignores them with a socket broker")
    func extraParams_ignoredWithABroker() async throws {
        let pair = try await Pair()
        let socketPath = pair.folder.file("broker.sock")
        let broker = try FakePSKBroker(path: socketPath)
        defer { broker.stop() }
        let fake = Self.fakeWireGuard(in: pair.folder)
        let configPath = pair.writeConfig("a.toml", config(pair, extra: "[\"allowed-ips\", \"10.0.0.2/32\"]"))
        let a = try RosenpassProcess(
            ["--psk-broker", socketPath, "exchange-config", configPath], name: "a", directory: pair.folder.path,
            environment: ["PATH": fake.bin + ":/usr/bin:/bin"])
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await a.waitForLines(1, timeout: 60)
        let requests = try await broker.waitForRequests(2, timeout: 30)
        #expect(requests.last.map { Data($0.psk).base64EncodedString() } == pair.a.key())
        #expect(a.stderr.contains("peer 0: extra_params are ignored: the PSK broker only sets the pre-shared key"), "\(a.stderr)")
        #expect(!FileManager.default.fileExists(atPath: fake.log), "wg was not run")
        #expect(try await a.stop() == 0)
        _ = try await b.stop()
    }
}
