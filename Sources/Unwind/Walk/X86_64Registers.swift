// X86_64Registers: the kernel's user_regs_struct (ptrace PTRACE_GETREGS, a core's
// NT_PRSTATUS pr_reg), field for field, and its mapping to DWARF register numbers.

import DwarfCFI

public struct X86_64Registers: Hashable, Sendable {
    public var r15: UInt64 = 0, r14: UInt64 = 0, r13: UInt64 = 0, r12: UInt64 = 0
    public var rbp: UInt64 = 0, rbx: UInt64 = 0, r11: UInt64 = 0, r10: UInt64 = 0
    public var r9: UInt64 = 0, r8: UInt64 = 0, rax: UInt64 = 0, rcx: UInt64 = 0
    public var rdx: UInt64 = 0, rsi: UInt64 = 0, rdi: UInt64 = 0, origRax: UInt64 = 0
    public var rip: UInt64 = 0, cs: UInt64 = 0, eflags: UInt64 = 0, rsp: UInt64 = 0
    public var ss: UInt64 = 0, fsBase: UInt64 = 0, gsBase: UInt64 = 0, ds: UInt64 = 0
    public var es: UInt64 = 0, fs: UInt64 = 0, gs: UInt64 = 0

    /// Number of 8-byte words in user_regs_struct.
    public static let wordCount = 27

    public init() {}

    /// From the 27 words of a user_regs_struct, in kernel order.
    public init(words w: [UInt64]) {
        precondition(w.count >= Self.wordCount)
        (r15, r14, r13, r12, rbp, rbx, r11, r10, r9) = (w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8])
        (r8, rax, rcx, rdx, rsi, rdi, origRax, rip, cs) = (w[9], w[10], w[11], w[12], w[13], w[14], w[15], w[16], w[17])
        (eflags, rsp, ss, fsBase, gsBase, ds, es, fs, gs) = (w[18], w[19], w[20], w[21], w[22], w[23], w[24], w[25], w[26])
    }

    public var words: [UInt64] {
        [r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rax, rcx, rdx, rsi, rdi, origRax, rip, cs,
         eflags, rsp, ss, fsBase, gsBase, ds, es, fs, gs]
    }

    /// The registers one unwind step works with (DWARF 0-16, rip as 16).
    public var frameRegisters: FrameRegisters {
        var f = FrameRegisters()
        let values = [rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15, rip]
        for (i, v) in values.enumerated() { f[UInt16(i)] = v }
        return f
    }
}
