// One unwind step on real frames: a helper stops in a known C function; our evaluator
// (DwarfUnwinder over the process's memory and modules) and nongnu libunwind-ptrace
// unwind the same stopped state, and every frame's pc, sp and callee-saved registers agree,
// across glibc's signal trampoline too. Ground truth: the sentinels the helper loaded.

import Bytes
import CLibunwind
import DwarfCFI
import Foundation
import TestSupport
import Unwind
import XCTest

final class UnwindStepTests: XCTestCase {
    static let sentinels: [UInt16: UInt64] = [
        DwarfRegister.rbx: 0x1111_1111_1111_1111, DwarfRegister.r12: 0x1212_1212_1212_1212,
        DwarfRegister.r13: 0x1313_1313_1313_1313, DwarfRegister.r14: 0x1414_1414_1414_1414,
        DwarfRegister.r15: 0x1515_1515_1515_1515,
    ]

    struct LibunwindFrame {
        var registers: [UInt16: UInt64]
        var isSignalFrame: Bool
        var name: String
    }

    /// libunwind-ptrace's walk of a stopped tracee.
    func libunwindFrames(pid: pid_t) throws -> [LibunwindFrame] {
        let upt = try XCTUnwrap(_UPT_create(pid))
        defer { _UPT_destroy(upt) }
        let space = try XCTUnwrap(vu_unw_create_addr_space(vu_upt_accessors(), 0))
        defer { vu_unw_destroy_addr_space(space) }
        var cursor = unw_cursor_t()
        XCTAssertEqual(vu_unw_init_remote(&cursor, space, upt), 0)
        var frames: [LibunwindFrame] = []
        for _ in 0..<64 {
            var regs: [UInt16: UInt64] = [:]
            for r in UInt16(0)...16 {  // libunwind's numbers are DWARF's (CLibunwind asserts it)
                var v: unw_word_t = 0
                if vu_unw_get_reg(&cursor, Int32(r), &v) == 0 { regs[r] = UInt64(v) }
            }
            var name = [CChar](repeating: 0, count: 256)
            var off: unw_word_t = 0
            _ = vu_unw_get_proc_name(&cursor, &name, name.count, &off)
            frames.append(LibunwindFrame(registers: regs, isSignalFrame: vu_unw_is_signal_frame(&cursor) > 0,
                                         name: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) },
                                                       as: UTF8.self)))
            if vu_unw_step(&cursor) <= 0 { break }
        }
        return frames
    }

    /// Spawns the stopper, lets it reach its SIGSTOP, and returns it traced and stopped.
    func stopped(_ mode: String) throws -> TracedProcess {
        let pid = try Spawner.spawn(try Tools.product("fixture-stopper"), [mode])
        let child = TracedProcess(pid: pid)
        addTeardownBlock { child.kill() }
        if mode == "signal" {
            try child.waitForStop(SIGUSR2)
            try child.cont()
            // Deliver SIGUSR1 only once the child is inside the spin loop, so the signal
            // frame interrupts known code: suppress early deliveries and try again.
            let memory = ProcessMemoryReader(pid: pid)
            let modules = try ModuleMap(pid: pid, memory: memory)
            var delivered = false
            for _ in 0..<2000 where !delivered {
                usleep(1000)
                kill(pid, SIGUSR1)
                try child.waitForStop(SIGUSR1)
                let rip = try child.registers().rip
                if modules.module(containing: rip)?.symbol(for: rip)?.name == "vu_stopper_spin" {
                    try child.cont(signal: SIGUSR1)
                    delivered = true
                } else {
                    try child.cont()
                }
            }
            XCTAssertTrue(delivered, "the helper never reached vu_stopper_spin")
        }
        try child.waitForStop(SIGSTOP)
        return child
    }

    func ourFrames(_ child: TracedProcess) throws -> (frames: [UnwoundFrame], stop: UnwindStopReason?) {
        let memory = ProcessMemoryReader(pid: child.pid)
        let modules = try ModuleMap(pid: child.pid, memory: memory)
        var unwinder = DwarfUnwinder(registers: try child.registers().frameRegisters, memory: memory, modules: modules)
        var frames: [UnwoundFrame] = []
        while let f = unwinder.next() { frames.append(f) }
        return (frames, unwinder.stopReason)
    }

    func assertAgree(_ ours: [UnwoundFrame], _ theirs: [LibunwindFrame], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, theirs.count, "frame count: ours \(ours.map { $0.symbol ?? "?" }), libunwind \(theirs.map(\.name))",
                       file: file, line: line)
        var afterSignal = false
        for (o, t) in zip(ours, theirs) {
            XCTAssertEqual(o.pc, t.registers[16], "frame \(o.index) pc (\(o.symbol ?? "?"))", file: file, line: line)
            XCTAssertEqual(o.registers.sp, t.registers[7], "frame \(o.index) sp (\(o.symbol ?? "?"))", file: file, line: line)
            // libunwind flags the frame restored from a sigcontext (the interrupted one); the
            // CIE's 'S' marks the trampoline itself, one frame earlier.
            let theirsNext = o.index + 1 < theirs.count ? theirs[o.index + 1].isSignalFrame : false
            XCTAssertEqual(o.isSignalFrame, theirsNext, "frame \(o.index) signal frame", file: file, line: line)
            // Callee-saved registers always; after a signal frame, every register.
            let compared: [UInt16] = afterSignal ? Array(0...16) : DwarfRegister.calleeSaved
            for r in compared {
                XCTAssertEqual(o.registers[r], t.registers[r],
                               "frame \(o.index) (\(o.symbol ?? "?")) \(DwarfRegister.name(UInt64(r)))", file: file, line: line)
            }
            afterSignal = o.isSignalFrame
        }
    }

    func testOurUnwinderAndLibunwindRecoverTheSameRegistersForEveryFrameOfACallChain() throws {
        let child = try stopped("call")
        let (ours, stop) = try ourFrames(child)
        let theirs = try libunwindFrames(pid: child.pid)
        assertAgree(ours, theirs)
        let names = ours.compactMap(\.symbol)
        let leaf = try XCTUnwrap(names.firstIndex(of: "vu_stopper_leaf"), "\(names)")
        XCTAssertEqual(Array(names[leaf...].prefix(4)), ["vu_stopper_leaf", "vu_stopper_middle", "vu_stopper_outer", "main"])
        XCTAssertEqual(stop, .outermost, "the walk ends at _start's undefined return address")
        XCTAssertEqual(ours.last?.symbol, "_start")
        // Ground truth: in vu_stopper_middle the callee-saved registers hold the sentinels.
        let middle = ours[leaf + 1]
        for (r, v) in Self.sentinels { XCTAssertEqual(middle.registers[r], v, DwarfRegister.name(UInt64(r))) }
    }

    func testOurUnwinderAndLibunwindAgreeAcrossGlibcsSignalTrampoline() throws {
        let child = try stopped("signal")
        let (ours, stop) = try ourFrames(child)
        let theirs = try libunwindFrames(pid: child.pid)
        assertAgree(ours, theirs)
        let names = ours.map { $0.symbol ?? "?" }
        let trampoline = try XCTUnwrap(ours.firstIndex { $0.isSignalFrame }, "\(names)")
        // glibc's __restore_rt is a local symbol Debian strips, so check what it is: the
        // rt_sigreturn call, `mov $15, %rax; syscall`.
        let code = try ProcessMemoryReader(pid: child.pid).fetchBytes(from: ours[trampoline].pc, count: 9)
        XCTAssertEqual(code, [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05])
        XCTAssertTrue(ours[trampoline].module?.hasSuffix("/libc.so.6") == true, "\(ours[trampoline].module ?? "?")")
        XCTAssertEqual(names[trampoline - 1], "handler")
        let interrupted = ours[trampoline + 1]
        XCTAssertEqual(interrupted.symbol, "vu_stopper_spin")
        XCTAssertFalse(interrupted.isReturnAddress, "after a signal frame the pc is the interrupted instruction")
        for (r, v) in Self.sentinels { XCTAssertEqual(interrupted.registers[r], v, DwarfRegister.name(UInt64(r))) }
        XCTAssertEqual(names[trampoline + 2], "main")
        XCTAssertEqual(stop, .outermost)
    }
}
