// The configuration TOML reader, checked against TOMLKit (toml++) on a corpus of documents.

import Foundation
import RosenpassTestSupport
import RosenpassTOMLOracle
import Testing
import TOMLKit

@testable import RosenpassApp

struct TOMLCases: Decodable {
    struct Valid: Decodable, CustomTestStringConvertible {
        var name: String
        var toml: String
        var testDescription: String { name }
    }

    struct Invalid: Decodable, CustomTestStringConvertible {
        var name: String
        var toml: String
        /// The line our reader must report.
        var line: Int
        /// Rejected by our reader's stricter rules only; TOMLKit may accept it.
        var strictOnly: Bool
        var testDescription: String { name }
    }

    var valid: [Valid]
    var invalid: [Invalid]

    static let all = try! Fixtures.json(TOMLCases.self, "toml-cases.json")
}

@Suite("TOML reader")
struct TOMLReaderTests {
    @Test("valid documents read the same as TOMLKit reads them", arguments: TOMLCases.all.valid)
    func validDocument_matchesTOMLKit(_ example: TOMLCases.Valid) throws {
        let ours = try TOMLReader.parse(example.toml)
        let theirs = TOMLOracle.convert(try TOMLKit.TOMLTable(string: example.toml))
        #expect(TOMLOracle.firstDifference(ours, theirs, path: "") == nil)
        #expect(TOMLOracle.judge(example.toml) == .agree)
        _ = try ConfigurationTOML.parse(example.toml, file: "example.toml")
    }

    @Test("invalid documents are rejected, at the right line", arguments: TOMLCases.all.invalid)
    func invalidDocument_isRejectedWithLine(_ example: TOMLCases.Invalid) {
        #expect(throws: TOMLSyntaxError.self) { try TOMLReader.parse(example.toml) }
        do {
            _ = try TOMLReader.parse(example.toml)
        } catch {
            #expect(error.position.line == example.line, "\(error)")
        }
        if !example.strictOnly {
            #expect(throws: (any Error).self) { try TOMLKit.TOMLTable(string: example.toml) }
        }
        #expect(TOMLOracle.judge(example.toml) == .oursRefuses)
        #expect(throws: AppError.self) { try ConfigurationTOML.parse(example.toml, file: "bad.toml") }
    }

    @Test func values_areDecodedExactly() throws {
        let table = try TOMLReader.parse(
            "a = \"x\\ty\\u00e9\"\nb = 0x10\nc = -1_000\nd = 1.5e3\ne = [\"p\", 'q']\n[t]\nf = true\n")
        guard case .string(let a) = table["a"]?.node.value else { Issue.record("a"); return }
        #expect(a == "x\ty\u{e9}")
        guard case .integer(let b) = table["b"]?.node.value, case .integer(let c) = table["c"]?.node.value,
            case .float(let d) = table["d"]?.node.value
        else { Issue.record("numbers"); return }
        #expect(b == 16 && c == -1000 && d == 1500)
        guard case .array(let e) = table["e"]?.node.value else { Issue.record("e"); return }
        #expect(e.count == 2)
        guard case .table(let t) = table["t"]?.node.value, case .boolean(true) = t["f"]?.node.value else {
            Issue.record("t.f")
            return
        }
    }

    @Test func positions_pointAtKeysAndHeaders() throws {
        let table = try TOMLReader.parse("# comment\nlisten = []\n\n[[peers]]\npublic_key = \"k\"\n\n[[peers]]\n  endpoint = \"e:1\"\n")
        #expect(table["listen"]?.keyPosition == TOMLPosition(line: 2, column: 1))
        guard case .array(let peers) = table["peers"]?.node.value else {
            Issue.record("peers")
            return
        }
        #expect(peers.map(\.position.line) == [4, 7])
        guard case .table(let second) = peers[1].value else { return }
        #expect(second["endpoint"]?.keyPosition == TOMLPosition(line: 8, column: 3))
        #expect(table.position(of: "peers[1].endpoint") == 8)
    }

    @Test("the oracle finds a difference between the two trees, and judges only what our reader accepts")
    func oracle_reportsDisagreement() throws {
        var ours = try TOMLReader.parse("a = 1\nb = \"x\"\n")
        let theirs = TOMLOracle.convert(try TOMLKit.TOMLTable(string: "a = 1\nb = \"x\"\n"))
        #expect(TOMLOracle.firstDifference(ours, theirs, path: "") == nil)
        ours.entries[1].node.value = .string("y")
        #expect(TOMLOracle.firstDifference(ours, theirs, path: "") == "b")
        #expect(TOMLOracle.judge("a = 1\nb = \"x\"\n") == .agree)
        #expect(TOMLOracle.judge("a = = 1\n") == .oursRefuses)
    }

    /// Found by FuzzConfig once the oracle judged every document our reader accepts: a float
    /// literal beyond the range of a double read as infinity, where toml++ refuses it.
    @Test func floatOutOfRange_isRefused() throws {
        let huge = "x = 3e" + String(repeating: "1", count: 80) + "\n"
        #expect(throws: TOMLSyntaxError.self) { try TOMLReader.parse(huge) }
        #expect(TOMLOracle.judge(huge) == .oursRefuses)
        #expect(TOMLOracle.judge("x = 1.7976931348623157e308\ny = -inf\nz = nan\n") == .agree)
        #expect((try? TOMLReader.parse("x = -1e400\n")) == nil)
        // Lengths toml++ refuses (and far beyond any configuration value) are refused too.
        #expect((try? TOMLReader.parse("x = 0x" + String(repeating: "0", count: 130) + "1\n")) == nil)
        #expect((try? TOMLReader.parse("t = 12:00:00." + String(repeating: "5", count: 70) + "\n")) == nil)
        #expect(TOMLOracle.judge("x = 0x" + String(repeating: "0", count: 60) + "1\n") == .agree)
    }

    /// Found by FuzzConfig: our reader took any two digits for an hour (`60:00:00`), where toml++
    /// checks every field of a date or time against its range.
    @Test func dateAndTimeFields_areCheckedAgainstTheirRanges() throws {
        for bad in ["60:00:00", "23:60:00", "23:59:60", "2026-13-01", "2026-00-10", "2026-04-31", "2025-02-29",
                    "2026-12-06T24:00:00Z", "2026-12-06T12:00:00+24:00", "2026-12-06T12:00:00-01:60"] {
            #expect(throws: TOMLSyntaxError.self, "\(bad)") { try TOMLReader.parse("t = \(bad)\n") }
        }
        for good in ["00:00:00", "23:59:59.999", "2024-02-29", "2000-02-29", "2026-12-31T23:59:59Z", "2026-12-06 12:00:00+05:30"] {
            #expect(TOMLOracle.judge("t = \(good)\n") == .agree, "\(good)")
        }
    }

    /// Found by FuzzConfig: toml++ fails an assertion (and aborts, in a build with assertions) on a
    /// table header that starts with a character that may not begin a key. Our reader refuses the
    /// file, and the oracle never hands toml++ a document our reader refuses.
    @Test func headerStartingWithAForeignCharacter_isRefused() throws {
        let text = "[[\u{FFFD}kTestA\"\npeer = \"x\"\n"
        #expect(throws: TOMLSyntaxError.self) { try TOMLReader.parse(text) }
        #expect(TOMLOracle.judge(text) == .oursRefuses)
    }

    /// Issue 12: a configuration with arrays nested ~35,000 deep overflowed the stack of `validate`,
    /// `exchange-config` and `rp exchange-config` (5,000 deep with `ulimit -s 1024`).
    @Test func deepNesting_isAnErrorNotACrash() throws {
        func message(_ text: String) -> String {
            do {
                _ = try ConfigurationTOML.parse(text, file: "deep.toml")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        let deep = 35_000
        #expect(message("a = " + String(repeating: "[", count: deep) + String(repeating: "]", count: deep) + "\n")
            == "deep.toml:1: invalid TOML at column 37: arrays and inline tables are nested more than 32 deep")
        #expect(message("a = " + String(repeating: "{b = ", count: deep) + "1" + String(repeating: "}", count: deep) + "\n")
            .contains("nested more than 32 deep"))
        #expect(message(Array(repeating: "k", count: deep).joined(separator: ".") + " = 1\n").contains("more than 32 parts"))
        #expect(message("[" + Array(repeating: "t", count: deep).joined(separator: ".") + "]\n").contains("more than 32 parts"))
        // The limits are far above what a configuration needs.
        let nested = "a = " + String(repeating: "[", count: 32) + String(repeating: "]", count: 32) + "\n"
        #expect(message(nested) == "accepted")
        #expect(message(Array(repeating: "k", count: 32).joined(separator: ".") + " = 1\n") == "accepted")
    }

    /// Found by FuzzConfig: a `\u0000` escape made our reader and TOMLKit disagree (TOMLKit cuts the
    /// string at the NUL), and a path with a NUL would name something else in every system call.
    @Test func nulEscapes_areRefusedWithTheirLine() throws {
        func message(_ text: String) -> String {
            do {
                _ = try ConfigurationTOML.parse(text, file: "nul.toml")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(message("a = 1\nverbosity = \"Quiet\\u0000x\"\n").hasPrefix("nul.toml:2: "))
        #expect(message("verbosity = \"Quiet\\u0000x\"\n").contains("no value here may contain a NUL character"))
        #expect(message("key_out = \"a\\U00000000b\"\n").contains("NUL"))
        #expect(!message("verbosity = \"Quiet\\u0000x\"\n").contains("disagree"))
        #expect(message("name = \"caf\\u00e9\"\n") == "accepted")
    }
}
