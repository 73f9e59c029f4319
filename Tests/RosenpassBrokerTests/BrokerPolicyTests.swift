// The broker's allow-list: options and policy file.

import Testing
@testable import RosenpassBroker

@Suite struct BrokerPolicyTests {
    @Test func noRules_meansUnrestricted() {
        let policy = BrokerPolicy()
        #expect(policy.isUnrestricted)
        #expect(policy.permits(interface: "anything0", peer: Frames.peer(1)))
    }

    @Test func policyFile_rulesCommentsAndBlankLines() throws {
        var policy = BrokerPolicy()
        try policy.addRules(fromText: """
            # the tunnel to the office
            interface wg0

            peer wg1 \(Frames.peer(5).base64)   # only this one
            \tpeer\twg1\t\(Frames.peer(6).base64)
            """, path: "test.policy")
        #expect(policy.permits(interface: "wg0", peer: Frames.peer(1)))
        #expect(policy.permits(interface: "wg1", peer: Frames.peer(5)))
        #expect(policy.permits(interface: "wg1", peer: Frames.peer(6)))
        #expect(!policy.permits(interface: "wg1", peer: Frames.peer(7)))
        #expect(!policy.permits(interface: "wg2", peer: Frames.peer(5)))
        #expect(policy.peers.count == 2)
    }

    @Test func policyFile_errorsNameFileAndLine() {
        for (text, line) in [("interface wg0\nallow wg1", 2), ("\n\npeer wg0 notakey", 3), ("interface ../x", 1),
                             ("interface", 1), ("peer wg0", 1)] {
            var policy = BrokerPolicy()
            do {
                try policy.addRules(fromText: text, path: "/etc/rp/broker.policy")
                Issue.record("accepted \(text)")
            } catch {
                #expect("\(error)".hasPrefix("/etc/rp/broker.policy:\(line): "), "\(error)")
            }
        }
    }

    @Test func missingPolicyFile_isAClearError() {
        var policy = BrokerPolicy()
        #expect(throws: BrokerError.self) { try policy.addRules(fromFile: "/nonexistent/rp.policy") }
    }

    @Test func allowPeerOption_needsInterfaceColonKey() throws {
        var policy = BrokerPolicy()
        try policy.allowPeer("wg0:\(Frames.peer(1).base64)")
        #expect(policy.permits(interface: "wg0", peer: Frames.peer(1)))
        for bad in ["wg0", "wg0:short", ":\(Frames.peer(1).base64)", "a/b:\(Frames.peer(1).base64)"] {
            #expect(throws: BrokerError.self, "\(bad)") { try policy.allowPeer(bad) }
        }
    }
}
