// A joinable thread on pthreads, so that no program needs Foundation's Thread (the privileged broker
// stays small: no ICU, no Foundation in the process that holds CAP_NET_ADMIN). Locks are the
// standard library's `Synchronization.Mutex`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A thread that runs one closure and can be joined.
package final class JoinableThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: () -> Void

    private init(body: @escaping () -> Void) {
        self.body = body
    }

    /// Starts `body` on a new thread; `name` says which in the error thrown if it cannot start.
    package static func start(_ name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) -> JoinableThread {
        let thread = JoinableThread(body: body)
        let context = Unmanaged.passRetained(thread).toOpaque()
        let result = pthread_create(&thread.handle, nil, { context in
            let thread = Unmanaged<JoinableThread>.fromOpaque(context!).takeRetainedValue()
            thread.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<JoinableThread>.fromOpaque(context).release()
            throw SystemError.failed("pthread_create", name, errno: result)
        }
        return thread
    }

    /// Waits for the thread to finish.
    package func join() {
        pthread_join(handle, nil)
    }
}
