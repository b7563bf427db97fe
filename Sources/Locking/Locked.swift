// Locked: a value behind a mutex that ThreadSanitizer sees.
//
// Synchronization.Mutex locks with futex syscalls on Linux, which TSan does not intercept:
// it reports every access the mutex guards as a race (an eight-line program that fills a
// dictionary from eight threads under one Mutex gets a "Swift access race"). Locked is
// that Mutex plus TSan's acquire and release annotations at the edges of each critical
// section; without TSan they cost a load and a branch not taken.

import CSanitizerHooks
import Synchronization

public final class Locked<Value: ~Copyable>: Sendable {
    @usableFromInline let mutex: Mutex<Value>

    public init(_ value: consuming sending Value) {
        mutex = Mutex(value)
    }

    /// Runs `body` with the value, holding the lock. Inlinable, as Mutex's is: the row
    /// cache takes it on every lookup.
    @inlinable
    public func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let token = Unmanaged.passUnretained(self).toOpaque()
        return try mutex.withLock { (value: inout sending Value) throws(E) -> sending Result in
            vu_tsan_acquire(token)
            defer { vu_tsan_release(token) }
            return try body(&value)
        }
    }
}
