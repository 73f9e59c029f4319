// The differential oracle for our TOML reader: TOMLKit (toml++) reads the same document, and the
// two results must agree. Used by the tests (`TOMLReaderTests`) and by the fuzzer (`FuzzConfig`);
// never linked into a program, so toml++ stays out of the binaries.

import RosenpassApp
import TOMLKit

/// What TOMLKit makes of a document our reader handled.
public enum TOMLOracleVerdict: Equatable, Sendable {
    /// Both accept it and read the same data.
    case agree
    /// Our reader refuses it: an error message, never a wrong configuration. toml++ is not asked,
    /// since what matters is only that we accept no more than it does (and its parser has assertion
    /// failures on some malformed documents, see FUZZING.md).
    case oursRefuses
    /// Our reader accepted a document toml++ refuses, with toml++'s reason.
    case oursLooser(String)
    /// Both accept it but read different data at this dotted path (line of ours, if known).
    case differ(path: String, line: Int?)
}

/// Compares our reader with TOMLKit on one document.
public enum TOMLOracle {
    /// Reads `text` with our reader and, when it accepts it, with TOMLKit, and says how they compare.
    public static func judge(_ text: String) -> TOMLOracleVerdict {
        guard let ours = try? TOMLReader.parse(text) else { return .oursRefuses }
        let theirs: TOMLKit.TOMLTable
        do {
            theirs = try TOMLKit.TOMLTable(string: text)
        } catch {
            return .oursLooser("\(error)")
        }
        guard let path = firstDifference(ours, convert(theirs), path: "") else { return .agree }
        return .differ(path: path, line: ours.position(of: path))
    }

    /// TOMLKit's tree as ours (positions are meaningless and left at zero).
    package static func convert(_ table: TOMLKit.TOMLTable) -> RosenpassApp.TOMLTable {
        var result = RosenpassApp.TOMLTable()
        for key in table.keys {
            guard let value = table[key] else { continue }
            let zero = TOMLPosition(line: 0, column: 0)
            result.entries.append(.init(key: key, keyPosition: zero, node: TOMLNode(position: zero, value: convert(value))))
        }
        return result
    }

    private static func convert(_ value: any TOMLValueConvertible) -> RosenpassApp.TOMLValue {
        let zero = TOMLPosition(line: 0, column: 0)
        switch value.type {
        case .string: return .string(value.string ?? "")
        case .int: return .integer(Int64(value.int ?? 0))
        case .double: return .float(value.double ?? 0)
        case .bool: return .boolean(value.bool ?? false)
        case .date, .time, .dateTime: return .dateTime(value.debugDescription)
        case .array:
            guard let array = value.array else { return .array([]) }
            return .array(array.map { TOMLNode(position: zero, value: convert($0)) })
        case .table:
            guard let table = value.table else { return .table(RosenpassApp.TOMLTable()) }
            return .table(convert(table))
        }
    }

    /// The dotted path of the first key whose value differs, or nil if both hold the same data.
    package static func firstDifference(_ lhs: RosenpassApp.TOMLTable, _ rhs: RosenpassApp.TOMLTable, path: String) -> String? {
        for entry in lhs.entries {
            let here = path.isEmpty ? entry.key : "\(path).\(entry.key)"
            guard let other = rhs[entry.key] else { return here }
            if let inner = firstDifference(entry.node.value, other.node.value, path: here) { return inner }
        }
        for entry in rhs.entries where lhs[entry.key] == nil {
            return path.isEmpty ? entry.key : "\(path).\(entry.key)"
        }
        return nil
    }

    private static func firstDifference(_ lhs: RosenpassApp.TOMLValue, _ rhs: RosenpassApp.TOMLValue, path: String) -> String? {
        switch (lhs, rhs) {
        case (.table(let a), .table(let b)):
            return firstDifference(a, b, path: path)
        case (.array(let a), .array(let b)) where a.count == b.count:
            for (index, (x, y)) in zip(a, b).enumerated() {
                if let inner = firstDifference(x.value, y.value, path: "\(path)[\(index)]") { return inner }
            }
            return nil
        default:
            return lhs.sameData(as: rhs) ? nil : path
        }
    }
}

extension RosenpassApp.TOMLTable {
    /// The line of the key at a dotted path such as `peers[1].endpoint`, as far as it can be followed.
    package func position(of path: String) -> Int? {
        var table = self
        var line: Int?
        for component in path.split(separator: ".") {
            var name = Substring(component)
            var index: Int?
            if let bracket = name.firstIndex(of: "["), name.last == "]" {
                index = Int(name[name.index(after: bracket)..<name.index(before: name.endIndex)])
                name = name[..<bracket]
            }
            guard let entry = table[String(name)] else { return line }
            line = entry.keyPosition.line
            var node = entry.node
            if let index, case .array(let elements) = node.value, elements.indices.contains(index) {
                node = elements[index]
                line = node.position.line
            }
            guard case .table(let inner) = node.value else { return line }
            table = inner
        }
        return line
    }
}
