// The WireGuard interface `rp exchange` creates, configures and removes (`components.md` §8.3).

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
/// thrown. ``remove()`` deletes the link (kernel) or stops wireguard-go (which deletes its TUN
/// device; the link is deleted too if it is still there). Routes go with the link.
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
    /// kind (`EOPNOTSUPP`), start wireguard-go instead and wait for its UAPI socket; then set key,
    /// port and peers (generic netlink or UAPI) and set the link up.
    ///
    /// - Throws: ``AppError`` saying which step failed; nothing is left behind.
    static func create(name: String, settings: WireGuardInterfaceSettings) throws(AppError) -> RPWireGuardInterface {
        let netlink = try RouteNetlink()
        guard if_nametoindex(name) == 0 else {
            throw .runtime("a network interface named \(name) already exists; choose another name with dev, or remove it (ip link del \(name))")
        }
        let interface: RPWireGuardInterface
        let code = try netlink.createWireGuardLink(named: name)
        switch code {
        case 0:
            let index = Int32(bitPattern: if_nametoindex(name))
            guard index != 0 else { throw .runtime("created the WireGuard interface \(name), but cannot find its index") }
            interface = RPWireGuardInterface(name: name, index: index, implementation: .kernel, netlink: netlink)
            do throws(AppError) {
                try WireGuardNetlink.configure(index: index, name: name, settings)
            } catch {
                interface.remove(report: { _ in })
                throw error
            }
        case EOPNOTSUPP:
            interface = try startUserspace(name: name, settings: settings, netlink: netlink)
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
            interface.remove(report: { _ in })
            throw error
        }
        return interface
    }

    private static func startUserspace(name: String, settings: WireGuardInterfaceSettings, netlink: RouteNetlink) throws(AppError) -> RPWireGuardInterface {
        let process = try WireGuardGoProcess(interface: name)
        let socket = UserspaceWireGuardBackend(directory: UserspaceWireGuardBackend.defaultDirectory).socketPath(for: name)
        do throws(AppError) {
            try process.waitForSocket(socket, timeout: 10)
        } catch {
            process.stop()
            throw error
        }
        let index = Int32(bitPattern: if_nametoindex(name))
        guard index != 0 else {
            process.stop()
            throw .runtime("\(process.executable) created no interface \(name)")
        }
        let interface = RPWireGuardInterface(name: name, index: index, implementation: .userspace(process, socket: socket), netlink: netlink)
        do throws(AppError) {
            try WireGuardUAPI.configure(socket: socket, name: name, settings)
        } catch {
            interface.remove(report: { _ in })
            throw error
        }
        return interface
    }

    /// `ip address add ADDRESS dev NAME`.
    func addAddress(_ address: IPPrefix) throws(AppError) {
        try netlink.addAddress(address, index: index, name: name)
    }

    /// `ip route replace PREFIX dev NAME`, once per prefix.
    func addRoutes(_ prefixes: [IPPrefix]) throws(AppError) {
        for prefix in prefixes { try netlink.replaceRoute(prefix, index: index, name: name) }
    }

    /// Removes the interface (once); problems are passed to `report`, never thrown.
    func remove(report: (String) -> Void) {
        guard !removed else { return }
        removed = true
        if case .userspace(let process, _) = implementation {
            process.stop()
            // wireguard-go deletes its TUN device when it stops; a SIGKILLed one may not have.
            guard if_nametoindex(name) != 0 else { return }
        }
        do {
            try netlink.deleteLink(index: index, name: name)
        } catch {
            report("could not remove the interface \(name): \(error)")
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
