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
