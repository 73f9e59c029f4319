// The parsed form of a TOML document, with the line of every key and value.
//
// Configuration errors must name the file, the line and the key, so the configuration is read by
// `TOMLReader`, which records positions. Package-visible for the differential oracle that checks it
// against TOMLKit (toml++) in the tests and the fuzzer (`Tests/RosenpassTOMLOracle`).

/// Where something was written in a TOML document: 1-based line and column (in bytes).
package struct TOMLPosition: Hashable, Sendable, CustomStringConvertible {
    package var line: Int
    package var column: Int

    package init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    package var description: String { "line \(line), column \(column)" }
}

/// A TOML value with the position where it starts.
package struct TOMLNode: Sendable {
    package var position: TOMLPosition
    package var value: TOMLValue

    package init(position: TOMLPosition, value: TOMLValue) {
        self.position = position
        self.value = value
    }
}

/// A TOML value (TOML 1.0). Dates and times are kept as their source text; no Rosenpass
/// configuration key takes one, so they only ever appear in "unexpected type" messages.
package indirect enum TOMLValue: Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case dateTime(String)
    case array([TOMLNode])
    case table(TOMLTable)

    /// The TOML name of this value's type, for messages.
    var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .dateTime: return "date-time"
        case .array: return "array"
        case .table: return "table"
        }
    }

    /// Whether two values are the same TOML data, ignoring positions (NaN equals NaN).
    package func sameData(as other: TOMLValue) -> Bool {
        switch (self, other) {
        case (.string(let a), .string(let b)): return a == b
        case (.integer(let a), .integer(let b)): return a == b
        case (.float(let a), .float(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.boolean(let a), .boolean(let b)): return a == b
        case (.dateTime, .dateTime): return true
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.value.sameData(as: $1.value) }
        case (.table(let a), .table(let b)): return a.sameData(as: b)
        default: return false
        }
    }
}

/// A TOML table: its keys in the order they were written, each with its position.
package struct TOMLTable: Sendable {
    /// One key of the table.
    package struct Entry: Sendable {
        package var key: String
        /// Where the key was written (for a table header, the header's position).
        package var keyPosition: TOMLPosition
        package var node: TOMLNode

        package init(key: String, keyPosition: TOMLPosition, node: TOMLNode) {
            self.key = key
            self.keyPosition = keyPosition
            self.node = node
        }
    }

    package var entries: [Entry] = []

    package init() {}

    /// The entry for `key`, if the table has one.
    package subscript(key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    /// The keys in the order they were written.
    var keys: [String] { entries.map(\.key) }

    /// Whether two tables hold the same keys and values, ignoring order and positions.
    package func sameData(as other: TOMLTable) -> Bool {
        guard entries.count == other.entries.count else { return false }
        return entries.allSatisfy { entry in
            guard let match = other[entry.key] else { return false }
            return entry.node.value.sameData(as: match.node.value)
        }
    }
}
