// The daemon's long timers with real processes: a rekey after about two minutes, and a stale key
// after three minutes without a peer (`docs/protocol.md` §5, `docs/components.md` §6.1). These tests take
// minutes; Swift Testing runs them in parallel with the others, so they add little to a test run.

import Foundation
import RosenpassProtocol
import Testing

@Suite("Daemon timers (minutes)")
struct DaemonTimerTests {
    @Test(.timeLimit(.minutes(5)))
    func rekey_changesTheKeyOnBothSides() async throws {
        // B initiates, A only responds (no endpoint), so the start-up cannot race (see
        // `bootRace_bothSidesAgree`); B rekeys 130 s after its session began.
        let pair = try await Pair()
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: false, version: .v03))
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true, version: .v03))
        _ = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        let first = try #require(pair.a.key())
        #expect(pair.b.key() == first)
        let started = Date()
        // The initiator's session is due for rekeying after 130 s (docs/protocol.md §5.1).
        let aLines = try await a.waitForLines(2, timeout: 200)
        let bLines = try await b.waitForLines(2, timeout: 30)
        let waited = Date().timeIntervalSince(started)
        #expect(waited > 100, "the rekey came after about two minutes, not \(Int(waited)) s")
        #expect(aLines[1] == (try pair.a.expectedLine(peer: pair.b, version: .v03)))
        #expect(bLines[1] == (try pair.b.expectedLine(peer: pair.a, version: .v03)))
        // Both may briefly hold different keys while the second line is being written; settle.
        try await Task.sleep(for: .seconds(1))
        let second = try #require(pair.a.key())
        #expect(second != first)
        #expect(pair.b.key() == second)
        #expect(try await a.stop() == 0)
        #expect(try await b.stop() == 0)
    }

    @Test(.timeLimit(.minutes(6)))
    func peerGone_keyBecomesStaleAndIsReplacedByARandomKey() async throws {
        let pair = try await Pair()
        let a = try pair.start(pair.a, config: pair.a.config(peer: pair.b, endpoint: false))
        let b = try pair.start(pair.b, config: pair.b.config(peer: pair.a, endpoint: true))
        _ = try await a.waitForLines(1, timeout: 60)
        _ = try await b.waitForLines(1, timeout: 60)
        let exchanged = try #require(pair.a.key())
        #expect(try await b.stop() == 0)
        // 180 s after the session began, A erases it (REJECT_AFTER_TIME).
        let lines = try await a.waitForLines(2, timeout: 240)
        #expect(lines[1] == (try pair.a.expectedLine(peer: pair.b, version: .v02, event: "stale")))
        let erased = try #require(pair.a.key())
        expectWellFormedKey(erased)
        #expect(erased != exchanged)
        #expect(a.process.isRunning)
        #expect(try await a.stop() == 0)
    }
}
