// The socket handler's decisions on a fake clock: routing and lock-step, frame and idle time-outs,
// who makes room, the child's time-out, restarts and back-off, carried-over key timers. No socket,
// process or sleep: a harness carries out the effects and plays the child.

import Testing
@testable import RosenpassBroker
@testable import RosenpassSocketHandler

/// Drives a ``SocketHandlerState`` as the handler's loop would, recording what it asks for.
private final class Harness {
    let state: SocketHandlerState
    let logs = LogCapture()
    var now = 0.0
    /// Answers written to each client.
    var answers: [Int: [[UInt8]]] = [:]
    var disconnected: [Int] = []
    /// Interface names of the requests written to the child, in order.
    var toChild: [String] = []
    var starts: [[String]] = []
    var kills = 0
    /// Whether the next child start fails.
    var startFails = false
    private var nextPID: Int32 = 100
    private(set) var childPID: Int32?

    init(_ configure: (inout SocketHandler.Configuration) -> Void = { _ in }) {
        var configuration = SocketHandler.Configuration(source: .listenDescriptor(-1), command: ["privileged"])
        configure(&configuration)
        state = SocketHandlerState(configuration: configuration, logger: logs.logger)
        tick()  // the first child starts
    }

    func carryOut() {
        while let effect = state.takeEffect() {
            switch effect {
            case .send(let client, let bytes):
                answers[client, default: []].append(bytes)
                state.answerWritten(to: client, now: now)
            case .disconnect(let client):
                disconnected.append(client)
            case .startChild(let extra):
                starts.append(extra)
                if startFails {
                    state.childDidNotStart("no such file", now: now)
                } else {
                    nextPID += 1
                    childPID = nextPID
                    state.childStarted(pid: nextPID, now: now)
                }
            case .writeToChild(let request):
                toChild.append(request.pair?.interface ?? "(not a SetPsk request)")
            case .killChild:
                kills += 1
                childEnds(how: "killed by signal 9")
            }
        }
    }

    func tick() {
        state.tick(now: now)
        carryOut()
    }

    func advance(to time: Double) {
        now = time
        tick()
    }

    func connect() -> Int? {
        let id = state.connected(now: now) { "client \($0)" }
        carryOut()
        return id
    }

    func send(_ bytes: [UInt8], from client: Int) {
        var rest = bytes[...]
        while !rest.isEmpty, state.readsFrom(client) {
            state.receive(from: client, now: now) { free in
                let count = min(free.count, rest.count)
                free.copyBytes(from: rest.prefix(count))
                rest = rest.dropFirst(count)
                return count
            }
            carryOut()
        }
        tick()
    }

    func request(_ interface: String, from client: Int) {
        send(Frames.frame(Frames.requestPayload(interface: interface, psk: Frames.key(1), peer: Frames.key(2))), from: client)
    }

    func childAnswers(_ code: BrokerReturnCode) {
        let frame = SetPskResponse(code).encodedFrame
        state.childOutput(now: now) { free in
            free.copyBytes(from: frame)
            return frame.count
        }
        carryOut()
        tick()
    }

    func childEnds(how: String) {
        guard let pid = childPID else { return }
        childPID = nil
        state.childEnded(pid: pid, how: how, now: now)
    }

    func lastAnswer(of client: Int) -> BrokerReturnCode? {
        answers[client]?.last.flatMap { try? SetPskResponse(decodingPayload: $0.dropFirst(8)).returnCode }
    }

    var warnings: [String] { logs.lines.filter { $0.hasPrefix("warning") } }
}

@Suite struct SocketHandlerStateTests {
    @Test func answersGoToTheClientThatAsked_oneRequestAtATime() throws {
        let harness = Harness()
        #expect(harness.starts == [[]])
        let a = try #require(harness.connect())
        let b = try #require(harness.connect())
        harness.request("wg-a", from: a)
        harness.request("wg-b", from: b)
        #expect(harness.toChild == ["wg-a"], "the second waits for the first answer")
        harness.childAnswers(.noSuchInterface)
        #expect(harness.lastAnswer(of: a) == .noSuchInterface)
        #expect(harness.toChild == ["wg-a", "wg-b"])
        harness.childAnswers(.success)
        #expect(harness.lastAnswer(of: b) == .success)
        #expect(harness.logs.text.contains("client 1: SetPsk for peer"))
    }

    @Test func pipelinedRequests_areTakenOneAfterTheOther() throws {
        let harness = Harness()
        let client = try #require(harness.connect())
        let one = Frames.frame(Frames.requestPayload(interface: "wg1", psk: Frames.key(1), peer: Frames.key(2)))
        let two = Frames.frame(Frames.requestPayload(interface: "wg2", psk: Frames.key(1), peer: Frames.key(2)))
        harness.send(one + two, from: client)
        #expect(harness.toChild == ["wg1"])
        #expect(!harness.state.readsFrom(client), "lock-step: not read while it waits")
        harness.childAnswers(.success)
        #expect(harness.toChild == ["wg1", "wg2"])
        harness.childAnswers(.internalError)
        #expect(harness.answers[client]?.count == 2)
        #expect(harness.lastAnswer(of: client) == .internalError)
    }

    @Test func aFrameMustBeCompleteFiveSecondsAfterItsFirstByte() throws {
        let harness = Harness()
        let client = try #require(harness.connect())
        harness.send([5, 0, 0], from: client)
        harness.advance(to: 5)
        #expect(harness.disconnected.isEmpty)
        harness.advance(to: 5.001)
        #expect(harness.disconnected == [client])
        #expect(harness.logs.text.contains("client 0 sent 3 bytes of a frame and not the rest within 5 s; disconnecting"))
    }

    @Test func aClientWithoutARequest_isDisconnectedAfterTheIdleTimeout_butNotOneThatSentOne() throws {
        let harness = Harness()
        let silent = try #require(harness.connect())
        let daemon = try #require(harness.connect())
        harness.request("wg0", from: daemon)
        harness.childAnswers(.success)
        #expect(harness.state.nextDeadline(now: 119.5) == 120)
        harness.advance(to: 120)
        #expect(harness.disconnected.isEmpty)
        harness.advance(to: 120.001)
        #expect(harness.disconnected == [silent])
        harness.advance(to: 10_000)
        #expect(harness.disconnected == [silent], "a client that sent a request may idle")
        #expect(harness.logs.text.contains("client 0 disconnected: no request within 120 s of connecting"))
    }

    @Test func atCapacity_theLongestSilentClientMakesRoom_thenTheOldestRequest_neverOneInFlight() throws {
        let harness = Harness { $0.maximumClients = 3 }
        let first = try #require(harness.connect())
        harness.now = 1
        let second = try #require(harness.connect())
        harness.now = 2
        let third = try #require(harness.connect())
        harness.request("wg0", from: third)
        harness.childAnswers(.success)
        harness.now = 3
        // Two silent clients: the one connected first goes.
        #expect(harness.connect() != nil)
        #expect(harness.disconnected == [first])
        // Now prove everyone: second at 4, the newcomer (id 3) at 5; third's request (at 2) is oldest.
        harness.now = 4
        harness.request("wg0", from: second)
        harness.childAnswers(.success)
        harness.now = 5
        harness.request("wg0", from: 3)
        harness.childAnswers(.success)
        #expect(harness.connect() != nil)
        #expect(harness.disconnected == [first, third])
        // Everyone waits for an answer: a newcomer is refused.
        harness.request("wg0", from: second)
        harness.request("wg0", from: 3)
        harness.request("wg0", from: 4)
        #expect(harness.connect() == nil)
        #expect(harness.disconnected == [first, third])
        #expect(harness.logs.text.contains("refusing a connection: already serving 3 clients, each with a request in flight"))
    }

    @Test func aChildThatDoesNotAnswerInFifteenSeconds_isKilled_theClientAnswered_andANewOneStarted() throws {
        let harness = Harness()
        let client = try #require(harness.connect())
        harness.request("wg0", from: client)
        harness.advance(to: 15)
        #expect(harness.kills == 0)
        harness.advance(to: 15.001)
        #expect(harness.kills == 1)
        #expect(harness.lastAnswer(of: client) == .internalError)
        #expect(harness.logs.text.contains("did not answer within 15 s; restarting it"))
        #expect(harness.starts.count == 1)
        harness.advance(to: 15.1)
        #expect(harness.starts.count == 1)
        harness.advance(to: 15.101)
        #expect(harness.starts.count == 2, "restarted after 0.1 s")
        // The client is served by the new child.
        harness.request("wg0", from: client)
        harness.childAnswers(.success)
        #expect(harness.lastAnswer(of: client) == .success)
    }

    @Test func aChildThatCannotStart_isRetriedWithBackoff_andRequestsAreAnsweredMeanwhile() throws {
        let harness = Harness()
        harness.childEnds(how: "exited with status 1")
        harness.startFails = true
        var startTimes: [Double] = []
        while startTimes.count < 8 {
            let before = harness.starts.count
            harness.advance(to: harness.state.nextDeadline(now: harness.now))
            if harness.starts.count > before { startTimes.append(harness.now) }
        }
        let gaps = zip(startTimes.dropFirst(), startTimes).map { (($0 - $1) * 1000).rounded() / 1000 }
        #expect(startTimes.first == 0.1)
        #expect(gaps == [0.2, 0.4, 0.8, 1.6, 3.2, 5, 5])
        let client = try #require(harness.connect())
        harness.request("wg0", from: client)
        #expect(harness.lastAnswer(of: client) == .internalError, "answered at once, not held")
        #expect(harness.logs.text.contains("no privileged broker is running; answering 1 request(s) with InternalError"))
    }

    @Test func oversizedFramesAreAnswered_andImpossibleLengthsDisconnect() throws {
        let harness = Harness()
        let client = try #require(harness.connect())
        harness.send(Frames.frame([UInt8](repeating: 7, count: 400)), from: client)
        #expect(harness.lastAnswer(of: client) == .internalError)
        #expect(harness.toChild.isEmpty)
        harness.request("wg0", from: client)
        #expect(harness.toChild == ["wg0"], "the stream stayed in step")
        harness.childAnswers(.success)
        let hostile = try #require(harness.connect())
        harness.send(withUnsafeBytes(of: (UInt64(1) << 63).littleEndian) { Array($0) }, from: hostile)
        #expect(harness.disconnected == [hostile])
    }

    @Test func aRestartedChild_getsTheRemainingKeyAgeOfEveryPair() throws {
        let harness = Harness { $0.maxKeyAge = 300 }
        let client = try #require(harness.connect())
        harness.now = 10
        harness.request("wg0", from: client)
        harness.childAnswers(.success)
        harness.now = 100
        harness.childEnds(how: "killed by signal 9")
        harness.advance(to: 100.1)
        let pair = PeerOnInterface(interface: "wg0", peer: WireGuardPublicKey(Frames.key(2))!)
        #expect(harness.starts.last == ["--carry-over-timer", CarriedOverKeyTimer(pair: pair, remainingSeconds: 10 + 300 - 100.1).argument])
    }

    @Test func aThousandHostileConnections_leaveTheDaemonServed_withFewWarnings() throws {
        let harness = Harness()
        let daemon = try #require(harness.connect())
        harness.request("wg0", from: daemon)
        harness.childAnswers(.success)
        let huge = withUnsafeBytes(of: (UInt64(1) << 63).littleEndian) { Array($0) }
        let request = Frames.frame(Frames.requestPayload(interface: "wg0", psk: Frames.key(1), peer: Frames.key(2)))
        for index in 0..<1000 {
            harness.now += 0.001
            guard let fd = harness.connect() else { continue }
            switch index % 4 {
            case 0: break
            case 1: harness.send(Array(request.prefix(3)), from: fd)
            case 2: harness.send(huge, from: fd)
            default: harness.send(Frames.frame([UInt8](repeating: 7, count: 400)), from: fd)
            }
        }
        #expect(harness.state.clientCount <= 256)
        harness.request("wg0", from: daemon)
        harness.childAnswers(.success)
        #expect(harness.lastAnswer(of: daemon) == .success)
        let newcomer = try #require(harness.connect())
        harness.request("wg0", from: newcomer)
        harness.childAnswers(.success)
        #expect(harness.lastAnswer(of: newcomer) == .success)
        #expect(harness.warnings.count <= 20, "\(harness.warnings.count) warnings")
        // What was held back is counted once the window is over.
        harness.advance(to: harness.now + 10)
        #expect(harness.logs.text.contains("not logged"))
    }
}
