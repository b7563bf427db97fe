// ELFFile: a parsed ELF64 little-endian file or memory image, every table bounds-checked
// against the source's size before it is read.
//
// It reads through a ByteSource: the header and its tables are fetched when it is parsed,
// section and segment contents only when asked for, so a gigabyte core or a large library
// is never held whole. Images in memory (the vDSO, a vsyscall page, a module found in a
// core) parse the same way: for them file offsets are offsets from the image's first byte.

import Bytes

public struct ELFFile: Sendable {
    public let source: any ByteSource
    public let header: ELFHeader
    public let programHeaders: [ProgramHeader]
    public let sections: [SectionHeader]

    /// How many notes `notes()` reads before it calls the file hostile.
    public static let maxNotes = 1 << 16

    public init(bytes: [UInt8]) throws {
        try self.init(source: ArrayByteSource(bytes))
    }

    /// `sectionsRequired` false: a section header table outside the source is taken as
    /// absent (an image of which a core holds only the first page).
    public init(source: any ByteSource, sectionsRequired: Bool = true) throws {
        self.source = source
        guard source.size > 0 else { throw ELFError(offset: 0, reason: .empty) }
        let bytes = try source.bytes(at: 0, count: min(source.size, UInt64(ELF.headerSize)))
        guard bytes.count >= 4, Array(bytes[0..<4]) == ELF.magic else {
            throw ELFError(offset: 0, reason: .notELF)
        }
        var r = ByteReader(bytes)
        try r.skip(4)
        let cls = try r.u8()
        guard cls == ELF.classELF64 else { throw ELFError(offset: 4, reason: .unsupportedClass(cls)) }
        let data = try r.u8()
        guard data == ELF.dataLSB else { throw ELFError(offset: 5, reason: .unsupportedByteOrder(data)) }
        // The rest of e_ident; a skip (not a seek) so a short file is reported as truncated.
        try r.skip(10)
        let type = try r.u16()
        let machine = try r.u16()
        let version = try r.u32()
        let entry = try r.u64()
        let phoff = try r.u64()
        let shoff = try r.u64()
        let flags = try r.u32()
        let ehsize = try r.u16()
        let phentsize = try r.u16()
        var phnum = Int(try r.u16())
        let shentsize = try r.u16()
        var shnum = Int(try r.u16())
        var shstrndx = Int(try r.u16())

        // Extended numbering (gABI): counts too large for the header live in section 0
        // (e_phnum = PN_XNUM 0xffff: sh_info; e_shnum = 0: sh_size; SHN_XINDEX: sh_link).
        if shoff != 0 && (shnum == 0 || shstrndx == Int(ELF.shnXindex) || phnum == 0xffff)
            && (sectionsRequired || source.contains(offset: shoff, count: UInt64(ELF.sectionHeaderSize))) {
            guard shentsize == UInt16(ELF.sectionHeaderSize) else {
                throw ELFError(offset: 58, reason: .badHeaderSize("section header", Int(shentsize)))
            }
            guard source.contains(offset: shoff, count: UInt64(ELF.sectionHeaderSize)) else {
                throw ELFError(offset: 40, reason: .tableOutOfRange("section header"))
            }
            var s0 = try source.reader(at: shoff, count: UInt64(ELF.sectionHeaderSize))
            try s0.skip(32)
            let size0 = try s0.u64()
            let link0 = try s0.u32()
            let info0 = try s0.u32()
            if shnum == 0 { shnum = Int(clamping: size0) }
            if shstrndx == Int(ELF.shnXindex) { shstrndx = Int(link0) }
            if phnum == 0xffff { phnum = Int(info0) }
        }

        header = ELFHeader(type: type, machine: machine, version: version, entry: entry, programHeaderOffset: phoff,
                           sectionHeaderOffset: shoff, flags: flags, headerSize: ehsize,
                           programHeaderEntrySize: phentsize, programHeaderCount: phnum,
                           sectionHeaderEntrySize: shentsize, sectionHeaderCount: shnum,
                           sectionNameTableIndex: shstrndx)

        var phdrs: [ProgramHeader] = []
        if phnum > 0 {
            guard phentsize == UInt16(ELF.programHeaderSize) else {
                throw ELFError(offset: 54, reason: .badHeaderSize("program header", Int(phentsize)))
            }
            var t = try Self.table(source, offset: phoff, count: phnum, size: ELF.programHeaderSize,
                                   what: "program header", fieldOffset: 32)
            phdrs.reserveCapacity(phnum)
            for _ in 0..<phnum {
                let ptype = try t.u32()
                let pflags = try t.u32()
                let off = try t.u64()
                let vaddr = try t.u64()
                let paddr = try t.u64()
                let filesz = try t.u64()
                let memsz = try t.u64()
                let align = try t.u64()
                phdrs.append(ProgramHeader(type: ptype, flags: pflags, offset: off, virtualAddress: vaddr,
                                           physicalAddress: paddr, fileSize: filesz, memorySize: memsz,
                                           alignment: align))
            }
        }
        programHeaders = phdrs

        var shdrs: [SectionHeader] = []
        let sectionTableFits = source.contains(offset: shoff, count: UInt64(shnum) &* UInt64(ELF.sectionHeaderSize))
        if shoff != 0 && shnum > 0 && (sectionsRequired || sectionTableFits) {
            guard shentsize == UInt16(ELF.sectionHeaderSize) else {
                throw ELFError(offset: 58, reason: .badHeaderSize("section header", Int(shentsize)))
            }
            var t = try Self.table(source, offset: shoff, count: shnum, size: ELF.sectionHeaderSize,
                                   what: "section header", fieldOffset: 40)
            shdrs.reserveCapacity(shnum)
            for i in 0..<shnum {
                shdrs.append(SectionHeader(
                    index: i, headerOffset: shoff + UInt64(i * ELF.sectionHeaderSize), name: "", nameOffset: try t.u32(), type: try t.u32(), flags: try t.u64(), address: try t.u64(),
                    offset: try t.u64(), size: try t.u64(), link: try t.u32(), info: try t.u32(),
                    addressAlignment: try t.u64(), entrySize: try t.u64()))
            }
            // Names from the section-name string table; a bad table leaves names empty
            // rather than rejecting a file whose other parts are sound.
            if shstrndx > 0 && shstrndx < shdrs.count {
                let strtab = shdrs[shstrndx]
                if strtab.type != ELF.shtNobits, source.contains(offset: strtab.offset, count: strtab.size),
                   let names = try? source.bytes(at: strtab.offset, count: strtab.size) {
                    for i in shdrs.indices {
                        shdrs[i].name = Self.string(names, in: 0..<names.count, at: shdrs[i].nameOffset) ?? ""
                    }
                }
            }
        }
        sections = shdrs
    }

    private static func table(_ source: any ByteSource, offset: UInt64, count: Int, size: Int, what: String,
                              fieldOffset: UInt64) throws -> ByteReader {
        let (total, overflow) = UInt64(count).multipliedReportingOverflow(by: UInt64(size))
        guard !overflow, source.contains(offset: offset, count: total) else {
            throw ELFError(offset: fieldOffset, reason: .tableOutOfRange(what))
        }
        return try source.reader(at: offset, count: total)
    }

    static func string(_ bytes: [UInt8], in range: Range<Int>, at index: UInt32) -> String? {
        let start = range.lowerBound + Int(index)
        guard Int(index) < range.count else { return nil }
        var end = start
        while end < range.upperBound && bytes[end] != 0 { end += 1 }
        guard end < range.upperBound else { return nil }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    // MARK: Sections

    public func section(named name: String) -> SectionHeader? { sections.first { $0.name == name } }

    public func sectionIndex(named name: String) -> Int? { sections.firstIndex { $0.name == name } }

    /// The bytes of a section (empty for SHT_NOBITS), checked against the file.
    public func contents(of section: SectionHeader) throws -> [UInt8] {
        if section.type == ELF.shtNobits || section.size == 0 { return [] }
        guard source.contains(offset: section.offset, count: section.size) else {
            throw ELFError(offset: section.offsetFieldOffset, reason: .sectionOutOfRange(section.displayName))
        }
        return try source.bytes(at: section.offset, count: section.size)
    }

    /// A section's bytes as its readers must see them: decompressed (SHF_COMPRESSED, GNU
    /// `.zdebug_*`) and, in a relocatable object, with its relocations applied.
    public func decodedContents(of section: SectionHeader) throws -> [UInt8] {
        var bytes = try contents(of: section)
        if CompressedSection.isCompressed(section, raw: bytes) {
            bytes = try CompressedSection.decompress(bytes, section: section)
        }
        return try SectionRelocations.apply(to: bytes, section: section, of: self)
    }

    public func contents(ofSectionNamed name: String) throws -> [UInt8]? {
        guard let s = section(named: name) else { return nil }
        return try contents(of: s)
    }

    /// The file bytes of a segment (p_filesz of them), checked against the file.
    public func contents(of segment: ProgramHeader) throws -> [UInt8] {
        guard source.contains(offset: segment.offset, count: segment.fileSize) else {
            throw segmentError(segment)
        }
        return try source.bytes(at: segment.offset, count: segment.fileSize)
    }

    /// The error for a segment whose file range lies outside the file, at its p_offset field.
    public func segmentError(_ segment: ProgramHeader) -> ELFError {
        let index = programHeaders.firstIndex(of: segment) ?? 0
        // p_offset is 8 bytes into the program header entry.
        return ELFError(offset: header.programHeaderOffset &+ UInt64(index * ELF.programHeaderSize) &+ 8,
                        reason: .segmentOutOfRange(UInt32(index)))
    }

    /// The lowest PT_LOAD address: a module's load bias is its mapped base minus this.
    public var firstLoadAddress: UInt64? {
        programHeaders.filter { $0.type == ELF.ptLoad }.map(\.virtualAddress).min()
    }

    /// The file offset that holds the byte at link-time address `address`, via PT_LOAD.
    public func fileOffset(ofAddress address: UInt64) -> UInt64? {
        for p in programHeaders where p.type == ELF.ptLoad {
            if address >= p.virtualAddress && address - p.virtualAddress < p.fileSize {
                // p_offset is untrusted (a target's memory, a hostile file): an offset
                // past 2^64 is no offset (the fuzz-image target trapped here).
                let (offset, overflow) = p.offset.addingReportingOverflow(address - p.virtualAddress)
                return overflow ? nil : offset
            }
        }
        return nil
    }

    // MARK: Symbols

    /// Symbols of every SHT_SYMTAB and SHT_DYNSYM section, in section-table order. Names
    /// that do not resolve are empty.
    public func symbols() throws -> [ELFSymbol] {
        var out: [ELFSymbol] = []
        for table in sections where table.type == ELF.shtSymtab || table.type == ELF.shtDynsym {
            out.append(contentsOf: try symbols(in: table))
        }
        return out
    }

    public func symbols(in table: SectionHeader) throws -> [ELFSymbol] {
        let data = try contents(of: table)
        guard Int(table.link) < sections.count else {
            // sh_link is 16 bytes after sh_offset in the header entry.
            throw ELFError(offset: table.offsetFieldOffset &+ 16, reason: .badSectionIndex(Int(table.link)))
        }
        let strtab = sections[Int(table.link)]
        let strings = try contents(of: strtab)
        var r = ByteReader(data, origin: table.offset)
        var out: [ELFSymbol] = []
        out.reserveCapacity(data.count / ELF.symbolSize)
        while r.remaining >= ELF.symbolSize {
            let nameIndex = try r.u32()
            let info = try r.u8()
            let other = try r.u8()
            let shndx = try r.u16()
            let value = try r.u64()
            let size = try r.u64()
            let name = Self.string(strings, in: 0..<strings.count, at: nameIndex) ?? ""
            out.append(ELFSymbol(name: name, value: value, size: size, info: info, other: other, sectionIndex: shndx))
        }
        return out
    }

    // MARK: Notes

    /// Notes from every PT_NOTE segment, or from SHT_NOTE sections when there are none.
    /// More than `maxNotes` is an error, not a reason to allocate without bound.
    public func notes() throws -> [ELFNote] {
        var out: [ELFNote] = []
        let segments = programHeaders.filter { $0.type == ELF.ptNote }
        if !segments.isEmpty {
            for s in segments {
                guard source.contains(offset: s.offset, count: s.fileSize) else { throw segmentError(s) }
                out.append(contentsOf: try Self.parseNotes(try source.bytes(at: s.offset, count: s.fileSize),
                                                           origin: s.offset, alignment: s.alignment == 8 ? 8 : 4,
                                                           limit: Self.maxNotes - out.count))
            }
        } else {
            for s in sections where s.type == ELF.shtNote {
                guard source.contains(offset: s.offset, count: s.size) else {
                    throw ELFError(offset: s.offsetFieldOffset, reason: .sectionOutOfRange(s.displayName))
                }
                out.append(contentsOf: try Self.parseNotes(try source.bytes(at: s.offset, count: s.size),
                                                           origin: s.offset, alignment: s.addressAlignment == 8 ? 8 : 4,
                                                           limit: Self.maxNotes - out.count))
            }
        }
        return out
    }

    /// The notes of `bytes[offset, offset + size)`; offsets in errors and notes are indices
    /// into `bytes`.
    public static func parseNotes(_ bytes: [UInt8], offset: UInt64, size: UInt64, alignment: Int) throws -> [ELFNote] {
        guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else {
            throw ELFError(offset: min(offset, UInt64(bytes.count)), reason: .badNote("note area runs past the end of the file"))
        }
        return try parseNotes(Array(bytes[Int(offset)..<Int(offset + size)]), origin: offset, alignment: alignment,
                              limit: maxNotes)
    }

    /// The notes of a note area whose first byte is at file offset `origin`.
    public static func parseNotes(_ area: [UInt8], origin: UInt64, alignment: Int, limit: Int) throws -> [ELFNote] {
        var r = ByteReader(area, origin: origin)
        func align(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
        var out: [ELFNote] = []
        while r.remaining >= 12 {
            let at = r.offset
            guard out.count < limit else {
                throw ELFError(offset: at, reason: .badNote("more than \(maxNotes) notes"))
            }
            let namesz = Int(try r.u32())
            let descsz = Int(try r.u32())
            let type = try r.u32()
            // The descriptor starts at the first aligned offset (from the note's start) after
            // the 12-byte header and the name, the next note after the descriptor (gABI;
            // binutils' ELF_NOTE_DESC_OFFSET). With 8-byte alignment that is not the name's
            // size rounded up: a 4-byte name ends at 16, already aligned.
            guard namesz <= r.remaining, align(12 + namesz) - 12 <= r.remaining else {
                throw ELFError(offset: at, reason: .badNote("name size \(namesz) exceeds the note area"))
            }
            let nameEnd = align(12 + namesz) - 12
            let nameBytes = try r.bytes(namesz)
            try r.skip(nameEnd - namesz)
            guard descsz <= r.remaining else {
                throw ELFError(offset: at, reason: .badNote("descriptor size \(descsz) exceeds the note area"))
            }
            let descOffset = r.offset
            let desc = Array(try r.bytes(descsz))
            let descEnd = 12 + nameEnd + descsz
            try r.skip(min(align(descEnd) - descEnd, r.remaining))
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            out.append(ELFNote(name: name, type: type, descriptor: desc, descriptorOffset: descOffset))
        }
        return out
    }

    /// DT_SONAME, from .dynamic and its string table, if the file has one.
    public func soname() -> String? {
        guard let dynamic = sections.first(where: { $0.type == ELF.shtDynamic }),
              Int(dynamic.link) < sections.count,
              let entries = try? contents(of: dynamic), let strings = try? contents(of: sections[Int(dynamic.link)])
        else { return nil }
        var r = ByteReader(entries)
        while r.remaining >= 16, let tag = try? r.i64(), let value = try? r.u64(), tag != ELF.dtNull {
            if tag == ELF.dtSoname, value <= UInt64(UInt32.max) {
                return Self.string(strings, in: 0..<strings.count, at: UInt32(value))
            }
        }
        return nil
    }

    /// The GNU build ID, if the file has one.
    public func buildID() throws -> [UInt8]? {
        try notes().first { $0.name == "GNU" && $0.type == ELF.ntGnuBuildID }?.descriptor
    }
}
