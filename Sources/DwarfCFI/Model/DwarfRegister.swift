// DwarfRegister: x86-64 DWARF register numbers (System V psABI, figure 3.36) and the names
// binutils' readelf prints for them, so our listings compare line by line with readelf.

public enum DwarfRegister {
    public static let rax: UInt16 = 0
    public static let rdx: UInt16 = 1
    public static let rcx: UInt16 = 2
    public static let rbx: UInt16 = 3
    public static let rsi: UInt16 = 4
    public static let rdi: UInt16 = 5
    public static let rbp: UInt16 = 6
    public static let rsp: UInt16 = 7
    public static let r8: UInt16 = 8
    public static let r9: UInt16 = 9
    public static let r10: UInt16 = 10
    public static let r11: UInt16 = 11
    public static let r12: UInt16 = 12
    public static let r13: UInt16 = 13
    public static let r14: UInt16 = 14
    public static let r15: UInt16 = 15
    /// The return address column (the caller's rip).
    public static let returnAddress: UInt16 = 16

    /// The general-purpose registers and the return address: what one unwind step recovers.
    public static let generalCount = 17

    /// Callee-saved in the psABI: preserved across calls, so an unwinder must restore them.
    public static let calleeSaved: [UInt16] = [rbx, rbp, r12, r13, r14, r15]

    /// The highest register number a rule may name; beyond it a CFI program is rejected
    /// (x86-64 defines numbers up to 130).
    public static let maximum: UInt16 = 255

    /// Indexed by register number (0...maximum); nil where x86-64 names none. An array,
    /// not a dictionary: listings look names up once per cell.
    private static let names: [String?] = {
        var n = [String?](repeating: nil, count: Int(maximum) + 1)
        let gpr = ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
                   "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip"]
        for (i, s) in gpr.enumerated() { n[i] = s }
        for i in 0..<16 { n[17 + i] = "xmm\(i)" }
        for i in 0..<8 { n[33 + i] = "st\(i)" }
        for i in 0..<8 { n[41 + i] = "mm\(i)" }
        n[49] = "rflags"
        for (i, s) in ["es", "cs", "ss", "ds", "fs", "gs"].enumerated() { n[50 + i] = s }
        n[58] = "fs.base"; n[59] = "gs.base"
        n[62] = "tr"; n[63] = "ldtr"; n[64] = "mxcsr"; n[65] = "fcw"; n[66] = "fsw"
        for i in 0..<16 { n[67 + i] = "xmm\(16 + i)" }
        for i in 0..<8 { n[118 + i] = "k\(i)" }
        return n
    }()

    private static let nameByteTable: [[UInt8]] = (0...Int(maximum)).map { Array(name(UInt64($0)).utf8) }

    /// `name(_:)` as UTF-8 bytes, precomputed for listings.
    public static func nameBytes(_ register: UInt16) -> [UInt8] {
        register <= maximum ? nameByteTable[Int(register)] : Array(name(UInt64(register)).utf8)
    }

    /// readelf's name for a register, or "r<N>" when x86-64 gives it none.
    public static func name(_ register: UInt64) -> String {
        if register <= UInt64(maximum), let s = names[Int(register)] { return s }
        return "r\(register)"
    }
}
