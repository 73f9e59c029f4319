// SecretBytes (copy on write, no printing, wiped on release), the constant-time helpers, secureZero
// and the system random number generator.

import Foundation
@testable import RosenpassCrypto
import RosenpassTestSupport
import Testing

/// Records what a `SecretBytes` storage held at the moment it was released: its wiped memory, just
/// before it went back to the allocator.
final class ReleaseRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var released: [[UInt8]] = []

    var observer: SecretBytes.ReleaseObserver {
        { [self] memory in
            lock.lock()
            released.append(Array(memory))
            lock.unlock()
        }
    }

    var releases: [[UInt8]] {
        lock.lock()
        defer { lock.unlock() }
        return released
    }
}

@Suite("SecretBytes and constant-time helpers")
struct SecretsTests {
    @Test("copies are independent: mutating one (copy on write) leaves the other unchanged")
    func copyOnWrite() {
        let original = SecretBytes([1, 2, 3, 4])
        var copy = original
        copy.withUnsafeMutableBytes { $0[0] = 0xFF }
        #expect(original.unprotectedArray() == [1, 2, 3, 4])
        #expect(copy.unprotectedArray() == [0xFF, 2, 3, 4])

        var unique = SecretBytes(zeros: 2)
        let before = unique.withUnsafeBytes { $0.baseAddress }
        unique.withUnsafeMutableBytes { $0[1] = 7 }
        #expect(unique.withUnsafeBytes { $0.baseAddress } == before, "a unique value is mutated in place")
        #expect(unique.unprotectedArray() == [0, 7])
    }

    @Test("description, debugDescription, interpolation and dump never show the bytes")
    func neverPrinted() {
        let secret = SecretBytes([0xDE, 0xAD, 0xBE, 0xEF, 0x42])
        var dumped = ""
        dump(secret, to: &dumped)
        let renderings = [secret.description, secret.debugDescription, "\(secret)", String(reflecting: secret), dumped]
        for text in renderings {
            #expect(text.contains("5"), "says the length: \(text)")
            for leak in ["de", "DE", "222", "ad", "173", "190", "ef", "239", "66"] {
                #expect(!text.contains(leak), "\(text) shows a byte")
            }
        }
        #expect(secret.description == "SecretBytes(5 bytes)")
    }

    @Test("released storage is zeroed before it goes back to the allocator, copies included")
    func wipedOnRelease() {
        let recorder = ReleaseRecorder()
        let secret = Array("a secret that must not survive release".utf8)
        do {
            let first = secret.withUnsafeBytes { SecretBytes(copying: $0, releaseObserver: recorder.observer) }
            var second = first  // shares the storage
            #expect(recorder.releases.isEmpty)
            second.withUnsafeMutableBytes { $0[0] ^= 1 }  // copy on write: a second storage
            #expect(first.unprotectedArray() == secret)
            #expect(recorder.releases.isEmpty, "nothing is released while both values live")
            withExtendedLifetime(first) {}
            withExtendedLifetime(second) {}
        }
        let releases = recorder.releases
        #expect(releases.count == 2, "each storage is released exactly once")
        for memory in releases {
            #expect(memory.count == secret.count)
            #expect(memory.allSatisfy { $0 == 0 }, "released memory still holds \(memory.filter { $0 != 0 }.count) nonzero bytes")
        }
    }

    @Test("a storage stays alive, and unwiped, while any copy refers to it")
    func sharedStorageOutlivesOneCopy() {
        let recorder = ReleaseRecorder()
        var survivor: SecretBytes?
        do {
            let first = [UInt8](repeating: 9, count: 16).withUnsafeBytes {
                SecretBytes(copying: $0, releaseObserver: recorder.observer)
            }
            survivor = first
        }
        #expect(recorder.releases.isEmpty)
        #expect(survivor?.unprotectedArray() == [UInt8](repeating: 9, count: 16))
        survivor = nil
        #expect(recorder.releases == [[UInt8](repeating: 0, count: 16)])
    }

    @Test("init(count:initializingWith:) writes in place; a throwing initializer releases a wiped buffer")
    func initializingInPlace() {
        let made = SecretBytes(count: 3) { $0.copyBytes(from: [7, 8, 9]) }
        #expect(made.unprotectedArray() == [7, 8, 9])
        struct Failure: Error {}
        #expect(throws: Failure.self) {
            _ = try SecretBytes(count: 8) { (buffer) throws(Failure) in
                buffer[0] = 1
                throw Failure()
            }
        }
        #expect(SecretBytes(zeros: 0).count == 0)
    }

    @Test("SecretBytes equality is constant-time and compares lengths and bytes")
    func secretEquality() {
        #expect(SecretBytes([1, 2, 3]).constantTimeEquals(SecretBytes([1, 2, 3])))
        #expect(!SecretBytes([1, 2, 3]).constantTimeEquals(SecretBytes([1, 2, 4])))
        #expect(!SecretBytes([1, 2, 3]).constantTimeEquals(SecretBytes([1, 2])))
        #expect(SecretBytes([]).constantTimeEquals(SecretBytes(zeros: 0)))
    }

    @Test("constantTimeEquals finds a difference at every position, and differing lengths")
    func constantTimeComparison() {
        let reference = generatedInput(count: 64)
        #expect(constantTimeEquals(reference, reference))
        #expect(constantTimeEquals([UInt8](), [UInt8]()))
        for index in reference.indices {
            for bit in [0, 7] {
                var changed = reference
                changed[index] ^= 1 << bit
                #expect(!constantTimeEquals(reference, changed), "difference at byte \(index) bit \(bit)")
            }
        }
        #expect(!constantTimeEquals(reference, Array(reference.dropLast())))
        #expect(!constantTimeEquals([0], [UInt8]()))
    }

    @Test("constantTimeMask and constantTimeConditionalCopy select without branching on the condition")
    func conditionalCopy() {
        #expect(constantTimeMask(0) == 0x00)
        #expect(constantTimeMask(1) == 0xFF)
        let source: [UInt8] = [1, 2, 3, 4]
        for condition: UInt8 in [0, 1] {
            var destination: [UInt8] = [9, 9, 9, 9]
            source.withUnsafeBytes { s in
                destination.withUnsafeMutableBytes { constantTimeConditionalCopy(condition, from: s, to: $0) }
            }
            #expect(destination == (condition == 1 ? source : [9, 9, 9, 9]), "condition \(condition)")
        }
    }

    @Test("secureZero overwrites buffers and arrays")
    func zeroing() {
        var bytes = generatedInput(count: 100)
        secureZero(&bytes)
        #expect(bytes == [UInt8](repeating: 0, count: 100))
        var empty: [UInt8] = []
        secureZero(&empty)
        #expect(empty.isEmpty)
    }

    @Test("SystemRandom fills buffers of any length, beyond getentropy's 256 bytes, with fresh bytes")
    func systemRandom() {
        var random = SystemRandom()
        let a = random.bytes(count: 1000)
        let b = random.bytes(count: 1000)
        #expect(a != b)
        // Each 256-byte chunk of a 1000-byte draw was written (an all-zero chunk has probability 2^-2048).
        for start in stride(from: 0, to: 1000, by: 256) {
            #expect(a[start..<min(start + 256, 1000)].contains { $0 != 0 }, "chunk at \(start)")
        }
        #expect(random.bytes(count: 0).isEmpty)
        #expect(SecretBytes.random(count: 32).count == 32)
        #expect(!SecretBytes.random(count: 32).constantTimeEquals(SecretBytes.random(count: 32)))
    }

    @Test("SecretBytes.random(count:using:) draws from the injected generator")
    func injectedGenerator() {
        struct Counter: RandomBytesGenerator {
            var next: UInt8 = 0
            mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
                for index in buffer.indices {
                    buffer[index] = next
                    next &+= 1
                }
            }
        }
        var generator = Counter()
        #expect(SecretBytes.random(count: 4, using: &generator).unprotectedArray() == [0, 1, 2, 3])
        #expect(generator.bytes(count: 2) == [4, 5])
    }
}
