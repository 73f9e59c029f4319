// Fuzz target 7: netlink replies as the privileged broker parses them (generic netlink messages,
// attributes nested three deep in a WireGuard GET_DEVICE dump, the family id of CTRL_CMD_GETFAMILY).
//
// Checked beyond "no crash": every message and attribute handed out lies inside the datagram.

import FuzzingSupport
@testable import RosenpassSystem

@testable import RosenpassBroker

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let datagram = UnsafeRawBufferPointer(start: data, count: size)
    let end = datagram.baseAddress! + size
    func inside(_ part: UnsafeRawBufferPointer) -> Bool {
        part.count == 0 || (part.baseAddress! >= datagram.baseAddress! && part.baseAddress! + part.count <= end)
    }
    let peer = WireGuardPublicKey(base64: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=")!
    for message in NetlinkMessage.parse(datagram) {
        guard inside(message.payload) else { fatalError("a message beyond the datagram") }
        _ = KernelWireGuardBackend.deviceReply(message.payload, containsPeer: peer)
        for attribute in netlinkAttributes(message.payload) {
            guard inside(attribute.payload) else { fatalError("an attribute beyond its message") }
            for nested in netlinkAttributes(attribute.payload) {
                guard inside(nested.payload) else { fatalError("a nested attribute beyond its parent") }
            }
        }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

@_cdecl("FuzzNetlink_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, testOneInput)
}
