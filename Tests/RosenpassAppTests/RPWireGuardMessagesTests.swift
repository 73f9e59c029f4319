// What `rp exchange` sends to configure its interface (`docs/components.md` §8.3): the rtnetlink requests
// byte for byte (as `ip link add … type wireguard`, `ip address add`, `ip route replace` send them),
// kernel WireGuard's WG_CMD_SET_DEVICE attributes, and wireguard-go's UAPI `set=1` text. The kernel
// path cannot run on a host without the WireGuard module, so its messages are checked here.

import RosenpassBroker
import RosenpassCrypto
import Testing

@testable import RosenpassApp
import RosenpassSystem

@Suite("rp WireGuard messages")
struct RPWireGuardMessagesTests {
    private func bytes(_ message: NetlinkMessageBuilder) -> [UInt8] { message.withMessage { Array($0) } }

    /// The attributes in `bytes` with their type words as sent, flags included (the kernel rejects
    /// a WireGuard nest without `NLA_F_NESTED`, so the flag must be checked, not masked away).
    private func rawAttributes(_ bytes: [UInt8]) -> [(type: UInt16, payload: [UInt8])] {
        var result: [(type: UInt16, payload: [UInt8])] = []
        var offset = 0
        while offset + 4 <= bytes.count {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            let type = UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8
            guard length >= 4, offset + length <= bytes.count else {
                Issue.record("malformed attribute at offset \(offset)")
                break
            }
            result.append((type, Array(bytes[(offset + 4)..<(offset + length)])))
            offset += (length + 3) & ~3
        }
        #expect(offset == bytes.count, "trailing bytes after the attributes")
        return result
    }

    /// The netlink header: length, type, flags, sequence, port 0.
    private func header(length: UInt32, type: UInt16, flags: UInt16, sequence: UInt32) -> [UInt8] {
        withUnsafeBytes(of: length.littleEndian) { Array($0) } + withUnsafeBytes(of: type.littleEndian) { Array($0) }
            + withUnsafeBytes(of: flags.littleEndian) { Array($0) } + withUnsafeBytes(of: sequence.littleEndian) { Array($0) }
            + [0, 0, 0, 0]
    }

    @Test func createLink_isNewLinkWithNameAndKind() {
        let message = bytes(RouteNetlink.createWireGuardLinkMessage(name: "wg0", sequence: 7))
        // NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE: fails if the name is taken.
        var expected = header(length: 60, type: 16, flags: 0x605, sequence: 7)
        expected += [UInt8](repeating: 0, count: 16)  // struct ifinfomsg, all zero
        expected += [8, 0, 3, 0] + Array("wg0".utf8) + [0]  // IFLA_IFNAME
        expected += [20, 0, 18, 0x80]  // IFLA_LINKINFO, nested
        expected += [14, 0, 1, 0] + Array("wireguard".utf8) + [0, 0, 0]  // IFLA_INFO_KIND, padded
        #expect(message == expected)
    }

    @Test func setUpAndDelete_addressTheLinkByIndex() {
        var up = header(length: 32, type: 16, flags: 0x5, sequence: 3)
        up += [0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]  // index 5, IFF_UP in flags and change mask
        #expect(bytes(RouteNetlink.setUpMessage(index: 5, sequence: 3)) == up)
        var delete = header(length: 32, type: 17, flags: 0x5, sequence: 4)
        delete += [0, 0, 0, 0, 5, 0, 0, 0] + [UInt8](repeating: 0, count: 8)
        #expect(bytes(RouteNetlink.deleteLinkMessage(index: 5, sequence: 4)) == delete)
    }

    @Test func deleteByName_addressesTheLinkByName() {
        // `ip link del wg0`: index 0 and IFLA_IFNAME, for a link whose index could not be found.
        var expected = header(length: 40, type: 17, flags: 0x5, sequence: 6)
        expected += [UInt8](repeating: 0, count: 16)
        expected += [8, 0, 3, 0] + Array("wg0".utf8) + [0]
        #expect(bytes(RouteNetlink.deleteLinkMessage(name: "wg0", sequence: 6)) == expected)
    }

    @Test func addAddress_setsLocalAndAddress() throws {
        let address = try #require(IPPrefix("10.78.0.1/24"))
        var expected = header(length: 40, type: 20, flags: 0x605, sequence: 2)
        expected += [2, 24, 0, 0, 5, 0, 0, 0]  // struct ifaddrmsg: AF_INET, /24, index 5
        expected += [8, 0, 2, 0, 10, 78, 0, 1]  // IFA_LOCAL
        expected += [8, 0, 1, 0, 10, 78, 0, 1]  // IFA_ADDRESS
        #expect(bytes(RouteNetlink.addAddressMessage(address, index: 5, sequence: 2)) == expected)
    }

    @Test func replaceRoute_routesTheNetworkToTheInterface() throws {
        let prefix = try #require(IPPrefix("10.78.0.0/24"))
        // NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, as `ip route replace`.
        var expected = header(length: 44, type: 24, flags: 0x505, sequence: 1)
        // struct rtmsg: AF_INET, /24, main table, RTPROT_BOOT, RT_SCOPE_LINK, RTN_UNICAST, no flags.
        expected += [2, 24, 0, 0, 254, 3, 253, 1, 0, 0, 0, 0]
        expected += [8, 0, 1, 0, 10, 78, 0, 0]  // RTA_DST
        expected += [8, 0, 4, 0, 5, 0, 0, 0]  // RTA_OIF
        #expect(bytes(RouteNetlink.replaceRouteMessage(prefix, index: 5, sequence: 1)) == expected)

        let v6 = bytes(RouteNetlink.replaceRouteMessage(try #require(IPPrefix("fd78::2")), index: 5, sequence: 1))
        #expect(v6.count == 16 + 12 + 20 + 8)
        #expect(Array(v6[16..<24]) == [10, 128, 0, 0, 254, 3, 0, 1], "AF_INET6, /128, scope universe as `ip` sends it")
    }

    private var settings: WireGuardInterfaceSettings {
        get throws {
            let peer = WireGuardInterfaceSettings.Peer(
                publicKey: try #require(WireGuardPublicKey([UInt8](repeating: 0xbb, count: 32))),
                presharedKey: try #require(PresharedKey([UInt8](repeating: 0xcc, count: 32))),
                endpoint: SocketAddress(literal: "192.168.78.1:10000"), persistentKeepalive: 5,
                allowedIPs: [try #require(IPPrefix("10.78.0.2/32")), try #require(IPPrefix("fd78::/64"))])
            return WireGuardInterfaceSettings(
                privateKey: SecretBytes([UInt8](repeating: 0xaa, count: 32)), listenPort: 10000, peers: [peer])
        }
    }

    @Test func setDevice_carriesKeyPortAndPeers() throws {
        let message = WireGuardNetlink.setDeviceMessage(family: 0x1b, sequence: 9, index: 5, try settings)
        let raw = bytes(message)
        #expect(Array(raw[4..<8]) == [0x1b, 0, 0x5, 0], "the family id; NLM_F_REQUEST | NLM_F_ACK")
        #expect(Array(raw[16..<20]) == [1, 1, 0, 0], "WG_CMD_SET_DEVICE, version 1")

        let attributes = rawAttributes(Array(raw[20...]))
        // IFINDEX, PRIVATE_KEY, LISTEN_PORT, FLAGS, PEERS | NLA_F_NESTED
        #expect(attributes.map(\.type) == [1, 3, 6, 5, 0x8008])
        #expect(attributes[0].payload == [5, 0, 0, 0])
        #expect(attributes[1].payload == [UInt8](repeating: 0xaa, count: 32))
        #expect(attributes[2].payload == [0x10, 0x27], "port 10000")
        #expect(attributes[3].payload == [1, 0, 0, 0], "WGDEVICE_F_REPLACE_PEERS")

        let peers = rawAttributes(attributes[4].payload)
        #expect(peers.map(\.type) == [0x8000], "one peer, a nest (index 0 | NLA_F_NESTED)")
        let peer = rawAttributes(peers[0].payload)
        // PUBLIC_KEY, PRESHARED_KEY, FLAGS, ENDPOINT, PERSISTENT_KEEPALIVE_INTERVAL, ALLOWEDIPS | NLA_F_NESTED
        #expect(peer.map(\.type) == [1, 2, 3, 4, 5, 0x8009])
        #expect(peer[0].payload == [UInt8](repeating: 0xbb, count: 32))
        #expect(peer[1].payload == [UInt8](repeating: 0xcc, count: 32))
        #expect(peer[2].payload == [2, 0, 0, 0], "WGPEER_F_REPLACE_ALLOWEDIPS")
        #expect(Array(peer[3].payload.prefix(8)) == [2, 0, 0x27, 0x10, 192, 168, 78, 1], "struct sockaddr_in, port in network order")
        #expect(peer[4].payload == [5, 0])
        let allowed = rawAttributes(peer[5].payload)
        #expect(allowed.map(\.type) == [0x8000, 0x8001], "two allowed IPs, each a nest")
        let entries = allowed.map { rawAttributes($0.payload) }
        // WGALLOWEDIP_A_FAMILY, IPADDR, CIDR_MASK: plain attributes.
        #expect(entries.map { $0.map(\.type) } == [[1, 2, 3], [1, 2, 3]])
        #expect(entries.first?.map(\.payload) == [[2, 0], [10, 78, 0, 2], [32]])
        #expect(entries.last?.map(\.payload) == [[10, 0], [0xfd, 0x78] + [UInt8](repeating: 0, count: 14), [64]])
    }

    @Test func uapiSet_isTheCompleteConfiguration() throws {
        let request = WireGuardUAPI.setRequest(try settings)
        let text = request.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        let a = String(repeating: "aa", count: 32), b = String(repeating: "bb", count: 32), c = String(repeating: "cc", count: 32)
        #expect(
            text == """
                set=1
                private_key=\(a)
                listen_port=10000
                replace_peers=true
                public_key=\(b)
                preshared_key=\(c)
                endpoint=192.168.78.1:10000
                persistent_keepalive_interval=5
                replace_allowed_ips=true
                allowed_ip=10.78.0.2/32
                allowed_ip=fd78::/64


                """)
    }
}
