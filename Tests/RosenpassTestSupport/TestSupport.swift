// Helpers shared by the test targets: fixtures, hex, and the locations of built binaries.

import Foundation

/// Test fixtures live in a `Fixtures` folder next to the test file that uses them, so tests run
/// from a fresh clone with nothing outside the repository.
public enum Fixtures {
    /// The URL of `name` in the `Fixtures` folder beside `file`.
    public static func url(_ name: String, file: StaticString = #filePath) -> URL {
        URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name)
    }

    /// The raw bytes of a fixture file.
    public static func data(_ name: String, file: StaticString = #filePath) throws -> Data {
        try Data(contentsOf: url(name, file: file))
    }

    /// Decodes a JSON fixture into `T`.
    public static func json<T: Decodable>(_ type: T.Type, _ name: String, file: StaticString = #filePath) throws -> T {
        try JSONDecoder().decode(T.self, from: data(name, file: file))
    }

    /// The repository's top folder (the one holding Package.swift).
    public static func repositoryRoot(file: StaticString = #filePath) -> URL {
        var url = URL(fileURLWithPath: "\(file)").deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        fatalError("Package.swift not found above \(file)")
    }
}

/// Hex encoding and decoding for known-answer tests.
public enum Hex {
    /// Lower-case hex of `bytes`.
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes of a hex string; stops the test run on malformed fixtures.
    public static func decode(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8)
        precondition(digits.count % 2 == 0, "odd-length hex in a fixture")
        func value(_ d: UInt8) -> UInt8 {
            switch d {
            case 48...57: return d - 48
            case 97...102: return d - 87
            case 65...70: return d - 55
            default: preconditionFailure("bad hex digit in a fixture")
            }
        }
        return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }
}

/// Where the built executables are: `ROSENPASS_BIN_DIR` when set (make test sets it), otherwise the
/// release build folder of this checkout.
/// How much longer than usual tests wait for processes and conditions: `ROSENPASS_TEST_TIME_SCALE`
/// (scripts/test-sanitizers.sh sets it, as sanitized code runs several times slower), else 1.
public enum TestTime {
    public static let scale: Double = {
        guard let text = ProcessInfo.processInfo.environment["ROSENPASS_TEST_TIME_SCALE"], let value = Double(text), value >= 1 else { return 1 }
        return value
    }()

    /// `seconds` times ``scale``.
    public static func scaled(_ seconds: Double) -> Double { seconds * scale }
}

public enum BuiltProducts {
    public static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["ROSENPASS_BIN_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return Fixtures.repositoryRoot().appendingPathComponent(".build/release")
    }

    /// The path of the executable `name`.
    public static func executable(_ name: String) -> URL {
        binDirectory.appendingPathComponent(name)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn` and reaped with `waitpid` by this object alone.
///
/// Tests use it instead of Foundation's `Process`, whose exit detection depends on a SIGCHLD
/// monitor that can fall behind when the machine is loaded, and which hands the child the test
/// runner's blocked-signal mask. Here the child starts with no blocked signals and default signal
/// dispositions, as it would from a shell, and `isRunning` asks the kernel directly.
public final class ChildProcess: @unchecked Sendable {
    /// The child's process id.
    public let processIdentifier: pid_t
    private let lock = NSLock()
    private var status: Int32?

    /// Starts `executable` with `arguments` (without argv[0]).
    ///
    /// - Parameters:
    ///   - directory: the working directory of the child, or `nil` for ours.
    ///   - environment: the complete environment of the child.
    ///   - stdin, stdout, stderr: paths to open for the standard streams (`/dev/null` by default);
    ///     stdout and stderr files are created or truncated.
    ///   - extraDescriptors: descriptors of ours to place at the given numbers in the child.
    public init(
        executable: String,
        arguments: [String],
        directory: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        stdin: String = "/dev/null",
        stdout: String = "/dev/null",
        stderr: String = "/dev/null",
        extraDescriptors: [(ours: Int32, theirs: Int32)] = []
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let directory {
            guard let addChdir = Self.addChdir else { throw ChildProcessError("posix_spawn cannot change directory here") }
            _ = addChdir(&actions, directory)
        }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        for descriptor in extraDescriptors {
            posix_spawn_file_actions_adddup2(&actions, descriptor.ours, descriptor.theirs)
        }
        // Nothing else of ours reaches the child: tests run in parallel, and a socket or pipe another
        // test left inheritable must not be held open by this child (it would also make the child
        // look as if it used that socket).
        let highestTarget = max(2, extraDescriptors.map(\.theirs).max() ?? 2)
        if let addCloseFrom = Self.addCloseFrom {
            _ = addCloseFrom(&actions, highestTarget + 1)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") }
        defer { envp.forEach { free($0) } }
        var argvPointers: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        var envPointers: [UnsafeMutablePointer<CChar>?] = envp + [nil]
        var pid: pid_t = 0
        let result = argvPointers.withUnsafeMutableBufferPointer { a in
            envPointers.withUnsafeMutableBufferPointer { e in
                posix_spawn(&pid, executable, &actions, &attributes, a.baseAddress!, e.baseAddress!)
            }
        }
        guard result == 0 else {
            throw ChildProcessError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        processIdentifier = pid
    }

    deinit {
        if isRunning {
            kill(processIdentifier, SIGKILL)
            var status: Int32 = 0
            // SIGKILL takes effect promptly; reap without blocking a concurrency thread for long.
            for _ in 0..<200 where waitpid(processIdentifier, &status, WNOHANG) == 0 { usleep(5_000) }
        }
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+), looked up at run time because the
    /// Glibc module does not export it; without it the child inherits what is not close-on-exec.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        #if os(Linux)
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }  // RTLD_DEFAULT
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29+, macOS 10.15+), looked up at run time
    /// because the Glibc module does not export it.
    private static let addChdir: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32)? = {
        #if canImport(Darwin)
        let defaultHandle = UnsafeMutableRawPointer(bitPattern: -2)  // RTLD_DEFAULT
        #else
        let defaultHandle: UnsafeMutableRawPointer? = nil  // RTLD_DEFAULT
        #endif
        guard let symbol = dlsym(defaultHandle, "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self)
    }()

    /// Whether the child has not exited yet (asks the kernel, reaping it once it has).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if status != nil { return false }
        var raw: Int32 = 0
        let result = waitpid(processIdentifier, &raw, WNOHANG)
        if result == processIdentifier {
            status = raw
            return false
        }
        return result == 0
    }

    /// The exit status, or 128 + the signal number for a child killed by a signal; -1 while running.
    public var terminationStatus: Int32 {
        guard !isRunning else { return -1 }
        let raw = lock.withLock { status ?? 0 }
        let signal = raw & 0x7F
        return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
    }

    /// Sends `signal` to the child.
    public func send(_ signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }

    /// Waits (polling, without blocking a thread) until the child exits or `timeout` seconds pass.
    /// - Returns: whether it exited.
    public func waitForExit(timeout: TimeInterval) async throws -> Bool {
        let deadline = Date().addingTimeInterval(TestTime.scaled(timeout))
        while isRunning {
            if Date() >= deadline { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}

extension ChildProcess {
    /// What a finished run of a command printed, and how it ended.
    public struct Run: Sendable {
        public let status: Int32
        public let standardOutput: String
        public let standardError: String
    }

    /// Runs `executable arguments…` to completion with `input` on standard input.
    ///
    /// The streams go through temporary files, so large inputs or outputs cannot dead-lock on pipes.
    public static func run(executable: String, arguments: [String], input: [UInt8] = [], timeout: TimeInterval = 120) throws -> Run {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let stdin = folder.appendingPathComponent("stdin").path
        let stdout = folder.appendingPathComponent("stdout").path
        let stderr = folder.appendingPathComponent("stderr").path
        try Data(input).write(to: URL(fileURLWithPath: stdin))
        let child = try ChildProcess(executable: executable, arguments: arguments, stdin: stdin, stdout: stdout, stderr: stderr)
        let deadline = Date().addingTimeInterval(TestTime.scaled(timeout))
        while child.isRunning {
            guard Date() < deadline else { throw ChildProcessError("\(executable) \(arguments) did not finish within \(Int(timeout)) s") }
            usleep(2_000)
        }
        func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return Run(status: child.terminationStatus, standardOutput: text(stdout), standardError: text(stderr))
    }
}

/// A child process could not be started.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What `body` throws, as text, or "no error": for tests that check an error's message.
public func errorText(_ body: () throws -> Void) -> String {
    do {
        try body()
        return "no error"
    } catch {
        return "\(error)"
    }
}
