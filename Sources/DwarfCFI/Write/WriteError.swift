// WriteError: what the CFI writer refuses to encode, with the FDE (by index) and the
// instruction that cannot be expressed.

public struct WriteError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case offsetNotFactored(Int64, factor: Int64)
        case offsetOutOfRange(Int64, factor: Int64)
        case codeOffsetNotFactored(UInt64, factor: UInt64)
        case codeOffsetsDecrease(UInt64, after: UInt64)
        case codeOffsetBeyondFunction(UInt64, length: UInt64)
        case advanceTooLarge(UInt64)
        case pointerOutOfRange(UInt64, encoding: PointerEncoding)
        case unsupportedEncoding(PointerEncoding)
        case registerNumberTooLarge(UInt16)
        case lsdaMismatch
        case zeroFactor
    }

    /// Index of the FDE (or of the CIE when `inCIE`) the problem is in.
    public var entry: Int
    public var inCIE: Bool
    public var reason: Reason

    public init(entry: Int, inCIE: Bool, reason: Reason) {
        self.entry = entry
        self.inCIE = inCIE
        self.reason = reason
    }

    public var description: String {
        let place = inCIE ? "CIE #\(entry)" : "FDE #\(entry)"
        switch reason {
        case let .offsetNotFactored(v, f): return "\(place): offset \(v) is not a multiple of the data alignment factor \(f)"
        case let .offsetOutOfRange(v, f): return "\(place): offset \(v) divided by the data alignment factor \(f) overflows"
        case let .codeOffsetNotFactored(v, f): return "\(place): code offset \(v) is not a multiple of the code alignment factor \(f)"
        case let .codeOffsetsDecrease(v, a): return "\(place): code offset \(v) comes after \(a)"
        case let .codeOffsetBeyondFunction(v, l): return "\(place): code offset \(v) is outside the function (length \(l))"
        case let .advanceTooLarge(v): return "\(place): advance of \(v) does not fit DW_CFA_advance_loc4"
        case let .pointerOutOfRange(v, e): return "\(place): 0x\(String(v, radix: 16)) does not fit pointer encoding \(e)"
        case let .unsupportedEncoding(e): return "\(place): pointer encoding \(e) is not supported by the writer"
        case let .registerNumberTooLarge(r): return "\(place): return address register \(r) does not fit CIE version 1"
        case .lsdaMismatch: return "\(place): an LSDA is given if and only if the CIE has an LSDA encoding"
        case .zeroFactor: return "\(place): alignment factors must be non-zero"
        }
    }
}
