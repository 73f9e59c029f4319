// The broker message and frame codecs (docs/components.md §1, §9 items 1 and 2).

import Testing
@testable import RosenpassBroker
import RosenpassTestSupport

private struct FrameFixtures: Decodable {
    struct Request: Decodable { var name, interface, psk, peer, frame: String }
    struct Malformed: Decodable { var name, payload: String }
    struct Response: Decodable { var name, frame: String; var code: UInt8 }
    var requests: [Request]
    var malformedRequests: [Malformed]
    var responses: [Response]
    var malformedResponses: [Malformed]
}

private func fixtures() throws -> FrameFixtures { try Fixtures.json(FrameFixtures.self, "broker-frames.json") }

@Suite struct BrokerCodecTests {
    @Test func encodeRequest_matchesKnownFrames() throws {
        for known in try fixtures().requests {
            let request = try SetPskRequest(interface: known.interface, peer: WireGuardPublicKey(Hex.decode(known.peer))!,
                                            presharedKey: PresharedKey(Hex.decode(known.psk))!)
            var payload = [UInt8](repeating: 0xaa, count: BrokerWire.requestSize)
            payload.withUnsafeMutableBytes { request.encodePayload(into: $0) }
            #expect(Hex.encode(LengthPrefixedFrames.encode(payload)) == known.frame, "\(known.name)")
        }
    }

    @Test func decodeRequest_readsKnownFrames() throws {
        for known in try fixtures().requests {
            var decoder = FrameDecoder(maximumPayload: BrokerWire.requestSize)
            decoder.append(Hex.decode(known.frame))
            let frame = try decoder.nextFrame { try SetPskRequest(decodingPayload: $0) }
            guard case .payload(let request)? = frame else {
                Issue.record("\(known.name): no frame")
                continue
            }
            #expect(request.interface == known.interface)
            #expect(request.peer.rawBytes == Hex.decode(known.peer))
            #expect(request.presharedKey.withUnsafeBytes { Array($0) } == Hex.decode(known.psk))
            #expect(decoder.bufferedByteCount == 0)
        }
    }

    @Test func decodeRequest_ignoresReservedBytesAndTrailingNameBytes() throws {
        var payload = Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2))
        payload[1] = 0x7f
        payload[3] = 0xff
        payload[100] = 0x41  // beyond iface_len: does not count
        let request = try payload.withUnsafeBytes { try SetPskRequest(decodingPayload: $0) }
        #expect(request.interface == "wg0")
    }

    @Test func decodeRequest_rejectsMalformedPayloads() throws {
        for bad in try fixtures().malformedRequests {
            #expect(throws: BrokerError.self, "\(bad.name)") {
                try Hex.decode(bad.payload).withUnsafeBytes { try SetPskRequest(decodingPayload: $0) }
            }
        }
    }

    @Test func request_rejectsNamesLongerThan255Bytes() {
        #expect(throws: BrokerError.self) {
            try SetPskRequest(interface: String(repeating: "x", count: 256), peer: Frames.peer(1), presharedKey: Frames.psk(1))
        }
    }

    @Test func responses_roundTripKnownFrames() throws {
        for known in try fixtures().responses {
            let response = SetPskResponse(BrokerReturnCode(rawValue: known.code)!)
            #expect(Hex.encode(response.encodedFrame) == known.frame, "\(known.name)")
            var decoder = FrameDecoder(maximumPayload: BrokerWire.responseSize)
            decoder.append(Hex.decode(known.frame))
            guard case .payload(let payload)? = try decoder.nextFrame({ Array($0) }) else {
                Issue.record("\(known.name): no frame")
                continue
            }
            #expect(try SetPskResponse(decodingPayload: payload).returnCode.rawValue == known.code)
        }
    }

    @Test func decodeResponse_rejectsUnknownTypesCodesAndSizes() throws {
        for bad in try fixtures().malformedResponses {
            #expect(throws: BrokerError.self, "\(bad.name)") { try SetPskResponse(decodingPayload: Hex.decode(bad.payload)) }
        }
    }

    @Test func frameHeader_isEightBytesLittleEndian() {
        #expect(LengthPrefixedFrames.lengthPrefix(324) == [0x44, 0x01, 0, 0, 0, 0, 0, 0])
        #expect(LengthPrefixedFrames.encode([1, 2, 3]) == [3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])
    }

    @Test func decoder_reportsNothingWithoutData() throws {
        var decoder = FrameDecoder(maximumPayload: BrokerWire.responseSize)
        #expect(try decoder.nextFrame({ Array($0) }) == nil)
    }

    @Test func decoder_waitsForPartialFramesAndResumes() throws {
        let frame = SetPskResponse(.noSuchPeer).encodedFrame + SetPskResponse(.success).encodedFrame
        // Feed byte by byte: no frame before the 13th byte, then exactly one per 13 bytes.
        var decoder = FrameDecoder(maximumPayload: BrokerWire.responseSize)
        var decoded: [[UInt8]] = []
        for (index, byte) in frame.enumerated() {
            decoder.append([byte])
            while case .payload(let payload)? = try decoder.nextFrame({ Array($0) }) { decoded.append(payload) }
            #expect(decoded.count == (index + 1) / 13)
        }
        #expect(decoded == [[1, 0, 0, 0, 3], [1, 0, 0, 0, 0]])
    }

    @Test func decoder_skipsOversizedFramesAndStaysInStep() throws {
        var decoder = FrameDecoder(maximumPayload: BrokerWire.requestSize)
        decoder.append(Frames.frame([UInt8](repeating: 0xee, count: 400)))
        let good = Frames.requestPayload(interface: "wg1", psk: Frames.key(3), peer: Frames.key(4))
        decoder.append(Frames.frame(good))
        guard case .oversized(let length)? = try decoder.nextFrame({ Array($0) }) else {
            Issue.record("oversized frame not reported")
            return
        }
        #expect(length == 400)
        guard case .payload(let payload)? = try decoder.nextFrame({ Array($0) }) else {
            Issue.record("the frame after the oversized one was lost")
            return
        }
        #expect(payload == good)
    }

    @Test func decoder_throwsForLengthsNoFrameCanHave() {
        var decoder = FrameDecoder(maximumPayload: BrokerWire.requestSize)
        decoder.append(LengthPrefixedFrames.lengthPrefix(1 << 40))
        #expect(throws: BrokerError.self) { try decoder.nextFrame { Array($0) } }
    }

    @Test func presharedKey_neverPrintsItsBytes() {
        let key = Frames.psk(9)
        #expect("\(key)" == "PresharedKey(redacted)")
        #expect(String(reflecting: key) == "PresharedKey(redacted)")
        #expect(key.constantTimeEquals(Frames.psk(9)))
        #expect(!key.constantTimeEquals(Frames.psk(10)))
        #expect(!PresharedKey.random().constantTimeEquals(PresharedKey.random()))
    }

    @Test func publicKey_base64RoundTripAndChecks() {
        let key = Frames.peer(5)
        #expect(WireGuardPublicKey(base64: key.base64) == key)
        #expect(key.base64.count == 44)
        #expect(WireGuardPublicKey(base64: "Zm9v") == nil)
        #expect(WireGuardPublicKey(base64: String(key.base64.dropLast()) + "!") == nil)
    }

    @Test func interfaceNames_onlyWhatLinuxAllows() {
        #expect(WireGuardInterfaceName.isValid("wg0"))
        #expect(WireGuardInterfaceName.isValid("rosenpass-wg-15"))
        for bad in ["", ".", "..", "../etc", "a/b", "wg 0", "wg:0", "sixteen-bytes-xx"] {
            #expect(!WireGuardInterfaceName.isValid(bad), "\(bad)")
        }
    }
}
