// CFIError: why a CIE, FDE, header table, CFI program or DWARF expression was rejected,
// and the byte offset (in the file when the section's file offset is known) where.

import Bytes

public struct CFIError: LocatedError, Equatable {
    public enum Reason: Equatable, Sendable {
        case entryLengthOutOfRange(UInt64)
        case cieNotFound(target: Int64)
        case unsupportedCIEVersion(UInt8)
        case unknownAugmentation(String)
        case badPointerEncoding(UInt8)
        case badAddressSize(UInt8)
        case segmentSelectorUnsupported(UInt8)
        case zeroCodeAlignment
        case unknownOpcode(UInt8)
        case registerOutOfRange(UInt64)
        case locationDecreases(from: UInt64, to: UInt64)
        /// An unsigned offset operand beyond Int64's range (no address is that far).
        case offsetOutOfRange(UInt64)
        /// A factored offset whose product with the data alignment factor overflows.
        case factoredOffsetOverflow(Int64, factor: Int64)
        case rememberStackOverflow(limit: Int)
        case restoreWithEmptyStack
        case rowLimit(Int)
        case instructionLimit(Int)
        case unknownExpressionOpcode(UInt8)
        case expressionStackOverflow(limit: Int)
        case expressionStackUnderflow(UInt8)
        case expressionStepLimit(Int)
        case expressionBranchOutOfRange(Int)
        case divisionByZero
        case registerUnavailable(UInt64)
        case memory(address: UInt64, count: Int)
        case badHeaderVersion(UInt8)
        case headerTableTooLarge(UInt64)
        case headerEntryNotAnFDE(UInt64)
        case cfaUnavailable
        case noFDE(pc: UInt64)
        case expressionUnavailable
    }

    public let offset: UInt64
    public let reason: Reason

    public init(offset: UInt64, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    public var message: String {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        switch reason {
        case let .entryLengthOutOfRange(l): return "entry length \(hex(l)) runs past the end of the section"
        case let .cieNotFound(t): return "FDE's CIE pointer leads to \(t < 0 ? "-" : "")\(hex(t.magnitude)), which is not a CIE"
        case let .unsupportedCIEVersion(v): return "unsupported CIE version \(v)"
        case let .unknownAugmentation(a): return "unknown augmentation \"\(printableText(a.utf8))\""
        case let .badPointerEncoding(e): return "invalid pointer encoding \(hex(UInt64(e)))"
        case let .badAddressSize(s): return "unsupported address size \(s)"
        case let .segmentSelectorUnsupported(s): return "segment selector size \(s) is not supported"
        case .zeroCodeAlignment: return "code alignment factor is 0"
        case let .unknownOpcode(o): return "unknown CFA opcode \(hex(UInt64(o)))"
        case let .registerOutOfRange(r): return "register \(r) is beyond the supported \(DwarfRegister.maximum)"
        case let .locationDecreases(f, t): return "location moves back from \(hex(f)) to \(hex(t))"
        case let .offsetOutOfRange(o): return "offset \(hex(o)) is beyond the signed 64-bit range"
        case let .factoredOffsetOverflow(f, factor): return "factored offset \(f) times data alignment factor \(factor) overflows 64 bits"
        case let .rememberStackOverflow(l): return "more than \(l) nested DW_CFA_remember_state"
        case .restoreWithEmptyStack: return "DW_CFA_restore_state with no remembered state"
        case let .rowLimit(l): return "more than \(l) rows"
        case let .instructionLimit(l): return "more than \(l) instructions"
        case let .unknownExpressionOpcode(o): return "unknown DWARF expression opcode \(hex(UInt64(o)))"
        case let .expressionStackOverflow(l): return "DWARF expression stack deeper than \(l)"
        case let .expressionStackUnderflow(o): return "DWARF expression stack underflow at opcode \(hex(UInt64(o)))"
        case let .expressionStepLimit(l): return "DWARF expression ran more than \(l) steps"
        case let .expressionBranchOutOfRange(t): return "DWARF expression branches to \(t), outside the expression"
        case .divisionByZero: return "DWARF expression divides by zero"
        case let .registerUnavailable(r): return "register \(DwarfRegister.name(r)) has no value"
        case let .memory(a, c): return "cannot read \(c) bytes at \(hex(a))"
        case let .badHeaderVersion(v): return "unsupported .eh_frame_hdr version \(v)"
        case let .headerTableTooLarge(n): return ".eh_frame_hdr claims \(n) entries, more than fit in the section"
        case let .headerEntryNotAnFDE(a): return ".eh_frame_hdr entry points at 0x\(String(a, radix: 16)), which is not an FDE"
        case .cfaUnavailable: return "CFA has no value"
        case let .noFDE(pc): return "no FDE covers \(hex(pc))"
        case .expressionUnavailable: return "the row's DWARF expression bytes are not available"
        }
    }
}
