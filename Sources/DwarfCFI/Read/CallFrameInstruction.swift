// CallFrameInstruction: one CFI instruction in wire form, as it is encoded (factored
// offsets, the opcode's own operand types), and the decoder that reads a program of them.
// Evaluation (UnwindTableBuilder) applies the CIE's factors; the writer's intent form is
// FrameInstruction.

import Bytes

public enum CallFrameInstruction: Equatable, Sendable {
    /// advance_loc, advance_loc1/2/4: delta in code alignment units.
    case advanceLoc(UInt64)
    case setLoc(UInt64)
    case defCfa(register: UInt64, offset: UInt64)
    case defCfaSf(register: UInt64, factoredOffset: Int64)
    case defCfaRegister(UInt64)
    case defCfaOffset(UInt64)
    case defCfaOffsetSf(Int64)
    case defCfaExpression(ArraySlice<UInt8>)
    case undefined(UInt64)
    case sameValue(UInt64)
    /// DW_CFA_offset and DW_CFA_offset_extended.
    case offset(register: UInt64, factoredOffset: UInt64)
    case offsetExtendedSf(register: UInt64, factoredOffset: Int64)
    case valOffset(register: UInt64, factoredOffset: UInt64)
    case valOffsetSf(register: UInt64, factoredOffset: Int64)
    case register(UInt64, UInt64)
    case expression(UInt64, ArraySlice<UInt8>)
    case valExpression(UInt64, ArraySlice<UInt8>)
    /// DW_CFA_restore and DW_CFA_restore_extended.
    case restore(UInt64)
    case rememberState
    case restoreState
    case argsSize(UInt64)
    /// DW_CFA_GNU_negative_offset_extended: saved at CFA - factored offset.
    case negativeOffsetExtended(register: UInt64, factoredOffset: UInt64)
    /// DW_CFA_GNU_window_save (SPARC; AArch64 reuses it as negate_ra_state).
    case windowSave
    case nop
}

/// Reads the instructions of a CIE or FDE one at a time. Bounded by the byte range: each
/// instruction consumes at least one byte.
public struct CallFrameInstructionDecoder {
    var reader: ByteReader
    let bases: PointerBases
    let fdeEncoding: PointerEncoding
    let addressSize: Int

    public init(section: CallFrameSection, range: Range<Int>, cie: CommonInformationEntry) {
        self.reader = section.reader(range)
        self.bases = section.bases
        self.fdeEncoding = cie.fdeEncoding
        self.addressSize = Int(cie.addressSize)
    }

    /// Offset (file offset if known) of the next instruction.
    public var offset: UInt64 { reader.offset }

    /// The opcode byte of the instruction `next()` returned last (primary opcodes with their
    /// operand bits cleared), for listings that name the exact encoding.
    public private(set) var opcode: UInt8 = 0

    public mutating func next() throws -> CallFrameInstruction? {
        if reader.isAtEnd { return nil }
        let start = reader.offset
        let op = try reader.u8()
        opcode = op & 0xc0 != 0 ? op & 0xc0 : op
        switch op & 0xc0 {
        case CallFrameOpcode.advanceLoc: return .advanceLoc(UInt64(op & 0x3f))
        case CallFrameOpcode.offset: return .offset(register: UInt64(op & 0x3f), factoredOffset: try reader.uleb128())
        case CallFrameOpcode.restore: return .restore(UInt64(op & 0x3f))
        default: break
        }
        switch op {
        case CallFrameOpcode.nop: return .nop
        case CallFrameOpcode.setLoc:
            // An indirect set_loc makes no sense; the pointer's own address is used.
            return .setLoc(try reader.pointer(fdeEncoding, bases: bases, addressSize: addressSize).value)
        case CallFrameOpcode.advanceLoc1: return .advanceLoc(UInt64(try reader.u8()))
        case CallFrameOpcode.advanceLoc2: return .advanceLoc(UInt64(try reader.u16()))
        case CallFrameOpcode.advanceLoc4: return .advanceLoc(UInt64(try reader.u32()))
        case CallFrameOpcode.offsetExtended:
            return .offset(register: try reader.uleb128(), factoredOffset: try reader.uleb128())
        case CallFrameOpcode.restoreExtended: return .restore(try reader.uleb128())
        case CallFrameOpcode.undefined: return .undefined(try reader.uleb128())
        case CallFrameOpcode.sameValue: return .sameValue(try reader.uleb128())
        case CallFrameOpcode.register: return .register(try reader.uleb128(), try reader.uleb128())
        case CallFrameOpcode.rememberState: return .rememberState
        case CallFrameOpcode.restoreState: return .restoreState
        case CallFrameOpcode.defCfa: return .defCfa(register: try reader.uleb128(), offset: try reader.uleb128())
        case CallFrameOpcode.defCfaRegister: return .defCfaRegister(try reader.uleb128())
        case CallFrameOpcode.defCfaOffset: return .defCfaOffset(try reader.uleb128())
        case CallFrameOpcode.defCfaExpression: return .defCfaExpression(try block())
        case CallFrameOpcode.expression:
            let reg = try reader.uleb128()
            return .expression(reg, try block())
        case CallFrameOpcode.offsetExtendedSf:
            return .offsetExtendedSf(register: try reader.uleb128(), factoredOffset: try reader.sleb128())
        case CallFrameOpcode.defCfaSf:
            return .defCfaSf(register: try reader.uleb128(), factoredOffset: try reader.sleb128())
        case CallFrameOpcode.defCfaOffsetSf: return .defCfaOffsetSf(try reader.sleb128())
        case CallFrameOpcode.valOffset:
            return .valOffset(register: try reader.uleb128(), factoredOffset: try reader.uleb128())
        case CallFrameOpcode.valOffsetSf:
            return .valOffsetSf(register: try reader.uleb128(), factoredOffset: try reader.sleb128())
        case CallFrameOpcode.valExpression:
            let reg = try reader.uleb128()
            return .valExpression(reg, try block())
        case CallFrameOpcode.gnuWindowSave: return .windowSave
        case CallFrameOpcode.gnuArgsSize: return .argsSize(try reader.uleb128())
        case CallFrameOpcode.gnuNegativeOffsetExtended:
            return .negativeOffsetExtended(register: try reader.uleb128(), factoredOffset: try reader.uleb128())
        default:
            throw CFIError(offset: start, reason: .unknownOpcode(op))
        }
    }

    private mutating func block() throws -> ArraySlice<UInt8> {
        let length = try reader.uleb128()
        guard length <= UInt64(reader.remaining) else {
            throw ByteReadError(offset: reader.offset,
                                reason: .truncated(needed: Int(clamping: length), available: reader.remaining))
        }
        return try reader.bytes(Int(length))
    }
}
