// The socket handler's decisions without its I/O: clients, the queue for the one privileged child,
// the request in flight, time-outs, restarts and who makes room (docs/broker-limits.md).

import Logging
import RosenpassBroker
import RosenpassSystem

/// What a ``SocketHandler`` knows and decides: its clients (what each has sent, whether it waits
/// for an answer), the queue of requests for the privileged child, the request in flight, the
/// child's restarts and back-off, and the clients' deadlines.
///
/// It does no I/O and reads no clock. The handler's loop tells it what happened (a connection, bytes
/// from a client, an answer written, the child's output, the child's end) with the time `now`
/// (seconds on `POSIX.timerClock`), and carries out the ``Effect``s it asks for in order. Tests drive
/// it with a fake clock and no processes.
package final class SocketHandlerState {
    /// What the I/O around the state must do, in order.
    package enum Effect {
        /// Write `bytes` (one answer frame) to client `client`; report ``SocketHandlerState/answerWritten(to:now:)``
        /// once all of it is out.
        case send(client: Int, bytes: [UInt8])
        /// Close client `client`'s connection. The state has forgotten it already.
        case disconnect(client: Int)
        /// Start the privileged child with the configured command followed by `extraArguments`; report
        /// ``SocketHandlerState/childStarted(pid:now:)`` or ``SocketHandlerState/childDidNotStart(_:now:)``.
        case startChild(extraArguments: [String])
        /// Write this request's frame to the child's stdin; report a failure with
        /// ``SocketHandlerState/childInputFailed(_:now:)``.
        case writeToChild(PendingRequest)
        /// Kill the child and reap it; report ``SocketHandlerState/childEnded(pid:how:now:)``.
        case killChild
    }

    /// One request waiting for the child; the frame's bytes are wiped when it is released.
    package final class PendingRequest {
        /// The client that sent it.
        package let clientID: Int
        /// The whole frame: length prefix and payload.
        package let frame: UnsafeMutableRawBufferPointer
        /// The request's (public) interface and peer, when it is a well-formed SetPsk request.
        package let pair: PeerOnInterface?

        init(clientID: Int, payload: UnsafeRawBufferPointer) {
            self.clientID = clientID
            pair = SetPskRequest.target(ofPayload: payload)
            frame = .allocate(byteCount: BrokerWire.lengthPrefixSize + payload.count, alignment: 8)
            let prefix = LengthPrefixedFrames.lengthPrefix(payload.count)
            prefix.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: frame[0..<8]).copyMemory(from: $0) }
            UnsafeMutableRawBufferPointer(rebasing: frame[8...]).copyMemory(from: payload)
        }

        deinit {
            wipe(frame)
            frame.deallocate()
        }
    }

    private final class Client {
        let id: Int
        let label: String
        let connectedAt: Double
        var decoder = FrameDecoder(maximumPayload: BrokerWire.requestSize)
        /// A request of its is queued or in flight.
        var awaitingAnswer = false
        /// An answer is being written to it.
        var answering = false
        /// Well-formed SetPsk requests taken from it (whether granted or not): a client that only
        /// sent junk has not shown it speaks the protocol.
        var requests = 0
        /// When it last sent a well-formed request (or connected, before the first).
        var lastRequestAt: Double
        /// When the first byte of the frame being read arrived, while one is incomplete.
        var partialSince: Double?

        init(id: Int, label: String, connectedAt: Double) {
            self.id = id
            self.label = label
            self.connectedAt = connectedAt
            lastRequestAt = connectedAt
        }

        var idle: Bool { !awaitingAnswer && !answering }
    }

    private enum Child {
        /// Running as `pid`; `killing` once its end was asked for.
        case running(pid: Int32, killing: Bool)
        /// Not running; the next start is due at `restartAt`, or is under way when `starting`.
        case absent(restartAt: Double, starting: Bool)
    }

    private let configuration: SocketHandler.Configuration
    private let logger: Logger
    private var clients: [Int: Client] = [:]
    private var nextClientID = 0
    private var queue: [PendingRequest] = []
    private var inFlight: (request: PendingRequest, since: Double)?
    private var child: Child = .absent(restartAt: 0, starting: false)
    private var childDecoder = FrameDecoder(maximumPayload: BrokerWire.responseSize)
    private var childBackoff = 0.1
    /// When each pair last got a key through us; only with `maxKeyAge`.
    private var lastInstalled: [PeerOnInterface: Double] = [:]
    /// Lines about clients that misbehave or do not fit: at most 10 per 10 s, then a count.
    private var clientProblems = LogBudget()
    private var effects: [Effect] = []

    /// A state with no clients and no child (its start is due at once).
    package init(configuration: SocketHandler.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The next effect to carry out, oldest first.
    package func takeEffect() -> Effect? {
        effects.isEmpty ? nil : effects.removeFirst()
    }

    /// How many clients are connected.
    package var clientCount: Int { clients.count }

    /// Whether client `id` may send more now (it is not waiting for an answer): only then is it read.
    package func readsFrom(_ id: Int) -> Bool {
        clients[id].map { !$0.awaitingAnswer } ?? false
    }

    // MARK: - Clients

    /// A connection arrived; `label` names it in logs, given its id (with uid and pid when known).
    /// Returns its id, or nil when it is refused: at `maximumClients` another client makes room if one can.
    package func connected(now: Double, label: (Int) -> String) -> Int? {
        if clients.count >= configuration.maximumClients && !makeRoom(now: now) {
            problem("refusing a connection: already serving \(clients.count) clients, each with a request in flight", now: now)
            return nil
        }
        let label = label(nextClientID)
        let client = Client(id: nextClientID, label: label, connectedAt: now)
        nextClientID += 1
        clients[client.id] = client
        logger.info("\(label) connected")
        return client.id
    }

    /// Client `id` sent bytes: `read` stores them into the free space it is given and returns how many
    /// (0: the client closed its end; negative: nothing was there). Takes at most one request from it
    /// (lock-step).
    package func receive(from id: Int, now: Double, read: (UnsafeMutableRawBufferPointer) throws -> Int) {
        guard let client = clients[id], !client.awaitingAnswer else { return }
        let got: Int
        do {
            got = try client.decoder.readInto(read)
        } catch {
            drop(client, reason: "\(error)")
            return
        }
        if got < 0 { return }  // nothing there after all
        if got == 0 {
            drop(client, reason: client.decoder.bufferedByteCount > 0 ? "closed in the middle of a frame" : "closed")
            return
        }
        if client.partialSince == nil { client.partialSince = now }
        takeRequest(from: client, now: now)
    }

    /// Client `id` hung up (or its socket failed) while it waits for an answer, or a write to it failed.
    package func lost(_ id: Int, reason: String) {
        guard let client = clients[id] else { return }
        drop(client, reason: reason)
    }

    /// The whole answer reached client `id`: its next buffered request, if any, may go.
    package func answerWritten(to id: Int, now: Double) {
        guard let client = clients[id] else { return }
        client.answering = false
        takeRequest(from: client, now: now)
    }

    /// The handler stops: every client is disconnected.
    package func disconnectAll() {
        for client in clients.values.sorted(by: { $0.id < $1.id }) { drop(client, reason: "handler stopping") }
    }

    private func drop(_ client: Client, reason: String) {
        guard clients.removeValue(forKey: client.id) != nil else { return }
        client.decoder.reset()
        effects.append(.disconnect(client: client.id))
        logger.info("\(client.label) disconnected: \(reason)")
    }

    /// Logs a line about a misbehaving client within the budget.
    private func problem(_ line: @autoclosure () -> String, now: Double) {
        if let line = clientProblems.admit(line(), now: now) { logger.warning("\(line)") }
    }

    /// At capacity: disconnects the longest-connected client that has never sent a well-formed
    /// request, or else the one whose last request is oldest; never one with a request in flight.
    /// (An honest client that is displaced while idle reconnects and is served at once.)
    private func makeRoom(now: Double) -> Bool {
        let idle = clients.values.filter(\.idle)
        let silent = idle.filter { $0.requests == 0 }
        let chosen = silent.isEmpty
            ? idle.min(by: { ($0.lastRequestAt, $0.id) < ($1.lastRequestAt, $1.id) })
            : silent.min(by: { ($0.connectedAt, $0.id) < ($1.connectedAt, $1.id) })
        guard let chosen else { return false }
        let why = chosen.requests == 0 ? "it has sent no request" : "its last request is the oldest"
        problem("\(chosen.label) disconnected to make room for a new connection: \(clients.count) clients, and \(why)", now: now)
        drop(chosen, reason: "made room for a new connection")
        return true
    }

    /// Takes at most one request from `client` (lock-step); more frames stay buffered.
    private func takeRequest(from client: Client, now: Double) {
        guard client.idle else { return }
        do {
            let frame = try client.decoder.nextFrame { payload in PendingRequest(clientID: client.id, payload: payload) }
            switch frame {
            case nil:
                return
            case .payload(let request):
                if request.pair != nil {
                    client.requests += 1
                    client.lastRequestAt = now
                }
                client.partialSince = client.decoder.bufferedByteCount > 0 ? now : nil
                client.awaitingAnswer = true
                queue.append(request)
            case .oversized(let length):
                client.partialSince = client.decoder.bufferedByteCount > 0 ? now : nil
                problem("\(client.label) sent a \(length)-byte frame (requests are \(BrokerWire.requestSize)); answering InternalError", now: now)
                answer(client, with: SetPskResponse(.internalError).encodedFrame)
            }
        } catch {
            problem("\(client.label) is not speaking the broker protocol (\(error)); disconnecting", now: now)
            drop(client, reason: "protocol error")
        }
    }

    private func answer(_ client: Client, with bytes: [UInt8]) {
        client.awaitingAnswer = false
        client.answering = true
        effects.append(.send(client: client.id, bytes: bytes))
    }

    // MARK: - The child

    /// The child started as `pid`.
    package func childStarted(pid: Int32, now: Double) {
        child = .running(pid: pid, killing: false)
        childDecoder.reset()
        logger.info("started the privileged broker \(configuration.command.joined(separator: " ")) as pid \(pid)")
        dispatch(now: now)
    }

    /// The child could not be started; another try follows after the back-off.
    package func childDidNotStart(_ reason: String, now: Double) {
        scheduleRestart(reason: reason, now: now)
        dispatch(now: now)
    }

    /// The child's output: `read` stores bytes as for ``receive(from:now:read:)`` (0: it closed its end).
    package func childOutput(now: Double, read: (UnsafeMutableRawBufferPointer) throws -> Int) {
        guard case .running(_, false) = child else { return }
        let got: Int
        do {
            got = try childDecoder.readInto(read)
        } catch {
            logger.error("\(error)")
            killChild()
            return
        }
        if got < 0 { return }
        if got == 0 {
            logger.error("the privileged broker closed its output")
            killChild()
            return
        }
        while case .running(_, false) = child {
            let frame: DecodedFrame<[UInt8]>?
            do {
                frame = try childDecoder.nextFrame { Array($0) }
            } catch {
                logger.error("the privileged broker sent garbage (\(error)); restarting it")
                killChild()
                return
            }
            guard let frame else { return }
            switch frame {
            case .payload(let payload):
                guard inFlight != nil, let response = try? SetPskResponse(decodingPayload: payload) else {
                    logger.error("the privileged broker sent an unexpected or malformed response; restarting it")
                    killChild()
                    return
                }
                childBackoff = 0.1
                if configuration.maxKeyAge != nil, response.returnCode == .success, let pair = inFlight?.request.pair {
                    lastInstalled[pair] = now
                }
                answerInFlight(LengthPrefixedFrames.encode(payload))
                dispatch(now: now)
            case .oversized:
                logger.error("the privileged broker sent an oversized response; restarting it")
                killChild()
                return
            }
        }
    }

    /// Writing a request to the child failed: it is restarted.
    package func childInputFailed(_ reason: String, now: Double) {
        logger.error("writing to the privileged broker failed: \(reason)")
        killChild()
    }

    /// The child `pid` ended (`how`: "exited with status 1", "killed by signal 9"), by itself or
    /// after ``Effect/killChild``. The request in flight is answered InternalError and a new child is
    /// started after the back-off.
    package func childEnded(pid: Int32, how: String, now: Double) {
        guard case .running(_, let killing) = child else { return }
        logger.error("the privileged broker (pid \(pid)) \(how)")
        child = .absent(restartAt: now, starting: false)
        childDecoder.reset()
        answerInFlight(SetPskResponse(.internalError).encodedFrame)
        scheduleRestart(reason: killing ? "it stopped" : "it exited", now: now)
    }

    private func killChild() {
        guard case .running(let pid, false) = child else { return }
        child = .running(pid: pid, killing: true)
        effects.append(.killChild)
    }

    private func scheduleRestart(reason: String, now: Double) {
        logger.error("cannot run the privileged broker: \(reason); retrying in \(childBackoff) s")
        child = .absent(restartAt: now + childBackoff, starting: false)
        childBackoff = min(childBackoff * 2, 5)
    }

    /// `--carry-over-timer` arguments for the pairs whose keys came through us; pairs whose time is up
    /// are passed once more (with 0 s) and then forgotten.
    private func carriedOverTimerArguments(now: Double) -> [String] {
        guard let maxKeyAge = configuration.maxKeyAge, !lastInstalled.isEmpty else { return [] }
        var arguments: [String] = []
        for (pair, installed) in lastInstalled.sorted(by: { $0.value < $1.value }) {
            let remaining = installed + maxKeyAge - now
            arguments += ["--carry-over-timer", CarriedOverKeyTimer(pair: pair, remainingSeconds: remaining).argument]
            if remaining <= 0 { lastInstalled[pair] = nil }
        }
        return arguments
    }

    private func dispatch(now: Double) {
        guard inFlight == nil, !queue.isEmpty else { return }
        switch child {
        case .running(_, false):
            let request = queue.removeFirst()
            inFlight = (request, now)
            effects.append(.writeToChild(request))
        case .running(_, true), .absent(_, true):
            return  // its end, or its start, is under way; the queue waits for the outcome
        case .absent(_, false):
            // No broker process right now (it cannot be started, or is being restarted): answer
            // rather than hold clients; they retry.
            logger.warning("no privileged broker is running; answering \(queue.count) request(s) with InternalError")
            let waiting = queue
            queue.removeAll()
            for request in waiting { deliver(SetPskResponse(.internalError).encodedFrame, to: request.clientID) }
        }
    }

    private func answerInFlight(_ response: [UInt8]) {
        guard let (request, _) = inFlight else { return }
        inFlight = nil
        if let pair = request.pair, let client = clients[request.clientID] {
            // Who set which key: the audit line the privileged broker cannot write (it sees no clients).
            let code = (try? SetPskResponse(decodingPayload: response.dropFirst(BrokerWire.lengthPrefixSize)))?.returnCode
            logger.notice("\(client.label): SetPsk for peer \(pair.peer) on interface \(pair.interface): \(code.map { "\($0)" } ?? "no answer")")
        }
        deliver(response, to: request.clientID)
    }

    private func deliver(_ response: [UInt8], to clientID: Int) {
        guard let client = clients[clientID] else { return }
        answer(client, with: response)
    }

    // MARK: - Time

    /// Everything that is due at `now`: clients whose frame or first request is overdue, a child that
    /// has not answered within `childTimeout`, a child start that is due, the next request for the
    /// child, and the count of client lines held back.
    package func tick(now: Double) {
        for client in clients.values.sorted(by: { $0.id < $1.id }) where client.idle {
            if let since = client.partialSince, now - since > configuration.frameTimeout {
                problem("\(client.label) sent \(client.decoder.bufferedByteCount) bytes of a frame and not the rest within \(formatSeconds(configuration.frameTimeout)); disconnecting", now: now)
                drop(client, reason: "incomplete frame")
            } else if client.requests == 0, client.partialSince == nil, now - client.connectedAt > configuration.idleTimeout {
                drop(client, reason: "no request within \(formatSeconds(configuration.idleTimeout)) of connecting")
            }
        }
        if let summary = clientProblems.summary(now: now, describing: "lines about clients") { logger.warning("\(summary)") }
        if let inFlight, case .running(_, false) = child, now - inFlight.since > configuration.childTimeout {
            logger.error("the privileged broker did not answer within \(formatSeconds(configuration.childTimeout)); restarting it")
            killChild()
        }
        if case .absent(let restartAt, false) = child, now >= restartAt {
            child = .absent(restartAt: restartAt, starting: true)
            effects.append(.startChild(extraArguments: carriedOverTimerArguments(now: now)))
        }
        dispatch(now: now)
    }

    /// When ``tick(now:)`` next has something to do (at most a second ahead).
    package func nextDeadline(now: Double) -> Double {
        var wake = now + 1
        switch child {
        case .absent(let restartAt, false): wake = min(wake, restartAt)
        case .running(_, false): if let inFlight { wake = min(wake, inFlight.since + configuration.childTimeout) }
        default: break
        }
        for client in clients.values where client.idle {
            if let since = client.partialSince { wake = min(wake, since + configuration.frameTimeout) }
            if client.requests == 0 { wake = min(wake, client.connectedAt + configuration.idleTimeout) }
        }
        if let summaryAt = clientProblems.nextSummaryAt { wake = min(wake, summaryAt) }
        return wake
    }
}
