// Reading configuration TOML with two independent parsers.
//
// Why two: TOMLKit (toml++) implements the whole of TOML 1.0 and is widely used, but it cannot say
// on which line a key was written, and the configuration errors of issue 5 must name file, line and
// key. `TOMLReader` records positions. A document is accepted only when both accept it and produce
// the same data; values then come from `TOMLReader` (with positions). So a gap in our reader can
// only ever turn into an error message, never into a silently different configuration, and the
// language accepted is never larger than what toml++ accepts.

import TOMLKit

enum ConfigurationTOML {
    /// Parses `text`, the contents of `file`, with both readers.
    ///
    /// - Throws: ``AppError`` naming the file and line of a syntax error, or the key the readers
    ///   disagree on.
    static func parse(_ text: String, file: String) throws(AppError) -> TOMLTable {
        let ours: TOMLTable
        do {
            ours = try TOMLReader.parse(text)
        } catch {
            throw .config(file: file, line: error.position.line, "invalid TOML at column \(error.position.column): \(error.message)")
        }
        let theirs: TOMLKit.TOMLTable
        do {
            theirs = try TOMLKit.TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw .config(
                file: file, line: error.source.begin.line,
                "invalid TOML at column \(error.source.begin.column): \(error.description)")
        } catch {
            throw .config(file: file, "invalid TOML: \(error)")
        }
        if let path = firstDifference(ours, convert(theirs), path: "") {
            throw .config(
                file: file, line: ours.position(of: path),
                "the TOML readers disagree about '\(path)'; please report this file as a bug")
        }
        return ours
    }

    /// Converts TOMLKit's tree into ours (positions are meaningless and left at zero).
    static func convert(_ table: TOMLKit.TOMLTable) -> TOMLTable {
        var result = TOMLTable()
        for key in table.keys {
            guard let value = table[key] else { continue }
            let zero = TOMLPosition(line: 0, column: 0)
            result.entries.append(.init(key: key, keyPosition: zero, node: TOMLNode(position: zero, value: convert(value))))
        }
        return result
    }

    private static func convert(_ value: any TOMLValueConvertible) -> TOMLValue {
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
            guard let table = value.table else { return .table(TOMLTable()) }
            return .table(convert(table))
        }
    }

    /// The dotted path of the first key whose value differs, or nil if both hold the same data.
    static func firstDifference(_ lhs: TOMLTable, _ rhs: TOMLTable, path: String) -> String? {
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

    private static func firstDifference(_ lhs: TOMLValue, _ rhs: TOMLValue, path: String) -> String? {
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

extension TOMLTable {
    /// The line of the key at a dotted path such as `peers[1].endpoint`, as far as it can be followed.
    func position(of path: String) -> Int? {
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
