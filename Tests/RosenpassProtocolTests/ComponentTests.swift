// Message layouts, biscuits, cookies, the load rule and the retransmission schedule, in isolation.

import RosenpassCrypto
import RosenpassTestSupport
import Testing

@testable import RosenpassProtocol

/// Entropy from a counter: every draw differs, and runs repeat exactly.
struct CountingEntropy: HandshakeEntropy {
    var counter: UInt64 = 0
    var jitter: Double? = nil

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer, for purpose: EntropyPurpose) {
        if purpose == .retransmitJitter, let jitter {
            let raw = UInt64(jitter * 0x1p53) << 11
            for i in 0..<min(8, buffer.count) { buffer[i] = UInt8(truncatingIfNeeded: raw >> (56 - 8 * i)) }
            return
        }
        var shake = SHAKE256()
        withUnsafeBytes(of: counter) { shake.absorb($0) }
        counter += 1
        shake.squeeze(into: buffer)
    }
}

@Suite("Message layouts")
struct MessageLayoutTests {
    @Test("lengths of every message in both McEliece formats")
    func lengths() {
        #expect(MessageLayout.round4.initHelloLength == 1060)
        #expect(MessageLayout.round4.respHelloLength == 1100)
        #expect(MessageLayout.round4.cookieReplyLength == 1060)
        #expect(MessageLayout.round3.initHelloLength == 1092)
        #expect(MessageLayout.round3.respHelloLength == 1132)
        #expect(MessageLayout.round3.cookieReplyLength == 1092)
        #expect(MessageLayout.initConfLength == 176)
        #expect(MessageLayout.emptyDataLength == 64)
    }

    @Test("only the exact length of each type parses; unknown types, Data (0x85) and empty datagrams do not")
    func exactLengths() throws {
        let valid: [(UInt8, [Int])] = [(0x81, [1060, 1092]), (0x82, [1100, 1132]), (0x83, [176]), (0x84, [64]), (0x86, [1060, 1092])]
        for (type, counts) in valid {
            for count in counts {
                var bytes = [UInt8](repeating: 0, count: count)
                bytes[0] = type
                _ = try ParsedDatagram.parse(bytes)
                for wrong in [count - 1, count + 1, 1, 2500] where !counts.contains(wrong) {
                    var other = [UInt8](repeating: 0, count: wrong)
                    other[0] = type
                    #expect(throws: ProtocolError.self) { try ParsedDatagram.parse(other) }
                }
            }
        }
        for type: UInt8 in [0x00, 0x80, 0x85, 0x87, 0xFF] {
            var bytes = [UInt8](repeating: 0, count: 64)
            bytes[0] = type
            #expect(throws: ProtocolError.self) { try ParsedDatagram.parse(bytes) }
        }
        #expect(throws: ProtocolError.self) { try ParsedDatagram.parse([]) }
    }

    @Test("fields land at the offsets of docs/protocol.md §3")
    func fieldOffsets() throws {
        let sidi = SessionID(bytes: [1, 2, 3, 4])
        let sidr = SessionID(bytes: [5, 6, 7, 8])
        let hello = InitHello.encode(
            layout: .round4, sidi: sidi, epki: [UInt8](repeating: 0xE0, count: 800), sctr: [UInt8](repeating: 0x5C, count: 156),
            pidiCiphertext: [UInt8](repeating: 0x1D, count: 48), auth: [UInt8](repeating: 0xA0, count: 16))
        #expect(hello.count == 1060 && hello[0] == 0x81 && hello[1..<4] == [0, 0, 0])
        #expect(hello[4..<8] == [1, 2, 3, 4] && hello[8] == 0xE0 && hello[807] == 0xE0 && hello[808] == 0x5C)
        #expect(hello[963] == 0x5C && hello[964] == 0x1D && hello[1011] == 0x1D && hello[1012] == 0xA0 && hello[1027] == 0xA0)
        #expect(hello[1028...].allSatisfy { $0 == 0 })
        let resp = RespHello.encode(
            layout: .round3, sidr: sidr, sidi: sidi, ecti: [UInt8](repeating: 0xEC, count: 768),
            scti: [UInt8](repeating: 0x5C, count: 188), auth: [UInt8](repeating: 0xA0, count: 16),
            biscuit: [UInt8](repeating: 0xB1, count: 116))
        #expect(resp.count == 1132 && resp[4..<8] == [5, 6, 7, 8] && resp[8..<12] == [1, 2, 3, 4])
        #expect(resp[968] == 0xA0 && resp[984] == 0xB1 && resp[1099] == 0xB1 && resp[1100] == 0)
        guard case .respHello(let parsed) = try ParsedDatagram.parse(resp) else { Issue.record("not a RespHello"); return }
        #expect(parsed.sidr == sidr && parsed.sidi == sidi && parsed.scti.count == 188 && parsed.layout.variant == .round3)
        let data = EmptyData.encode(sid: sidi, counter: 0x0102_0304_0506_0708, auth: [UInt8](repeating: 0xA0, count: 16))
        #expect(data[8..<16] == [8, 7, 6, 5, 4, 3, 2, 1])
        guard case .emptyData(let empty) = try ParsedDatagram.parse(data) else { Issue.record("not EmptyData"); return }
        #expect(empty.counter == 0x0102_0304_0506_0708)
        #expect(EmptyData.nonce(1) == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }
}

@Suite("Biscuits")
struct BiscuitTests {
    @Test("biscuit numbers are 96-bit little-endian, start at 1, and compare as integers")
    func numbers() {
        var number = BiscuitNumber.one
        #expect(number.littleEndianBytes == [1] + [UInt8](repeating: 0, count: 11))
        let carry = BiscuitNumber(littleEndian: [UInt8](repeating: 0xFF, count: 8) + [0, 0, 0, 0])
        var next = carry
        next.increment()
        #expect(next.littleEndianBytes == [UInt8](repeating: 0, count: 8) + [1, 0, 0, 0])
        #expect(carry < next && BiscuitNumber.zero < number && !(number < number))
        number.increment()
        #expect(number.littleEndianBytes[0] == 2)
    }

    @Test("slot 1 is used first, rotation after 300 s, erasure after 600 s")
    func keyRotation() {
        var entropy = CountingEntropy()
        var ring = BiscuitKeyRing(using: &entropy)
        let first = ring.keyForIssuing(now: 10, using: &entropy)
        #expect(first.slot == 1)
        #expect(ring.keyForIssuing(now: 309, using: &entropy).key == first.key)
        let second = ring.keyForIssuing(now: 310, using: &entropy)
        #expect(second.slot == 0 && second.key != first.key)
        #expect(ring.key(slot: 1) == first.key)  // still decrypts
        #expect(ring.nextErasure == 610)
        ring.eraseExpired(now: 610, using: &entropy)
        #expect(ring.key(slot: 1) != first.key && ring.key(slot: 0) == second.key)
        let third = ring.keyForIssuing(now: 611, using: &entropy)
        #expect(third.slot == 1 && third.key != first.key)
    }

    @Test("a biscuit opens under its key and AD only; the slot travels in the nonce's top bit")
    func sealAndOpen() throws {
        let contents = BiscuitContents(
            peerID: PeerID(bytes: [UInt8](repeating: 9, count: 32)), number: .one, chainingKey: Secret(copying: [UInt8](repeating: 3, count: 32)))
        let key = Secret(copying: [UInt8](repeating: 1, count: 32))
        let ad = [UInt8](repeating: 2, count: 32)
        let sealed = contents.seal(key: key, slot: 1, nonce: [UInt8](repeating: 0x11, count: 24), associatedData: ad)
        #expect(sealed.count == 116 && BiscuitContents.slot(of: sealed) == 1 && sealed[0] == 0x91)
        #expect(try BiscuitContents.open(sealed, key: key, associatedData: ad) == contents)
        #expect(throws: ProtocolError.self) { try BiscuitContents.open(sealed, key: key, associatedData: [UInt8](repeating: 0, count: 32)) }
        var tampered = sealed
        tampered[50] ^= 1
        #expect(throws: ProtocolError.self) { try BiscuitContents.open(tampered, key: key, associatedData: ad) }
        let slot0 = contents.seal(key: key, slot: 0, nonce: [UInt8](repeating: 0xFF, count: 24), associatedData: ad)
        #expect(slot0[0] == 0x7F && BiscuitContents.slot(of: slot0) == 0)
    }
}

@Suite("Cookies and load")
struct CookieComponentTests {
    @Test("cookie secrets live 240 s; a new one appears only when none is usable")
    func secretLifecycle() {
        var entropy = CountingEntropy()
        var ring = CookieSecretRing(using: &entropy)
        let first = ring.usableSecrets(now: 5, using: &entropy)
        #expect(first.count == 1)
        #expect(ring.usableSecrets(now: 244, using: &entropy) == first)
        let second = ring.usableSecrets(now: 245, using: &entropy)
        #expect(second.count == 1 && second != first)
        ring.eraseExpired(now: 245 + 240, using: &entropy)
        #expect(ring.nextErasure == .infinity)
    }

    @Test("cookie values depend on the secret and the sender; a CookieReply opens only with the right MAC as AD")
    func cookieValues() {
        let secret = Secret(copying: [UInt8](repeating: 4, count: 16))
        let a = CookieSecretRing.cookieValue(secret: secret, hostID: [1, 2, 3])
        #expect(a.count == 16)
        #expect(a != CookieSecretRing.cookieValue(secret: secret, hostID: [1, 2, 4]))
        #expect(a != CookieSecretRing.cookieValue(secret: Secret(copying: [UInt8](repeating: 5, count: 16)), hostID: [1, 2, 3]))
        let key = Secret(copying: [UInt8](repeating: 6, count: 32))
        let mac = [UInt8](repeating: 7, count: 16)
        let sealed = CookieReplySealing.seal(cookieValue: a, cookieKey: key, nonce: [UInt8](repeating: 8, count: 24), initHelloMAC: mac)
        #expect(sealed.count == CookieReply.sealedCount)
        #expect(CookieReplySealing.open(sealed, cookieKey: key, mac: mac) == a)
        #expect(CookieReplySealing.open(sealed, cookieKey: key, mac: [UInt8](repeating: 0, count: 16)) == nil)
    }

    @Test("the load bucket empties after the burst, refills with the clock, and is off when cookies are disabled")
    func loadBucket() {
        let policy = LoadPolicy(burst: 3, handlingsPerSecond: 2)
        var monitor = LoadMonitor(policy: policy)
        for _ in 0..<3 {
            #expect(!monitor.isUnderLoad(at: 100, policy: policy))
            monitor.spend(at: 100, policy: policy)
        }
        #expect(monitor.isUnderLoad(at: 100, policy: policy))
        #expect(monitor.isUnderLoad(at: 100.4, policy: policy))
        #expect(!monitor.isUnderLoad(at: 100.5, policy: policy))
        #expect(monitor.tokens(at: 1000, policy: policy) == 3)
        #expect(!monitor.isUnderLoad(at: 100, policy: LoadPolicy(cookiesEnabled: false, burst: 3, handlingsPerSecond: 2)))
    }
}

@Suite("Retransmission schedule")
struct RetransmissionScheduleTests {
    @Test("nominal delays 0.5, 1, 2, 4, 8, then 10 s; the jitter gives 50–100 % of nominal")
    func delays() {
        let nominal = (0..<8).map { RetransmissionSchedule.nominalDelay(afterCount: $0) }
        let expected: [Double] = [0.5, 1, 2, 4, 8, 10, 10, 10]
        for (got, want) in zip(nominal, expected) { #expect(abs(got - want) < 1e-9) }
        var schedule = RetransmissionSchedule()
        schedule.restart(now: 100, jitter: 0)
        #expect(schedule.retryAt == 100.25 && schedule.count == 1)
        schedule.advance(now: 100.25, jitter: 0.999_999)
        #expect(schedule.retryAt > 100.25 + 0.999 && schedule.retryAt < 101.25)
        schedule.retransmitImmediately(now: 101)
        #expect(schedule.retryAt == 101 && schedule.count == 3)
    }
}
