// Consumers: what each unwinder in this process currently knows, asked of the real
// libraries (never of our own bookkeeping): libgcc's FDE lookup, libunwind's dynamic-info
// list, gdb's JIT descriptor list (counted by the C that defines it) and perf's map file.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum Consumers {
    /// The start of the function whose FDE libgcc's `_Unwind_Find_FDE` finds for `pc`,
    /// or nil when it finds none.
    public static func libgccFunctionStart(for pc: UInt64) throws -> UInt64? {
        guard let libgcc = dlopen("libgcc_s.so.1", RTLD_NOW) else { throw ConsumerError("cannot open libgcc_s.so.1") }
        defer { dlclose(libgcc) }
        typealias FindFDE = @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer) -> UnsafeRawPointer?
        guard let symbol = dlsym(libgcc, "_Unwind_Find_FDE") else { throw ConsumerError("libgcc_s has no _Unwind_Find_FDE") }
        let findFDE = unsafeBitCast(symbol, to: FindFDE.self)
        // struct dwarf_eh_bases { void *tbase, *dbase, *func; }
        var bases: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let fde = withUnsafeMutableBytes(of: &bases) { findFDE(UnsafeMutableRawPointer(bitPattern: UInt(pc)), $0.baseAddress!) }
        return fde == nil ? nil : bases.2
    }

    /// start_ip of every entry in libunwind's `_U_dyn_info_list`, or nil when
    /// libunwind.so.8 is not loaded (then nothing can be registered with it).
    public static func libunwindDynamicStarts() throws -> [UInt64]? {
        guard let libunwind = dlopen("libunwind.so.8", RTLD_NOW | RTLD_NOLOAD) else { return nil }
        defer { dlclose(libunwind) }
        typealias ListAddress = @convention(c) () -> UInt
        guard let symbol = dlsym(libunwind, "_U_dyn_info_list_addr") else { throw ConsumerError("libunwind has no _U_dyn_info_list_addr") }
        guard let list = UnsafeRawPointer(bitPattern: unsafeBitCast(symbol, to: ListAddress.self)()) else {
            throw ConsumerError("_U_dyn_info_list_addr returned NULL")
        }
        // unw_dyn_info_list_t { u32 version, generation; unw_dyn_info_t *first }
        // unw_dyn_info_t { next, prev, start_ip, end_ip, ... }
        var starts: [UInt64] = []
        var info = list.load(fromByteOffset: 8, as: UnsafeRawPointer?.self)
        while let di = info {
            guard starts.count < 10_000 else { throw ConsumerError("_U_dyn_info_list has a cycle or 10,000 entries") }
            starts.append(di.load(fromByteOffset: 16, as: UInt64.self))
            info = di.load(as: UnsafeRawPointer?.self)
        }
        return starts
    }

    /// The lines of /tmp/perf-PID.map for this process, or nil when there is no such file.
    public static func perfMapLines(pid: pid_t = getpid()) -> [String]? {
        guard let text = try? String(contentsOfFile: "/tmp/perf-\(pid).map", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").map(String.init)
    }
}

public struct ConsumerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
