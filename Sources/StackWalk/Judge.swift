// Judge: one walker's frames at one stop against the ground truth. The chain must hold the
// trampoline's frame (PC = the return address), every frame before it in some module's
// code, the trampoline frame's SP = the stack pointer after the return and each
// callee-saved register the walker exposes equal to its truth, and the frame after it must
// be in `main`.

import DwarfCFI
import Unwind

/// One way a walk differed from the truth.
public struct Mismatch: Sendable, Equatable {
    /// "chain", "sp", a register name (rbx, rbp, r12-r15), "main", "error" or "limitation".
    public var field: String
    public var expected: String
    public var actual: String
}

public enum Judge {
    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// What is wrong with `frames`; empty when the walk is right.
    public static func mismatches(_ frames: [WalkedFrame], truth: GroundTruth, modules: ModuleMap) -> [Mismatch] {
        // Frame 0 is the stopped instruction, never the trampoline's return address.
        guard let k = frames.indices.dropFirst().first(where: { frames[$0].pc == truth.returnAddress }) else {
            let last = frames.last.map { hex($0.pc) } ?? "none"
            return [Mismatch(field: "chain", expected: "a frame at \(hex(truth.returnAddress)) (vu_walk_call)",
                             actual: "\(frames.count) frame(s), the last at \(last)")]
        }
        // Every frame on the way is code of some module: a walker that read a wrong return
        // address and then found the trampoline by another route (libdwfl falls back to the
        // rbp chain when a step fails) has not walked the chain.
        if let bad = frames[1..<k].firstIndex(where: { modules.module(containing: $0.pc &- 1) == nil }) {
            return [Mismatch(field: "chain", expected: "frames inside modules up to \(hex(truth.returnAddress)) (vu_walk_call)",
                             actual: "frame \(bad) at \(hex(frames[bad].pc)), in no module")]
        }
        var out: [Mismatch] = []
        let frame = frames[k]
        if let sp = frame.sp, sp != truth.stackPointer {
            out.append(Mismatch(field: "sp", expected: hex(truth.stackPointer), actual: hex(sp)))
        }
        for r in DwarfRegister.calleeSaved {
            guard let expected = truth.registers[r], let actual = frame.registers[r], actual != expected else { continue }
            out.append(Mismatch(field: DwarfRegister.name(UInt64(r)), expected: hex(expected), actual: hex(actual)))
        }
        let caller = k + 1 < frames.count ? frames[k + 1].pc : nil
        let name = caller.flatMap { pc in modules.module(containing: pc &- 1)?.symbol(for: pc &- 1)?.name }
        if name != "main" {
            out.append(Mismatch(field: "main", expected: "the trampoline's caller in main",
                                actual: caller.map { hex($0) + (name.map { " (\($0))" } ?? "") } ?? "no frame"))
        }
        return out
    }
}
