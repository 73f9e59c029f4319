// The reference's legacy `exchange` grammar (`docs/components.md` §3.3, §9 item 3), from known answers.

import RosenpassTestSupport
import Testing

@testable import RosenpassApp

struct LegacyGrammarCase: Decodable, CustomTestStringConvertible {
    struct Expected: Decodable {
        var publicKey: String
        var secretKey: String
        var verbose: Bool
        var listen: [String]
        var peers: [Peer]
    }

    struct Peer: Decodable {
        var publicKey: String
        var endpoint: String?
        var presharedKey: String?
        var outfile: String?
        var wireGuard: WireGuard?
    }

    struct WireGuard: Decodable {
        var device: String
        var peer: String
        var extraParams: [String]
    }

    var name: String
    var words: String
    var expected: Expected?
    var error: String?
    var warnings: Int?

    var testDescription: String { name }

    static let all = try! Fixtures.json([LegacyGrammarCase].self, "legacy-grammar.json")

    /// The configuration the expected values describe.
    var expectedConfiguration: Configuration? {
        guard let expected else { return nil }
        var config = Configuration(
            publicKeyPath: expected.publicKey, secretKeyPath: expected.secretKey, listen: expected.listen,
            verbosity: expected.verbose ? .verbose : .quiet)
        config.peers = expected.peers.map { peer in
            PeerSettings(
                publicKeyPath: peer.publicKey, endpoint: peer.endpoint, presharedKeyPath: peer.presharedKey, keyOut: peer.outfile,
                wireGuard: peer.wireGuard.map { WireGuardTarget(device: $0.device, peer: $0.peer, extraParams: $0.extraParams) })
        }
        return config
    }
}

@Suite("Legacy exchange grammar")
struct LegacyExchangeArgumentsTests {
    /// Literal addresses only, so the cases do not depend on the machine's resolver.
    static func resolveLiterals(_ text: String) throws(AppError) -> [SocketAddress] {
        if let literal = SocketAddress(literal: text) { return [literal] }
        if let hostPort = HostAndPort(text), let literal = SocketAddress(literal: "[\(hostPort.host)]:\(hostPort.port)") {
            return [literal]
        }
        throw .usage("invalid socket address \"\(text)\": expected host:port")
    }

    @Test("known answers", arguments: LegacyGrammarCase.all)
    func parse_matchesKnownAnswer(_ example: LegacyGrammarCase) throws {
        let words = example.words.split(separator: " ").map(String.init)
        if let expectedError = example.error {
            do {
                _ = try LegacyExchangeArguments.parse(words, resolveListen: Self.resolveLiterals)
                Issue.record("accepted, expected: \(expectedError)")
            } catch {
                #expect(error.description.hasPrefix(expectedError), "\(error)")
                #expect(error.isUsageError)
            }
            return
        }
        let (config, warnings) = try LegacyExchangeArguments.parse(words, resolveListen: Self.resolveLiterals)
        #expect(config == example.expectedConfiguration)
        #expect(warnings.count == (example.warnings ?? 0))
    }

    @Test func listen_bindsEveryResolvedAddress() throws {
        let (config, _) = try LegacyExchangeArguments.parse(
            ["listen", "dual:7", "public-key", "p", "secret-key", "s"],
            resolveListen: { _ throws(AppError) in [SocketAddress(ipv4: [127, 0, 0, 1], port: 7), SocketAddress(ipv6: [UInt8](repeating: 0, count: 15) + [1], port: 7)] })
        #expect(config.listen == ["127.0.0.1:7", "[::1]:7"])
    }
}
