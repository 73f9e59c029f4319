// `rosenpass --generate-manpage DIR` (`docs/components.md` §3.1, §9 item 9).
//
// The pages are built from the command definitions themselves (ArgumentParser's tool description),
// so they cannot drift from `--help`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import Foundation

/// Writes roff man pages: `rosenpass.1`, `rosenpass-<command>.1` for every visible command, and
/// `rp.1`.
enum ManPage {
    static let whitepaperURL = "https://rosenpass.eu/whitepaper.pdf"

    /// The parts of ArgumentParser's tool description (``toolDescription()``) the pages use.
    struct Tool: Decodable { var command: Command }

    struct Command: Decodable {
        var commandName: String
        var abstract: String?
        var discussion: String?
        var shouldDisplay: Bool?
        var subcommands: [Command]?
        var arguments: [Argument]?
    }

    struct Argument: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }

        var kind: String
        var shouldDisplay: Bool
        var isOptional: Bool
        var isRepeating: Bool
        var names: [Name]?
        var valueName: String?
        var defaultValue: String?
        var allValues: [String]?
        var abstract: String?
        var discussion: String?
    }

    /// Writes every page into `directory`, creating it; and a page for each program whose
    /// `--experimental-dump-help` JSON is in one of `programDescriptions` (files).
    static func writeAll(to directory: String, programDescriptions: [String] = []) throws(AppError) {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw .system("mkdir", directory, errno: errno)
        }
        let tool: Tool
        do {
            tool = try JSONDecoder().decode(Tool.self, from: Data(toolDescription().utf8))
        } catch {
            throw .runtime("cannot describe the commands for the man pages: \(error)")
        }
        let root = tool.command
        let visible = (root.subcommands ?? []).filter { $0.shouldDisplay ?? true && $0.commandName != "help" }
        var pages = [("rosenpass.1", rootPage(root, subcommands: visible))]
        for command in visible {
            pages.append(("rosenpass-\(command.commandName).1", subcommandPage(command)))
            // `rosenpass peer add` and the like: a page each, named as git names its pages.
            for nested in (command.subcommands ?? []) where nested.shouldDisplay ?? true && nested.commandName != "help" {
                pages.append(("rosenpass-\(command.commandName)-\(nested.commandName).1", subcommandPage(nested, parents: [command.commandName])))
            }
        }
        pages.append(("rp.1", rpPage()))
        for file in programDescriptions {
            let text = try FileIO.readText(file, limit: 1 << 20)
            let program: Command
            do {
                program = try JSONDecoder().decode(Tool.self, from: Data(text.utf8)).command
            } catch {
                throw .runtime("\(file): not a program description (--experimental-dump-help output): \(error)")
            }
            pages.append(("\(program.commandName).1", programPage(program)))
        }
        for (name, text) in pages {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            let bytes = Array(text.utf8)
            try withAppErrors { try bytes.withUnsafeBytes { raw in try FileIO.writeAtomically(path, bytes: raw, mode: 0o644) } }
        }
    }

    /// ArgumentParser's JSON description of the command tree: what `--experimental-dump-help`
    /// prints, the interface its own man-page generator reads, asked for through the public parser.
    static func toolDescription() -> String {
        do {
            _ = try RosenpassCommand.parseAsRoot(["--experimental-dump-help"])
            return ""
        } catch {
            return RosenpassCommand.fullMessage(for: error)
        }
    }

    static func rootPage(_ root: Command, subcommands: [Command]) -> String {
        var page = header("rosenpass")
        page += ".SH NAME\nrosenpass \\- \(escape(root.abstract ?? ""))\n"
        page += ".SH SYNOPSIS\n.B rosenpass\n\(synopsis(root.arguments ?? [])) <COMMAND>\n"
        page += ".SH DESCRIPTION\n\(paragraphs(root.discussion ?? root.abstract ?? ""))"
        page += ".SH OPTIONS\n\(options(root.arguments ?? []))"
        page += ".SH COMMANDS\n"
        for command in subcommands {
            page += ".TP\n\\fB\(command.commandName)\\fR\n\(escape(command.abstract ?? ""))\nSee \\fBrosenpass\\-\(command.commandName)\\fR(1).\n"
        }
        page += """
            .SH EXIT STATUS
            .TP
            .B 0
            Success, including the daemon ending on SIGINT, SIGTERM or SIGQUIT.
            .TP
            .B 1
            A run-time error: a configuration or key file that cannot be used, a socket that cannot be bound, \
            or (for validate) a configuration with problems.
            .TP
            .B 2
            A usage error: an unknown option or command, a missing or malformed argument, or no arguments at all.
            .SH SEE ALSO
            \(subcommands.map { "rosenpass-\($0.commandName)(1)" }.joined(separator: ", ")), \
            rp(1), wg(8)
            .SH STANDARDS
            The Rosenpass protocol is specified in the Rosenpass whitepaper:
            .UR \(whitepaperURL)
            .UE .
            This implementation is wire compatible with the reference implementation
            .UR https://github.com/rosenpass/rosenpass
            .UE .
            .SH AUTHORS
            The swift-rosenpass authors; the protocol was designed by the Rosenpass project (https://rosenpass.eu).
            .SH BUGS
            Report bugs to the swift-rosenpass issue tracker. Protocol questions: https://rosenpass.eu.

            """
        return page
    }

    /// The page of `rosenpass PARENT… COMMAND`.
    static func subcommandPage(_ command: Command, parents: [String] = []) -> String {
        let words = parents + [command.commandName]
        let name = "rosenpass-" + words.joined(separator: "-")
        var page = header(name)
        page += ".SH NAME\n\(escape(name)) \\- \(escape(command.abstract ?? ""))\n"
        page += ".SH SYNOPSIS\n.B rosenpass \(words.joined(separator: " "))\n\(synopsis(command.arguments ?? []))\n"
        page += ".SH DESCRIPTION\n\(paragraphs(command.discussion ?? command.abstract ?? ""))"
        page += ".SH OPTIONS\n\(options(command.arguments ?? []))"
        page += ".SH SEE ALSO\nrosenpass(1)\n"
        return page
    }

    /// The page of another program of the package (the broker programs).
    static func programPage(_ program: Command) -> String {
        let name = program.commandName
        var page = header(name)
        page += ".SH NAME\n\(escape(name)) \\- \(escape(program.abstract ?? ""))\n"
        page += ".SH SYNOPSIS\n.B \(escape(name))\n\(synopsis(program.arguments ?? []))\n"
        page += ".SH DESCRIPTION\n\(paragraphs(program.discussion ?? program.abstract ?? ""))"
        page += ".SH OPTIONS\n\(options(program.arguments ?? []))"
        page += """
            .SH EXIT STATUS
            .TP
            .B 0
            Success, including ending on SIGINT or SIGTERM.
            .TP
            .B 1
            A run-time error.
            .TP
            .B 2
            A usage error.
            .SH SEE ALSO
            rosenpass(1), rosenpass-wireguard-broker-privileged(1), rosenpass-wireguard-broker-socket-handler(1), wg(8)

            """
        return page
    }

    private static func header(_ name: String) -> String {
        ".TH \(name.uppercased()) 1 \"\" \"rosenpass \(RosenpassCommand.version)\" \"User Commands\"\n"
    }

    /// `[-c|--config-file] [--log-level] FILE [WORDS...]`: options by their names, arguments by value name.
    private static func synopsis(_ arguments: [Argument]) -> String {
        arguments.filter { $0.shouldDisplay }.map { argument -> String in
            if argument.kind == "positional" {
                let name = (argument.valueName ?? "ARG").uppercased() + (argument.isRepeating ? "..." : "")
                return argument.isOptional ? "[\(name)]" : name
            }
            let names = (argument.names ?? []).sorted { $0.kind == "short" && $1.kind != "short" }
                .map { $0.kind == "short" ? "-\($0.name)" : "--\($0.name)" }.joined(separator: "|")
            return "[\(names)]"
        }.joined(separator: " ")
    }

    private static func options(_ arguments: [Argument]) -> String {
        var text = ""
        for argument in arguments where argument.shouldDisplay {
            var label: String
            if argument.kind == "positional" {
                label = "\\fI\(escape((argument.valueName ?? "ARG").uppercased()))\\fR"
            } else {
                let names = (argument.names ?? []).sorted { $0.kind == "short" && $1.kind != "short" }
                label = names.map { "\\fB\(escape($0.kind == "short" ? "-" + $0.name : "--" + $0.name))\\fR" }.joined(separator: ", ")
                if argument.kind == "option" { label += " \\fI\(escape((argument.valueName ?? "value").uppercased()))\\fR" }
            }
            var help = argument.abstract ?? ""
            if let values = argument.allValues, !values.isEmpty, argument.kind == "option" {
                help += " (one of: \(values.joined(separator: ", ")))"
            }
            if let defaultValue = argument.defaultValue, argument.kind == "option" { help += " Default: \(defaultValue)." }
            text += ".TP\n\(label)\n\(escape(help))\n"
        }
        return text
    }

    /// Text as roff paragraphs; indented lines (such as a grammar) stay as they are.
    private static func paragraphs(_ text: String) -> String {
        var out = ""
        var preformatted = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  ") {
                if !preformatted { out += ".PP\n.nf\n" }
                preformatted = true
                out += escape(String(line)) + "\n"
                continue
            }
            if preformatted {
                out += ".fi\n"
                preformatted = false
            }
            if line.isEmpty {
                out += ".PP\n"
            } else {
                out += escape(String(line)) + "\n"
            }
        }
        if preformatted { out += ".fi\n" }
        return out
    }

    /// Escapes roff: backslashes, and a leading `.` or `'` that would start a request.
    static func escape(_ text: String) -> String {
        var out = text.replacingOccurrences(of: "\\", with: "\\e")
        if out.hasPrefix(".") || out.hasPrefix("'") { out = "\\&" + out }
        return out
    }
}
