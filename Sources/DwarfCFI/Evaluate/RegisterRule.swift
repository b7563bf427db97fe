// RegisterRule and CFARule: the cells of the unwind table (DWARF 5 section 6.4.1). A
// register with no rule is "unspecified": the ABI default applies (see UnwindStep).

/// A DWARF expression inside a CFI section, kept as a slice of the section (no copy) with
/// the file offset of its first byte for error reports. Equal when the bytes are equal.
public struct RuleExpression: Hashable, Sendable {
    public let bytes: ArraySlice<UInt8>
    /// Offset (in the file, when known) of `bytes.first`.
    public let origin: UInt64

    public init(bytes: ArraySlice<UInt8>, origin: UInt64) {
        self.bytes = bytes
        self.origin = origin
    }

    public init(_ e: DwarfExpression) {
        self.bytes = e.bytes[...]
        self.origin = 0
    }

    public static func == (a: RuleExpression, b: RuleExpression) -> Bool { a.bytes.elementsEqual(b.bytes) }
    public func hash(into h: inout Hasher) { for b in bytes { h.combine(b) } }
}

public enum CFARule: Hashable, Sendable {
    case registerOffset(register: UInt16, offset: Int64)
    case expression(RuleExpression)
}

public enum RegisterRule: Hashable, Sendable {
    case undefined
    case sameValue
    /// Saved at CFA + offset.
    case offset(Int64)
    /// The value is CFA + offset.
    case valOffset(Int64)
    /// Saved in another register.
    case register(UInt16)
    /// Saved at the address the expression computes, with the CFA pushed first.
    case expression(RuleExpression)
    /// The value is what the expression computes, with the CFA pushed first.
    case valExpression(RuleExpression)
}

/// The explicit rules of one row, sorted by register number. Small (x86-64 code names at
/// most a dozen registers), so a sorted array beats a dictionary.
public struct RegisterRuleSet: Hashable, Sendable, Sequence {
    public struct Entry: Hashable, Sendable {
        public let register: UInt16
        public let rule: RegisterRule
    }

    private var entries: [Entry] = []

    public init() {}

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }

    public subscript(register: UInt16) -> RegisterRule? {
        get {
            for e in entries {
                if e.register == register { return e.rule }
                if e.register > register { return nil }
            }
            return nil
        }
        set {
            var i = 0
            while i < entries.count && entries[i].register < register { i += 1 }
            if i < entries.count && entries[i].register == register {
                if let r = newValue { entries[i] = Entry(register: register, rule: r) } else { entries.remove(at: i) }
            } else if let r = newValue {
                entries.insert(Entry(register: register, rule: r), at: i)
            }
        }
    }
}

/// One row of the unwind table: the rules that hold for every address in `start..<end`.
public struct UnwindRow: Hashable, Sendable {
    public var start: UInt64
    public var end: UInt64
    public var cfa: CFARule
    public var registers: RegisterRuleSet
    /// DW_CFA_GNU_args_size: outgoing argument bytes on the stack (used by landing pads).
    public var argumentsSize: UInt64

    public init(start: UInt64, end: UInt64, cfa: CFARule, registers: RegisterRuleSet = RegisterRuleSet(),
                argumentsSize: UInt64 = 0) {
        self.start = start
        self.end = end
        self.cfa = cfa
        self.registers = registers
        self.argumentsSize = argumentsSize
    }

    /// True if the rules (not the address range) are the same.
    public func hasSameRules(as other: UnwindRow) -> Bool {
        cfa == other.cfa && registers == other.registers && argumentsSize == other.argumentsSize
    }
}
