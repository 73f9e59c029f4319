// Reading `rp exchange-config` files (`docs/components.md` §8.4).

import RosenpassProtocol

extension RPExchangeOptions {
    /// The keys allowed at the top level.
    static let topLevelKeys = ["verbose", "private_keys_dir", "dev", "ip", "listen", "peers"]
    /// The keys allowed in a `[[peers]]` entry.
    static let peerKeys = ["public_keys_dir", "endpoint", "persistent_keepalive", "allowed_ips", "protocol_version"]

    /// Reads an `rp exchange-config` file.
    ///
    /// The schema is the reference's (`docs/components.md` §8.4): `verbose` (boolean), `private_keys_dir`
    /// and `peers` are required; `dev`, `ip` and `listen` (one `"IP:PORT"`) are optional; each peer
    /// needs `public_keys_dir` and may set `endpoint`, `persistent_keepalive`, `allowed_ips` and
    /// `protocol_version` (`"V02"`, the default, or `"V03"`). Unknown keys are rejected. Paths are
    /// taken as written (relative ones from the working directory), as the reference does.
    ///
    /// - Throws: ``AppError`` naming the file, and for schema errors the line and key.
    public static func load(file: String) throws(AppError) -> RPExchangeOptions {
        let text = try FileIO.readText(file, limit: 1 << 20)
        return try parse(text, file: file)
    }

    /// Parses `rp exchange-config` TOML; `file` only names the source in messages.
    public static func parse(_ text: String, file: String) throws(AppError) -> RPExchangeOptions {
        let table = try ConfigurationTOML.parse(text, file: file)
        return try RPSchemaReader(file: file).options(table)
    }
}

/// Turns a parsed TOML table into ``RPExchangeOptions``, naming file, line and key for everything
/// the schema does not allow.
private struct RPSchemaReader: TOMLSchemaReading {
    let file: String

    func options(_ table: TOMLTable) throws(AppError) -> RPExchangeOptions {
        try rejectUnknownKeys(table, allowed: RPExchangeOptions.topLevelKeys, in: "the top level")
        guard let verboseEntry = table["verbose"] else { throw missing("verbose", hint: " (write verbose = false or true)") }
        guard case .boolean(let verbose) = verboseEntry.node.value else {
            throw error(verboseEntry, "'verbose' must be a boolean (true or false), not a \(verboseEntry.node.value.typeName)")
        }
        guard let directory = table["private_keys_dir"] else { throw missing("private_keys_dir", hint: " (the folder made by rp genkey)") }
        var options = RPExchangeOptions(verbose: verbose, privateKeysDir: try path(directory))
        options.source = SourceLines(file: file)
        for entry in table.entries { options.source.topLevel[entry.key] = entry.keyPosition.line }

        if let dev = table["dev"] { options.dev = try string(dev) }
        if let ip = table["ip"] { options.ip = try string(ip) }
        if let listen = table["listen"] {
            let text = try string(listen)
            guard let address = SocketAddress(literal: text) else {
                throw error(listen, "'listen' must be one IP socket address such as \"0.0.0.0:9999\" or \"[::]:9999\" (host names are not allowed), not \"\(text)\"")
            }
            options.listen = address
        }

        guard let peers = table["peers"] else {
            throw missing("peers", hint: " (add a [[peers]] section per peer, or write peers = [])")
        }
        for (index, peer) in try peerTables(peers).enumerated() {
            options.source.peers.append(peer.keyLines)
            options.peers.append(try self.peer(peer.table, index: index, headerLine: peer.line))
        }
        return options
    }

    private func peer(_ table: TOMLTable, index: Int, headerLine: Int) throws(AppError) -> RPPeerOptions {
        let context = "peer \(index): "
        try rejectUnknownKeys(table, allowed: RPExchangeOptions.peerKeys, in: "[[peers]] entry \(index)")
        guard let directory = table["public_keys_dir"] else {
            throw .config(file: file, line: headerLine, "\(context)the required key 'public_keys_dir' is missing (the folder made by the peer's rp pubkey)")
        }
        var peer = RPPeerOptions(publicKeysDir: try path(directory, context: context))
        if let endpoint = table["endpoint"] {
            let text = try string(endpoint, context: context)
            guard let address = SocketAddress(literal: text) else {
                throw error(endpoint, "\(context)'endpoint' must be an IP socket address such as \"192.0.2.1:9999\" or \"[2001:db8::1]:9999\" (host names are not allowed), not \"\(text)\"")
            }
            peer.endpoint = address
        }
        if let keepalive = table["persistent_keepalive"] {
            guard case .integer(let seconds) = keepalive.node.value else {
                throw error(keepalive, "\(context)'persistent_keepalive' must be an integer number of seconds, not a \(keepalive.node.value.typeName)")
            }
            guard let value = UInt32(exactly: seconds) else {
                throw error(keepalive, "\(context)'persistent_keepalive' must be between 0 and \(UInt32.max), not \(seconds)")
            }
            peer.persistentKeepalive = value
        }
        if let allowed = table["allowed_ips"] { peer.allowedIPs = try string(allowed, context: context) }
        if let version = table["protocol_version"] {
            let text = try string(version, context: context)
            guard let value = ProtocolVersion(rawValue: text) else {
                throw error(version, "\(context)'protocol_version' must be \"V02\" or \"V03\", not \"\(text)\"")
            }
            peer.protocolVersion = value
        }
        return peer
    }

    // MARK: - Typed values

    private func path(_ entry: TOMLTable.Entry, context: String = "") throws(AppError) -> String {
        let text = try string(entry, context: context)
        guard !text.isEmpty else { throw error(entry, "\(context)'\(entry.key)' must be a folder path, not empty") }
        return text
    }

    private func missing(_ key: String, hint: String) -> AppError {
        .config(file: file, "the required key '\(key)' is missing\(hint)")
    }
}
