// EmittedEntry: one entry's code as the emitter produced it: its bytes, its listing with
// the CFA rule at each instruction, its FDE program (from the CFI tracker), and its fixups
// (each user-pointer store and the landing pad that turns its fault into -EFAULT).

import DwarfCFI

public struct Fixup: Hashable, Sendable {
    /// Run-time address of the store instruction that may fault.
    public var store: UInt64
    /// Where execution resumes instead: the entry's -EFAULT path.
    public var landingPad: UInt64
}

public struct EmittedEntry: Sendable {
    public var kind: EntryKind
    public var address: UInt64
    public var bytes: [UInt8]
    public var listing: [ListedInstruction]
    public var frameInstructions: [(offset: UInt64, instruction: FrameInstruction)]
    public var fixups: [Fixup]

    public var size: UInt64 { UInt64(bytes.count) }
}
