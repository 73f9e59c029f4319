// The privileged broker's I/O loop: frames in on one fd, responses out on another.

#if canImport(Glibc)
import Glibc
#endif
import Logging
import RosenpassSystem

/// Runs a ``PrivilegedBroker`` over a byte stream: stdin/stdout as the reference does, or one
/// inherited socket (`--fd N`) for both directions (docs/components.md §2.1).
///
/// Every frame gets exactly one response frame, in order. A frame whose payload is not a valid
/// request is answered with InternalError and the stream goes on; a frame longer than 324 bytes (up
/// to 64 KiB) is answered with InternalError and skipped; a length beyond that cannot be a broker
/// frame, so the stream is given up. While waiting for input the loop wakes for the fail-closed timers.
public struct PrivilegedBrokerServer {
    private let broker: PrivilegedBroker
    private let input: Int32
    private let output: Int32
    private let logger: Logger

    /// Creates the loop; `input` and `output` may be the same socket.
    public init(broker: PrivilegedBroker, input: Int32, output: Int32, logger: Logger) {
        self.broker = broker
        self.input = input
        self.output = output
        self.logger = logger
    }

    /// Serves until the input ends.
    /// - Throws: ``BrokerError`` when reading or writing fails, or the stream is beyond repair.
    public func run() throws {
        var decoder = FrameDecoder(maximumPayload: BrokerWire.requestSize)
        while true {
            let timeout: Int32
            if let deadline = broker.nextWake {
                // At most 5 s: poll's timeout stands still while the machine is suspended, the
                // fail-closed deadlines (on POSIX.timerClock) do not.
                timeout = Int32(max(0, min((deadline - POSIX.monotonicNow()) * 1000 + 1, 5_000)))
            } else {
                timeout = -1
            }
            let events = POSIX.waitFor(input, events: Int16(POLLIN), timeoutMilliseconds: timeout)
            if events == 0 {
                broker.wake()
                continue
            }
            let got = try decoder.readInto { free in
                try POSIX.readSome(input, into: free, context: "broker input") ?? 0
            }
            if got == 0 {
                guard decoder.bufferedByteCount == 0 else {
                    throw BrokerError.connectionClosed("broker input ended inside a frame")
                }
                return
            }
            while let frame = try decoder.nextFrame({ payload in broker.handle(payload: payload) }) {
                let response: SetPskResponse
                switch frame {
                case .payload(let answer):
                    response = answer
                case .oversized(let length):
                    broker.refused("refused a \(length)-byte frame (requests are \(BrokerWire.requestSize) bytes); skipping it")
                    response = SetPskResponse(.internalError)
                }
                try POSIX.writeAll(output, response.encodedFrame, context: "broker output")
            }
            if let deadline = broker.nextWake, deadline <= POSIX.monotonicNow() {
                broker.wake()
            }
        }
    }
}
