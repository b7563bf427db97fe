// ReturnSynthesis: for a thread a core shows inside a virtual syscall, what the call
// returns, what it stores, and the registers of the thread once it has returned (seed,
// page 10: "unwind the frame of the dumped vsyscall, discard the vsyscall execution and
// set the right retval into %rax before artificially returning").
//
// The value, in order of evidence:
// 1. a fault on a user-pointer store returns -EFAULT: on a vunwind page the image's fixup
//    table names those stores; elsewhere a kernel-raised SIGSEGV/SIGBUS (NT_SIGINFO) at a
//    pc in vsyscall code whose fault address is not writable memory in the core;
// 2. a thread right after the entry's own fallback `syscall` returns what that syscall
//    returned, already in rax;
// 3. otherwise the call returns what it returns with valid pointers. On a vunwind page the
//    result and the outputs are finished from the thread's registers and the core's vvar by
//    PageEmulator (a thread that had not read the TSC yet gets the time the vvar last
//    published); in the kernel's vDSO only the value is known.
// The returned state: every register the CFI restores, rip = the return address,
// rsp = the CFA, rax = the result, orig_rax = -1, everything else unchanged.

import Bytes
import DwarfCFI
import ELF
import Unwind

public struct SynthesizedReturn: Sendable, Equatable {
    public struct Output: Sendable, Equatable {
        public var address: UInt64
        public var bytes: [UInt8]
    }

    public var value: Int64
    /// How the value was derived, in one sentence.
    public var derivation: String
    /// The stores the call would have made (vunwind pages), to put into the core.
    public var outputs: [Output]
    /// Why outputs are missing, when they are.
    public var outputsNote: String?
    /// The thread's user_regs_struct after the return (27 words, kernel order).
    public var registers: [UInt64]
}

public enum ReturnSynthesis {
    static let efault: Int64 = -14
    static let einval: Int64 = -22

    /// The return of `thread` from `code`, or the reason it cannot be derived.
    public static func synthesize(core: CoreFile, thread: CoreThread, code: VsyscallCode, modules: ModuleMap)
        -> Result<SynthesizedReturn, Failure> {
        let pc = thread.registers[16]
        guard let (function, _) = code.function(at: pc) else {
            return .failure(Failure("pc 0x\(hex(pc)) is in the \(code.kind.rawValue) but in none of its functions"))
        }
        let fault = faultOf(thread)
        let afterSyscall = code.kind != .legacyPage && code.range.contains(pc &- 2)
            && (try? core.memory.fetchBytes(from: pc &- 2, count: 2)) == [0x0f, 0x05]

        switch code.kind {
        case .legacyPage:
            // The kernel emulates the page: a SIGSEGV at an entry is its check_fault path
            // (the syscall returned -EFAULT and the `ret` was not emulated), si_addr 0.
            guard let f = fault, f.signal == SIGSEGV,
                  VsyscallCode.legacyEntries.contains(where: { VsyscallCode.legacyBase + $0.offset == pc }) else {
                return .failure(Failure("stopped at 0x\(hex(pc)) in the legacy page without the emulation's SIGSEGV"))
            }
            let sp = thread.registers[19]
            guard let ra = try? core.memory.fetch(UInt64.self, from: sp) else {
                return .failure(Failure("the return address at [rsp] = 0x\(hex(sp)) is not in the core"))
            }
            var caller = registers(thread).frameRegisters
            caller.pc = ra
            caller.sp = sp &+ 8
            return .success(returned(thread, caller: caller, value: efault, outputs: [], outputsNote: nil,
                                     derivation: "the kernel's emulation of the legacy \(function) got a bad user pointer "
                                         + "(SIGSEGV, si_code \(f.code), at the entry): -EFAULT"))

        case .vdso:
            guard let caller = unwindOne(thread, modules: modules, core: core) else {
                return .failure(Failure("the vDSO's CFI in the core does not unwind 0x\(hex(pc))"))
            }
            if afterSyscall {
                return .success(returned(thread, caller: caller, value: Int64(bitPattern: thread.registers[10]), outputs: [],
                                         outputsNote: nil,
                                         derivation: "stopped right after the fallback syscall in \(function): rax holds its result"))
            }
            if let f = fault {
                guard !writable(core, f.address, 1) else {
                    return .failure(Failure("a \(signalName(f.signal)) in \(function) at 0x\(hex(f.address)), which is writable memory: not a bad user pointer"))
                }
                return .success(returned(thread, caller: caller, value: efault, outputs: [], outputsNote: nil,
                                         derivation: "\(signalName(f.signal)) (si_code \(f.code)) in \(function) at 0x\(hex(f.address)), not writable memory in the core: -EFAULT"))
            }
            let bare = function.hasPrefix("__vdso_") ? String(function.dropFirst(7)) : function
            guard ["gettimeofday", "clock_gettime", "clock_getres", "getcpu"].contains(bare) else {
                return .failure(Failure("what \(function) returns depends on the time, which the vDSO's data does not give in a form vunwind reads"))
            }
            return .success(returned(thread, caller: caller, value: 0, outputs: [],
                                     outputsNote: "the kernel's vDSO stores its outputs from data vunwind does not model: the memory is left as it is",
                                     derivation: "stopped in \(function) for another reason: the call returns 0 with valid pointers"))

        case .vunwindPage:
            guard let caller = unwindOne(thread, modules: modules, core: core) else {
                return .failure(Failure("the page's CFI in the core does not unwind 0x\(hex(pc))"))
            }
            let note = code.note!
            let entry = note.entry(containing: pc)!
            if afterSyscall {
                return .success(returned(thread, caller: caller, value: Int64(bitPattern: thread.registers[10]), outputs: [],
                                         outputsNote: nil,
                                         derivation: "stopped right after \(entry.name)'s fallback syscall: rax holds its result"))
            }
            let fixup = note.fixups.first { $0.store == pc }
            if let f = fault {
                guard fixup != nil else {
                    return .failure(Failure("\(signalName(f.signal)) at \(entry.name)+0x\(hex(pc - entry.address)), which is not a user-pointer store"))
                }
            }
            return finish(core: core, thread: thread, entry: entry, note: note, caller: caller,
                          faulted: fault != nil)
        }
    }

    /// Runs the page's code from the thread's state to the entry's `ret`.
    static func finish(core: CoreFile, thread: CoreThread, entry: VunwindNote.Entry, note: VunwindNote,
                       caller: FrameRegisters, faulted: Bool) -> Result<SynthesizedReturn, Failure> {
        let memory = core.memory
        var readTSC = 0
        let tscBase = try? memory.fetch(UInt64.self, from: note.vvarAddress &+ 0x18)
        let policy = PageEmulator.Policy(
            rdtscp: { _ in
                // Reached only if the thread had not read the TSC yet (or the lock sent it
                // back): the vvar's own base makes the elapsed time 0, i.e. the time the vvar
                // last published. A second visit means the vvar was mid-update in the core.
                readTSC += 1
                guard readTSC == 1, let base = tscBase else { return nil }
                return (base, 0)
            },
            rdpid: { _ in nil },
            storable: { address, size in writable(core, address, size) },
            landingPad: { rip in note.fixups.first { $0.store == rip }?.landingPad })
        var emulator = PageEmulator(memory: memory, state: PageEmulator.State(registers: thread.registers), policy: policy)
        let stop = emulator.run()
        let at = "\(entry.name)+0x\(hex(thread.registers[16] - entry.address))"
        switch stop {
        case .returned:
            let value = Int64(bitPattern: emulator.state[0])
            let outputs = faulted ? [] : emulator.stores.map { SynthesizedReturn.Output(address: $0.address, bytes: $0.bytes) }
            let how: String
            if faulted {
                how = "a fault at a user-pointer store (\(at), in the fixup table): its landing pad returns -EFAULT"
            } else if !emulator.faults.isEmpty {
                how = "finished from \(at): a store through a pointer that is not writable in the core took its landing pad"
            } else if readTSC > 0 {
                how = "finished from \(at); the thread had not read the TSC, so the time is the one the vvar last published"
            } else {
                how = "finished from \(at) with the thread's registers and the vvar in the core"
            }
            return .success(returned(thread, caller: caller, value: value, outputs: outputs, outputsNote: nil, derivation: how))
        case .syscall:
            // The fallback path, before its syscall: the kernel would have answered.
            if entry.syscallNumber == 228 {
                let id = Int64(bitPattern: thread.registers[14])
                if id == 10 || id > 11 {
                    return .success(returned(thread, caller: caller, value: einval, outputs: [], outputsNote: nil,
                                             derivation: "\(at) was on its way to the syscall with clock id \(id), which the kernel rejects: -EINVAL"))
                }
                if id < 0 {
                    return .failure(Failure("\(at) was on its way to the syscall with a CPU-time clock id \(id), whose validity the core does not tell"))
                }
            }
            guard !entry.returnsSeconds else {
                return .failure(Failure("\(at) was on its way to the syscall: the seconds it would return are not in the core"))
            }
            return .success(returned(thread, caller: caller, value: 0, outputs: [],
                                     outputsNote: "the syscall had not run, so its outputs are unknown: the memory is left as it is",
                                     derivation: "\(at) was on its way to its fallback syscall: the call returns 0 with valid pointers"))
        case let .unknownCounter(what):
            guard !entry.returnsSeconds else {
                return .failure(Failure("finishing \(at) needs \(what), which the core does not hold"))
            }
            return .success(returned(thread, caller: caller, value: 0, outputs: [],
                                     outputsNote: "finishing the call needs \(what), which the core does not hold: the memory is left as it is",
                                     derivation: "stopped in \(at) for another reason: the call returns 0 with valid pointers"))
        case let .unreadable(address):
            return .failure(Failure("finishing \(at) reads 0x\(hex(address)), which is not in the core"))
        case let .storeFault(address):
            return .failure(Failure("finishing \(at) stores to 0x\(hex(address)), which is not writable, outside the fixup table"))
        case let .unsupported(address, bytes):
            return .failure(Failure("finishing \(at) meets an instruction vunwind does not emulate at 0x\(hex(address)): "
                                    + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")))
        case .stepLimit:
            return .failure(Failure("finishing \(at) took more than \(emulator.maxSteps) instructions (the vvar was mid-update in the core?)"))
        }
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        init(_ r: String) { reason = r }
        public var description: String { reason }
    }

    // MARK: Helpers

    /// The fault this thread took, if the core says it took one: its own NT_SIGINFO with a
    /// kernel-raised SIGSEGV or SIGBUS.
    static func faultOf(_ thread: CoreThread) -> CoreSignalInfo? {
        guard let s = thread.signalInfo, s.signal == SIGSEGV || s.signal == SIGBUS, s.code > 0 else { return nil }
        return s
    }

    static let SIGSEGV: Int32 = 11
    static let SIGBUS: Int32 = 7

    static func signalName(_ s: Int32) -> String { s == SIGSEGV ? "SIGSEGV" : s == SIGBUS ? "SIGBUS" : "signal \(s)" }

    /// True if [address, address + size) lies in writable memory the core describes.
    static func writable(_ core: CoreFile, _ address: UInt64, _ size: Int) -> Bool {
        var a = address
        let (end, over) = address.addingReportingOverflow(UInt64(size))
        guard !over else { return false }
        while a < end {
            guard let piece = core.memory.piece(containing: a),
                  core.memory.segments[piece.segment].flags & ELF.pfW != 0 else { return false }
            a = piece.end
        }
        return true
    }

    static func registers(_ thread: CoreThread) -> X86_64Registers { X86_64Registers(words: thread.registers) }

    /// The caller's registers after one CFI step from the thread's frame.
    static func unwindOne(_ thread: CoreThread, modules: ModuleMap, core: CoreFile) -> FrameRegisters? {
        var u = DwarfUnwinder(registers: registers(thread).frameRegisters, memory: core.memory, modules: modules, maxFrames: 2)
        guard u.next() != nil, let caller = u.next() else { return nil }
        return caller.registers
    }

    /// The returned state: callee-saved registers, rip and rsp from the caller, rax = value,
    /// orig_rax = -1, the rest as the thread had them.
    static func returned(_ thread: CoreThread, caller: FrameRegisters, value: Int64, outputs: [SynthesizedReturn.Output],
                         outputsNote: String?, derivation: String) -> SynthesizedReturn {
        var r = registers(thread)
        if let v = caller[DwarfRegister.rbx] { r.rbx = v }
        if let v = caller[DwarfRegister.rbp] { r.rbp = v }
        if let v = caller[DwarfRegister.r12] { r.r12 = v }
        if let v = caller[DwarfRegister.r13] { r.r13 = v }
        if let v = caller[DwarfRegister.r14] { r.r14 = v }
        if let v = caller[DwarfRegister.r15] { r.r15 = v }
        r.rip = caller.pc ?? r.rip
        r.rsp = caller.sp ?? r.rsp
        r.rax = UInt64(bitPattern: value)
        r.origRax = UInt64.max
        return SynthesizedReturn(value: value, derivation: derivation, outputs: outputs, outputsNote: outputsNote,
                                 registers: r.words)
    }

    static func hex(_ v: UInt64) -> String { String(v, radix: 16) }
}
