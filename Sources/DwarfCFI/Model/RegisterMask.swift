// RegisterMask: a set of DWARF register numbers 0...DwarfRegister.maximum as 256 bits, for
// the per-entry sets a listing needs (which registers get a column) without hashing.

public struct RegisterMask: Hashable, Sendable, Sequence {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public init<S: Sequence>(_ registers: S) where S.Element == UInt16 {
        for r in registers { insert(r) }
    }

    public static func == (a: RegisterMask, b: RegisterMask) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into h: inout Hasher) {
        h.combine(words.0); h.combine(words.1); h.combine(words.2); h.combine(words.3)
    }

    public var isEmpty: Bool { (words.0 | words.1 | words.2 | words.3) == 0 }

    /// Registers above `DwarfRegister.maximum` are ignored (no CFI program may name them).
    public mutating func insert(_ register: UInt16) {
        guard register <= DwarfRegister.maximum else { return }
        let bit = UInt64(1) << UInt64(register & 63)
        switch register >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    public func contains(_ register: UInt16) -> Bool {
        guard register <= DwarfRegister.maximum else { return false }
        let bit = UInt64(1) << UInt64(register & 63)
        switch register >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    public func union(_ other: RegisterMask) -> RegisterMask {
        var m = self
        m.words = (words.0 | other.words.0, words.1 | other.words.1, words.2 | other.words.2, words.3 | other.words.3)
        return m
    }

    /// Registers in increasing order, as an array.
    public var registers: [UInt16] {
        var out: [UInt16] = []
        for (i, w0) in [words.0, words.1, words.2, words.3].enumerated() {
            var w = w0
            while w != 0 {
                out.append(UInt16(i * 64 + w.trailingZeroBitCount))
                w &= w - 1
            }
        }
        return out
    }

    /// Registers in increasing order.
    public func makeIterator() -> AnyIterator<UInt16> {
        let w = [words.0, words.1, words.2, words.3]
        var index = 0
        var current = w[0]
        return AnyIterator {
            while true {
                if current != 0 {
                    let bit = current.trailingZeroBitCount
                    current &= current - 1
                    return UInt16(index * 64 + bit)
                }
                index += 1
                if index >= 4 { return nil }
                current = w[index]
            }
        }
    }
}
