// A mutex and a joinable thread on pthreads, so the broker module needs no Foundation (the
// privileged broker stays small: no ICU, no Foundation in the process that holds CAP_NET_ADMIN).

#if canImport(Glibc)
import Glibc
#endif

/// A non-recursive mutex.
final class PThreadMutex: @unchecked Sendable {
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

/// A thread that runs one closure and can be joined.
final class JoinableThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    private init(body: @escaping () -> Void) {
        self.body = body
    }

    /// Starts `body` on a new thread.
    static func start(_ body: @escaping @Sendable () -> Void) throws -> JoinableThread {
        let thread = JoinableThread(body: body)
        let context = Unmanaged.passRetained(thread).toOpaque()
        let result = pthread_create(&thread.handle, nil, { context in
            let thread = Unmanaged<JoinableThread>.fromOpaque(context!).takeRetainedValue()
            thread.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<JoinableThread>.fromOpaque(context).release()
            throw BrokerError.system("pthread_create", "broker client thread", errno: result)
        }
        return thread
    }

    /// Waits for the thread to finish.
    func join() {
        pthread_join(handle, nil)
    }
}
