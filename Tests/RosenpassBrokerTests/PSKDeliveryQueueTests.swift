// The broker client's decisions on a fake clock: back-off, retries, the newest key only, re-sending
// after a reconnect, the answer deadline, and routine idle closes. No thread, socket or sleep.

import Testing
@testable import RosenpassBroker
@testable import RosenpassBrokerClient

@Suite struct PSKDeliveryQueueTests {
    private let wg0 = PeerOnInterface(interface: "wg0", peer: Frames.peer(1))
    private let wg1 = PeerOnInterface(interface: "wg1", peer: Frames.peer(2))

    private func queue(reconnectable: Bool = true, idleCloseIsRoutine: Bool = true) -> PSKDeliveryQueue {
        PSKDeliveryQueue(options: PSKBrokerClient.Options(), reconnectable: reconnectable, idleCloseIsRoutine: idleCloseIsRoutine)
    }

    @Test func failedConnections_backOffFromATenthOfASecond_doublingToFive() {
        var queue = queue()
        #expect(queue.wantsConnection(now: 0))
        var now = 0.0
        var delays: [Double] = []
        for _ in 0..<8 {
            let delay = queue.connectionLost(now: now)!
            delays.append(delay)
            #expect(!queue.wantsConnection(now: now + delay - 0.001))
            #expect(queue.nextDeadline() == now + delay)
            now += delay
            #expect(queue.wantsConnection(now: now))
        }
        #expect(delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5])
    }

    /// A forwarded socket whose far end is missing accepts and closes at once: connecting counts
    /// for nothing, only an answer starts the back-off over.
    @Test func connectionsThatCloseAtOnce_keepBackingOff_untilTheBrokerAnswers() {
        var queue = queue()
        queue.setKey(Frames.psk(1), for: wg0)
        var now = 0.0
        var delays: [Double] = []
        for _ in 0..<5 {
            queue.connected(now: now)
            _ = queue.nextRequest(now: now)
            guard case .lost(let delay?) = queue.closedByBroker(now: now, buffered: 0) else {
                Issue.record("not a lost connection")
                return
            }
            delays.append(delay)
            now += delay
        }
        #expect(delays == [0.1, 0.2, 0.4, 0.8, 1.6])
        #expect(queue.state(of: wg0) == .pending)
        queue.connected(now: now)
        #expect(queue.nextRequest(now: now)?.pair == wg0)
        #expect(queue.answered(.success, now: now) == .delivered(interface: "wg0", peer: Frames.peer(1)))
        #expect(queue.connectionLost(now: now) == 0.1)
    }

    @Test func onlyTheNewestKeyIsSent_andAKeyReplacedInFlightFollows() {
        var queue = queue()
        let (first, second, third) = (Frames.psk(1), Frames.psk(2), Frames.psk(3))
        queue.setKey(first, for: wg0)
        queue.setKey(second, for: wg0)  // replaces the unsent first key
        queue.connected(now: 0)
        let sent = queue.nextRequest(now: 0)
        #expect(sent?.key === second)
        #expect(queue.nextRequest(now: 0) == nil, "one request in flight at a time")
        queue.setKey(third, for: wg0)
        #expect(queue.state(of: wg0) == .sent)
        // The answer is for the second key: the third still has to go.
        #expect(queue.answered(.success, now: 1) == .delivered(interface: "wg0", peer: Frames.peer(1)))
        #expect(queue.state(of: wg0) == .pending)
        #expect(queue.nextRequest(now: 1)?.key === third)
        _ = queue.answered(.success, now: 1)
        #expect(queue.state(of: wg0) == .delivered)
        #expect(queue.nextRequest(now: 1) == nil)
        #expect(queue.nextDeadline() == nil)
    }

    @Test func errorAnswers_areRetriedAfterOneSecond_doublingToSixty() {
        var queue = queue()
        queue.setKey(Frames.psk(1), for: wg0)
        queue.connected(now: 0)
        var now = 0.0
        var delays: [Double] = []
        for _ in 0..<8 {
            #expect(queue.nextRequest(now: now) != nil)
            #expect(queue.answered(.noSuchPeer, now: now) == .failed(interface: "wg0", peer: Frames.peer(1), code: .noSuchPeer))
            #expect(queue.state(of: wg0) == .failed(.noSuchPeer))
            let retryAt = queue.nextDeadline()!
            #expect(queue.nextRequest(now: retryAt - 0.001) == nil)
            delays.append(retryAt - now)
            now = retryAt
        }
        #expect(delays == [1, 2, 4, 8, 16, 32, 60, 60])
        // A new key is sent at once and starts the retry delay over.
        let newer = Frames.psk(2)
        queue.setKey(newer, for: wg0)
        #expect(queue.state(of: wg0) == .pending)
        #expect(queue.nextRequest(now: now)?.key === newer)
        _ = queue.answered(.internalError, now: now)
        #expect(queue.nextDeadline() == now + 1)
    }

    @Test func afterAReconnect_everyCurrentKeyIsSentAgain_oldestChangeFirst() {
        var queue = queue()
        queue.setKey(Frames.psk(1), for: wg1)
        queue.setKey(Frames.psk(2), for: wg0)
        queue.connected(now: 0)
        for _ in 0..<2 {
            _ = queue.nextRequest(now: 0)
            _ = queue.answered(.success, now: 0)
        }
        #expect(queue.state(of: wg0) == .delivered && queue.state(of: wg1) == .delivered)
        #expect(queue.connectionLost(now: 5) == 0.1)
        #expect(queue.wantsConnection(now: 5.1))
        queue.connected(now: 5.1)
        #expect(queue.state(of: wg0) == .pending && queue.state(of: wg1) == .pending)
        #expect(queue.nextRequest(now: 5.1)?.pair == wg1)
        _ = queue.answered(.success, now: 5.1)
        #expect(queue.nextRequest(now: 5.1)?.pair == wg0)
    }

    @Test func aRequestLostWithItsConnection_isSentAgain() {
        var queue = queue()
        queue.setKey(Frames.psk(1), for: wg0)
        queue.connected(now: 0)
        _ = queue.nextRequest(now: 0)
        #expect(queue.state(of: wg0) == .sent)
        _ = queue.connectionLost(now: 1)
        #expect(queue.state(of: wg0) == .pending)
        #expect(queue.nextRequest(now: 1) == nil, "not while the link is down")
    }

    @Test func anAnswerIsAwaitedThirtySeconds() {
        var queue = queue()
        queue.setKey(Frames.psk(1), for: wg0)
        queue.connected(now: 10)
        _ = queue.nextRequest(now: 10)
        #expect(queue.nextDeadline() == 40)
        #expect(!queue.answerOverdue(now: 40))
        #expect(queue.answerOverdue(now: 40.001))
        _ = queue.answered(.success, now: 20)
        #expect(!queue.answerOverdue(now: 100))
        #expect(queue.answered(.success, now: 21) == nil, "an answer nobody asked for")
    }

    @Test func theHandlersIdleClose_isRoutine_onlyOnAnUnusedConnectionOpenThirtySeconds() {
        var queue = queue()
        queue.connected(now: 0)
        #expect(queue.closedByBroker(now: 30, buffered: 0) == .idle)
        #expect(queue.wantsConnection(now: 30))
        queue.connected(now: 30)
        #expect(queue.closedByBroker(now: 59, buffered: 0) == .lost(delay: 0.1), "too young to be the idle timeout")
        queue.connected(now: 60)
        #expect(queue.closedByBroker(now: 90, buffered: 3) == .lost(delay: 0.2), "in the middle of an answer")
        queue.setKey(Frames.psk(1), for: wg0)
        queue.connected(now: 100)
        _ = queue.nextRequest(now: 100)
        #expect(queue.closedByBroker(now: 200, buffered: 0) == .lost(delay: 0.4), "a request was sent on it")

        var spawned = self.queue(idleCloseIsRoutine: false)
        spawned.connected(now: 0)
        #expect(spawned.closedByBroker(now: 100, buffered: 0) == .lost(delay: 0.1))
    }

    @Test func anInheritedOrInProcessLink_isGoneOnceLost() {
        var queue = queue(reconnectable: false)
        queue.setKey(Frames.psk(1), for: wg0)
        queue.connected(now: 0)
        _ = queue.nextRequest(now: 0)
        #expect(queue.connectionLost(now: 1) == nil)
        #expect(queue.link == .gone)
        #expect(!queue.wantsConnection(now: 1_000))
        #expect(queue.nextDeadline() == nil)
        #expect(queue.state(of: wg0) == .pending)
    }
}
