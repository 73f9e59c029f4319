// Fuzz target 1: crypto servers fed arbitrary datagrams, responder and initiator side.
//
// Structure-aware: a real handshake between two servers is recorded once (InitHello in both McEliece
// formats, RespHello, InitConf, EmptyData, and a CookieReply from a responder under load), together
// with each server's state just before it receives each message. Each input picks a message and the
// state that receives it, mutates the message (flips, truncation, extension, another type byte), and
// may seal the envelope MAC and cookie again with the real keys, so that mutations reach the checks
// behind the MAC instead of all dying there. A last kind of input is delivered as raw bytes.
//
// Checked beyond "no crash": a datagram that is dropped leaves the receiving server's state exactly
// as it was (the core's promise; `ServerState` compares every field), but for the DoS budgets that
// an InitHello with a valid MAC spends whatever happens after.

import FuzzingSupport
import RosenpassCrypto

@testable import RosenpassProtocol

/// Deterministic randomness: the same input always runs the same way.
struct CountingEntropy: HandshakeEntropy {
    var counter: UInt64

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer, for purpose: EntropyPurpose) {
        var shake = SHAKE256()
        withUnsafeBytes(of: counter) { shake.absorb($0) }
        counter &+= 1
        shake.squeeze(into: buffer)
    }
}

/// A server about to receive `message`, as it was in the recorded handshake.
struct Delivery {
    let receiver: CryptoServer
    let message: [UInt8]
    let host: [UInt8]
}

/// The recorded handshakes, one per protocol version.
struct Recording {
    var deliveries: [Delivery] = []

    init(version: ProtocolVersion, keysA: (publicKey: [UInt8], secretKey: SecretBytes), keysB: (publicKey: [UInt8], secretKey: SecretBytes)) {
        var entropy = CountingEntropy(counter: version == .v02 ? 1 : 1_000_000)
        let hostA: [UInt8] = [10, 0, 0, 1, 0x27, 0x0F]
        let hostB: [UInt8] = [10, 0, 0, 2, 0x27, 0x0F]
        func server(_ own: (publicKey: [UInt8], secretKey: SecretBytes), _ peer: [UInt8], policy: LoadPolicy = .standard) -> CryptoServer {
            var server = try! CryptoServer(secretKey: own.secretKey, publicKey: own.publicKey, loadPolicy: policy, entropy: &entropy)
            try! server.addPeer(PeerConfiguration(publicKey: peer, presharedKey: SecretBytes([UInt8](repeating: 0x42, count: 32)), version: version))
            return server
        }
        var a = server(keysA, keysB.publicKey)
        var b = server(keysB, keysA.publicKey)
        let hello = try! a.initiateHandshake(with: PeerHandle(index: 0), now: 0, entropy: &entropy)
        let hellos = a.state.peers[0].handshake!.hellos.map(\.message)  // round 3 and round 4
        let aWaiting = a
        for message in hellos { deliveries.append(Delivery(receiver: b, message: message, host: hostA)) }
        let resp = try! b.handle(datagram: hello, from: hostA, now: 0.01, entropy: &entropy).reply!
        deliveries.append(Delivery(receiver: a, message: resp, host: hostB))
        let conf = try! a.handle(datagram: resp, from: hostB, now: 0.02, entropy: &entropy).reply!
        deliveries.append(Delivery(receiver: b, message: conf, host: hostA))
        let empty = try! b.handle(datagram: conf, from: hostA, now: 0.03, entropy: &entropy).reply!
        deliveries.append(Delivery(receiver: a, message: empty, host: hostB))
        deliveries.append(Delivery(receiver: b, message: conf, host: hostA))  // a retransmission: the cache
        // A responder under load, and the initiator that gets its CookieReply.
        var loaded = server(keysB, keysA.publicKey, policy: LoadPolicy(burst: 1, handlingsPerSecond: 0.001))
        _ = try? loaded.handle(datagram: hello, from: [9, 9, 9], now: 0, entropy: &entropy)
        deliveries.append(Delivery(receiver: loaded, message: hello, host: hostA))
        let cookieReply = try! loaded.handle(datagram: hello, from: hostA, now: 0.01, entropy: &entropy).reply!
        deliveries.append(Delivery(receiver: aWaiting, message: cookieReply, host: hostB))
    }
}

/// Keys made once from fixed seeds, so a crash reproduces in another process.
let recordings: [Recording] = {
    let a = try! ClassicMcEliece460896.generateKeyPair(seed: SecretBytes([UInt8](repeating: 0xA1, count: 32)))
    let b = try! ClassicMcEliece460896.generateKeyPair(seed: SecretBytes([UInt8](repeating: 0xB2, count: 32)))
    return [Recording(version: .v02, keysA: a, keysB: b), Recording(version: .v03, keysA: a, keysB: b)]
}()

/// Applies the input's mutations to `message`; may seal the MAC and cookie again for `receiver`.
/// `flags` is the input's first choice for this message (bit 0x40 is left to the caller).
func mutate(_ message: [UInt8], for receiver: CryptoServer, version: ProtocolVersion, flags: UInt8, input: inout FuzzInput) -> [UInt8] {
    var bytes = message
    for _ in 0..<Int(flags & 7) {
        switch input.byte() % 5 {
        case 0, 1, 2:
            guard !bytes.isEmpty else { continue }
            bytes[input.below(bytes.count)] ^= max(1, input.byte())
        case 3:
            bytes.removeLast(min(bytes.count, input.below(64)))
        default:
            bytes += input.take(input.below(48))
        }
    }
    if flags & 0x08 != 0, !bytes.isEmpty { bytes[0] = [0x81, 0x82, 0x83, 0x84, 0x85, 0x86][input.below(6)] }
    if flags & 0x10 != 0, bytes.count >= 36, bytes[0] != MessageType.cookieReply.rawValue {
        let key = receiver.keys.digests(version).macKey
        Envelope.sealMAC(&bytes, macKey: key, version: version)
    }
    if flags & 0x20 != 0, bytes.count >= 36 {
        Envelope.sealCookie(&bytes, cookieValue: Secret(copying: input.take(16) + [UInt8](repeating: 0, count: 16)))
    }
    return bytes
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let choice = input.byte()
    let recording = recordings[Int(choice & 1)]
    let version: ProtocolVersion = choice & 1 == 0 ? .v02 : .v03
    var entropy = CountingEntropy(counter: UInt64(choice))
    let pick = Int(choice >> 1) % (recording.deliveries.count + 1)
    var receiver: CryptoServer
    var datagram: [UInt8]
    var host: [UInt8]
    // Bit 0x40 of the flags: let the server's timers run after the datagram. Not every time: a timer
    // that starts a handshake hashes the peer's 524 KB public key, which would dominate every input.
    let flags = input.byte()
    let runTimers = flags & 0x40 != 0
    if pick == recording.deliveries.count {
        // Raw bytes to a fresh responder and to an initiator waiting for its RespHello.
        let delivery = recording.deliveries[flags % 2 == 0 ? 0 : 2]
        receiver = delivery.receiver
        datagram = input.rest()
        host = delivery.host
    } else {
        let delivery = recording.deliveries[pick]
        receiver = delivery.receiver
        datagram = mutate(delivery.message, for: receiver, version: version, flags: flags, input: &input)
        host = delivery.host
    }
    let now = Double(input.below(400)) * 0.5
    let before = receiver.state
    do {
        let outcome = try receiver.handle(datagram: datagram, from: host, now: now, entropy: &entropy)
        if runTimers { _ = receiver.poll(now: now + 1, entropy: &entropy) }
        _ = outcome
    } catch {
        // The one thing a dropped datagram may change: an InitHello whose MAC verified costs McEliece
        // work, and counts against the DoS budgets whatever happens next.
        var expected = before
        expected.load = receiver.state.load
        expected.sources = receiver.state.sources
        if receiver.state != expected {
            fatalError("a dropped datagram changed the server's state: \(error)")
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzDatagrams_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
