// GroundTruth: what the trampoline (CWalkSubject) makes known before the call: the return
// address, the stack pointer after the return, the callee-saved registers (sentinels in
// rbx and r12-r15, the trampoline's frame address in rbp), and that its caller is `main`.
// Every walker at every stop is judged against these, not against another unwinder.

import DwarfCFI
import Unwind

public struct GroundTruth: Sendable, Equatable {
    /// Where the subject returns (the instruction after the trampoline's call).
    public var returnAddress: UInt64
    /// rsp after the return: rsp at the call instruction, so the subject's CFA.
    public var stackPointer: UInt64
    /// The trampoline frame's callee-saved registers (DWARF numbers).
    public var registers: [UInt16: UInt64]

    /// The sentinels the trampoline loads (walk_subject.h).
    public static let sentinels: [UInt16: UInt64] = [
        DwarfRegister.rbx: 0x1b1b_1b1b_1b1b_1b1b, DwarfRegister.r12: 0x1212_1212_1212_1212,
        DwarfRegister.r13: 0x1313_1313_1313_1313, DwarfRegister.r14: 0x1414_1414_1414_1414,
        DwarfRegister.r15: 0x1515_1515_1515_1515,
    ]

    /// The bytes of `call *%r11`, the instruction the trampoline's int3 stops before.
    static let callInstruction: [UInt8] = [0x41, 0xff, 0xd3]

    /// The truth read at the trampoline's int3 stop (rip at its call instruction).
    public init(atCall registers: X86_64Registers, instruction: [UInt8]) throws {
        guard instruction == Self.callInstruction else {
            throw WalkError("the helper stopped at 0x\(String(registers.rip, radix: 16)), not at the trampoline's call")
        }
        for (r, v) in Self.sentinels {
            let actual = registers.frameRegisters[r] ?? 0
            guard actual == v else { throw WalkError("the trampoline did not load its sentinel into \(DwarfRegister.name(UInt64(r)))") }
        }
        returnAddress = registers.rip + UInt64(Self.callInstruction.count)
        stackPointer = registers.rsp
        self.registers = Self.sentinels
        self.registers[DwarfRegister.rbp] = registers.rbp
    }
}

extension GroundTruth {
    /// The truth the in-process helper recorded at the subject's first instruction.
    init(returnAddress: UInt64, stackPointer: UInt64, framePointer: UInt64) {
        self.returnAddress = returnAddress
        self.stackPointer = stackPointer
        registers = Self.sentinels
        registers[DwarfRegister.rbp] = framePointer
    }
}

public struct WalkError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
