// ELFSymbol: one entry of .symtab or .dynsym, with its name resolved.

public struct ELFSymbol: Hashable, Sendable {
    public var name: String
    public var value: UInt64
    public var size: UInt64
    public var info: UInt8
    public var other: UInt8
    public var sectionIndex: UInt16

    public var binding: UInt8 { info >> 4 }
    public var type: UInt8 { info & 0xf }
    public var isDefined: Bool { sectionIndex != ELF.shnUndef }
    public var range: Range<UInt64> { value..<(value &+ max(size, 1)) }
}
