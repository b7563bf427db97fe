// CoreThread: one thread of a core, from its NT_PRSTATUS note (struct elf_prstatus,
// x86-64 layout: pr_info at 0, pr_cursig at 12, pr_pid at 32, pr_reg at 112, 336 bytes in
// all) and the per-thread notes that follow it (NT_FPREGSET, NT_X86_XSTATE, NT_SIGINFO).

public struct CoreThread: Sendable, Equatable {
    public static let prstatusSize = 336
    public static let registersOffset = 112
    public static let registerWords = 27

    /// pr_pid: the thread id.
    public var tid: Int32
    /// pr_cursig: the signal the thread stopped for (0 if none).
    public var currentSignal: Int16
    /// pr_info.si_signo / si_code / si_errno as the kernel copied them into the status.
    public var infoSignal: Int32
    public var infoCode: Int32
    /// user_regs_struct, 27 words in kernel order (r15 ... gs).
    public var registers: [UInt64]
    /// File offset of pr_reg: where a rewriter edits the registers in place.
    public var registersFileOffset: UInt64
    /// File offset of the NT_PRSTATUS descriptor.
    public var statusFileOffset: UInt64
    /// The other notes of this thread (FPREGSET, XSTATE, ...), kept and passed through.
    public var otherNotes: [CoreNoteRecord]
    /// NT_SIGINFO, when the kernel (or gdb) wrote one for this thread.
    public var signalInfo: CoreSignalInfo?
}

/// Where a note is in the file, without its bytes.
public struct CoreNoteRecord: Sendable, Equatable {
    public var name: String
    public var type: UInt32
    /// File offset and size of the descriptor.
    public var descriptorOffset: UInt64
    public var descriptorSize: UInt64
}

/// NT_SIGINFO: the siginfo_t of the signal that killed (or stopped) the process.
public struct CoreSignalInfo: Sendable, Equatable {
    public var signal: Int32
    public var errno: Int32
    public var code: Int32
    /// si_addr for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP (the union's first word).
    public var address: UInt64
}

/// NT_PRPSINFO (struct elf_prpsinfo: pr_pid at 24, pr_fname[16] at 40, pr_psargs[80] at 56).
public struct CoreProcessInfo: Sendable, Equatable {
    public var pid: Int32
    public var name: String
    public var arguments: String
}

/// One NT_FILE entry: [start, end) maps `path` from file offset `fileOffset`.
public struct CoreFileMapping: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var fileOffset: UInt64
    public var path: String
}
