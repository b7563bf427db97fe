// CFIMutation: a deliberately wrong copy of a CFI (StackWalk's --mutate, applied by the walk
// helper to its own page before it registers it), to show that the walkers (and the tester)
// catch each kind of CFI bug at the instructions it affects. Each kind edits
// the first matching instruction of every FDE in place, keeping its length, so the
// .eh_frame_hdr and every other FDE stay valid:
//   drop-cfa-offset        a DW_CFA_def_cfa_offset becomes nops (the CFA stays stale)
//   wrong-save-slot        a DW_CFA_offset's slot moves one word (a register is read from
//                          the wrong stack slot)
//   missing-restore-state  a DW_CFA_restore_state becomes a nop (the epilogue's rules leak
//                          into the code after it)
//   off-by-one-advance     a DW_CFA_advance_loc advances one byte more (a rule takes effect
//                          one instruction late)

import Bytes

public enum CFIMutationKind: String, CaseIterable, Sendable {
    case dropCFAOffset = "drop-cfa-offset"
    case wrongSaveSlot = "wrong-save-slot"
    case missingRestoreState = "missing-restore-state"
    case offByOneAdvance = "off-by-one-advance"
}

/// A mutation applied to one .eh_frame: both versions, to diff their rows.
public struct CFIMutation: Sendable {
    /// The CFI has no instruction the kind edits.
    public struct NoSite: Error, CustomStringConvertible {
        public var kind: CFIMutationKind
        public var description: String { "the CFI has no instruction for the mutation \(kind.rawValue)" }
    }

    public var kind: CFIMutationKind
    public var address: UInt64
    public var original: [UInt8]
    public var mutated: [UInt8]
    /// Section offsets of the edited instructions.
    public var sites: [Int]
    let before: CallFrameInfo
    let after: CallFrameInfo

    /// Mutates the .eh_frame `bytes` loaded at `address`; throws if the CFI has no
    /// instruction of the kind in any FDE.
    public init(_ kind: CFIMutationKind, ehFrame bytes: [UInt8], address: UInt64) throws {
        var mutated = bytes
        var sites: [Int] = []
        let section = CallFrameSection(kind: .ehFrame, bytes: bytes, address: address)
        var fdes: [(FrameDescriptionEntry, CommonInformationEntry)] = []
        try section.forEachEntry { entry in
            if case let .fde(f) = entry { fdes.append((f, try section.cie(at: f.cieOffset))) }
        }
        for (fde, cie) in fdes {
            var decoder = CallFrameInstructionDecoder(section: section, range: fde.instructions, cie: cie)
            while true {
                let start = Int(decoder.offset)
                guard let instruction = try decoder.next() else { break }
                let end = Int(decoder.offset)
                if Self.edit(kind, &mutated, instruction, start: start, end: end) {
                    sites.append(start)
                    break
                }
            }
        }
        guard !sites.isEmpty else { throw NoSite(kind: kind) }
        self.kind = kind
        self.address = address
        self.original = bytes
        self.mutated = mutated
        self.sites = sites
        before = try CallFrameInfo(ehFrame: CallFrameSection(kind: .ehFrame, bytes: original, address: address))
        after = try CallFrameInfo(ehFrame: CallFrameSection(kind: .ehFrame, bytes: mutated, address: address))
    }

    /// Edits the instruction at start..<end if it is of this kind; true if it did.
    private static func edit(_ kind: CFIMutationKind, _ mutated: inout [UInt8], _ instruction: CallFrameInstruction,
                             start: Int, end: Int) -> Bool {
        switch (kind, instruction) {
        case (.dropCFAOffset, .defCfaOffset):
            for i in start..<end { mutated[i] = 0 }  // DW_CFA_nop
            return true
        case (.wrongSaveSlot, .offset):
            // DW_CFA_offset (0x80 | reg) with a one-byte ULEB factored offset below 127.
            guard end - start == 2, mutated[start] & 0xc0 == 0x80, mutated[start + 1] < 0x7f else { return false }
            mutated[start + 1] += 1
            return true
        case (.missingRestoreState, .restoreState):
            mutated[start] = 0
            return true
        case (.offByOneAdvance, .advanceLoc):
            // DW_CFA_advance_loc (0x40 | delta) with room for one more.
            guard end - start == 1, mutated[start] & 0xc0 == 0x40, mutated[start] & 0x3f < 0x3f else { return false }
            mutated[start] += 1
            return true
        default:
            return false
        }
    }

    /// The addresses in `range` where the mutated CFI's row has other rules than the
    /// original's (our reader evaluates both: this says where a walker should fail, the
    /// trampoline's truth says whether it did).
    public func changedAddresses(in range: Range<UInt64>) throws -> Set<UInt64> {
        var out = Set<UInt64>()
        for pc in range {
            let a = try before.row(at: pc)?.row, b = try after.row(at: pc)?.row
            switch (a, b) {
            case (nil, nil): continue
            case let (x?, y?) where x.hasSameRules(as: y): continue
            default: out.insert(pc)
            }
        }
        return out
    }

    /// True if, for a frame at `pc` with `registers` (and the stack in `memory`), one
    /// unwind step by the mutated CFI gives another caller than by the original: another
    /// CFA, return address or callee-saved register, or a failure where the other does not.
    /// A changed rule need not change the caller: "rbx saved at CFA-24" and "rbx unchanged"
    /// agree while rbx still holds what was pushed.
    public func changesCaller(at pc: UInt64, registers: FrameRegisters, memory: some MemoryReader) -> Bool {
        func caller(_ cfi: CallFrameInfo) -> [UInt64?]? {
            guard let (row, cie) = try? cfi.row(at: pc),
                  let r = try? UnwindStep.step(row: row, returnAddressRegister: cie.returnAddressRegister,
                                               registers: registers, memory: memory) else { return nil }
            return [r.cfa, r.caller.pc] + DwarfRegister.calleeSaved.map { r.caller[$0] }
        }
        guard let a = try? before.row(at: pc)?.row, let b = try? after.row(at: pc)?.row, !a.hasSameRules(as: b) else {
            return (try? before.row(at: pc)?.row == nil) != (try? after.row(at: pc)?.row == nil)
        }
        return caller(before) != caller(after)
    }
}
