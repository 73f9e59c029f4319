// The stdout notification line (`docs/components.md` §6.1).

import Testing

@testable import RosenpassApp

@Suite("Key output line")
struct KeyOutputLineTests {
    @Test func line_hasTheReferenceFormat() {
        #expect(
            KeyOutputLine.format(peerID: "AAAA", keyFile: "/tmp/out", event: .exchanged)
                == "output-key peer AAAA key-file \"/tmp/out\" exchanged\n")
        #expect(KeyOutputLine.format(peerID: "B=", keyFile: "rel", event: .stale) == "output-key peer B= key-file \"rel\" stale\n")
    }

    @Test func paths_areQuotedLikeRustDebug() {
        let cases: [(String, String)] = [
            ("plain/path.key", "\"plain/path.key\""),
            ("with space", "\"with space\""),
            ("quote\"d", "\"quote\\\"d\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("new\nline\ttab\rcr", "\"new\\nline\\ttab\\rcr\""),
            ("nul\u{0}", "\"nul\\0\""),
            ("esc\u{1b}bell\u{7}", "\"esc\\u{1b}bell\\u{7}\""),
            ("it's", "\"it's\""),
            ("grüße/ключ", "\"grüße/ключ\""),
            ("del\u{7f}", "\"del\\u{7f}\""),
        ]
        for (path, quoted) in cases {
            #expect(KeyOutputLine.rustDebugQuoted(path) == quoted)
        }
    }
}
