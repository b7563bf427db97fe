// CallFrameInfo from an ELF file or memory image: finds .eh_frame, .eh_frame_hdr and
// .debug_frame by section name, or, when section headers are gone (stripped images, pages
// in a core), through PT_GNU_EH_FRAME and the header's eh_frame_ptr.

import DwarfCFI
import ELF

extension CallFrameInfo {
    /// The CFI sections of `elf`, at link-time addresses.
    public convenience init(elf: ELFFile) throws {
        let s = try ELFCallFrameSections(elf: elf)
        try self.init(ehFrame: s.ehFrame, header: s.header, debugFrame: s.debugFrame)
    }
}

public struct ELFCallFrameSections: Sendable {
    public var ehFrame: CallFrameSection?
    public var header: EhFrameHeader?
    public var debugFrame: CallFrameSection?

    public init(elf: ELFFile) throws {
        let text = elf.section(named: ".text")?.address
        let data = elf.section(named: ".got")?.address
        // An empty section is no section (readelf: "has no debugging data").
        if let s = elf.section(named: ".eh_frame"), s.type != ELF.shtNobits, s.size > 0 {
            ehFrame = CallFrameSection(kind: .ehFrame, bytes: try elf.contents(of: s), address: s.address,
                                       fileOffset: s.offset, textAddress: text, dataAddress: data)
        }
        if let s = elf.section(named: ".eh_frame_hdr"), s.type != ELF.shtNobits, s.size > 0 {
            header = try EhFrameHeader(bytes: try elf.contents(of: s), address: s.address, fileOffset: s.offset)
        }
        if let s = elf.section(named: ".debug_frame"), s.type != ELF.shtNobits, s.size > 0 {
            debugFrame = CallFrameSection(kind: .debugFrame, bytes: try elf.contents(of: s), address: s.address,
                                          fileOffset: s.offset, textAddress: text, dataAddress: data)
        }
        if ehFrame == nil, header == nil,
           let p = elf.programHeaders.first(where: { $0.type == ELF.ptGnuEhFrame }) {
            let hdrBytes = try elf.contents(of: p)
            let h = try EhFrameHeader(bytes: hdrBytes, address: p.virtualAddress, fileOffset: p.offset)
            header = h
            // .eh_frame's size is not recorded; it runs at most to the end of its PT_LOAD.
            if let off = elf.fileOffset(ofAddress: h.ehFrameAddress),
               let load = elf.programHeaders.first(where: {
                   $0.type == ELF.ptLoad && h.ehFrameAddress >= $0.virtualAddress
                       && h.ehFrameAddress - $0.virtualAddress < $0.fileSize }) {
                let end = min(load.offset &+ load.fileSize, elf.source.size)
                guard off < end else { throw elf.segmentError(load) }
                let bytes = try elf.source.bytes(at: off, count: end - off)
                ehFrame = CallFrameSection(kind: .ehFrame, bytes: bytes, address: h.ehFrameAddress, fileOffset: off,
                                           textAddress: text, dataAddress: data)
            }
        }
    }
}
