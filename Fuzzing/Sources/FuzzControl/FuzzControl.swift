// Fuzz target 9: the control socket's parsers (docs/control-socket.md): request frames as the
// daemon's control server reassembles and decodes them, responses and status JSON as `rosenpass
// status` reads them, and HTTP request heads as the metrics listener answers them.
//
// Checked beyond "no crash": a request that decodes encodes back to the same payload; every payload
// gets either a request or a refusal that encodes as a valid response; the HTTP listener answers
// every head longer than its limit instead of waiting for more.

import FuzzingSupport
import RosenpassBroker

@testable import RosenpassApp

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let bytes = input.rest()
    switch mode % 4 {
    case 0:
        // A stream of request frames, with the limits the server uses.
        var decoder = FrameDecoder(maximumPayload: ControlProtocol.maximumRequest, discardLimit: UInt64(ControlProtocol.maximumRequest) * 16)
        decoder.append(bytes)
        while let frame = try? decoder.nextFrame({ Array($0) }) {
            guard case .payload(let payload) = frame else { continue }
            switch ControlRequest.decode(payload) {
            case .request(let request):
                guard request.encodedPayload == payload else { fatalError("a request does not encode back to its payload") }
            case .refused(let response):
                guard (try? ControlResponse(decoding: response.encodedPayload)) == response else {
                    fatalError("a refusal is not a valid response")
                }
            }
        }
    case 1:
        if let response = try? ControlResponse(decoding: bytes), response.encodedPayload != bytes {
            fatalError("a response does not encode back to its payload")
        }
    case 2:
        _ = try? DaemonStatus(json: bytes)
    default:
        let answer = MetricsHTTPServer.respond(to: bytes) { "m 1\n" }
        if bytes.count > MetricsHTTPServer.maximumRequest && answer == nil {
            fatalError("a request head over the limit got no answer")
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzControl_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
