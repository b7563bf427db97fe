// KernelClockLock: tests that change the kernel's clock rate (adjtimex) hold it
// exclusively; tests whose bounds a rate change would disturb (ClockTests) hold it shared.
// XCTest's parallel workers are separate processes: flock on a file in the build folder.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum KernelClockLock {
    static var path: String { Tools.buildDirectory.appendingPathComponent("vunwind-kernel-clock.lock").path }

    public static func exclusive<T>(_ body: () throws -> T) throws -> T { try holding(LOCK_EX, body) }
    public static func shared<T>(_ body: () throws -> T) throws -> T { try holding(LOCK_SH, body) }

    static func holding<T>(_ operation: Int32, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        while flock(fd, operation) != 0 {
            guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
