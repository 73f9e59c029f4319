// Fuzz target 3: the privileged broker's stdin protocol, through its real I/O loop
// (`PrivilegedBrokerServer`) with a backend that records instead of touching WireGuard.
//
// The input is the whole byte stream on the broker's stdin. Checked beyond "no crash": the loop
// ends (it never waits for more input than arrives), and every response it writes is a valid frame.

import FuzzingSupport
import Glibc
import Logging
import RosenpassBroker

final class RecordingBackend: WireGuardBackend {
    var calls = 0
    func setPresharedKey(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, interface: String) -> SetPskOutcome {
        calls += 1
        return interface.hasPrefix("wg") ? .installed : .noSuchInterface
    }
}

let quiet: Logger = {
    var logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
    logger.logLevel = .critical
    return logger
}()

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard count <= 60_000 else { return 0 }  // the whole input fits the pipe, so writing it cannot block
    var input: [Int32] = [-1, -1]
    var output: [Int32] = [-1, -1]
    guard pipe(&input) == 0, pipe(&output) == 0 else { fatalError("pipe: \(errno)") }
    // Room for every response (13 bytes per frame of at least 8), so the loop never blocks on output.
    _ = fcntl(output[1], 1031 /* F_SETPIPE_SZ */, Int32(1 << 20))
    if let data, count > 0 { guard write(input[1], data, count) == count else { fatalError("short write") } }
    close(input[1])
    let broker = PrivilegedBroker(backend: RecordingBackend(), maxKeyAge: 300, logger: quiet)
    let server = PrivilegedBrokerServer(broker: broker, input: input[0], output: output[1], logger: quiet)
    try? server.run()  // an error ends the stream: allowed; a hang or a crash is not
    close(input[0])
    close(output[1])
    var responses = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let got = read(output[0], &chunk, chunk.count)
        if got <= 0 { break }
        responses += chunk.prefix(got)
    }
    close(output[0])
    // Every response is an 8-byte length of 5 and a valid response payload.
    guard responses.count % 13 == 0 else { fatalError("a response is not a 13-byte frame") }
    for start in stride(from: 0, to: responses.count, by: 13) {
        guard responses[start] == 5, responses[(start + 1)..<(start + 8)].allSatisfy({ $0 == 0 }),
            (try? SetPskResponse(decodingPayload: responses[(start + 8)..<(start + 13)])) != nil
        else { fatalError("an invalid response frame") }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzPrivilegedBroker_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
