// SectionRelocations: applies a relocatable object's relocations to one of its sections, so
// that what the section's readers decode is what the linker would have written: in a `.o`,
// an FDE's pc_begin in .eh_frame is 0 plus a PC32 relocation against .text, and in
// .debug_frame an R_X86_64_64. readelf and llvm-dwarfdump apply them before decoding, and
// so do we (S + A, or S + A - P for the PC-relative types, with P the field's offset in
// the section plus the section's address, 0 in an object). Types that CFI never carries
// are left alone, as readelf leaves them (it warns).
//
// Every index and offset comes from the file: each is checked, and a bad one is an error
// at its relocation entry.

import Bytes

public enum SectionRelocations {
    /// `bytes` (the contents of `section` of `elf`) with every SHT_RELA and SHT_REL section
    /// that applies to it applied. Only for ET_REL files; others come back unchanged.
    public static func apply(to bytes: [UInt8], section: SectionHeader, of elf: ELFFile) throws -> [UInt8] {
        guard elf.header.type == ELF.etRel else { return bytes }
        var out = bytes
        for rel in elf.sections where (rel.type == ELF.shtRela || rel.type == ELF.shtRel) && Int(rel.info) == section.index {
            try apply(rel, to: &out, section: section, of: elf)
        }
        return out
    }

    private static func apply(_ rel: SectionHeader, to out: inout [UInt8], section: SectionHeader, of elf: ELFFile) throws {
        let withAddend = rel.type == ELF.shtRela
        let entrySize = withAddend ? ELF.relaEntrySize : 16
        guard Int(rel.link) < elf.sections.count else {
            throw ELFError(offset: rel.headerOffset &+ 40, reason: .badSectionIndex(Int(rel.link)))
        }
        let symtab = elf.sections[Int(rel.link)]
        let symbols = try elf.contents(of: symtab)
        let symbolCount = UInt64(symbols.count / ELF.symbolSize)
        let entries = try elf.contents(of: rel)
        let count = entries.count / entrySize
        var r = ByteReader(entries, origin: rel.offset)
        for i in 0..<count {
            let at = rel.offset &+ UInt64(i * entrySize)
            let offset = try r.u64()
            let info = try r.u64()
            let addend: Int64? = withAddend ? Int64(bitPattern: try r.u64()) : nil
            let type = UInt32(truncatingIfNeeded: info)
            let symbol = info >> 32
            let size: Int
            let pcRelative: Bool
            switch type {
            case ELF.rX86_64_64: (size, pcRelative) = (8, false)
            case ELF.rX86_64PC64: (size, pcRelative) = (8, true)
            case ELF.rX86_64_32, ELF.rX86_64_32S: (size, pcRelative) = (4, false)
            case ELF.rX86_64PC32: (size, pcRelative) = (4, true)
            default: continue
            }
            guard symbol < symbolCount else {
                throw ELFError(offset: at &+ 8, reason: .badRelocation("symbol \(symbol) is outside \(symtab.displayName)"))
            }
            guard offset <= UInt64(out.count), UInt64(out.count) - offset >= UInt64(size) else {
                throw ELFError(offset: at, reason: .badRelocation(
                    "offset 0x\(String(offset, radix: 16)) is outside \(section.displayName)"))
            }
            let field = Int(offset)
            // st_value, after st_name, st_info, st_other and st_shndx.
            let value = read(symbols, Int(symbol) * ELF.symbolSize + 8, 8)
            let a = addend ?? (size == 8 ? Int64(bitPattern: read(out, field, 8)) : Int64(Int32(truncatingIfNeeded: read(out, field, 4))))
            var result = value &+ UInt64(bitPattern: a)
            if pcRelative { result = result &- (section.address &+ offset) }
            for k in 0..<size { out[field + k] = UInt8(truncatingIfNeeded: result >> (8 * UInt64(k))) }
        }
    }

    private static func read(_ bytes: [UInt8], _ at: Int, _ size: Int) -> UInt64 {
        (0..<size).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}
