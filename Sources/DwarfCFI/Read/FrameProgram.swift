// FrameProgram: a CIE's or FDE's instructions turned back into intent (FrameInstruction at
// unfactored code offsets), the inverse of what EhFrameWriter encodes. Used to prove a
// round trip and to compare an emitter's CFI with what it meant.

public enum FrameProgram {
    /// The FDE's instructions as intent, offsets relative to its initial location.
    /// DW_CFA_nop is dropped; set_loc becomes an offset.
    public static func intent(fde: FrameDescriptionEntry, cie: CommonInformationEntry,
                              section: CallFrameSection) throws -> [(offset: UInt64, instruction: FrameInstruction)] {
        try intent(range: fde.instructions, cie: cie, section: section, start: fde.initialLocation)
    }

    /// The CIE's initial instructions as intent.
    public static func initialInstructions(cie: CommonInformationEntry,
                                           section: CallFrameSection) throws -> [FrameInstruction] {
        try intent(range: cie.instructions, cie: cie, section: section, start: 0).map(\.instruction)
    }

    /// The registers the instructions in `range` give a rule to (the first operand of
    /// DW_CFA_register; restore too), as readelf chooses its table's columns.
    public static func referencedRegisters(range: Range<Int>, cie: CommonInformationEntry,
                                           section: CallFrameSection) throws -> RegisterMask {
        var decoder = CallFrameInstructionDecoder(section: section, range: range, cie: cie)
        var out = RegisterMask()
        while let instruction = try decoder.next() {
            switch instruction {
            case let .undefined(r), let .sameValue(r), let .restore(r), let .offset(r, _),
                 let .offsetExtendedSf(r, _), let .negativeOffsetExtended(r, _), let .valOffset(r, _),
                 let .valOffsetSf(r, _), let .register(r, _), let .expression(r, _), let .valExpression(r, _):
                if r <= UInt64(DwarfRegister.maximum) { out.insert(UInt16(r)) }
            default:
                break
            }
        }
        return out
    }

    static func intent(range: Range<Int>, cie: CommonInformationEntry, section: CallFrameSection,
                       start: UInt64) throws -> [(offset: UInt64, instruction: FrameInstruction)] {
        var decoder = CallFrameInstructionDecoder(section: section, range: range, cie: cie)
        var out: [(offset: UInt64, instruction: FrameInstruction)] = []
        var location: UInt64 = 0
        let caf = cie.codeAlignmentFactor
        let daf = cie.dataAlignmentFactor
        func reg(_ r: UInt64) throws -> UInt16 {
            guard r <= UInt64(DwarfRegister.maximum) else {
                throw CFIError(offset: decoder.offset, reason: .registerOutOfRange(r))
            }
            return UInt16(r)
        }
        func emit(_ i: FrameInstruction) { out.append((location, i)) }
        while let instruction = try decoder.next() {
            switch instruction {
            case .nop: break
            case let .advanceLoc(d): location &+= d &* caf
            case let .setLoc(a): location = a &- start
            case let .defCfa(r, o): emit(.cfa(try reg(r), Int64(bitPattern: o)))
            case let .defCfaSf(r, f): emit(.cfa(try reg(r), f &* daf))
            case let .defCfaRegister(r): emit(.cfaRegister(try reg(r)))
            case let .defCfaOffset(o): emit(.cfaOffset(Int64(bitPattern: o)))
            case let .defCfaOffsetSf(f): emit(.cfaOffset(f &* daf))
            case let .defCfaExpression(b): emit(.cfaExpression(DwarfExpression(b)))
            case let .undefined(r): emit(.undefined(try reg(r)))
            case let .sameValue(r): emit(.sameValue(try reg(r)))
            case let .offset(r, f): emit(.offset(try reg(r), Int64(bitPattern: f) &* daf))
            case let .offsetExtendedSf(r, f): emit(.offset(try reg(r), f &* daf))
            case let .negativeOffsetExtended(r, f): emit(.offset(try reg(r), 0 &- Int64(bitPattern: f) &* daf))
            case let .valOffset(r, f): emit(.valOffset(try reg(r), Int64(bitPattern: f) &* daf))
            case let .valOffsetSf(r, f): emit(.valOffset(try reg(r), f &* daf))
            case let .register(r, o): emit(.register(try reg(r), try reg(o)))
            case let .expression(r, b): emit(.expression(try reg(r), DwarfExpression(b)))
            case let .valExpression(r, b): emit(.valExpression(try reg(r), DwarfExpression(b)))
            case let .restore(r): emit(.restore(try reg(r)))
            case .rememberState: emit(.rememberState)
            case .restoreState: emit(.restoreState)
            case let .argsSize(n): emit(.argsSize(n))
            case .windowSave: throw CFIError(offset: decoder.offset, reason: .unknownOpcode(CallFrameOpcode.gnuWindowSave))
            }
        }
        return out
    }
}
