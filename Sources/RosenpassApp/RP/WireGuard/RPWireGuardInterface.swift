// The WireGuard interface `rp exchange` creates, configures and removes (`docs/components.md` §8.3).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import RosenpassBroker

/// `rp`'s WireGuard interface: kernel WireGuard when the kernel has it, otherwise a wireguard-go
/// process that `rp` starts and owns.
///
/// Creation is all or nothing: if any step fails, what was made is removed before the error is
/// thrown (a removal that fails too is reported as a warning). ``remove()`` deletes the link
/// (kernel) or stops wireguard-go (which deletes its TUN device; the link is deleted too if it is
/// still there, and a socket left by a wireguard-go that had to be killed is removed). Routes go
/// with the link.
final class RPWireGuardInterface {
    /// Which WireGuard serves the interface.
    enum Implementation {
        /// The kernel's, configured over generic netlink.
        case kernel
        /// A userspace implementation, configured over its UAPI socket.
        case userspace(WireGuardGoProcess, socket: String)
    }

    /// The interface name.
    let name: String
    /// The interface index.
    let index: Int32
    /// Which WireGuard serves it.
    let implementation: Implementation
    private let netlink: RouteNetlink
    private var removed = false

    private init(name: String, index: Int32, implementation: Implementation, netlink: RouteNetlink) {
        self.name = name
        self.index = index
        self.implementation = implementation
        self.netlink = netlink
    }

    /// A description for the start-up line: "kernel WireGuard" or "wireguard-go (pid N)".
    var implementationDescription: String {
        switch implementation {
        case .kernel: return "kernel WireGuard"
        case .userspace(let process, _): return "\(process.executable) (pid \(process.pid)), as the kernel has no WireGuard"
        }
    }

    /// A PSK backend for the in-process broker that reaches this interface.
    func makeBackend() -> WireGuardBackend {
        switch implementation {
        case .kernel: return KernelWireGuardBackend()
        case .userspace(_, let socket): return UserspaceWireGuardBackend(directory: FileIO.split(socket).0.withoutTrailingSlash)
        }
    }

    /// Creates the interface `name` with `settings` (key, port, peers with random PSKs) and brings
    /// it up.
    ///
    /// Steps: refuse a name in use; `RTM_NEWLINK` kind `wireguard`; if the kernel does not know that
    /// kind (`EOPNOTSUPP`), start wireguard-go instead (after removing a stale UAPI socket of that
    /// name, and refusing a live one) and wait until it answers on its UAPI socket; then set key,
    /// port and peers (generic netlink or UAPI) and set the link up.
    ///
    /// - Parameter warn: receives the problems of removing a half-made interface after a failed step.
    /// - Throws: ``AppError`` saying which step failed; nothing is left behind (or `warn` was told).
    static func create(name: String, settings: WireGuardInterfaceSettings, warn: (String) -> Void) throws(AppError) -> RPWireGuardInterface {
        let netlink = try RouteNetlink()
        guard if_nametoindex(name) == 0 else {
            throw .runtime("a network interface named \(name) already exists; choose another name with dev, or remove it (ip link del \(name))")
        }
        let interface: RPWireGuardInterface
        let code = try netlink.createWireGuardLink(named: name)
        switch code {
        case 0:
            let index = Int32(bitPattern: if_nametoindex(name))
            guard index != 0 else {
                let problem = AppError.runtime("created the WireGuard interface \(name), but cannot find its index")
                do throws(AppError) {
                    try netlink.deleteLink(named: name)
                } catch {
                    warn("could not remove the interface \(name) after a failed start: \(error)")
                }
                throw problem
            }
            interface = RPWireGuardInterface(name: name, index: index, implementation: .kernel, netlink: netlink)
            do throws(AppError) {
                try WireGuardNetlink.configure(index: index, name: name, settings)
            } catch {
                interface.removeAfterFailure(warn: warn)
                throw error
            }
        case EOPNOTSUPP:
            interface = try startUserspace(name: name, settings: settings, netlink: netlink, warn: warn)
        case EEXIST:
            throw .runtime("a network interface named \(name) already exists; choose another name with dev, or remove it (ip link del \(name))")
        case EPERM:
            throw .runtime("creating the WireGuard interface \(name) needs CAP_NET_ADMIN: run rp exchange as root (or give it that capability)")
        default:
            throw .system("RTM_NEWLINK (type wireguard)", "interface \(name)", errno: code)
        }
        do throws(AppError) {
            try netlink.setUp(index: interface.index, name: name)
        } catch {
            interface.removeAfterFailure(warn: warn)
            throw error
        }
        return interface
    }

    private static func startUserspace(
        name: String, settings: WireGuardInterfaceSettings, netlink: RouteNetlink, warn: (String) -> Void
    ) throws(AppError) -> RPWireGuardInterface {
        let socket = UserspaceWireGuardBackend(directory: UserspaceWireGuardBackend.defaultDirectory).socketPath(for: name)
        try WireGuardGoProcess.clearStaleSocket(socket, interface: name)
        let process = try WireGuardGoProcess(interface: name)
        do throws(AppError) {
            try process.waitForSocket(socket, timeout: 10)
        } catch {
            stop(process, socket: socket, warn: warn)
            throw error
        }
        let index = Int32(bitPattern: if_nametoindex(name))
        guard index != 0 else {
            stop(process, socket: socket, warn: warn)
            throw .runtime("\(process.executable) created no interface \(name)")
        }
        let interface = RPWireGuardInterface(name: name, index: index, implementation: .userspace(process, socket: socket), netlink: netlink)
        do throws(AppError) {
            try WireGuardUAPI.configure(socket: socket, name: name, settings)
        } catch {
            interface.removeAfterFailure(warn: warn)
            throw error
        }
        return interface
    }

    /// Stops a wireguard-go that made no usable interface, and removes the socket it may leave.
    private static func stop(_ process: WireGuardGoProcess, socket: String, warn: (String) -> Void) {
        process.stop()
        do throws(AppError) {
            try removeLeftSocket(socket)
        } catch {
            warn("after stopping \(process.executable): \(error)")
        }
    }

    /// Removes the UAPI socket a killed wireguard-go left behind (one that refuses connections);
    /// a socket that is gone, or that some process serves, is left alone.
    private static func removeLeftSocket(_ path: String) throws(AppError) {
        guard case .refused = WireGuardGoProcess.probe(path) else { return }
        guard unlink(path) == 0 || errno == ENOENT else { throw .system("unlink (stale UAPI socket)", path, errno: errno) }
    }

    /// `ip address add ADDRESS dev NAME`.
    func addAddress(_ address: IPPrefix) throws(AppError) {
        try netlink.addAddress(address, index: index, name: name)
    }

    /// `ip route replace PREFIX dev NAME`, once per prefix.
    func addRoutes(_ prefixes: [IPPrefix]) throws(AppError) {
        for prefix in prefixes { try netlink.replaceRoute(prefix, index: index, name: name) }
    }

    /// Removes the interface; a second call does nothing.
    ///
    /// - Throws: ``AppError`` when the link could not be deleted, or a stale UAPI socket not
    ///   removed; everything else was still attempted.
    func remove() throws(AppError) {
        guard !removed else { return }
        removed = true
        var problems = [String]()
        if case .userspace(let process, let socket) = implementation {
            process.stop()
            do throws(AppError) {
                try Self.removeLeftSocket(socket)
            } catch {
                problems.append("\(error)")
            }
            // wireguard-go deletes its TUN device when it stops; a SIGKILLed one may not have.
            if Int32(bitPattern: if_nametoindex(name)) == index { deleteLink(&problems) }
        } else {
            deleteLink(&problems)
        }
        guard problems.isEmpty else {
            throw .runtime("could not remove the interface \(name): \(problems.joined(separator: "; "))")
        }
    }

    private func deleteLink(_ problems: inout [String]) {
        do throws(AppError) {
            try netlink.deleteLink(index: index, name: name)
        } catch {
            problems.append("\(error)")
        }
    }

    /// ``remove()`` on the way out of a failed ``create(name:settings:warn:)``: its problem is
    /// passed to `warn`, and the creation error is what the caller throws.
    private func removeAfterFailure(warn: (String) -> Void) {
        do throws(AppError) {
            try remove()
        } catch {
            warn("after a failed start: \(error)")
        }
    }
}

extension String {
    /// The path without trailing slashes (except a lone "/").
    var withoutTrailingSlash: String {
        var path = self
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }
}
