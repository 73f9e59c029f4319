// A TOML 1.0 reader that remembers where each key and value was written.
//
// It covers the whole language a configuration can use: comments, bare, quoted and dotted keys, the
// four string forms with every escape, integers (decimal, hex, octal, binary, underscores), floats
// (including inf and nan), booleans, date-times (kept as text), arrays (across lines, with comments
// and a trailing comma), inline tables, `[table]` and `[[array of tables]]` headers, and the rules
// against defining a key or table twice. Where the specification leaves room, it is stricter than
// necessary rather than looser (a dotted key may only extend tables made by dotted keys). The tests
// and the fuzzer check it against TOMLKit (toml++): every document it accepts, toml++ accepts and
// reads the same (`Tests/RosenpassTOMLOracle`).

/// A syntax or structure error in a TOML document.
package struct TOMLSyntaxError: Error, Sendable, CustomStringConvertible {
    package var position: TOMLPosition
    package var message: String

    package var description: String { "\(position): \(message)" }
}

/// Parses TOML text into a ``TOMLTable``.
package struct TOMLReader {
    /// The deepest nesting of arrays and inline tables, and the most parts of a dotted key or
    /// header, that are read. Configurations need two or three; the limits keep a hostile file from
    /// exhausting the stack of this recursive reader and of everything that walks the tree.
    static let maximumNesting = 32
    static let maximumKeyParts = 32
    /// The longest number literal read (toml++ reads up to 128 characters).
    static let maximumNumberLength = 64

    private let bytes: [UInt8]
    private var index = 0
    private var nesting = 0
    private var line = 1
    private var lineStart = 0

    /// Parses `text`.
    ///
    /// - Throws: ``TOMLSyntaxError`` with the position of the first problem.
    package static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var reader = TOMLReader(bytes: Array(text.utf8))
        return try reader.document()
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    // MARK: - Building tables

    /// A table while the document is being read. Tables are shared (headers and dotted keys reach
    /// into tables made earlier), so they are reference types until the document is finished.
    private final class Builder {
        enum Origin {
            /// Made as a parent of a header (`[a.b]` makes `a`); may be defined later by its own header.
            case implicit
            /// Defined by its own `[header]` or as an element of `[[header]]`.
            case header
            /// Made by a dotted key (`a.b = 1` makes `a`).
            case dotted
        }

        enum Slot {
            case value(TOMLTable.Entry)
            case table(Builder)
            case tableArray([Builder], TOMLPosition)
        }

        var origin: Origin
        let position: TOMLPosition
        var order: [String] = []
        var slots: [String: Slot] = [:]

        init(origin: Origin, position: TOMLPosition) {
            self.origin = origin
            self.position = position
        }

        func set(_ key: String, _ slot: Slot) {
            if slots[key] == nil { order.append(key) }
            slots[key] = slot
        }

        func freeze() -> TOMLTable {
            var table = TOMLTable()
            for key in order {
                switch slots[key]! {
                case .value(let entry):
                    table.entries.append(entry)
                case .table(let child):
                    table.entries.append(.init(
                        key: key, keyPosition: child.position,
                        node: TOMLNode(position: child.position, value: .table(child.freeze()))))
                case .tableArray(let children, let position):
                    let nodes = children.map { TOMLNode(position: $0.position, value: .table($0.freeze())) }
                    table.entries.append(.init(
                        key: key, keyPosition: position, node: TOMLNode(position: position, value: .array(nodes))))
                }
            }
            return table
        }
    }

    private mutating func document() throws(TOMLSyntaxError) -> TOMLTable {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }  // a UTF-8 byte order mark
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw TOMLSyntaxError(position: TOMLPosition(line: 1, column: 1), message: "the file is not valid UTF-8")
        }
        let root = Builder(origin: .header, position: position)
        var current = root
        while true {
            skipWhitespace()
            guard let byte = peek() else { break }
            switch byte {
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try endOfLine()
            case UInt8(ascii: "["):
                current = try header(root: root)
                try endOfLine()
            default:
                try keyValue(into: current)
                try endOfLine()
            }
        }
        return root.freeze()
    }

    /// `[a.b]` or `[[a.b]]`; returns the table that following keys go into.
    private mutating func header(root: Builder) throws(TOMLSyntaxError) -> Builder {
        let start = position
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipWhitespace()
        let path = try dottedKey()
        skipWhitespace()
        try expect("]", "a table header must end with ']'")
        if isArray { try expect("]", "an array-of-tables header must end with ']]'") }

        let names = path.map(\.name)
        var table = root
        for (depth, part) in path.dropLast().enumerated() {
            switch table.slots[part.name] {
            case nil:
                let child = Builder(origin: .implicit, position: part.position)
                table.set(part.name, .table(child))
                table = child
            case .table(let child):
                table = child
            case .tableArray(let children, _):
                table = children.last!
            case .value:
                throw TOMLSyntaxError(
                    position: part.position,
                    message: "'\(names[...depth].joined(separator: "."))' is already a value, not a table")
            }
        }
        let last = path.last!
        let full = names.joined(separator: ".")
        if isArray {
            switch table.slots[last.name] {
            case nil:
                let element = Builder(origin: .header, position: start)
                table.set(last.name, .tableArray([element], start))
                return element
            case .tableArray(var children, let position):
                let element = Builder(origin: .header, position: start)
                children.append(element)
                table.set(last.name, .tableArray(children, position))
                return element
            default:
                throw TOMLSyntaxError(position: start, message: "'\(full)' is already defined and is not an array of tables")
            }
        }
        switch table.slots[last.name] {
        case nil:
            let child = Builder(origin: .header, position: start)
            table.set(last.name, .table(child))
            return child
        case .table(let child) where child.origin == .implicit:
            child.origin = .header
            return child
        default:
            throw TOMLSyntaxError(position: start, message: "table '\(full)' is defined twice")
        }
    }

    /// `key = value` (the key may be dotted) into `table`.
    private mutating func keyValue(into table: Builder) throws(TOMLSyntaxError) {
        let keyStart = position
        let path = try dottedKey()
        skipWhitespace()
        try expect("=", "expected '=' after the key '\(path.map(\.name).joined(separator: "."))'")
        skipWhitespace()
        let node = try value()
        var target = table
        for part in path.dropLast() {
            switch target.slots[part.name] {
            case nil:
                let child = Builder(origin: .dotted, position: part.position)
                target.set(part.name, .table(child))
                target = child
            case .table(let child) where child.origin == .dotted:
                target = child
            default:
                throw TOMLSyntaxError(
                    position: part.position, message: "the dotted key cannot extend '\(part.name)', which is defined elsewhere")
            }
        }
        let last = path.last!
        guard target.slots[last.name] == nil else {
            throw TOMLSyntaxError(position: keyStart, message: "the key '\(last.name)' is defined twice")
        }
        target.set(last.name, .value(.init(key: last.name, keyPosition: last.position, node: node)))
    }

    // MARK: - Keys

    private mutating func dottedKey() throws(TOMLSyntaxError) -> [(name: String, position: TOMLPosition)] {
        var parts = [(name: String, position: TOMLPosition)]()
        while true {
            let start = position
            parts.append((try simpleKey(), start))
            guard parts.count <= Self.maximumKeyParts else {
                throw error("a dotted key or table header has more than \(Self.maximumKeyParts) parts")
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else { return parts }
            index += 1
            skipWhitespace()
        }
    }

    private mutating func simpleKey() throws(TOMLSyntaxError) -> String {
        switch peek() {
        case UInt8(ascii: "\""):
            if lookingAt("\"\"\"") { throw error("a key cannot be a multi-line string") }
            return try basicString()
        case UInt8(ascii: "'"):
            if lookingAt("'''") { throw error("a key cannot be a multi-line string") }
            return try literalString()
        default:
            let start = index
            while let byte = peek(), Self.isBareKeyByte(byte) { index += 1 }
            guard index > start else {
                if let byte = peek() { throw error("unexpected \(Self.describe(byte)); expected a key") }
                throw error("unexpected end of file; expected a key")
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }

    private static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    // MARK: - Values

    private mutating func value() throws(TOMLSyntaxError) -> TOMLNode {
        let start = position
        guard let byte = peek() else { throw error("unexpected end of file; expected a value") }
        let value: TOMLValue
        switch byte {
        case UInt8(ascii: "\""):
            value = .string(lookingAt("\"\"\"") ? try multiLineBasicString() : try basicString())
        case UInt8(ascii: "'"):
            value = .string(lookingAt("'''") ? try multiLineLiteralString() : try literalString())
        case UInt8(ascii: "["):
            value = try array()
        case UInt8(ascii: "{"):
            value = try inlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if lookingAt("true") {
                index += 4
                value = .boolean(true)
            } else if lookingAt("false") {
                index += 5
                value = .boolean(false)
            } else {
                throw error("unexpected value; strings must be quoted")
            }
        default:
            value = try numberOrDate()
        }
        return TOMLNode(position: start, value: value)
    }

    /// Counts one more level of arrays and inline tables, refusing more than ``maximumNesting``.
    private mutating func enterNesting() throws(TOMLSyntaxError) {
        nesting += 1
        guard nesting <= Self.maximumNesting else {
            throw error("arrays and inline tables are nested more than \(Self.maximumNesting) deep")
        }
    }

    private mutating func array() throws(TOMLSyntaxError) -> TOMLValue {
        try enterNesting()
        defer { nesting -= 1 }
        index += 1
        var elements = [TOMLNode]()
        while true {
            try skipWhitespaceCommentsAndNewlines()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            elements.append(try value())
            try skipWhitespaceCommentsAndNewlines()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "]"):
                index += 1
                return .array(elements)
            case nil:
                throw error("unexpected end of file inside an array")
            case let byte?:
                throw error("unexpected \(Self.describe(byte)) in an array; expected ',' or ']'")
            }
        }
    }

    private mutating func inlineTable() throws(TOMLSyntaxError) -> TOMLValue {
        try enterNesting()
        defer { nesting -= 1 }
        let start = position
        index += 1
        let table = Builder(origin: .header, position: start)
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return .table(table.freeze())
        }
        while true {
            skipWhitespace()
            try keyValue(into: table)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
            case UInt8(ascii: "}"):
                index += 1
                return .table(table.freeze())
            default:
                throw error("an inline table must be on one line, with keys separated by ',' and ending with '}'")
            }
        }
    }

    // MARK: - Strings

    private mutating func basicString() throws(TOMLSyntaxError) -> String {
        index += 1
        var out = [UInt8]()
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try escape(into: &out)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error("unterminated string (a single-line string cannot contain a line break)")
            default:
                try checkNotControl(byte, in: "a string")
                out.append(byte)
                index += 1
            }
        }
    }

    private mutating func multiLineBasicString() throws(TOMLSyntaxError) -> String {
        index += 3
        skipOneNewline()
        var out = [UInt8]()
        while true {
            guard let byte = peek() else { throw error("unterminated multi-line string") }
            if lookingAt("\"\"\"") {
                // Up to two quotes may directly precede the closing delimiter.
                var quotes = 3
                while quotes < 5 && byteAt(index + quotes) == UInt8(ascii: "\"") { quotes += 1 }
                out.append(contentsOf: repeatElement(UInt8(ascii: "\""), count: quotes - 3))
                index += quotes
                return String(decoding: out, as: UTF8.self)
            }
            switch byte {
            case UInt8(ascii: "\\"):
                // A line-ending backslash trims the line break and the whitespace after it.
                var probe = index + 1
                while let b = byteAt(probe), b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { probe += 1 }
                if byteAt(probe) == UInt8(ascii: "\n") || (byteAt(probe) == UInt8(ascii: "\r") && byteAt(probe + 1) == UInt8(ascii: "\n")) {
                    index = probe
                    while let b = peek(), b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") {
                        if b == UInt8(ascii: "\r") || b == UInt8(ascii: "\n") { try newline() } else { index += 1 }
                    }
                } else {
                    try escape(into: &out)
                }
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try newline()
                out.append(UInt8(ascii: "\n"))
            default:
                try checkNotControl(byte, in: "a string")
                out.append(byte)
                index += 1
            }
        }
    }

    private mutating func literalString() throws(TOMLSyntaxError) -> String {
        index += 1
        let start = index
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            if byte == UInt8(ascii: "'") {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                throw error("unterminated string (a single-line string cannot contain a line break)")
            }
            try checkNotControl(byte, in: "a string")
            index += 1
        }
    }

    private mutating func multiLineLiteralString() throws(TOMLSyntaxError) -> String {
        index += 3
        skipOneNewline()
        var out = [UInt8]()
        while true {
            guard let byte = peek() else { throw error("unterminated multi-line string") }
            if lookingAt("'''") {
                var quotes = 3
                while quotes < 5 && byteAt(index + quotes) == UInt8(ascii: "'") { quotes += 1 }
                out.append(contentsOf: repeatElement(UInt8(ascii: "'"), count: quotes - 3))
                index += quotes
                return String(decoding: out, as: UTF8.self)
            }
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                try newline()
                out.append(UInt8(ascii: "\n"))
            } else {
                try checkNotControl(byte, in: "a string")
                out.append(byte)
                index += 1
            }
        }
    }

    private mutating func escape(into out: inout [UInt8]) throws(TOMLSyntaxError) {
        index += 1
        guard let byte = peek() else { throw error("unterminated string") }
        index += 1
        switch byte {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let digits = byte == UInt8(ascii: "u") ? 4 : 8
            var scalar: UInt32 = 0
            for _ in 0..<digits {
                guard let d = peek(), let v = Self.hexValue(d) else {
                    throw error("\\\(Character(UnicodeScalar(byte))) needs \(digits) hex digits")
                }
                scalar = scalar << 4 | UInt32(v)
                index += 1
            }
            guard let unicode = Unicode.Scalar(scalar) else {
                throw error("\\\(Character(UnicodeScalar(byte))) escape is not a Unicode scalar value")
            }
            // Valid TOML, but no value of ours can hold a NUL: paths and names end at one in every
            // system call, so "a\u0000b" would name "a". (TOMLKit also cuts its strings there.)
            guard scalar != 0 else { throw error("\\\(Character(UnicodeScalar(byte))) escape of NUL: no value here may contain a NUL character") }
            out.append(contentsOf: Array(String(Character(unicode)).utf8))
        default:
            index -= 1
            throw error("invalid escape sequence '\\\(Self.describe(byte, quoted: false))'")
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - 48
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - 87
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - 55
        default: return nil
        }
    }

    // MARK: - Numbers and dates

    private mutating func numberOrDate() throws(TOMLSyntaxError) -> TOMLValue {
        let start = index
        // Dates and times: four digits and '-', or two digits and ':'.
        if Self.isDigitRun(bytes, start, 4) && byteAt(start + 4) == UInt8(ascii: "-")
            || Self.isDigitRun(bytes, start, 2) && byteAt(start + 2) == UInt8(ascii: ":")
        {
            return try dateTime()
        }
        while let byte = peek(), Self.isNumberByte(byte) { index += 1 }
        let token = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !token.isEmpty else {
            if let byte = peek() { throw error("unexpected \(Self.describe(byte)); expected a value") }
            throw error("unexpected end of file; expected a value")
        }
        // toml++ refuses number literals beyond 128 characters; we stop at 64, far beyond any value.
        guard token.count <= Self.maximumNumberLength else {
            index = start
            throw error("a number of \(token.count) characters is longer than the \(Self.maximumNumberLength) read")
        }
        if let integer = Self.integer(token) { return .integer(integer) }
        if let float = Self.float(token) {
            // A literal too large for a 64-bit float reads as infinity; TOML (and toml++) refuse it.
            guard float.isFinite || token.hasSuffix("inf") || token.hasSuffix("nan") else {
                index = start
                throw error("'\(token)' is too large for a 64-bit float")
            }
            return .float(float)
        }
        index = start
        throw error("'\(token)' is not a valid value (strings must be quoted)")
    }

    private static func isDigitRun(_ bytes: [UInt8], _ start: Int, _ count: Int) -> Bool {
        guard start + count <= bytes.count else { return false }
        return bytes[start..<start + count].allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "-"),
            UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    /// A date, time or date-time (RFC 3339 forms TOML allows), kept as text.
    private mutating func dateTime() throws(TOMLSyntaxError) -> TOMLValue {
        let start = index
        /// Reads `n` digits as a number, nil when they are not all digits.
        func number(_ n: Int) -> Int? {
            guard Self.isDigitRun(bytes, index, n) else { return nil }
            defer { index += n }
            return bytes[index..<index + n].reduce(0) { $0 * 10 + Int($1 - 48) }
        }
        func skip(_ character: Character) -> Bool {
            guard peek() == character.asciiValue else { return false }
            index += 1
            return true
        }
        /// `hh:mm:ss[.fraction]`, each field in its range.
        func time() -> Bool {
            guard let hour = number(2), hour <= 23, skip(":"), let minute = number(2), minute <= 59, skip(":"),
                let second = number(2), second <= 59
            else { return false }
            if skip(".") {
                let fractionStart = index
                while let b = peek(), b >= 48 && b <= 57 { index += 1 }
                // toml++ reads at most 64 fraction digits; we stop at 32 (TOML asks for milliseconds).
                if index == fractionStart || index - fractionStart > 32 { return false }
            }
            return true
        }
        var valid: Bool
        if byteAt(start + 2) == UInt8(ascii: ":") {
            valid = time()
        } else {
            // A day that exists: months of their length, 29 February in leap years only.
            if let year = number(4), skip("-"), let month = number(2), (1...12).contains(month), skip("-"), let day = number(2) {
                let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
                let length = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
                valid = (1...length).contains(day)
            } else {
                valid = false
            }
            if valid, let separator = peek(),
                separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t")
                    || (separator == UInt8(ascii: " ") && Self.isDigitRun(bytes, index + 1, 2))
            {
                index += 1
                valid = time()
                if valid, let zone = peek() {
                    if zone == UInt8(ascii: "Z") || zone == UInt8(ascii: "z") {
                        index += 1
                    } else if zone == UInt8(ascii: "+") || zone == UInt8(ascii: "-") {
                        index += 1
                        if let hours = number(2), hours <= 23, skip(":"), let minutes = number(2), minutes <= 59 {
                            valid = true
                        } else {
                            valid = false
                        }
                    }
                }
            }
        }
        guard valid else {
            index = start
            throw error("malformed date or time (or a field out of its range)")
        }
        return .dateTime(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    /// A TOML integer: decimal with optional sign and no leading zeros, or 0x/0o/0b without sign;
    /// underscores only between digits.
    static func integer(_ token: String) -> Int64? {
        var text = Substring(token)
        var radix = 10
        var negative = false
        if text.hasPrefix("0x") || text.hasPrefix("0o") || text.hasPrefix("0b") {
            radix = text.hasPrefix("0x") ? 16 : text.hasPrefix("0o") ? 8 : 2
            text = text.dropFirst(2)
        } else {
            if text.first == "+" || text.first == "-" {
                negative = text.first == "-"
                text = text.dropFirst()
            }
            if text.count > 1 && text.first == "0" { return nil }
        }
        guard let digits = Self.digitsWithUnderscores(text, radix: radix) else { return nil }
        guard let magnitude = UInt64(digits, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// A TOML float: `[+-]` integer part (no leading zeros), then a fraction and/or an exponent;
    /// or `inf`/`nan` with an optional sign.
    static func float(_ token: String) -> Double? {
        var text = Substring(token)
        var sign: Double = 1
        if text.first == "+" || text.first == "-" {
            sign = text.first == "-" ? -1 : 1
            text = text.dropFirst()
        }
        if text == "inf" { return sign * .infinity }
        if text == "nan" { return .nan }
        var mantissa = text
        var exponent: Substring?
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = text[text.index(after: e)...]
        }
        var integerPart = mantissa
        var fraction: Substring?
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fraction = mantissa[mantissa.index(after: dot)...]
        }
        guard fraction != nil || exponent != nil else { return nil }
        guard let integerDigits = Self.digitsWithUnderscores(integerPart, radix: 10),
            !(integerDigits.count > 1 && integerDigits.first == "0")
        else { return nil }
        var normalized = integerDigits
        if let fraction {
            guard let digits = Self.digitsWithUnderscores(fraction, radix: 10) else { return nil }
            normalized += "." + digits
        }
        if var exponent {
            var exponentSign = ""
            if exponent.first == "+" || exponent.first == "-" {
                exponentSign = String(exponent.first!)
                exponent = exponent.dropFirst()
            }
            guard let digits = Self.digitsWithUnderscores(exponent, radix: 10) else { return nil }
            normalized += "e" + exponentSign + digits
        }
        guard let magnitude = Double(normalized) else { return nil }
        return sign * magnitude
    }

    /// The digits of `text` with underscores removed, or nil if it is empty, has a digit outside
    /// `radix`, or an underscore that is not between two digits.
    private static func digitsWithUnderscores(_ text: Substring, radix: Int) -> String? {
        guard !text.isEmpty, text.first != "_", text.last != "_", !text.contains("__") else { return nil }
        let digits = text.filter { $0 != "_" }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.hexDigitValue.map { $0 < radix } == true }) else {
            return nil
        }
        return String(digits)
    }

    // MARK: - Whitespace, comments, lines

    private var position: TOMLPosition { TOMLPosition(line: line, column: index - lineStart + 1) }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func byteAt(_ offset: Int) -> UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private func lookingAt(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        return text.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
    }

    private mutating func expect(_ character: Unicode.Scalar, _ message: String) throws(TOMLSyntaxError) {
        guard peek() == UInt8(ascii: character) else { throw error(message) }
        index += 1
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    private mutating func skipWhitespaceCommentsAndNewlines() throws(TOMLSyntaxError) {
        while true {
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: "#"):
                try comment()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try newline()
            default:
                return
            }
        }
    }

    private mutating func comment() throws(TOMLSyntaxError) {
        index += 1
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r") && byteAt(index + 1) == UInt8(ascii: "\n") { return }
            try checkNotControl(byte, in: "a comment")
            index += 1
        }
    }

    /// After a key/value pair or header: optional whitespace and comment, then a line break or the end.
    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipWhitespace()
        if peek() == UInt8(ascii: "#") { try comment() }
        guard let byte = peek() else { return }
        guard byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") else {
            throw error("unexpected \(Self.describe(byte)) after a value; expected the end of the line")
        }
        try newline()
    }

    private mutating func newline() throws(TOMLSyntaxError) {
        if peek() == UInt8(ascii: "\r") {
            guard byteAt(index + 1) == UInt8(ascii: "\n") else { throw error("a carriage return must be followed by a line feed") }
            index += 1
        }
        index += 1
        line += 1
        lineStart = index
    }

    private mutating func skipOneNewline() {
        if peek() == UInt8(ascii: "\n") || (peek() == UInt8(ascii: "\r") && byteAt(index + 1) == UInt8(ascii: "\n")) {
            try? newline()
        }
    }

    private func checkNotControl(_ byte: UInt8, in place: String) throws(TOMLSyntaxError) {
        if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
            throw error("control character \(Self.describe(byte)) is not allowed in \(place)")
        }
    }

    private func error(_ message: String) -> TOMLSyntaxError {
        TOMLSyntaxError(position: position, message: message)
    }

    private static func describe(_ byte: UInt8, quoted: Bool = true) -> String {
        if byte >= 0x21 && byte < 0x7F {
            let text = String(UnicodeScalar(byte))
            return quoted ? "'\(text)'" : text
        }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }
}
