// A mutex and a joinable thread on pthreads, so the broker module needs no Foundation (the
// privileged broker stays small: no ICU, no Foundation in the process that holds CAP_NET_ADMIN).
// Package-visible: `rp` (RosenpassApp) runs its broker thread and wireguard-go watcher on them.

#if canImport(Glibc)
import Glibc
#endif

/// A non-recursive mutex.
package final class PThreadMutex: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held.
    package func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A thread that runs one closure and can be joined.
package final class JoinableThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    private init(body: @escaping () -> Void) {
        self.body = body
    }

    /// Starts `body` on a new thread; `name` says which in the error thrown if it cannot start.
    package static func start(_ name: String, _ body: @escaping @Sendable () -> Void) throws(BrokerError) -> JoinableThread {
        let thread = JoinableThread(body: body)
        let context = Unmanaged.passRetained(thread).toOpaque()
        let result = pthread_create(&thread.handle, nil, { context in
            let thread = Unmanaged<JoinableThread>.fromOpaque(context!).takeRetainedValue()
            thread.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<JoinableThread>.fromOpaque(context).release()
            throw BrokerError.system("pthread_create", name, errno: result)
        }
        return thread
    }

    /// Waits for the thread to finish.
    package func join() {
        pthread_join(handle, nil)
    }
}
