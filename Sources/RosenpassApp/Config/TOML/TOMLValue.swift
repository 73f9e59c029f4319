// The parsed form of a TOML document, with the line of every key and value.
//
// Configuration errors must name the file, the line and the key (issue 5). TOMLKit (toml++) parses
// the whole TOML 1.0 language but does not tell where a key was written, so the configuration is read
// by `TOMLReader` (ours, which records positions) and cross-checked against TOMLKit
// (`TOMLCrossCheck.swift`): a document is only accepted when both readers accept it and agree on
// every value.

/// Where something was written in a TOML document: 1-based line and column (in bytes).
struct TOMLPosition: Hashable, Sendable, CustomStringConvertible {
    var line: Int
    var column: Int

    var description: String { "line \(line), column \(column)" }
}

/// A TOML value with the position where it starts.
struct TOMLNode: Sendable {
    var position: TOMLPosition
    var value: TOMLValue
}

/// A TOML value (TOML 1.0). Dates and times are kept as their source text; no Rosenpass
/// configuration key takes one, so they only ever appear in "unexpected type" messages.
indirect enum TOMLValue: Sendable {
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
    func sameData(as other: TOMLValue) -> Bool {
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
struct TOMLTable: Sendable {
    /// One key of the table.
    struct Entry: Sendable {
        var key: String
        /// Where the key was written (for a table header, the header's position).
        var keyPosition: TOMLPosition
        var node: TOMLNode
    }

    var entries: [Entry] = []

    /// The entry for `key`, if the table has one.
    subscript(key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    /// The keys in the order they were written.
    var keys: [String] { entries.map(\.key) }

    /// Whether two tables hold the same keys and values, ignoring order and positions.
    func sameData(as other: TOMLTable) -> Bool {
        guard entries.count == other.entries.count else { return false }
        return entries.allSatisfy { entry in
            guard let match = other[entry.key] else { return false }
            return entry.node.value.sameData(as: match.node.value)
        }
    }
}
