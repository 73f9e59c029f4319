// Fuzz target 2: the PSK broker's wire format as the socket handler, the privileged broker and the
// daemon's client decode it: length-prefixed frames arriving in arbitrary pieces, SetPsk requests and
// responses, and the broker's allow-list policy file.
//
// Checked beyond "no crash": a frame decoder fed the same stream in different pieces hands out the
// same frames, and a request that decodes encodes back to the same payload (but for the reserved
// bytes and the name's padding, which decoding ignores).

import FuzzingSupport
import RosenpassBroker

/// The frames of `stream`, fed in pieces whose sizes the input chooses.
func frames(of stream: [UInt8], maximumPayload: Int, pieces: inout FuzzInput) -> [[UInt8]]? {
    var decoder = FrameDecoder(maximumPayload: maximumPayload)
    var result: [[UInt8]] = []
    var offset = 0
    while offset < stream.count {
        let size = min(stream.count - offset, 1 + pieces.below(600))
        stream[offset..<(offset + size)].withUnsafeBytes { decoder.append($0) }
        offset += size
        do {
            while let frame = try decoder.nextFrame({ Array($0) }) {
                switch frame {
                case .payload(let payload): result.append(payload)
                case .oversized(let length): result.append([UInt8](repeating: 0xEE, count: 1) + Array(String(length).utf8))
                }
            }
        } catch {
            return nil  // the stream is beyond repair: the caller drops the connection
        }
    }
    return result
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let stream = input.take(input.below(4096))
    switch mode % 3 {
    case 0, 1:
        let maximum = mode % 3 == 0 ? BrokerWire.requestSize : 5
        var whole = FuzzInput([255, 255])  // one piece
        var pieces = input
        let once = frames(of: stream, maximumPayload: maximum, pieces: &whole)
        let inPieces = frames(of: stream, maximumPayload: maximum, pieces: &pieces)
        guard once == inPieces else { fatalError("the frames depend on how the stream was split") }
        for payload in once ?? [] {
            if maximum == BrokerWire.requestSize {
                if let request = try? payload.withUnsafeBytes({ try SetPskRequest(decodingPayload: $0) }) {
                    var encoded = [UInt8](repeating: 0, count: BrokerWire.requestSize)
                    encoded.withUnsafeMutableBytes { request.encodePayload(into: $0) }
                    // The reserved bytes and the padding after the name are ignored when decoding.
                    var canonical = payload
                    for index in 1..<4 { canonical[index] = 0 }
                    for index in (69 + Int(payload[68]))..<canonical.count { canonical[index] = 0 }
                    guard encoded == canonical else { fatalError("a request does not encode back to its payload") }
                }
            } else {
                _ = try? SetPskResponse(decodingPayload: payload)
            }
        }
    default:
        var policy = BrokerPolicy()
        _ = try? policy.addRules(fromText: String(decoding: stream, as: UTF8.self), path: "fuzz.policy")
        _ = policy.summary
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzBrokerFrames_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
