// CallFrameOpcode: the DW_CFA_* opcodes (DWARF 5 section 6.4.2, plus the GNU extensions
// that GCC emits into .eh_frame). The top two bits select the three "primary" opcodes that
// carry an operand in the low six bits.

public enum CallFrameOpcode {
    // Primary opcodes: high two bits; operand in the low six.
    public static let advanceLoc: UInt8 = 0x40
    public static let offset: UInt8 = 0x80
    public static let restore: UInt8 = 0xc0

    // Extended opcodes (high two bits zero).
    public static let nop: UInt8 = 0x00
    public static let setLoc: UInt8 = 0x01
    public static let advanceLoc1: UInt8 = 0x02
    public static let advanceLoc2: UInt8 = 0x03
    public static let advanceLoc4: UInt8 = 0x04
    public static let offsetExtended: UInt8 = 0x05
    public static let restoreExtended: UInt8 = 0x06
    public static let undefined: UInt8 = 0x07
    public static let sameValue: UInt8 = 0x08
    public static let register: UInt8 = 0x09
    public static let rememberState: UInt8 = 0x0a
    public static let restoreState: UInt8 = 0x0b
    public static let defCfa: UInt8 = 0x0c
    public static let defCfaRegister: UInt8 = 0x0d
    public static let defCfaOffset: UInt8 = 0x0e
    public static let defCfaExpression: UInt8 = 0x0f
    public static let expression: UInt8 = 0x10
    public static let offsetExtendedSf: UInt8 = 0x11
    public static let defCfaSf: UInt8 = 0x12
    public static let defCfaOffsetSf: UInt8 = 0x13
    public static let valOffset: UInt8 = 0x14
    public static let valOffsetSf: UInt8 = 0x15
    public static let valExpression: UInt8 = 0x16
    // GNU extensions.
    public static let gnuWindowSave: UInt8 = 0x2d
    public static let gnuArgsSize: UInt8 = 0x2e
    public static let gnuNegativeOffsetExtended: UInt8 = 0x2f
}
