// Userspace WireGuard (wireguard-go, boringtun) over its UAPI socket.

#if canImport(Glibc)
import Glibc
#endif
import RosenpassSystem

/// Userspace WireGuard through the cross-platform UAPI: a unix socket at
/// `/var/run/wireguard/<interface>.sock` speaking `key=value` lines.
///
/// For one request it sends `get=1` and looks for `public_key=<hex>` among the peers, then
/// `set=1` with exactly `public_key=<hex>`, `update_only=true` and `preshared_key=<hex>`, and reads
/// the `errno=` line. Buffers that held keys (the `get` reply carries the private key and every
/// peer's preshared key) are zeroed.
///
/// Permissions: wireguard-go creates the socket owned by its user with mode 0700 under a 0755
/// directory, and `connect(2)` needs write permission on the socket file. `CAP_NET_ADMIN` does not
/// bypass file permissions, so an unprivileged broker needs the socket made accessible to it (for
/// example `chgrp <broker-group> /var/run/wireguard/wg0.sock; chmod g+rw …`). Note that whoever can
/// open that socket controls the whole interface, private key included: give it to the broker's user
/// alone.
public final class UserspaceWireGuardBackend: WireGuardBackend {
    /// Where wireguard-go and boringtun put their sockets.
    public static let defaultDirectory = "/var/run/wireguard"

    /// The socket directory in use.
    public let directory: String

    /// Creates the backend for sockets in `directory`.
    public init(directory: String = UserspaceWireGuardBackend.defaultDirectory) {
        self.directory = directory
    }

    /// The UAPI socket path of `interface` (only called with names checked by ``WireGuardInterfaceName``).
    public func socketPath(for interface: String) -> String {
        "\(directory)/\(interface).sock"
    }

    /// Whether a userspace implementation serves `interface`: its socket path is a socket.
    public func hasSocket(for interface: String) -> Bool {
        guard WireGuardInterfaceName.isValid(interface) else { return false }
        var status = stat()
        return lstat(socketPath(for: interface), &status) == 0 && status.st_mode & S_IFMT == S_IFSOCK
    }

    public func setPresharedKey(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, interface: String) -> SetPskOutcome {
        guard WireGuardInterfaceName.isValid(interface) else { return .noSuchInterface }
        let path = socketPath(for: interface)
        do {
            guard try peerExists(peer, path: path) else { return .noSuchPeer }
            return try set(presharedKey, peer: peer, path: path)
        } catch let error as SystemError where error.errno == ENOENT || error.errno == ECONNREFUSED {
            return .noSuchInterface
        } catch {
            return .failed("userspace WireGuard \(interface): \(error)")
        }
    }

    private func peerExists(_ peer: WireGuardPublicKey, path: String) throws -> Bool {
        let wanted = "public_key=\(peer.hex)"
        var found = false
        let code = try exchange(path: path, request: Array("get=1\n\n".utf8)) { line in
            if line.elementsEqual(wanted.utf8) { found = true }
        }
        guard code == 0 else { throw BrokerError.backend("UAPI get at \(path) answered errno=\(code)") }
        return found
    }

    private func set(_ presharedKey: PresharedKey, peer: WireGuardPublicKey, path: String) throws -> SetPskOutcome {
        let head = Array("set=1\npublic_key=\(peer.hex)\nupdate_only=true\npreshared_key=".utf8)
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: head.count + 2 * BrokerWire.keySize + 2, alignment: 1)
        defer {
            wipe(request)
            request.deallocate()
        }
        head.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: request[0..<head.count]).copyMemory(from: $0) }
        presharedKey.withUnsafeBytes { key in
            HexText.encode(key, into: UnsafeMutableRawBufferPointer(rebasing: request[head.count..<(head.count + 2 * BrokerWire.keySize)]))
        }
        request[request.count - 2] = UInt8(ascii: "\n")
        request[request.count - 1] = UInt8(ascii: "\n")
        let code = try exchange(path: path, request: UnsafeRawBufferPointer(request)) { _ in }
        guard code == 0 else { throw BrokerError.backend("UAPI set at \(path) answered errno=\(code)") }
        return .installed
    }

    private func exchange(path: String, request: [UInt8], line: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        try request.withUnsafeBytes { try exchange(path: path, request: $0, line: line) }
    }

    /// Sends one UAPI operation (`get=1` or `set=1` and its lines, ended by an empty line) to the
    /// socket at `path` and reads its reply up to the empty line, passing each line (without the
    /// newline) to `line`; the reply's bytes are zeroed afterwards. Returns the `errno=` value.
    /// `rp` configures the wireguard-go interface it starts through it.
    public func exchange(path: String, request: UnsafeRawBufferPointer, line: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        let fd = try UnixSocket.connect(path: path)
        defer { close(fd) }
        POSIX.setSocketTimeouts(fd, seconds: 5)
        try POSIX.writeAll(fd, request, context: path)

        var reply = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        var count = 0
        defer {
            wipe(reply)
            reply.deallocate()
        }
        var errnoValue: Int?
        var lineStart = 0
        while true {
            if count == reply.count {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: reply.count * 2, alignment: 1)
                bigger.copyMemory(from: UnsafeRawBufferPointer(reply))
                wipe(reply)
                reply.deallocate()
                reply = bigger
            }
            guard let got = try POSIX.readSome(fd, into: UnsafeMutableRawBufferPointer(rebasing: reply[count...]), context: path) else {
                throw BrokerError.system("read", path, errno: EAGAIN)
            }
            if got == 0 { throw BrokerError.backend("UAPI socket \(path) closed before the reply ended") }
            let end = count + got
            var index = count
            count = end
            while index < end {
                if reply[index] == UInt8(ascii: "\n") {
                    let text = UnsafeRawBufferPointer(rebasing: reply[lineStart..<index])
                    if text.isEmpty {
                        guard let errnoValue else { throw BrokerError.backend("UAPI reply from \(path) has no errno line") }
                        return errnoValue
                    }
                    if text.starts(with: "errno=".utf8) {
                        errnoValue = Int(String(decoding: text.dropFirst(6), as: UTF8.self))
                    } else {
                        line(text)
                    }
                    lineStart = index + 1
                }
                index += 1
            }
        }
    }
}
