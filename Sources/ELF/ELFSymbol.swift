// ELFSymbol: one entry of .symtab or .dynsym, with its name resolved.

public struct ELFSymbol: Hashable, Sendable {
    public var name: String
    public var value: UInt64
    public var size: UInt64
    public var info: UInt8
    public var other: UInt8
    public var sectionIndex: UInt16

    public init(name: String, value: UInt64, size: UInt64, info: UInt8, other: UInt8, sectionIndex: UInt16) {
        self.name = name
        self.value = value
        self.size = size
        self.info = info
        self.other = other
        self.sectionIndex = sectionIndex
    }

    public var binding: UInt8 { info >> 4 }
    public var type: UInt8 { info & 0xf }
    public var isDefined: Bool { sectionIndex != ELF.shnUndef }
    /// From the file: a symbol whose end would wrap ends at 2^64 - 1 instead of trapping.
    public var range: Range<UInt64> { value..<saturatingEnd(value, max(size, 1)) }
}
