// ProcessMemoryReader: another process's memory (or this one's), read with
// process_vm_readv, which fails cleanly (EFAULT) on unmapped pages instead of faulting.
// Pages the target cannot itself read (PROT_NONE, execute-only) are retried through
// /proc/PID/mem, which the kernel lets a tracer read regardless of protection.

import Bytes
import CVunwind
#if canImport(Glibc)
import Glibc
#endif

public final class ProcessMemoryReader: MemoryReader, @unchecked Sendable {
    public let pid: pid_t
    private var memFD: Int32 = -1

    public init(pid: pid_t) { self.pid = pid }

    /// This process.
    public static func current() -> ProcessMemoryReader { ProcessMemoryReader(pid: getpid()) }

    deinit { if memFD >= 0 { close(memFD) } }

    public func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        guard address <= UInt64.max - UInt64(buffer.count - 1) else {
            throw MemoryReadError(address: address, count: buffer.count, detail: "range wraps")
        }
        let n = vu_process_vm_readv(pid, buffer.baseAddress, buffer.count, address)
        if n == buffer.count { return }
        // Partial or failed: retry the whole range through /proc/PID/mem.
        if memFD < 0 { memFD = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC) }
        if memFD >= 0 {
            let m = pread(memFD, buffer.baseAddress, buffer.count, off_t(Int64(bitPattern: address)))
            if m == buffer.count { return }
        }
        throw MemoryReadError(address: address, count: buffer.count,
                              detail: n < 0 ? String(cString: strerror(errno)) : "not mapped")
    }
}
