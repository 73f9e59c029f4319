// Reading a configuration from TOML (`docs/components.md` §4.1, §4.2).

import RosenpassProtocol

extension Configuration {
    /// The keys allowed at the top level, in the order `gen-config` writes them.
    static let topLevelKeys = [
        "public_key", "secret_key", "listen", "verbosity", "psk_broker", "control_socket", "control_socket_group", "metrics_listen",
        "log_format",
        "peers", "api",
    ]
    /// The keys allowed in a `[[peers]]` entry.
    static let peerKeys = [
        "public_key", "endpoint", "pre_shared_key", "key_out", "device", "peer", "extra_params",
        "protocol_version", "osk_organization", "osk_label", "mceliece_variant", "name",
    ]
    /// The keys of the reference's `[api]` table (experiment_api builds).
    static let apiKeys = ["listen_path", "listen_fd", "stream_fd"]

    /// The longest configuration file read: room for about 100,000 peers (docs/scaling.md).
    static let maximumFileSize = 16 << 20

    /// Reads and parses the configuration file at `file`.
    ///
    /// - Parameters:
    ///   - file: the path, as the user gave it (messages quote it like this).
    ///   - home: `$HOME`, for paths that start with `~/` (`docs/components.md` §4.2).
    /// - Throws: ``AppError`` naming the file, and for schema errors the line and key.
    public static func load(file: String, home: String?) throws(AppError) -> Configuration {
        let text = try FileIO.readText(file, limit: maximumFileSize)
        return try parse(text, file: file, home: home)
    }

    /// Parses configuration TOML; `file` only names the source in messages.
    public static func parse(_ text: String, file: String, home: String?) throws(AppError) -> Configuration {
        let table = try ConfigurationTOML.parse(text, file: file)
        var reader = SchemaReader(file: file, home: home)
        return try reader.configuration(table)
    }
}

/// Turns a parsed TOML table into a ``Configuration``, with a message naming file, line and key for
/// everything the schema does not allow.
private struct SchemaReader: TOMLSchemaReading {
    let file: String
    let home: String?

    mutating func configuration(_ table: TOMLTable) throws(AppError) -> Configuration {
        try rejectUnknownKeys(table, allowed: Configuration.topLevelKeys, in: "the top level")
        var config = Configuration()
        config.source = SourceLines(file: file)
        for entry in table.entries { config.source.topLevel[entry.key] = entry.keyPosition.line }

        config.publicKeyPath = try optionalPath(table, "public_key", context: "")
        config.secretKeyPath = try optionalPath(table, "secret_key", context: "")
        switch (config.publicKeyPath, config.secretKeyPath) {
        case (.some, nil):
            throw error(table["public_key"]!, "'public_key' is set but 'secret_key' is not; set both (our key pair) or neither")
        case (nil, .some):
            throw error(table["secret_key"]!, "'secret_key' is set but 'public_key' is not; set both (our key pair) or neither")
        default:
            break
        }

        guard let listen = table["listen"] else {
            throw .config(file: file, line: 1, "the required key 'listen' is missing (write listen = [] to bind any address)")
        }
        config.listen = try stringArray(listen, context: "")
        for (index, address) in config.listen.enumerated() {
            guard SocketAddress(literal: address) != nil else {
                let line = arrayElementLine(listen, index)
                throw .config(
                    file: file, line: line,
                    "'listen' entry \"\(address)\" is not an IP socket address such as \"0.0.0.0:9999\" or \"[::]:9999\" (host names are not allowed here)")
            }
        }

        if let verbosity = table["verbosity"] {
            let text = try string(verbosity, context: "")
            guard let value = Verbosity(rawValue: text) else {
                throw error(verbosity, "'verbosity' must be \"Quiet\" or \"Verbose\", not \"\(text)\"")
            }
            config.verbosity = value
        }

        if let broker = table["psk_broker"] {
            let path = try string(broker, context: "")
            guard !path.isEmpty else { throw error(broker, "'psk_broker' must be the path of a broker socket, not empty") }
            config.pskBroker = try PathExpansion.expand(path, home: home, file: file, line: broker.keyPosition.line)
        }

        if let control = table["control_socket"] {
            let path = try string(control, context: "")
            guard !path.isEmpty else { throw error(control, "'control_socket' must be the path of the socket to create, not empty") }
            config.controlSocket = try PathExpansion.expand(path, home: home, file: file, line: control.keyPosition.line)
        }
        if let group = table["control_socket_group"] {
            let name = try string(group, context: "")
            guard !name.isEmpty else { throw error(group, "'control_socket_group' must name a group, not be empty") }
            guard config.controlSocket != nil else {
                throw error(group, "'control_socket_group' is set but 'control_socket' is not; it names the group of that socket")
            }
            config.controlSocketGroup = name
        }
        if let metrics = table["metrics_listen"] {
            let address = try string(metrics, context: "")
            guard SocketAddress(literal: address) != nil else {
                throw error(
                    metrics,
                    "'metrics_listen' must be an IP socket address such as \"127.0.0.1:9586\" or \"[::1]:9586\", not \"\(address)\"")
            }
            config.metricsListen = address
        }

        if let format = table["log_format"] {
            let text = try string(format, context: "")
            guard let value = LogFormat(rawValue: text) else {
                throw error(format, "'log_format' must be \"text\" or \"json\", not \"\(text)\"")
            }
            config.logFormat = value
        }

        if let api = table["api"] {
            try apiTable(api)
            config.hasAPITable = true
        }

        guard let peers = table["peers"] else {
            throw .config(file: file, line: 1, "the required key 'peers' is missing (write peers = [] for none, or add [[peers]] sections)")
        }
        var names: [String: Int] = [:]
        for (index, peer) in try peerTables(peers).enumerated() {
            config.source.peers.append(peer.keyLines)
            let settings = try self.peer(peer.table, index: index, headerLine: peer.line)
            if let name = settings.name {
                if let earlier = names[name] {
                    throw error(peer.table["name"]!, "peer \(index): the name \"\(name)\" is already used by peer \(earlier); names must be unique")
                }
                names[name] = index
            }
            config.peers.append(settings)
        }
        return config
    }

    private func peer(_ table: TOMLTable, index: Int, headerLine: Int) throws(AppError) -> PeerSettings {
        let context = "peer \(index): "
        try rejectUnknownKeys(table, allowed: Configuration.peerKeys, in: "[[peers]] entry \(index)")
        guard let publicKeyEntry = table["public_key"] else {
            throw .config(file: file, line: headerLine, "\(context)the required key 'public_key' is missing")
        }
        var peer = PeerSettings(publicKeyPath: try path(publicKeyEntry, context: context))
        if let name = table["name"] {
            let text = try string(name, context: context)
            guard !text.isEmpty, text.count <= 64, text.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace || $0 == " " }),
                !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }), text.trimmingSpaces == text
            else {
                throw error(name, "\(context)'name' must be 1 to 64 printable characters without leading or trailing spaces, not \"\(text)\"")
            }
            peer.name = text
        }
        if let endpoint = table["endpoint"] {
            let text = try string(endpoint, context: context)
            guard HostAndPort(text) != nil else {
                throw error(endpoint, "\(context)'endpoint' must be \"host:port\" (e.g. \"192.0.2.1:9999\", \"[2001:db8::1]:9999\" or \"example.com:9999\"), not \"\(text)\"")
            }
            peer.endpoint = text
        }
        peer.presharedKeyPath = try optionalPath(table, "pre_shared_key", context: context)
        peer.keyOut = try optionalPath(table, "key_out", context: context)

        let device = try table["device"].map { entry throws(AppError) in try string(entry, context: context) }
        let wireGuardPeer = try table["peer"].map { entry throws(AppError) in try string(entry, context: context) }
        let extraParams = try table["extra_params"].map { entry throws(AppError) in try stringArray(entry, context: context) }
        switch (device, wireGuardPeer) {
        case (let device?, let key?):
            guard !device.isEmpty else { throw error(table["device"]!, "\(context)'device' must name a WireGuard interface, not be empty") }
            guard Base64Text.isKey(key) else {
                throw error(table["peer"]!, "\(context)'peer' must be the peer's WireGuard public key: 44 characters of base64 encoding 32 bytes, as `wg pubkey` prints")
            }
            peer.wireGuard = WireGuardTarget(device: device, peer: key, extraParams: extraParams ?? [])
        case (.some, nil):
            throw error(table["device"]!, "\(context)'device' is set but 'peer' is not; a WireGuard target needs both")
        case (nil, .some):
            throw error(table["peer"]!, "\(context)'peer' is set but 'device' is not; a WireGuard target needs both")
        case (nil, nil):
            if let params = table["extra_params"], extraParams?.isEmpty == false {
                throw error(params, "\(context)'extra_params' needs 'device' and 'peer'")
            }
        }

        if let version = table["protocol_version"] {
            let text = try string(version, context: context)
            guard let value = ProtocolVersion(rawValue: text) else {
                throw error(version, "\(context)'protocol_version' must be \"V02\" or \"V03\", not \"\(text)\"")
            }
            peer.protocolVersion = value
        }

        switch (table["osk_organization"], table["osk_label"]) {
        case (let organization?, let labels?):
            peer.outputKeySeparator = OutputKeyDomainSeparator(
                organization: try string(organization, context: context), labels: try stringArray(labels, context: context))
        case (let organization?, nil):
            throw error(organization, "\(context)'osk_organization' is set but 'osk_label' is not; a custom key separator needs both")
        case (nil, let labels?):
            throw error(labels, "\(context)'osk_label' is set but 'osk_organization' is not; a custom key separator needs both")
        case (nil, nil):
            break
        }

        if let variant = table["mceliece_variant"] {
            let text = try string(variant, context: context)
            guard let value = McElieceVariant(rawValue: text) else {
                throw error(variant, "\(context)'mceliece_variant' must be \"round3\" or \"round4\", not \"\(text)\"")
            }
            peer.mcelieceVariant = value
        }
        return peer
    }

    /// The reference's `[api]` table: accepted only when every list is empty, since this
    /// implementation has no daemon API (`docs/components.md` §7).
    private func apiTable(_ entry: TOMLTable.Entry) throws(AppError) {
        guard case .table(let api) = entry.node.value else {
            throw error(entry, "'api' must be a table, not a \(entry.node.value.typeName)")
        }
        try rejectUnknownKeys(api, allowed: Configuration.apiKeys, in: "[api]")
        for key in Configuration.apiKeys {
            guard let list = api[key] else {
                throw .config(file: file, line: entry.keyPosition.line, "[api] needs the key '\(key)' (the reference requires all three)")
            }
            guard case .array(let elements) = list.node.value else {
                throw error(list, "'api.\(key)' must be an array, not a \(list.node.value.typeName)")
            }
            if !elements.isEmpty {
                throw error(list, "'api.\(key)' is not supported: this rosenpass has no daemon API (the reference's experiment_api); leave the list empty")
            }
        }
    }

    // MARK: - Typed values

    private func stringArray(_ entry: TOMLTable.Entry, context: String) throws(AppError) -> [String] {
        guard case .array(let elements) = entry.node.value else {
            throw error(entry, "\(context)'\(entry.key)' must be an array of strings, not a \(entry.node.value.typeName)")
        }
        var result = [String]()
        for element in elements {
            guard case .string(let text) = element.value else {
                throw .config(
                    file: file, line: element.position.line,
                    "\(context)'\(entry.key)' must be an array of strings, but holds a \(element.value.typeName)")
            }
            result.append(text)
        }
        return result
    }

    private func path(_ entry: TOMLTable.Entry, context: String) throws(AppError) -> String {
        let text = try string(entry, context: context)
        guard !text.isEmpty else { throw error(entry, "\(context)'\(entry.key)' must be a file path, not empty") }
        return try PathExpansion.expand(text, home: home, file: file, line: entry.keyPosition.line)
    }

    private func optionalPath(_ table: TOMLTable, _ key: String, context: String) throws(AppError) -> String? {
        guard let entry = table[key] else { return nil }
        return try path(entry, context: context)
    }

    private func arrayElementLine(_ entry: TOMLTable.Entry, _ index: Int) -> Int {
        if case .array(let elements) = entry.node.value, elements.indices.contains(index) {
            return elements[index].position.line
        }
        return entry.keyPosition.line
    }

}
