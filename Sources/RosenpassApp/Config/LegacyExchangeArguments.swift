// The reference's legacy `exchange` argument grammar (`docs/components.md` §3.3).

/// Parses the words after `rosenpass exchange` into a ``Configuration``:
///
/// ```
/// args        := own* peer_clause*
/// own         := "public-key" PATH | "secret-key" PATH | "private-key" PATH (deprecated)
///              | "listen" ADDR (repeatable) | "verbose"
/// peer_clause := "peer" popt*
/// popt        := "public-key" PATH | "endpoint" HOSTPORT | "preshared-key" PATH | "outfile" PATH
///              | "wireguard" DEV WGPEER EXTRA*     (EXTRA: every word up to the next "peer")
/// ```
///
/// It reproduces the reference's rules: a keyword that takes a value swallows the next word even if
/// that word is a keyword; arguments that end while a value is expected drop the half-finished option;
/// an option given twice in one section is an error; `wireguard` must end its clause. One reference
/// bug is fixed: `preshared-key` has its own "already set" slot instead of sharing `endpoint`'s, so a
/// peer can have both.
public struct LegacyExchangeArguments {
    /// What the next word means: a state of the parser, each case holding what that state needs.
    enum State: Equatable {
        /// Our own section, expecting a keyword.
        case own
        /// After `public-key`, `secret-key` or `listen` in our section: the value comes next.
        case ownValue(OwnOption)
        /// In a peer clause, expecting a keyword.
        case peer
        /// After a peer keyword: the value comes next.
        case peerValue(PeerOption)
        /// After `wireguard DEV`: the WireGuard peer key comes next.
        case wireGuardPeer(device: String)
        /// After `wireguard DEV PEER`: every word up to the next `peer` is an extra parameter.
        case wireGuardExtra
    }

    enum OwnOption: Equatable { case publicKey, secretKey, listen }
    enum PeerOption: Hashable { case publicKey, endpoint, presharedKey, outfile, wireGuard }

    /// Warnings to log (the deprecated `private-key`).
    public private(set) var warnings: [String] = []

    private var state = State.own
    private var configuration = Configuration()
    private var ownSet: Set<String> = []
    private var peerSet: Set<PeerOption> = []
    private var current: PeerSettings?
    private let resolveListen: (String) throws(AppError) -> [SocketAddress]

    /// Parses `words`.
    ///
    /// - Parameter resolveListen: resolves a `listen` value (the reference accepts host names there
    ///   and binds every address they resolve to); the default resolves with `getaddrinfo`.
    /// - Throws: ``AppError`` (a usage error) with the reference's message.
    public static func parse(
        _ words: [String],
        resolveListen: @escaping (String) throws(AppError) -> [SocketAddress] = LegacyExchangeArguments.resolve
    ) throws(AppError) -> (configuration: Configuration, warnings: [String]) {
        var parser = LegacyExchangeArguments(resolveListen: resolveListen)
        for word in words { try parser.consume(word) }
        return (try parser.finish(), parser.warnings)
    }

    private init(resolveListen: @escaping (String) throws(AppError) -> [SocketAddress]) {
        self.resolveListen = resolveListen
    }

    /// Resolves `ADDR` as Rust's `ToSocketAddrs` does.
    public static func resolve(_ text: String) throws(AppError) -> [SocketAddress] {
        guard let hostPort = HostAndPort(text) else {
            throw .usage("invalid socket address \"\(text)\": expected host:port")
        }
        return try hostPort.resolve()
    }

    private mutating func consume(_ word: String) throws(AppError) {
        switch state {
        case .own:
            switch word {
            case "public-key": state = .ownValue(.publicKey)
            case "secret-key": state = .ownValue(.secretKey)
            case "private-key":
                warnings.append("the private-key argument is deprecated, please use secret-key instead")
                state = .ownValue(.secretKey)
            case "listen": state = .ownValue(.listen)
            case "verbose": configuration.verbosity = .verbose
            case "peer":
                guard ownSet.contains("public-key") else { throw .usage("public-key file must be set") }
                guard ownSet.contains("secret-key") else { throw .usage("secret-key file must be set") }
                startPeer()
            default:
                throw .usage("unrecognised argument \(word)")
            }
        case .ownValue(let option):
            switch option {
            case .publicKey:
                guard ownSet.insert("public-key").inserted else { throw .usage("public-key was already set") }
                configuration.publicKeyPath = word
            case .secretKey:
                guard ownSet.insert("secret-key").inserted else { throw .usage("secret-key was already set") }
                configuration.secretKeyPath = word
            case .listen:
                configuration.listen += try resolveListen(word).map(\.description)
            }
            state = .own
        case .peer:
            switch word {
            case "peer": startPeer()
            case "public-key": state = .peerValue(.publicKey)
            case "endpoint": state = .peerValue(.endpoint)
            case "preshared-key": state = .peerValue(.presharedKey)
            case "outfile": state = .peerValue(.outfile)
            case "wireguard": state = .peerValue(.wireGuard)
            default:
                // The misspelling is the reference's; scripts may match on it.
                throw .usage("unrecongnised argument \(word)")
            }
        case .peerValue(let option):
            guard peerSet.insert(option).inserted else {
                switch option {
                case .publicKey: throw .usage("public-key was already set")
                case .endpoint: throw .usage("endpoint was already set")
                case .presharedKey: throw .usage("peer psk was already set")
                case .outfile: throw .usage("peer outfile was already set")
                case .wireGuard: throw .usage("peer wireguard-dev was already set")
                }
            }
            switch option {
            case .publicKey: current?.publicKeyPath = word
            case .endpoint: current?.endpoint = word
            case .presharedKey: current?.presharedKeyPath = word
            case .outfile: current?.keyOut = word
            case .wireGuard:
                state = .wireGuardPeer(device: word)
                return
            }
            state = .peer
        case .wireGuardPeer(let device):
            current?.wireGuard = WireGuardTarget(device: device, peer: word)
            state = .wireGuardExtra
        case .wireGuardExtra:
            if word == "peer" {
                startPeer()
            } else {
                current?.wireGuard?.extraParams.append(word)
            }
        }
    }

    private mutating func startPeer() {
        if let current { configuration.peers.append(current) }
        current = PeerSettings(publicKeyPath: "")
        peerSet = []
        state = .peer
    }

    private mutating func finish() throws(AppError) -> Configuration {
        if let current { configuration.peers.append(current) }
        current = nil
        guard configuration.publicKeyPath != nil else { throw .usage("public-key file must be set") }
        guard configuration.secretKeyPath != nil else { throw .usage("secret-key file must be set") }
        return configuration
    }
}
