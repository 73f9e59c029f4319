// Running the built `rosenpass` binary from tests: output to files, waiting for lines, signals.

import Foundation
import RosenpassTestSupport
import Synchronization
import Testing

/// A `rosenpass` process started by a test. Its stdout and stderr go to files in `folder`, so a
/// test can wait for lines without pipes filling up; it is killed if still running when released
/// (``ChildProcess`` does the spawning and reaping).
final class RosenpassProcess: @unchecked Sendable {
    let process: ChildProcess
    let stdoutPath: String
    let stderrPath: String
    let name: String

    /// Starts `rosenpass arguments…` in `directory`.
    init(_ arguments: [String], name: String, directory: String, environment: [String: String] = [:]) throws {
        self.name = name
        stdoutPath = directory + "/\(name).stdout"
        stderrPath = directory + "/\(name).stderr"
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "RUST_LOG")
        env.merge(environment) { $1 }
        process = try ChildProcess(
            executable: BuiltProducts.executable("rosenpass").path, arguments: arguments, directory: directory,
            environment: env, stdout: stdoutPath, stderr: stderrPath)
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }

    /// Waits until stdout has at least `count` complete lines; returns them.
    func waitForLines(_ count: Int, timeout: TimeInterval) async throws -> [String] {
        let timeout = TestTime.scaled(timeout)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let lines = stdoutLines
            if lines.count >= count { return lines }
            if !process.isRunning {
                throw ProcessFailure("\(name) exited with status \(process.terminationStatus) before printing \(count) line(s); stderr:\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ProcessFailure("\(name) printed \(stdoutLines.count) of \(count) line(s) within \(Int(timeout)) s; stderr:\n\(stderr)")
    }

    /// Sends `signal` and waits for the exit status.
    func stop(_ signal: Int32 = SIGTERM, timeout: TimeInterval = 20) async throws -> Int32 {
        process.send(signal)
        guard try await process.waitForExit(timeout: timeout) else {
            throw ProcessFailure("\(name) did not exit within \(Int(timeout)) s of signal \(signal); stderr:\n\(stderr)")
        }
        return process.terminationStatus
    }

    /// Runs `rosenpass arguments…` to completion.
    static func run(_ arguments: [String], directory: String, timeout: TimeInterval = 120) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try RosenpassProcess(arguments, name: "run-\(UUID().uuidString.prefix(8))", directory: directory)
        guard try await child.process.waitForExit(timeout: timeout) else {
            throw ProcessFailure("rosenpass \(arguments) did not finish within \(Int(timeout)) s")
        }
        return (child.process.terminationStatus, child.stdout, child.stderr)
    }
}

struct ProcessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A free UDP port for a daemon under test, from 20000–31999: below the kernel's ephemeral range
/// (32768 and up), so that no socket elsewhere is handed it between this check and the daemon's
/// bind (an ephemeral port, released and bound again, was taken in between now and then), and from
/// a counter, so that tests running in parallel never get the same one.
func freeUDPPort() -> UInt16 {
    while true {
        let candidate = UInt16(20_000 + nextPortCandidate.wrappingAdd(1, ordering: .relaxed).oldValue % 12_000)
        if canBindUDP(candidate) { return candidate }
    }
}

private let nextPortCandidate = Atomic<Int>(Int(getpid() % 6_000) * 2)

/// Whether a UDP socket can bind `port` on every address (IPv6 and IPv4) now.
private func canBindUDP(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_any
    address.sin6_port = port.bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
    } == 0
}
