// What the two schema readers (the `rosenpass` config, `rp exchange-config`) share: typed access to
// parsed TOML whose every error names the file, the line and the key.

/// A reader of one TOML schema, reporting errors against `file`.
protocol TOMLSchemaReading {
    /// The file the TOML came from, for messages.
    var file: String { get }
}

extension TOMLSchemaReading {
    /// Refuses the first key of `table` that is not in `allowed`, naming it, its line, `place` and
    /// the allowed keys, with a hint for the usual slips (`peer` for `peers`, dashes for
    /// underscores, and the obsolete `exchange_command`).
    func rejectUnknownKeys(_ table: TOMLTable, allowed: [String], in place: String) throws(AppError) {
        for entry in table.entries where !allowed.contains(entry.key) {
            var hint = ""
            let underscored = String(entry.key.map { $0 == "-" ? "_" : $0 })
            if place == "the top level" && entry.key == "peer" && allowed.contains("peers") {
                hint = " (the list of peers is 'peers', written [[peers]])"
            } else if entry.key.contains("-") && allowed.contains(underscored) {
                hint = " (did you mean '\(underscored)'? config keys use underscores)"
            } else if entry.key == "exchange_command" {
                hint = " (an obsolete key of old example configs; delete it)"
            }
            throw .config(
                file: file, line: entry.keyPosition.line,
                "unknown key '\(entry.key)' in \(place)\(hint); allowed keys: \(allowed.joined(separator: ", "))")
        }
    }

    /// The entry's string value.
    func string(_ entry: TOMLTable.Entry, context: String = "") throws(AppError) -> String {
        guard case .string(let text) = entry.node.value else {
            throw error(entry, "\(context)'\(entry.key)' must be a string, not a \(entry.node.value.typeName)")
        }
        return text
    }

    /// The `[[peers]]` array: each peer's table, the line of its header, and the line of each of its
    /// keys (`""` for the header).
    func peerTables(_ peers: TOMLTable.Entry) throws(AppError) -> [(table: TOMLTable, line: Int, keyLines: [String: Int])] {
        guard case .array(let nodes) = peers.node.value else {
            throw error(peers, "'peers' must be an array of tables ([[peers]] sections), not a \(peers.node.value.typeName)")
        }
        var result: [(table: TOMLTable, line: Int, keyLines: [String: Int])] = []
        for (index, node) in nodes.enumerated() {
            guard case .table(let peerTable) = node.value else {
                throw .config(file: file, line: node.position.line, "peer \(index) must be a table ([[peers]] section), not a \(node.value.typeName)")
            }
            var lines = ["": node.position.line]
            for entry in peerTable.entries { lines[entry.key] = entry.keyPosition.line }
            result.append((peerTable, node.position.line, lines))
        }
        return result
    }

    /// A config error at the entry's line.
    func error(_ entry: TOMLTable.Entry, _ message: String) -> AppError {
        .config(file: file, line: entry.keyPosition.line, message)
    }
}
