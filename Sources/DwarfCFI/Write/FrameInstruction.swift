// FrameInstruction: a CFI instruction as *intent* (gimli's write side): offsets are in
// bytes, unfactored, and carry no choice of opcode. The writer picks the smallest encoding
// and rejects what cannot be encoded (an offset that the CIE's factors do not divide).

public enum FrameInstruction: Hashable, Sendable {
    /// CFA = register + offset.
    case cfa(UInt16, Int64)
    /// CFA = (current CFA register) + offset.
    case cfaOffset(Int64)
    /// CFA = register + (current CFA offset).
    case cfaRegister(UInt16)
    /// CFA = value of the expression.
    case cfaExpression(DwarfExpression)
    /// register saved at CFA + offset.
    case offset(UInt16, Int64)
    /// register's value is CFA + offset.
    case valOffset(UInt16, Int64)
    /// register saved in another register.
    case register(UInt16, UInt16)
    /// register's rule returns to the CIE's initial rule.
    case restore(UInt16)
    case undefined(UInt16)
    case sameValue(UInt16)
    case rememberState
    case restoreState
    /// register saved at the address the expression computes (CFA pushed first).
    case expression(UInt16, DwarfExpression)
    /// register's value is what the expression computes (CFA pushed first).
    case valExpression(UInt16, DwarfExpression)
    /// DW_CFA_GNU_args_size: bytes of outgoing arguments on the stack.
    case argsSize(UInt64)
}
