// RegisterRule and CFARule: the cells of the unwind table (DWARF 5 section 6.4.1). A
// register with no rule is "unspecified": the ABI default applies (see UnwindStep).
//
// Rules are plain data (an expression is a range of its section's bytes, not a slice that
// holds a reference): evaluating a table copies rule sets at every change, and copies of
// plain data cost a memcpy, not a reference count per cell.

/// A DWARF expression inside a CFI section: a range of the bytes of the row's
/// ExpressionSource.
public struct RuleExpression: Hashable, Sendable {
    public let index: UInt32
    public let count: UInt32

    public init(index: UInt32, count: UInt32) {
        self.index = index
        self.count = count
    }

    public init(_ range: Range<Int>) {
        index = UInt32(truncatingIfNeeded: range.lowerBound)
        count = UInt32(truncatingIfNeeded: range.count)
    }
}

/// The bytes expressions are ranges of (a CFI section's contents), shared by reference by
/// every row built from the section.
public final class ExpressionSource: Sendable {
    public let bytes: [UInt8]
    /// File offset of `bytes[0]`, for errors.
    public let fileOffset: UInt64

    public init(bytes: [UInt8], fileOffset: UInt64 = 0) {
        self.bytes = bytes
        self.fileOffset = fileOffset
    }

    /// A source holding one expression, for rows built by hand.
    public convenience init(_ expression: DwarfExpression) {
        self.init(bytes: expression.bytes)
    }

    /// The expression's bytes, or nil if its range is not inside this source.
    public func bytes(of e: RuleExpression) -> ArraySlice<UInt8>? {
        let start = Int(e.index)
        let end = start + Int(e.count)
        guard end <= bytes.count else { return nil }
        return bytes[start..<end]
    }

    public func origin(of e: RuleExpression) -> UInt64 { fileOffset &+ UInt64(e.index) }

    /// The whole source as one expression.
    public var whole: RuleExpression { RuleExpression(0..<bytes.count) }
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
/// most a dozen registers) and plain data, so a sorted array beats a dictionary and a copy
/// is one memcpy.
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
    /// Where the row's expressions (if any) are.
    public var expressions: ExpressionSource?

    public init(start: UInt64, end: UInt64, cfa: CFARule, registers: RegisterRuleSet = RegisterRuleSet(),
                argumentsSize: UInt64 = 0, expressions: ExpressionSource? = nil) {
        self.start = start
        self.end = end
        self.cfa = cfa
        self.registers = registers
        self.argumentsSize = argumentsSize
        self.expressions = expressions
    }

    /// True if the rules (not the address range) are the same.
    public func hasSameRules(as other: UnwindRow) -> Bool {
        cfa == other.cfa && argumentsSize == other.argumentsSize && registers == other.registers
    }

    public static func == (a: UnwindRow, b: UnwindRow) -> Bool {
        a.start == b.start && a.end == b.end && a.hasSameRules(as: b)
    }

    public func hash(into h: inout Hasher) {
        h.combine(start); h.combine(end); h.combine(cfa); h.combine(registers); h.combine(argumentsSize)
    }

    /// The bytes and file offset of one of this row's expressions.
    public func expression(_ e: RuleExpression) throws -> (bytes: ArraySlice<UInt8>, origin: UInt64) {
        guard let source = expressions, let bytes = source.bytes(of: e) else {
            throw CFIError(offset: UInt64(e.index), reason: .expressionUnavailable)
        }
        return (bytes, source.origin(of: e))
    }
}
