// PointerEncoding: a DW_EH_PE_* byte (LSB "Exception Frames"; GCC unwind-pe.h): a value
// format in the low nibble, how to apply it (pc-, text-, data-, function-relative, aligned)
// in bits 4-6, and an indirection flag in bit 7. 0xff means "omitted".

public struct PointerEncoding: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }

    // Formats.
    public static let absptr = PointerEncoding(0x00)
    public static let uleb128 = PointerEncoding(0x01)
    public static let udata2 = PointerEncoding(0x02)
    public static let udata4 = PointerEncoding(0x03)
    public static let udata8 = PointerEncoding(0x04)
    public static let sleb128 = PointerEncoding(0x09)
    public static let sdata2 = PointerEncoding(0x0a)
    public static let sdata4 = PointerEncoding(0x0b)
    public static let sdata8 = PointerEncoding(0x0c)
    // Applications.
    public static let pcrel = PointerEncoding(0x10)
    public static let textrel = PointerEncoding(0x20)
    public static let datarel = PointerEncoding(0x30)
    public static let funcrel = PointerEncoding(0x40)
    public static let aligned = PointerEncoding(0x50)
    public static let indirect = PointerEncoding(0x80)
    public static let omit = PointerEncoding(0xff)

    public static func | (a: PointerEncoding, b: PointerEncoding) -> PointerEncoding {
        PointerEncoding(a.rawValue | b.rawValue)
    }

    public var format: UInt8 { rawValue & 0x0f }
    public var application: UInt8 { rawValue & 0x70 }
    public var isIndirect: Bool { rawValue & 0x80 != 0 }
    public var isOmitted: Bool { rawValue == 0xff }

    /// True if a reader can decode it: a known format and application.
    public var isValid: Bool {
        if isOmitted { return true }
        switch format {
        case 0x0, 0x1, 0x2, 0x3, 0x4, 0x9, 0xa, 0xb, 0xc: break
        default: return false
        }
        return application <= 0x50
    }

    /// Size in bytes of a fixed-size format; nil for LEB128 (and absptr is the address size).
    public func fixedSize(addressSize: Int) -> Int? {
        switch format {
        case 0x0: return addressSize
        case 0x2, 0xa: return 2
        case 0x3, 0xb: return 4
        case 0x4, 0xc: return 8
        default: return nil
        }
    }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// A decoded pointer. If `isIndirect`, `value` is the address of the pointer, which only a
/// reader of the target's memory can follow.
public struct EncodedPointer: Hashable, Sendable {
    public var value: UInt64
    public var isIndirect: Bool
    public init(value: UInt64, isIndirect: Bool = false) {
        self.value = value
        self.isIndirect = isIndirect
    }
}

/// The bases relative encodings need. `section` is the run-time (or link-time) address of
/// the first byte of the section being read; the others are nil when unknown, and then
/// resolve against 0, as libgcc's do on x86-64.
public struct PointerBases: Hashable, Sendable {
    public var section: UInt64
    public var text: UInt64?
    public var data: UInt64?
    public init(section: UInt64, text: UInt64? = nil, data: UInt64? = nil) {
        self.section = section
        self.text = text
        self.data = data
    }
}
