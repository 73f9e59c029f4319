// Test doubles for the broker tests: a recording backend, a log capture, frame helpers.

import Foundation
import Glibc
import Logging
@testable import RosenpassBroker
import RosenpassTestSupport
import RosenpassSystem

/// A backend that records every call and answers from a table (default: installed).
final class RecordingBackend: WireGuardBackend, @unchecked Sendable {
    struct Call: Equatable {
        var interface: String
        var peer: WireGuardPublicKey
        var psk: [UInt8]
    }

    private let lock = NSLock()
    private var _calls: [Call] = []
    var outcomes: [String: SetPskOutcome] = [:]

    var calls: [Call] { lock.withLock { _calls } }

    func setPresharedKey(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, interface: String) -> SetPskOutcome {
        let bytes = presharedKey.withUnsafeBytes { Array($0) }
        return lock.withLock {
            _calls.append(Call(interface: interface, peer: peer, psk: bytes))
            return outcomes[interface] ?? .installed
        }
    }
}

/// Collects log lines so tests can check what was (and was not) logged.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var _lines: [String] = []

    var lines: [String] { lock.withLock { _lines } }
    var text: String { lines.joined(separator: "\n") }

    func append(_ line: String) { lock.withLock { _lines.append(line) } }

    var logger: Logger {
        Logger(label: "test") { _ in CaptureHandler(capture: self) }
    }

    struct CaptureHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.append("\(event.level) \(event.message)")
        }
    }
}

/// Frame and key helpers.
enum Frames {
    static func requestPayload(interface: String, psk: [UInt8], peer: [UInt8], type: UInt8 = 1) -> [UInt8] {
        let name = Array(interface.utf8)
        return [type, 0, 0, 0] + psk + peer + [UInt8(name.count)] + name + [UInt8](repeating: 0, count: 255 - name.count)
    }

    static func frame(_ payload: [UInt8]) -> [UInt8] {
        LengthPrefixedFrames.encode(payload)
    }

    static func key(_ seed: UInt8) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(seed)) } }

    static func peer(_ seed: UInt8) -> WireGuardPublicKey { WireGuardPublicKey(key(seed))! }

    static func psk(_ seed: UInt8) -> PresharedKey { PresharedKey(key(seed))! }
}

/// A temporary directory removed at the end of the test.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/rp-broker-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Reads exactly `count` bytes from a blocking fd, or fewer at end of file.
func readExactly(_ fd: Int32, _ count: Int) -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: count)
    while out.count < count {
        let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, count - out.count) }
        if got < 0 && errno == EINTR { continue }
        if got <= 0 { break }
        out += chunk[0..<got]
    }
    return out
}

/// Polls `condition` every 10 ms for up to `seconds` (scaled by ``TestTime/scale``).
func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let end = POSIX.monotonicNow() + TestTime.scaled(seconds)
    while POSIX.monotonicNow() < end {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
