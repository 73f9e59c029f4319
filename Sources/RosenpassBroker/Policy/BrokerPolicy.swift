// Least privilege for the broker: which interfaces and peers it may touch.

/// The allow-list of the privileged broker (docs/components.md §10.4 item 1).
///
/// Built from `--allow-interface IF` (any existing peer of IF), `--allow-peer IF:PUBKEY_B64` (one
/// peer) and `--policy FILE`. With no rule at all the broker is unrestricted, as the reference is;
/// with any rule, everything not listed is refused.
///
/// Policy file format: one rule per line, `#` starts a comment, blank lines are ignored:
///
/// ```
/// # any existing peer of wg0
/// interface wg0
/// # only this peer of wg1
/// peer wg1 gGnMOBqnHxuwvYlDAn9q4IZcFXlxd/YrWYbvMOtd6T0=
/// ```
public struct BrokerPolicy: Sendable, Equatable {
    /// Interfaces on which every peer is allowed.
    public private(set) var interfaces: Set<String> = []
    /// Single allowed (interface, peer) pairs, in the order given.
    public private(set) var peers: [AllowedPeer] = []

    /// One allowed (interface, peer) pair.
    public struct AllowedPeer: Hashable, Sendable {
        /// The interface name.
        public var interface: String
        /// The peer's public key.
        public var peer: WireGuardPublicKey
    }

    /// An unrestricted policy.
    public init() {}

    /// Whether no rule restricts the broker.
    public var isUnrestricted: Bool { interfaces.isEmpty && peers.isEmpty }

    /// Whether a request for `peer` on `interface` may be carried out.
    public func permits(interface: String, peer: WireGuardPublicKey) -> Bool {
        isUnrestricted || interfaces.contains(interface) || peers.contains(AllowedPeer(interface: interface, peer: peer))
    }

    /// Adds `--allow-interface IF`.
    /// - Throws: ``BrokerError/invalidArgument(_:)`` for a name Linux cannot have.
    public mutating func allowInterface(_ name: String) throws {
        guard WireGuardInterfaceName.isValid(name) else {
            throw BrokerError.invalidArgument("\"\(name)\" is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)")
        }
        interfaces.insert(name)
    }

    /// Adds `--allow-peer IF:PUBKEY_B64`.
    /// - Throws: ``BrokerError/invalidArgument(_:)`` when the form or the key is wrong.
    public mutating func allowPeer(_ specification: String) throws {
        guard let colon = specification.firstIndex(of: ":") else {
            throw BrokerError.invalidArgument("--allow-peer wants IF:PUBKEY_B64, got \"\(specification)\"")
        }
        try allowPeer(interface: String(specification[..<colon]), publicKey: String(specification[specification.index(after: colon)...]))
    }

    /// Adds one allowed peer.
    public mutating func allowPeer(interface: String, publicKey: String) throws {
        guard WireGuardInterfaceName.isValid(interface) else {
            throw BrokerError.invalidArgument("\"\(interface)\" is not a valid interface name (1 to 15 bytes, no '/', ':' or spaces)")
        }
        guard let key = WireGuardPublicKey(base64: publicKey) else {
            throw BrokerError.invalidArgument("\"\(publicKey)\" is not a WireGuard public key (44 characters of base64)")
        }
        let entry = AllowedPeer(interface: interface, peer: key)
        if !peers.contains(entry) { peers.append(entry) }
    }

    /// Adds the rules of a policy file's text. `path` only names the file in error messages.
    /// - Throws: ``BrokerError/policy(file:line:_:)`` naming the line of the first bad rule.
    public mutating func addRules(fromText text: String, path: String) throws {
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let keyword = words.first else { continue }
            do {
                switch (keyword, words.count) {
                case ("interface", 2): try allowInterface(words[1])
                case ("peer", 3): try allowPeer(interface: words[1], publicKey: words[2])
                case ("interface", _): throw BrokerError.invalidArgument("\"interface\" takes one interface name")
                case ("peer", _): throw BrokerError.invalidArgument("\"peer\" takes an interface name and a base64 public key")
                default: throw BrokerError.invalidArgument("unknown rule \"\(keyword)\" (expected \"interface\" or \"peer\")")
                }
            } catch let error as BrokerError {
                throw BrokerError.policy(file: path, line: index + 1, error.description)
            }
        }
    }

    /// Adds the rules of the policy file at `path`.
    /// - Throws: ``BrokerError/policy(file:line:_:)`` when it cannot be read or has a bad rule.
    public mutating func addRules(fromFile path: String) throws {
        guard let text = readTextFile(path) else {
            throw BrokerError.policy(file: path, line: 0, "cannot read the policy file: \(String(cString: strerror(errno)))")
        }
        try addRules(fromText: text, path: path)
    }

    /// One line saying what is allowed, for the start-up log.
    public var summary: String {
        if isUnrestricted { return "unrestricted: any interface and any existing peer (no --allow-* or --policy given)" }
        let parts = interfaces.sorted().map { "interface \($0)" } + peers.map { "peer \($0.peer) on \($0.interface)" }
        return "allowed: " + parts.joined(separator: ", ")
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Reads a small text file (at most 1 MiB) without Foundation.
private func readTextFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 20 {
        let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if got < 0 && errno == EINTR { continue }
        guard got >= 0 else { return nil }
        if got == 0 { return String(decoding: bytes, as: UTF8.self) }
        bytes.append(contentsOf: chunk[0..<got])
    }
    errno = EFBIG
    return nil
}
