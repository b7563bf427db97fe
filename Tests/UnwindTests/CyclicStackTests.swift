// A deliberately cyclic stack (issue 12, acceptance 4): a frame whose saved rbp points at
// itself, under CFI that takes the CFA from rbp, makes every caller the same frame. The
// walk ends, typed, at the first caller whose CFA does not move toward the stack base,
// after two frames, instead of running to the frame limit or forever.

import Bytes
import DwarfCFI
import ELF
import TestSupport
import Unwind
import XCTest

final class CyclicStackTests: XCTestCase {
    func testAFrameWhoseSavedRbpPointsAtItselfEndsTheWalkAtTheFirstCFAThatDoesNotIncrease() throws {
        var t = FrameTable()
        let cie = t.add(.x86_64())
        // Frame-pointer CFI from the first byte: CFA = rbp + 16, rbp at CFA - 16.
        t.add(FrameTable.FDE(cie: cie, start: 0x40_2000, length: 0x40,
                             instructions: [(0, .cfa(DwarfRegister.rbp, 16)), (0, .offset(DwarfRegister.rbp, -16))]))
        let elf = try ELFFile(bytes: try CFIImage.build(t).elf)
        let modules = ModuleMap(modules: [Module(name: "cyclic", base: CFIImage.base, end: CFIImage.base + 0x3000, elf: elf)])
        let rbp: UInt64 = 0x7ffe_0000_1000
        var registers = FrameRegisters()
        registers[DwarfRegister.returnAddress] = 0x40_2010  // DWARF 16: the pc
        registers[DwarfRegister.rsp] = rbp - 0x20
        registers[DwarfRegister.rbp] = rbp
        // [rbp] = rbp (the saved rbp is this frame's own), [rbp + 8] = the same pc.
        var stack: [UInt8] = []
        for v in [rbp, 0x40_2010 as UInt64] { for i in 0..<8 { stack.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        var unwinder = DwarfUnwinder(registers: registers, memory: SnapshotMemoryReader(address: rbp, bytes: stack),
                                     modules: modules, maxFrames: 256)
        let walk = unwinder.walk()
        XCTAssertEqual(walk.frames.map(\.pc), [0x40_2010, 0x40_2010])
        XCTAssertEqual(walk.stopReason, .cfaDidNotIncrease(pc: 0x40_2010, cfa: rbp + 16, callerCFA: rbp + 16))
        XCTAssertFalse(walk.stopReason.isNormalEnd, "a cycle is not a normal end")
    }
}
