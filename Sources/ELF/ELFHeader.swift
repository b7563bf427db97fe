// ELFHeader, ProgramHeader, SectionHeader: the ELF64 headers, field for field (gABI
// "ELF Header", "Program Header", "Sections").

public struct ELFHeader: Hashable, Sendable {
    public var type: UInt16
    public var machine: UInt16
    public var version: UInt32
    public var entry: UInt64
    public var programHeaderOffset: UInt64
    public var sectionHeaderOffset: UInt64
    public var flags: UInt32
    public var headerSize: UInt16
    public var programHeaderEntrySize: UInt16
    public var programHeaderCount: Int
    public var sectionHeaderEntrySize: UInt16
    public var sectionHeaderCount: Int
    public var sectionNameTableIndex: Int
}

public struct ProgramHeader: Hashable, Sendable {
    public var type: UInt32
    public var flags: UInt32
    public var offset: UInt64
    public var virtualAddress: UInt64
    public var physicalAddress: UInt64
    public var fileSize: UInt64
    public var memorySize: UInt64
    public var alignment: UInt64

    public init(type: UInt32, flags: UInt32, offset: UInt64, virtualAddress: UInt64, physicalAddress: UInt64? = nil,
                fileSize: UInt64, memorySize: UInt64, alignment: UInt64) {
        self.type = type
        self.flags = flags
        self.offset = offset
        self.virtualAddress = virtualAddress
        self.physicalAddress = physicalAddress ?? virtualAddress
        self.fileSize = fileSize
        self.memorySize = memorySize
        self.alignment = alignment
    }

    /// From the file: a segment whose end would wrap ends at 2^64 - 1 instead of trapping.
    public var addressRange: Range<UInt64> { virtualAddress..<saturatingEnd(virtualAddress, memorySize) }
}

public struct SectionHeader: Hashable, Sendable {
    /// Index in the section header table.
    public var index: Int = 0
    /// File offset of this header entry (errors about its fields point here).
    public var headerOffset: UInt64 = 0
    public var name: String
    public var nameOffset: UInt32
    public var type: UInt32
    public var flags: UInt64
    public var address: UInt64
    public var offset: UInt64
    public var size: UInt64
    public var link: UInt32
    public var info: UInt32
    public var addressAlignment: UInt64
    public var entrySize: UInt64
}

extension SectionHeader {
    /// "name" or, for a nameless section, "[index]".
    public var displayName: String { name.isEmpty ? "[\(index)]" : name }
    /// File offset of the sh_offset field, where a bad section offset or size is stored.
    public var offsetFieldOffset: UInt64 { headerOffset &+ 24 }
}
