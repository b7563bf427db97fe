// VDSOImage: the kernel's vDSO of this process, as bytes: found through AT_SYSINFO_EHDR
// (what gdb uses) and sized by its [vdso] mapping.

import Bytes
import CVunwind
#if canImport(Glibc)
import Glibc
#endif

public enum VDSOImage {
    /// The vDSO's load address, or nil if the kernel maps none.
    public static var address: UInt64? {
        let a = vu_getauxval(UInt(AT_SYSINFO_EHDR))
        return a == 0 ? nil : UInt64(a)
    }

    /// The bytes of this process's vDSO mapping.
    public static func current() throws -> (address: UInt64, bytes: [UInt8]) {
        guard let base = address else { throw SystemError(call: "getauxval(AT_SYSINFO_EHDR)", errno: ENOENT) }
        let map = try MemoryMap.read()
        guard let m = map.mapping(containing: base) else {
            throw MemoryReadError(address: base, count: 1, detail: "vDSO not in /proc/self/maps")
        }
        return (base, try ProcessMemoryReader.current().fetchBytes(from: m.start, count: Int(m.end - m.start)))
    }
}
