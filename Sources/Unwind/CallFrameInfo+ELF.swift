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
    /// A CFI section as a listing shows it, in section-header order (readelf's): its name
    /// (.eh_frame, .debug_frame or .zdebug_frame) and its contents, nil when it is empty.
    public struct Listed: Sendable {
        public var name: String
        public var section: CallFrameSection?
        /// SHT_NOBITS: the section is named but holds no bytes in this file (a separate
        /// debug file's copy of .eh_frame).
        public var isNobits = false
    }

    /// The first non-empty .eh_frame and .debug_frame (or .zdebug_frame): what lookups use.
    public var ehFrame: CallFrameSection?
    public var header: EhFrameHeader?
    public var debugFrame: CallFrameSection?
    /// Every CFI section, empty ones and second .eh_frame sections (relocatable objects
    /// have them) included.
    public var listed: [Listed] = []

    public init(elf: ELFFile) throws {
        let text = elf.section(named: ".text")?.address
        let data = elf.section(named: ".got")?.address
        for s in elf.sections where [".eh_frame", ".debug_frame", ".zdebug_frame"].contains(s.name) {
            // NOBITS (a separate debug file's copy of .eh_frame) holds nothing to read.
            if s.type == ELF.shtNobits {
                listed.append(Listed(name: s.name, section: nil, isNobits: true))
                continue
            }
            // An empty section is listed as readelf lists it ("has no debugging data").
            guard s.size > 0 else {
                listed.append(Listed(name: s.name, section: nil))
                continue
            }
            let kind: CallFrameSection.Kind = s.name == ".eh_frame" ? .ehFrame : .debugFrame
            let section = CallFrameSection(kind: kind, bytes: try elf.decodedContents(of: s), address: s.address,
                                           fileOffset: s.offset, textAddress: text, dataAddress: data)
            listed.append(Listed(name: s.name, section: section))
            if kind == .ehFrame, ehFrame == nil { ehFrame = section }
            if kind == .debugFrame, debugFrame == nil { debugFrame = section }
        }
        if let s = elf.section(named: ".eh_frame_hdr"), s.type != ELF.shtNobits, s.size > 0 {
            header = try EhFrameHeader(bytes: try elf.contents(of: s), address: s.address, fileOffset: s.offset)
        }
        // Section headers gone (stripped images, pages in a core): PT_GNU_EH_FRAME leads to
        // the header, and the header to .eh_frame. Not when the sections say .eh_frame has
        // no bytes in the file (a separate debug file), nor for a segment with none.
        if ehFrame == nil, header == nil, elf.section(named: ".eh_frame") == nil,
           let p = elf.programHeaders.first(where: { $0.type == ELF.ptGnuEhFrame }), p.fileSize > 0 {
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
                let section = CallFrameSection(kind: .ehFrame, bytes: bytes, address: h.ehFrameAddress, fileOffset: off,
                                               textAddress: text, dataAddress: data)
                ehFrame = section
                listed.append(Listed(name: ".eh_frame", section: section))
            }
        }
    }
}
