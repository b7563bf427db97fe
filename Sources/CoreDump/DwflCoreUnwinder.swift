// DwflCoreUnwinder: elfutils' libdwfl over a core, started from registers we choose — the
// judge our own unwinder is compared with. Modules come from libdwfl's own report of the
// core (dwfl_core_file_report: NT_FILE, r_debug, ELF images at segment starts); memory and
// each thread's initial registers from us (dwfl_attach_state), so a synthesized return is
// unwound by libdwfl exactly as by us.

import CLibdw
import ELF
#if canImport(Glibc)
import Glibc
#endif

public final class DwflCoreUnwinder {
    public struct Frame: Sendable, Equatable {
        public var pc: UInt64
        /// False when `pc` is a return address (libdwfl's "activation" flag).
        public var isActivation: Bool
    }

    /// What the callbacks need; passed to libdwfl as its dwfl_arg.
    final class Context {
        let memory: CoreMemory
        let tids: [Int32]
        /// DWARF registers 0-16 (rip as 16) per thread.
        var registers: [Int32: [UInt64]]
        var next = 0
        init(memory: CoreMemory, tids: [Int32], registers: [Int32: [UInt64]]) {
            self.memory = memory
            self.tids = tids
            self.registers = registers
        }
    }

    private let dwfl: OpaquePointer
    private let elf: OpaquePointer
    private let fd: Int32
    private let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
    private let threadCallbacks: UnsafeMutablePointer<Dwfl_Thread_Callbacks>
    private let context: Context

    /// `registers`: per thread, the 27 words of a user_regs_struct to start from.
    public init(path: String, executable: String?, memory: CoreMemory, registers: [(tid: Int32, words: [UInt64])]) throws {
        elf_version(UInt32(EV_CURRENT))
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DwflFailure("open \(path): \(String(cString: strerror(errno)))") }
        guard let e = elf_begin(fd, ELF_C_READ_MMAP, nil) else {
            close(fd)
            throw DwflFailure("elf_begin: \(String(cString: elf_errmsg(-1)))")
        }
        elf = e
        callbacks = .allocate(capacity: 1)
        callbacks.initialize(to: Dwfl_Callbacks(find_elf: dwfl_build_id_find_elf, find_debuginfo: dwfl_standard_find_debuginfo,
                                                section_address: nil, debuginfo_path: nil))
        threadCallbacks = .allocate(capacity: 1)
        var byTid: [Int32: [UInt64]] = [:]
        for (tid, w) in registers {
            // user_regs_struct -> DWARF 0-16: rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip
            byTid[tid] = [w[10], w[12], w[11], w[5], w[13], w[14], w[4], w[19], w[9], w[8], w[7], w[6], w[3], w[2], w[1], w[0], w[16]]
        }
        context = Context(memory: memory, tids: registers.map(\.tid), registers: byTid)
        threadCallbacks.initialize(to: Dwfl_Thread_Callbacks(
            next_thread: { _, arg, threadArg in
                let c = Unmanaged<Context>.fromOpaque(arg!).takeUnretainedValue()
                guard c.next < c.tids.count else { return 0 }
                let tid = c.tids[c.next]
                c.next += 1
                threadArg?.pointee = UnsafeMutableRawPointer(bitPattern: Int(tid))
                return tid
            },
            get_thread: nil,
            memory_read: { _, address, result, arg in
                let c = Unmanaged<Context>.fromOpaque(arg!).takeUnretainedValue()
                guard let v = try? c.memory.fetch(UInt64.self, from: address) else { return false }
                result?.pointee = v
                return true
            },
            set_initial_registers: { thread, threadArg in
                let tid = Int32(truncatingIfNeeded: Int(bitPattern: threadArg))
                guard let thread, let c = DwflCoreUnwinder.current, var regs = c.registers[tid] else { return false }
                return regs.withUnsafeMutableBufferPointer { dwfl_thread_state_registers(thread, 0, 17, $0.baseAddress!) }
            },
            detach: nil, thread_detach: nil))
        guard let d = dwfl_begin(callbacks) else {
            elf_end(elf); close(fd)
            throw DwflFailure("dwfl_begin: \(String(cString: dwfl_errmsg(-1)))")
        }
        dwfl = d
        dwfl_report_begin(dwfl)
        let reported = dwfl_core_file_report(dwfl, elf, executable)
        dwfl_report_end(dwfl, nil, nil)
        guard reported >= 0 else {
            let m = String(cString: dwfl_errmsg(-1))
            dwfl_end(dwfl); elf_end(elf); close(fd)
            throw DwflFailure("dwfl_core_file_report: \(m)")
        }
        let pid = registers.first?.tid ?? 1
        DwflCoreUnwinder.current = context
        guard dwfl_attach_state(dwfl, elf, pid, threadCallbacks, Unmanaged.passUnretained(context).toOpaque()) else {
            let m = String(cString: dwfl_errmsg(-1))
            dwfl_end(dwfl); elf_end(elf); close(fd)
            throw DwflFailure("dwfl_attach_state: \(m)")
        }
    }

    /// set_initial_registers receives only the thread's own argument; the context of the
    /// walk in progress is reached through this (one walk at a time, on the caller's thread).
    nonisolated(unsafe) static var current: Context?

    deinit {
        dwfl_end(dwfl)
        elf_end(elf)
        close(fd)
        callbacks.deallocate()
        threadCallbacks.deallocate()
    }

    /// The frames libdwfl finds for thread `tid`, at most `limit`.
    public func frames(tid: Int32, limit: Int = 256) -> [Frame] {
        final class Collector {
            var frames: [Frame] = []
            let limit: Int
            init(limit: Int) { self.limit = limit }
        }
        let collector = Collector(limit: limit)
        DwflCoreUnwinder.current = context
        _ = dwfl_getthread_frames(dwfl, tid, { frame, arg in
            let c = Unmanaged<Collector>.fromOpaque(arg!).takeUnretainedValue()
            var pc: Dwarf_Addr = 0
            var activation = false
            guard let frame, dwfl_frame_pc(frame, &pc, &activation) else { return Int32(DWARF_CB_ABORT) }
            c.frames.append(Frame(pc: pc, isActivation: activation))
            return Int32(c.frames.count < c.limit ? DWARF_CB_OK : DWARF_CB_ABORT)
        }, Unmanaged.passUnretained(collector).toOpaque())
        return collector.frames
    }

    /// libdwfl's module and symbol at `address`.
    public func symbolize(_ address: UInt64) -> (module: String?, symbol: String?) {
        guard let m = dwfl_addrmodule(dwfl, address) else { return (nil, nil) }
        let module = dwfl_module_info(m, nil, nil, nil, nil, nil, nil, nil).map { String(cString: $0) }
        return (module, dwfl_module_addrname(m, address).map { String(cString: $0) })
    }
}

public struct DwflFailure: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
