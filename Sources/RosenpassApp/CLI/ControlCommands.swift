// `rosenpass status` and `rosenpass metrics`: questions to a running daemon over its control socket
// (docs/control-socket.md).

import ArgumentParser

/// Where the control socket is: `--socket`, else `control_socket` in `--config`'s file, else the default.
struct ControlSocketOptions: ParsableArguments {
    @Option(name: .customLong("socket"), help: ArgumentHelp("The daemon's control socket (default: control_socket of --config, or \(ControlClient.defaultPath)).", valueName: "PATH"))
    var socket: String?

    @Option(name: [.customShort("c"), .customLong("config")], help: ArgumentHelp("The daemon's configuration file, to find its control_socket.", valueName: "FILE"))
    var config: String?

    func path() throws(AppError) -> String {
        if let socket { return socket }
        if let config {
            let configuration = try Configuration.load(file: config, home: Environment.home)
            guard let path = configuration.controlSocket else {
                throw .usage("\(config) sets no control_socket, so its daemon cannot be asked; add control_socket = \"\(ControlClient.defaultPath)\" and restart it")
            }
            return path
        }
        return ControlClient.defaultPath
    }

    /// Sends `request` and returns the body of a successful answer.
    func ask(_ request: ControlRequest) throws(AppError) -> [UInt8] {
        let path = try path()
        let response = try ControlClient.send(request, to: path)
        guard response.result == .ok else {
            throw .runtime("the daemon at \(path) answered \(response.result): \(response.text)")
        }
        return response.body
    }
}

/// `rosenpass status [--json]`.
struct StatusCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running daemon's peers, keys and handshakes.",
        discussion: """
            Asks the daemon over its control socket (control_socket in its configuration) and prints, per \
            peer: endpoint (configured and last seen), WireGuard interface and peer, McEliece format, the \
            latest key exchange and the next, handshakes completed and failed, the last failure and the \
            cookie state; and for the daemon: uptime, the PSK broker's link, and datagrams received and \
            dropped by reason. --json prints the daemon's answer as it came (schema in docs/control-socket.md).
            """
    )

    @OptionGroup var where_: ControlSocketOptions

    @Flag(help: "Print JSON instead of the table.")
    var json = false

    func run() throws {
        let body = try where_.ask(ControlRequest(.status))
        if json {
            print(String(decoding: body, as: UTF8.self))
            return
        }
        let status: DaemonStatus
        do {
            status = try DaemonStatus(json: body)
        } catch {
            throw AppError.runtime("the daemon's status could not be read (\(error)); try --json")
        }
        print(status.table, terminator: "")
    }
}

/// `rosenpass metrics`.
struct MetricsCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print a running daemon's metrics in the Prometheus text format.",
        discussion: """
            The same text the daemon serves at http://METRICS_LISTEN/metrics when metrics_listen is set; \
            for node_exporter's textfile collector, redirect it into a .prom file.
            """
    )

    @OptionGroup var where_: ControlSocketOptions

    func run() throws {
        print(String(decoding: try where_.ask(ControlRequest(.metrics)), as: UTF8.self), terminator: "")
    }
}

/// `rosenpass reload`.
struct ReloadCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Make a running daemon read its configuration file again.",
        discussion: """
            The same as sending it SIGHUP, but the answer says what happened. Added peers start, removed \
            peers stop (WireGuard and key_out get a random key, so nothing keeps using their last key), \
            changed peers start afresh, and unchanged peers keep their sessions and timers. A configuration \
            with an error changes nothing, and the error is printed. Changes outside the peers (our keys, \
            listen, the broker, the sockets, logging) take effect at the next start; the answer names them.
            """
    )

    @OptionGroup var where_: ControlSocketOptions

    func run() throws {
        print(String(decoding: try where_.ask(ControlRequest(.reload)), as: UTF8.self))
    }
}

/// `rosenpass peer add|remove`.
struct PeerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer",
        abstract: "Add or remove a peer of a running daemon.",
        subcommands: [PeerAddCommand.self, PeerRemoveCommand.self]
    )
}

/// `rosenpass peer add [--persist] [FILE]`.
struct PeerAddCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a peer to a running daemon.",
        discussion: """
            FILE (or standard input) holds the keys of one [[peers]] entry, without the [[peers]] line, as in \
            the configuration file; write paths as the daemon sees them (absolute). The daemon checks the \
            entry as it checks its configuration (key files, endpoint, key_out), starts the peer at once, and \
            answers what it did. Without --persist the peer lives until the daemon stops or reloads its \
            configuration; with it, the entry is also appended to the configuration file.
            """
    )

    @OptionGroup var where_: ControlSocketOptions

    @Flag(help: "Also append the entry to the daemon's configuration file.")
    var persist = false

    @Argument(help: ArgumentHelp("The file with the entry; - or nothing for standard input.", valueName: "FILE"))
    var file: String?

    func run() throws {
        let text: String
        if let file, file != "-" {
            text = try FileIO.readText(file, limit: 64 << 10)
        } else {
            var bytes = [UInt8]()
            while let line = readLine(strippingNewline: false) { bytes += Array(line.utf8) }
            text = String(decoding: bytes, as: UTF8.self)
        }
        let body = [UInt8(persist ? 1 : 0)] + Array(text.utf8)
        print(String(decoding: try where_.ask(ControlRequest(.addPeer, body: body)), as: UTF8.self))
    }
}

/// `rosenpass peer remove [--persist] NAME`.
struct PeerRemoveCommand: ParsableCommand, RootOptionsReading {
    @ParentCommand var root: RosenpassCommand

    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a peer from a running daemon.",
        discussion: """
            NAME is the peer's name, its peer id (as in the output-key lines and `rosenpass status`) or its \
            public_key path. The peer stops at once, failing closed: its key_out and its WireGuard pre-shared \
            key get a random key. Without --persist its entry stays in the configuration file (a reload adds \
            it again); with it, the entry is deleted from the file.
            """
    )

    @OptionGroup var where_: ControlSocketOptions

    @Flag(help: "Also delete the entry from the daemon's configuration file.")
    var persist = false

    @Argument(help: ArgumentHelp("The peer's name, peer id or public_key path.", valueName: "NAME"))
    var name: String

    func run() throws {
        let body = [UInt8(persist ? 1 : 0)] + Array(name.utf8)
        print(String(decoding: try where_.ask(ControlRequest(.removePeer, body: body)), as: UTF8.self))
    }
}
