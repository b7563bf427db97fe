// FrameRegisters: the x86-64 general registers of one frame in DWARF numbering (0-15) plus
// the return-address column (16, the frame's rip), each known or not.

public struct FrameRegisters: Hashable, Sendable, CustomStringConvertible {
    public static let count = DwarfRegister.generalCount

    private var values: [UInt64]
    private var known: UInt32

    public init() {
        values = [UInt64](repeating: 0, count: Self.count)
        known = 0
    }

    /// nil when the register has no known value (never set, or undefined by CFI).
    public subscript(register: UInt16) -> UInt64? {
        get {
            guard Int(register) < Self.count, known & (1 << UInt32(register)) != 0 else { return nil }
            return values[Int(register)]
        }
        set {
            guard Int(register) < Self.count else { return }
            if let v = newValue {
                values[Int(register)] = v
                known |= 1 << UInt32(register)
            } else {
                values[Int(register)] = 0
                known &= ~(1 << UInt32(register))
            }
        }
    }

    public var pc: UInt64? {
        get { self[DwarfRegister.returnAddress] }
        set { self[DwarfRegister.returnAddress] = newValue }
    }

    public var sp: UInt64? {
        get { self[DwarfRegister.rsp] }
        set { self[DwarfRegister.rsp] = newValue }
    }

    public var description: String {
        (0..<UInt16(Self.count)).compactMap { r in
            self[r].map { "\(r == 16 ? "rip" : DwarfRegister.name(UInt64(r)))=0x\(String($0, radix: 16))" }
        }.joined(separator: " ")
    }
}
