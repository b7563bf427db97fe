// CFIImage: wraps .eh_frame and .eh_frame_hdr bytes in the smallest ELF file that readelf,
// llvm-dwarfdump and eu-readelf accept: an ET_DYN image with the two sections, one PT_LOAD
// and PT_GNU_EH_FRAME. Allocated sections sit at file offset = address - base.

import DwarfCFI
import ELF

public enum CFIImage {
    public static let base: UInt64 = 0x40_0000
    public static let headerAddress: UInt64 = base + 0x1000

    /// Encodes `table` and returns the ELF bytes plus the sections as written.
    public static func build(_ table: FrameTable) throws -> (elf: [UInt8], sections: EhFrameSections, header: [UInt8]) {
        // The header's size depends only on the FDE count; place .eh_frame after it.
        let headerSize = 12 + 8 * table.fdes.count
        let ehFrameAddress = (headerAddress + UInt64(headerSize) + 7) & ~7
        let sections = try EhFrameWriter.ehFrame(table, address: ehFrameAddress)
        let header = try EhFrameWriter.ehFrameHeader(for: table, sections: sections, address: headerAddress)
        var b = ELFImageBuilder(baseAddress: base)
        let end = ehFrameAddress + UInt64(sections.ehFrame.count)
        b.segments = [
            .init(type: ELF.ptLoad, flags: ELF.pfR, address: base, fileSize: end - base, alignment: 0x1000),
            .init(type: ELF.ptGnuEhFrame, flags: ELF.pfR, address: headerAddress, fileSize: UInt64(header.count),
                  alignment: 4),
        ]
        b.sections = [
            .init(name: ".eh_frame_hdr", type: ELF.shtProgbits, flags: ELF.shfAlloc, address: headerAddress,
                  alignment: 4, contents: header),
            .init(name: ".eh_frame", type: ELF.shtProgbits, flags: ELF.shfAlloc, address: ehFrameAddress,
                  alignment: 8, contents: sections.ehFrame),
        ]
        return (try b.build().bytes, sections, header)
    }
}
