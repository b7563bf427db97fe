// DwflProcess: elfutils' libdwfl attached to a stopped process, with a hook for code that
// lives only in memory. dwfl_linux_proc_report reports file-backed mappings (and deleted
// ones, read back from /proc/PID/mem) and the vDSO; an image in anonymous memory - a JIT's
// code, a vsyscall page mapped privately - it skips, and frames there come out as garbage.
// The hook finds such images by their ELF header (MemoryImage) and reports each as a
// module from a copy of its bytes, so libdwfl unwinds and symbolizes through it.

import CLibdw
import CVunwind
import Unwind
#if canImport(Glibc)
import Glibc
#endif

public final class DwflProcess {
    public struct Frame: Sendable, Equatable {
        public var pc: UInt64
        /// False for a return address (libdwfl looks it up at pc - 1).
        public var isActivation: Bool
        public var module: String?
        public var symbol: String?
    }

    let dwfl: OpaquePointer
    let callbacks: UnsafeMutablePointer<Dwfl_Callbacks>
    public let pid: pid_t
    /// Images the hook reported (the ones libdwfl's own report skipped).
    public private(set) var hookedImages: [MemoryImage] = []

    /// Reports the process's modules; with `hook`, also the in-memory images libdwfl
    /// skipped. The process must be stopped and traced by the caller.
    public init(pid: pid_t, hook: Bool = true) throws {
        self.pid = pid
        callbacks = .allocate(capacity: 1)
        callbacks.initialize(to: Dwfl_Callbacks(find_elf: dwfl_linux_proc_find_elf,
                                                find_debuginfo: dwfl_standard_find_debuginfo,
                                                section_address: nil, debuginfo_path: nil))
        guard let d = dwfl_begin(callbacks) else {
            callbacks.deallocate()
            throw UnwindFailure("dwfl_begin: \(String(cString: dwfl_errmsg(-1)))")
        }
        dwfl = d
        dwfl_report_begin(dwfl)
        let rc = dwfl_linux_proc_report(dwfl, pid)
        guard rc == 0 else {
            dwfl_end(dwfl)
            callbacks.deallocate()
            throw UnwindFailure("dwfl_linux_proc_report: \(rc < 0 ? String(cString: dwfl_errmsg(-1)) : String(cString: strerror(rc)))")
        }
        if hook {
            let memory = ProcessMemoryReader(pid: pid)
            let map = try MemoryMap.read(pid: pid)
            for image in MemoryImage.find(in: try ModuleMap(map: map, memory: memory)) {
                // libdwfl reported every mapping with a path; the hook takes the rest.
                guard let mapping = map.mapping(containing: image.base), mapping.path.isEmpty else { continue }
                let bytes = try memory.fetchBytes(from: mapping.start, count: Int(mapping.end - mapping.start))
                let fd = bytes.withUnsafeBytes { vu_memfd_with_bytes(image.name, $0.baseAddress, UInt($0.count)) }
                guard fd >= 0 else { continue }
                // Linked at its run-time address: start = base, bias 0 (add_p_vaddr false).
                if dwfl_report_elf(dwfl, image.name, "/proc/self/fd/\(fd)", fd, image.base, false) != nil {
                    hookedImages.append(image)
                } else {
                    close(fd)
                }
            }
        }
        dwfl_report_end(dwfl, nil, nil)
        guard dwfl_linux_proc_attach(dwfl, pid, true) == 0 else {
            let message = String(cString: dwfl_errmsg(-1))
            dwfl_end(dwfl)
            callbacks.deallocate()
            throw UnwindFailure("dwfl_linux_proc_attach: \(message)")
        }
    }

    deinit {
        dwfl_end(dwfl)
        callbacks.deallocate()
    }

    /// The module and symbol libdwfl finds at `address`.
    public func symbolize(_ address: UInt64) -> (module: String?, symbol: String?) {
        guard let m = dwfl_addrmodule(dwfl, address) else { return (nil, nil) }
        let module = dwfl_module_info(m, nil, nil, nil, nil, nil, nil, nil).map { String(cString: $0) }
        let symbol = dwfl_module_addrname(m, address).map { String(cString: $0) }
        return (module, symbol)
    }

    /// The frames of thread `tid`, as libdwfl unwinds them.
    public func frames(tid: pid_t? = nil, limit: Int = 64) throws -> [Frame] {
        unwind(tid: tid, limit: limit, registers: false).map { pc, activation, _ in
            let (module, symbol) = symbolize(activation ? pc : pc &- 1)
            return Frame(pc: pc, isActivation: activation, module: module, symbol: symbol)
        }
    }

    /// One frame as libdwfl unwound it, with the registers `dwfl_frame_reg` knows in it
    /// (DWARF numbers: rsp and the callee-saved ones).
    public struct RegisterFrame: Sendable, Equatable {
        public var pc: UInt64
        public var isActivation: Bool
        public var registers: [UInt16: UInt64]
    }

    /// The frames of thread `tid` with their registers. libdwfl reads the thread's
    /// registers afresh on each call, so one DwflProcess serves every stop of a traced thread.
    public func registerFrames(tid: pid_t? = nil, limit: Int = 64) -> [RegisterFrame] {
        unwind(tid: tid, limit: limit, registers: true).map { RegisterFrame(pc: $0.0, isActivation: $0.1, registers: $0.2) }
    }

    private func unwind(tid: pid_t?, limit: Int, registers: Bool) -> [(UInt64, Bool, [UInt16: UInt64])] {
        final class Collector {
            var frames: [(UInt64, Bool, [UInt16: UInt64])] = []
            let limit: Int
            let registers: Bool
            init(limit: Int, registers: Bool) { self.limit = limit; self.registers = registers }
        }
        let collector = Collector(limit: limit, registers: registers)
        let context = Unmanaged.passUnretained(collector).toOpaque()
        let rc = dwfl_getthread_frames(dwfl, tid ?? pid, { frame, arg in
            let c = Unmanaged<Collector>.fromOpaque(arg!).takeUnretainedValue()
            var pc: Dwarf_Addr = 0
            var activation = false
            guard let frame, dwfl_frame_pc(frame, &pc, &activation) else { return Int32(DWARF_CB_ABORT) }
            var values: [UInt16: UInt64] = [:]
            if c.registers {
                for r: UInt16 in [3, 6, 7, 12, 13, 14, 15] {
                    var v: Dwarf_Word = 0
                    if dwfl_frame_reg(frame, UInt32(r), &v) == 0 { values[r] = v }
                }
            }
            c.frames.append((pc, activation, values))
            return Int32(c.frames.count < c.limit ? DWARF_CB_OK : DWARF_CB_ABORT)
        }, context)
        // A walk that ends at the outermost frame reports an error too; keep what was found.
        _ = rc
        return collector.frames
    }
}
