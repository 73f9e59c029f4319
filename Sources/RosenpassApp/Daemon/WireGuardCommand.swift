// The reference's own way to hand a key to WireGuard, for peers with `extra_params`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassCrypto
import RosenpassProtocol
import RosenpassSystem

/// Runs `wg set DEVICE peer KEY preshared-key /dev/stdin EXTRA_PARAMS…` with the key (44 characters
/// of base64, no newline) on its standard input, as the reference's default broker does. `wg set`
/// creates the WireGuard peer if it does not exist and applies the extra parameters (allowed-ips,
/// endpoint, …), which the PSK broker, made to touch nothing but the pre-shared key of an existing
/// peer, never does. It therefore needs `CAP_NET_ADMIN` in the daemon itself.
///
/// Keys for one peer are applied in order: a second key waits until the first `wg` has exited, and
/// only the newest waiting key is kept. Failures are reported, not retried: the next key follows
/// within two minutes.
final class WireGuardCommand {
    /// One peer's WireGuard target.
    struct Target {
        let device: String
        let peerKey: String
        let extraParams: [String]
    }

    private struct Running {
        let pid: pid_t
        let startedAt: Seconds
    }

    private let executable: String
    private var targets: [Int: Target]
    private var running: [Int: Running] = [:]
    private var waiting: [Int: [UInt8]] = [:]
    /// `wg set` runs that succeeded and that failed (or could not start), for status and metrics.
    private(set) var succeeded = 0
    private(set) var failed = 0

    /// - Parameters:
    ///   - executable: `wg`, or its path.
    ///   - targets: the peers that use it, by peer index.
    init(executable: String = "wg", targets: [Int: Target]) {
        self.executable = executable
        self.targets = targets
    }

    deinit {
        // A `wg` still setting a key gets 5 s to finish; one that hangs must not hang the daemon's
        // exit, so then SIGTERM and, 5 s later, SIGKILL.
        for (_, child) in running { _ = ProcessSpawner.end(child.pid, patience: 5) }
        for key in waiting.keys { secureZero(&waiting[key]!) }
    }

    /// Adds a peer (a reload added it to the configuration).
    func add(_ target: Target, peer: Int) { targets[peer] = target }

    /// Whether `peer` gets its keys this way.
    func handles(_ peer: Int) -> Bool { targets[peer] != nil }

    /// Whether a `wg` is running, so the event loop should come back soon to collect it.
    var isBusy: Bool { !running.isEmpty }

    /// Finds `wg` in `PATH` (or checks the given path), for a clear message at start-up.
    static func locate(_ name: String = "wg") -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Hands `key` (32 bytes) to WireGuard for `peer`; returns lines to log.
    func setPresharedKey(_ key: UnsafeRawBufferPointer, peer: Int, label: PeerLabel, at now: Seconds) -> [LogLine] {
        guard targets[peer] != nil else { return [] }
        var encoded = [UInt8](repeating: 0, count: Base64Text.encodedCount(key.count))
        encoded.withUnsafeMutableBytes { Base64Text.encode(key, into: $0) }
        if running[peer] != nil {
            if waiting[peer] != nil { secureZero(&waiting[peer]!) }
            waiting[peer] = encoded
            return []
        }
        defer { secureZero(&encoded) }
        return start(peer, key: encoded, label: label, at: now)
    }

    /// Collects the `wg` processes that have exited and starts waiting ones; returns lines to log.
    func poll(label labelOf: (Int) -> PeerLabel?, at now: Seconds) -> [LogLine] {
        var lines = [LogLine]()
        for (peer, child) in running {
            var status: Int32 = 0
            let result = waitpid(child.pid, &status, WNOHANG)
            guard result == child.pid || (result < 0 && errno == ECHILD) else { continue }
            running[peer] = nil
            let label = labelOf(peer).map { "\($0)" } ?? "#\(peer)"
            if result == child.pid && status != 0 {
                failed += 1
                lines.append(
                    LogLine(
                        .error,
                        "peer \(label): `\(executable) set \(targets[peer]!.device) …` \(ProcessSpawner.describe(status: status)); WireGuard did not get the key (its message, if any, is above)"
                    ))
            } else {
                succeeded += 1
                lines.append(LogLine(.debug, "peer \(label): `\(executable) set` done in \(Int((now - child.startedAt) * 1000)) ms"))
            }
            if var key = waiting.removeValue(forKey: peer) {
                lines += start(peer, key: key, label: labelOf(peer), at: now)
                secureZero(&key)
            }
        }
        return lines
    }

    private func start(_ peer: Int, key: [UInt8], label: PeerLabel?, at now: Seconds) -> [LogLine] {
        let target = targets[peer]!
        let arguments = ["set", target.device, "peer", target.peerKey, "preshared-key", "/dev/stdin"] + target.extraParams
        let name = label.map { "peer \($0)" } ?? "peer #\(peer)"
        let input: (read: Int32, write: Int32)
        do {
            input = try POSIX.pipe()
        } catch {
            failed += 1
            return [LogLine(.error, "\(name): cannot run \(executable): \(error)")]
        }
        defer { close(input.write) }
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }
        do {
            var descriptors: [(source: Int32, target: Int32)] = [(input.read, 0)]
            if devNull >= 0 { descriptors.append((devNull, 1)) }  // our stdout carries only output-key lines
            descriptors.append((STDERR_FILENO, 2))
            let pid = try ProcessSpawner.spawn(executable: executable, arguments: arguments, descriptors: descriptors)
            close(input.read)
            running[peer] = Running(pid: pid, startedAt: now)
        } catch {
            close(input.read)
            failed += 1
            return [LogLine(.error, "\(name): cannot run \(executable) set: \(error)")]
        }
        key.withUnsafeBytes { bytes in
            _ = try? POSIX.writeAll(input.write, bytes, context: "wg's standard input")
        }
        return [LogLine(.debug, "\(name): \(executable) \(arguments.joined(separator: " "))")]
    }
}
