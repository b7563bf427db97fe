// Register: x86-64 general registers in hardware encoding order (the ModRM/REX numbers),
// with their DWARF numbers (a different order) and their names in 64- and 32-bit form.

import DwarfCFI

public enum Register: UInt8, CaseIterable, Sendable {
    case rax = 0, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15

    /// The low three bits that go in ModRM/SIB/opcode.
    var low: UInt8 { rawValue & 7 }
    /// Needs REX.R/X/B.
    var isExtended: Bool { rawValue >= 8 }

    /// DWARF register number (x86-64 psABI figure 3.36).
    public var dwarf: UInt16 {
        switch self {
        case .rax: return DwarfRegister.rax
        case .rdx: return DwarfRegister.rdx
        case .rcx: return DwarfRegister.rcx
        case .rbx: return DwarfRegister.rbx
        case .rsi: return DwarfRegister.rsi
        case .rdi: return DwarfRegister.rdi
        case .rbp: return DwarfRegister.rbp
        case .rsp: return DwarfRegister.rsp
        default: return UInt16(rawValue)  // r8-r15 are 8-15 in both orders
        }
    }

    public var isCalleeSaved: Bool { [.rbx, .rbp, .r12, .r13, .r14, .r15].contains(self) }

    public var name64: String {
        ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"][Int(rawValue)]
    }

    public var name32: String {
        ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"][Int(rawValue)]
    }

    func name(_ wide: Bool) -> String { wide ? name64 : name32 }
}

/// A memory operand: [base + displacement], or an absolute address reached rip-relative
/// (the code is linked at its run-time address, so every target is known when emitting).
public enum Memory: Sendable {
    case base(Register, Int32)
    case absolute(UInt64)
}

/// Condition codes for jcc/cmovcc/setcc, with the mnemonic suffix objdump prints.
public enum Condition: UInt8, Sendable {
    case overflow = 0, noOverflow, below, aboveOrEqual, equal, notEqual, belowOrEqual, above
    case sign, noSign, parity, noParity, less, greaterOrEqual, lessOrEqual, greater

    var suffix: String {
        ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"][Int(rawValue)]
    }
}
