// Memory for key material: locked in RAM, left out of core dumps, zeroed when given back.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Android)
import Android
#endif
import CRosenpassSystem

/// The allocator behind `SecretBytes` (RosenpassCrypto) and `PresharedKey` (RosenpassBroker).
///
/// Secrets live in chunks of 64 KiB mapped for them alone. Each chunk is
/// - locked in RAM with `mlock`, so a secret is never written to swap. When the process may not lock
///   more (`RLIMIT_MEMLOCK`, 8 MiB by default on current kernels, 64 KiB on old ones), the chunk is
///   used unlocked and ``status`` says so; the daemon then logs a warning once;
/// - marked `MADV_DONTDUMP` (Linux), so a core dump, or `gcore`, leaves it out;
/// - cut into slots of one size class (32 bytes to 16 KiB), handed out and taken back under a lock.
/// Larger secrets get a mapping of their own with the same treatment. A slot is zeroed when it is
/// given back (and again before it is handed out), and chunks are never unmapped, so no secret is
/// ever left in memory that goes back to the general heap.
public enum SecureMemory {
    /// What the allocator got from the system so far.
    public struct Status: Sendable, Equatable {
        /// Bytes mapped for secrets and locked in RAM.
        public var lockedBytes: Int
        /// Bytes mapped for secrets that could not be locked.
        public var unlockedBytes: Int
        /// Why locking failed the first time, if it did (`strerror` of `mlock`'s errno).
        public var lockFailure: String?
    }

    /// The slot sizes; a request gets the smallest that fits.
    static let sizeClasses = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16_384]
    /// The size of each mapping that is cut into slots.
    static let chunkSize = 64 * 1024

    /// The allocator every secret of this process comes from.
    static let shared = Allocator()

    /// `count` zeroed bytes of secret memory (at least one byte is mapped). Give them back with
    /// ``deallocate(_:)``, never with `deallocate()`.
    public static func allocate(_ count: Int) -> UnsafeMutableRawBufferPointer {
        shared.allocate(count)
    }

    /// Zeroes `buffer` and gives its slot back. `buffer` must come from ``allocate(_:)``, with the
    /// same count.
    public static func deallocate(_ buffer: UnsafeMutableRawBufferPointer) {
        shared.deallocate(buffer)
    }

    /// What the allocator got from the system so far.
    public static var status: Status { shared.status }

    /// Keeps core dumps, `ptrace` and `/proc/PID/mem` of this process from everyone without
    /// `CAP_SYS_PTRACE`, other processes of the same user included (`PR_SET_DUMPABLE` 0). Returns
    /// whether it took effect (false where the system has no such setting).
    @discardableResult
    public static func makeProcessUndumpable() -> Bool {
        crp_set_dumpable(0) == 0
    }

    /// Whether this process can be dumped or traced by its own user (`PR_GET_DUMPABLE`).
    public static var isProcessDumpable: Bool? {
        let value = crp_get_dumpable()
        return value < 0 ? nil : value != 0
    }

    /// Zeroes memory in a way the optimizer cannot remove.
    static func zero(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        #if canImport(Darwin)
        _ = memset_s(base, buffer.count, 0, buffer.count)
        #else
        explicit_bzero(base, buffer.count)  // Glibc, Musl, Bionic
        #endif
    }

    /// Slots of secret memory, handed out and taken back behind one lock. The process uses
    /// ``shared``; tests make their own.
    final class Allocator: @unchecked Sendable {
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>
        private var freeSlots: [[UnsafeMutableRawPointer]]
        private var current = Status(lockedBytes: 0, unlockedBytes: 0, lockFailure: nil)
        /// The mappings of their own that large secrets got, and whether each is locked.
        private var largeMappings: [UnsafeMutableRawPointer: Bool] = [:]

        init() {
            mutex = .allocate(capacity: 1)
            mutex.initialize(to: pthread_mutex_t())
            pthread_mutex_init(mutex, nil)
            freeSlots = Array(repeating: [], count: SecureMemory.sizeClasses.count)
        }

        var status: Status { locked { current } }

        /// `count` zeroed bytes, in the smallest slot that holds them (at least one byte).
        func allocate(_ count: Int) -> UnsafeMutableRawBufferPointer {
            precondition(count >= 0, "SecureMemory: negative count")
            let slot = allocateSlot(max(count, 1))
            slot.initializeMemory(as: UInt8.self, repeating: 0)
            return UnsafeMutableRawBufferPointer(rebasing: slot[0..<count])
        }

        /// Zeroes the whole slot of `buffer` and takes it back.
        func deallocate(_ buffer: UnsafeMutableRawBufferPointer) {
            guard let base = buffer.baseAddress else { return }
            let size = SecureMemory.sizeClasses.first { $0 >= max(buffer.count, 1) } ?? Self.pageRounded(buffer.count)
            let whole = UnsafeMutableRawBufferPointer(start: base, count: size)
            SecureMemory.zero(whole)
            takeBack(whole)
        }

        private func allocateSlot(_ count: Int) -> UnsafeMutableRawBufferPointer {
            guard let sizeClass = SecureMemory.sizeClasses.firstIndex(where: { $0 >= count }) else {
                let size = Self.pageRounded(count)
                let memory = locked { () -> UnsafeMutableRawPointer in
                    let (memory, isLocked) = map(size)
                    largeMappings[memory] = isLocked
                    return memory
                }
                return UnsafeMutableRawBufferPointer(start: memory, count: size)
            }
            let size = SecureMemory.sizeClasses[sizeClass]
            let slot = locked { () -> UnsafeMutableRawPointer in
                if freeSlots[sizeClass].isEmpty {
                    let chunk = map(SecureMemory.chunkSize).memory
                    for offset in stride(from: SecureMemory.chunkSize - size, through: 0, by: -size) {
                        freeSlots[sizeClass].append(chunk + offset)
                    }
                }
                return freeSlots[sizeClass].removeLast()
            }
            return UnsafeMutableRawBufferPointer(start: slot, count: size)
        }

        private func takeBack(_ whole: UnsafeMutableRawBufferPointer) {
            guard let sizeClass = SecureMemory.sizeClasses.firstIndex(of: whole.count) else {
                // A mapping of its own: unlocked and unmapped (it was zeroed by the caller).
                locked {
                    if largeMappings.removeValue(forKey: whole.baseAddress!) == true {
                        current.lockedBytes -= whole.count
                    } else {
                        current.unlockedBytes -= whole.count
                    }
                }
                munmap(whole.baseAddress!, whole.count)  // unlocks it too
                return
            }
            locked { freeSlots[sizeClass].append(whole.baseAddress!) }
        }

        /// Maps, locks and marks `size` bytes; called with the lock held. Says whether it is locked.
        private func map(_ size: Int) -> (memory: UnsafeMutableRawPointer, isLocked: Bool) {
            guard let memory = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), memory != MAP_FAILED else {
                fatalError("SecureMemory: cannot map \(size) bytes for secrets: \(String(cString: strerror(errno)))")
            }
            #if os(Linux) || os(Android)
            _ = madvise(memory, size, MADV_DONTDUMP)
            #endif
            if mlock(memory, size) == 0 {
                current.lockedBytes += size
                return (memory, true)
            }
            if current.lockFailure == nil { current.lockFailure = String(cString: strerror(errno)) }
            current.unlockedBytes += size
            return (memory, false)
        }

        private func locked<R>(_ body: () -> R) -> R {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return body()
        }

        private static func pageRounded(_ count: Int) -> Int {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            return (count + page - 1) / page * page
        }
    }
}
