// A mutex and a joinable thread on pthreads, for `rp`'s broker thread and wireguard-go watcher.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A non-recursive pthread mutex.
final class RPMutex: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held.
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A thread running one closure, which can be joined.
final class RPThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: @Sendable () -> Void

    private init(body: @escaping @Sendable () -> Void) {
        self.body = body
    }

    /// Starts `body` on a new thread; `name` is for error messages.
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) throws(AppError) -> RPThread {
        let thread = RPThread(body: body)
        let context = Unmanaged.passRetained(thread).toOpaque()
        let result = pthread_create(&thread.handle, nil, { context in
            let thread = Unmanaged<RPThread>.fromOpaque(context!).takeRetainedValue()
            thread.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<RPThread>.fromOpaque(context).release()
            throw .system("pthread_create", name, errno: result)
        }
        return thread
    }

    /// Waits for the thread to finish.
    func join() {
        pthread_join(handle, nil)
    }
}
