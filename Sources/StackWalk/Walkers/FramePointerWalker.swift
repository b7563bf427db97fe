// FramePointerWalker: the rbp chain ([rbp] = the caller's rbp, [rbp + 8] = the return
// address), as perf's --call-graph fp and every quick profiler walk. It is right only
// where the subject keeps a frame pointer and nothing inside it has changed rbp without
// keeping one; that is its declared limitation, read from the CFI (the reference walk):
// before `mov rsp, rbp`, after `pop rbp`, and in frameless code that uses rbp.

import Bytes
import DwarfCFI
import Unwind

public final class FramePointerWalker: Walker {
    public let name = "frame-pointer"
    public let readsCFI = false
    let maxFrames = 64

    public init() {}

    public func walk(_ stop: WalkStop) throws -> [WalkedFrame] {
        let memory = ProcessMemoryReader(pid: stop.pid)
        var frames = [WalkedFrame(pc: stop.registers.rip, sp: stop.registers.rsp, registers: [DwarfRegister.rbp: stop.registers.rbp])]
        var rbp = stop.registers.rbp
        var floor = stop.registers.rsp
        while frames.count < maxFrames {
            // The chain must move up the stack, or it is garbage (or a cycle).
            guard rbp >= floor, rbp <= UInt64.max - 16,
                  let saved = try? memory.fetch(UInt64.self, from: rbp),
                  let ret = try? memory.fetch(UInt64.self, from: rbp + 8), ret != 0 else { break }
            frames.append(WalkedFrame(pc: ret, sp: rbp + 16, registers: [DwarfRegister.rbp: saved]))
            floor = rbp + 16
            rbp = saved
        }
        return frames
    }

    /// The walk reaches the trampoline exactly when the rbp chain passes through the
    /// subject's frame pointer: read from the CFI (our reference walk), the subject's frame
    /// (the trampoline's callee) must keep its CFA at rbp + 16, and each frame inside it
    /// must either do the same ([rbp] is then its caller's rbp) or leave rbp as its caller
    /// had it (a frameless function, or one before its `mov rsp, rbp`; a signal frame, whose
    /// rbp is the interrupted one). Such a frame's caller is skipped, which the judge, who
    /// checks only the trampoline's frame and main, does not see.
    public func limitation(at stop: WalkStop) -> String? {
        let frames = stop.reference.frames
        guard let k = frames.firstIndex(where: { $0.index > 0 && $0.pc == stop.truth.returnAddress }), k >= 1 else { return nil }
        func name(_ frame: UnwoundFrame) -> String {
            stop.modules.module(containing: frame.lookupPC)?.symbol(for: frame.lookupPC)?.name ?? "0x" + String(frame.pc, radix: 16)
        }
        func keepsFramePointer(_ frame: UnwoundFrame) -> Bool {
            guard let cfa = frame.cfa, let rbp = frame.registers[DwarfRegister.rbp] else { return false }
            return cfa == rbp &+ 16
        }
        for i in 0..<(k - 1) where !keepsFramePointer(frames[i]) {
            guard let rbp = frames[i].registers[DwarfRegister.rbp], rbp == frames[i + 1].registers[DwarfRegister.rbp] else {
                return "\(name(frames[i])) has changed rbp without keeping its CFA at rbp+16"
            }
        }
        if !keepsFramePointer(frames[k - 1]) {
            return "\(name(frames[k - 1])), the subject, has no frame pointer here (its CFA is not rbp+16)"
        }
        return nil
    }
}
