// SecureMemory, the allocator behind SecretBytes: zeroed slots, slot reuse, large secrets, and on
// Linux that its mappings are locked in RAM and left out of core dumps.

import Foundation
@testable import RosenpassCrypto
@testable import RosenpassSecureMemory
import Testing

@Suite("Secret memory")
struct SecureMemoryTests {
    @Test("every size comes back zeroed, and a slot given back is zero before it is handed out again")
    func zeroedSlots() {
        let allocator = SecureMemory.Allocator()  // its own, so no other test takes a slot in between
        for count in [0, 1, 31, 32, 33, 100, 4096, 13_608, 16_384, 16_385, 100_000] {
            let first = allocator.allocate(count)
            #expect(first.count == count)
            #expect(first.allSatisfy { $0 == 0 })
            for index in first.indices { first[index] = 0xA5 }
            let address = first.baseAddress
            allocator.deallocate(first)

            let second = allocator.allocate(count)
            #expect(second.allSatisfy { $0 == 0 }, "\(count) bytes")
            if count <= 16_384, let address {
                // Slots are reused, last in first out: the same slot, wiped.
                #expect(second.baseAddress == address)
            }
            allocator.deallocate(second)
        }
    }

    @Test("a slot's bytes beyond the requested count are wiped as well when it is given back")
    func wholeSlotIsWiped() {
        let allocator = SecureMemory.Allocator()
        let bytes = allocator.allocate(20)  // a 32-byte slot
        let slot = UnsafeMutableRawBufferPointer(start: bytes.baseAddress, count: 32)
        for index in slot.indices { slot[index] = 0x5A }
        allocator.deallocate(bytes)
        #expect(slot.allSatisfy { $0 == 0 })
    }

    @Test("SecretBytes live in secret memory; the allocator accounts for what it mapped")
    func secretBytesUseSecretMemory() throws {
        let before = SecureMemory.status
        let secrets = (0..<40).map { _ in SecretBytes.random(count: 16_000) }  // more than one chunk
        let after = SecureMemory.status
        // (Not an exact figure: tests running alongside allocate and free secrets too.)
        #expect(after.lockedBytes + after.unlockedBytes > before.lockedBytes + before.unlockedBytes)

        #if os(Linux)
        let address = secrets[0].withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        let flags = try #require(Self.vmFlags(containing: address))
        #expect(flags.contains("dd"), "the mapping is left out of core dumps (flags: \(flags))")
        // The sanitizers' mlock is a no-op that reports success (make test-sanitizers).
        if after.lockFailure == nil && !Self.underSanitizer {
            #expect(flags.contains("lo"), "the mapping is locked in RAM (flags: \(flags))")
        }
        #endif
        _ = secrets
    }

    /// Whether this process runs with AddressSanitizer's or ThreadSanitizer's runtime.
    static var underSanitizer: Bool {
        let process = dlopen(nil, RTLD_NOW)
        return dlsym(process, "__asan_init") != nil || dlsym(process, "__tsan_init") != nil
    }

    /// The `VmFlags` of the mapping in `/proc/self/smaps` that contains `address`.
    static func vmFlags(containing address: UInt) -> [String]? {
        // Read to the end: String(contentsOfFile:) stops after the first page of a /proc file.
        guard let file = FileHandle(forReadingAtPath: "/proc/self/smaps"), let data = try? file.readToEnd() else { return nil }
        let smaps = String(decoding: data, as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), let space = line.firstIndex(of: " "), dash < space,
                let start = UInt(line[..<dash], radix: 16), let end = UInt(line[line.index(after: dash)..<space], radix: 16)
            {
                inside = start <= address && address < end
            } else if inside, line.hasPrefix("VmFlags:") {
                return line.dropFirst("VmFlags:".count).split(separator: " ").map(String.init)
            }
        }
        return nil
    }
}
