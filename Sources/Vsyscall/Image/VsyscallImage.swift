// VsyscallImage: the vsyscall page as a vDSO-style ELF image, linked at its run-time
// address (p_vaddr and sh_addr are the addresses it runs at, so gdb's JIT interface,
// add-symbol-file-from-memory, libdwfl and perf need no bias):
//
//   base + 0x0000  ELF header, program headers, .hash .dynsym .dynstr .dynamic, notes
//                  (vunwind layout, GNU build-id), .eh_frame_hdr .eh_frame, .symtab
//                  .strtab .shstrtab and the section headers
//   base + 0x1000  .text: vgettimeofday +0x000, vtime +0x400, vgetcpu +0x800,
//                  vclock_gettime +0xc00
//   base + 0x2000  vvar (mapped separately; not part of the file)
//
// The .eh_frame comes from the emitter's CFI trackers, one FDE per entry.

import Bytes
import DwarfCFI
import ELF
import UnwindRegistry

public struct VsyscallImage: Sendable {
    public static let pageSize: UInt64 = 0x1000
    public static let textOffset: UInt64 = 0x1000
    public static let vvarOffset: UInt64 = 0x2000
    /// The file: header page and text page.
    public static let imageSize: UInt64 = 0x2000
    public static let soname = "linux-vunwind.so.1"

    public let base: UInt64
    public let bytes: [UInt8]
    public let entries: [EmittedEntry]
    public let frameTable: FrameTable
    public let ehFrame: EhFrameSections
    public let ehFrameHeader: [UInt8]
    public let ehFrameHeaderAddress: UInt64
    public let note: VunwindNote
    public let buildID: [UInt8]

    public var textAddress: UInt64 { base + Self.textOffset }
    public var vvarAddress: UInt64 { base + Self.vvarOffset }

    public func entry(_ kind: EntryKind) -> EmittedEntry { entries.first { $0.kind == kind }! }

    /// All fixups of all entries.
    public var fixups: [Fixup] { entries.flatMap(\.fixups) }

    public init(base: UInt64, features: EntryEmitter.Features) throws {
        precondition(base % Self.pageSize == 0, "the image base must be page-aligned")
        self.base = base
        let text = base + Self.textOffset
        let vvar = base + Self.vvarOffset
        let emitter = EntryEmitter(textAddress: text, vvarAddress: vvar, features: features)
        let entries = EntryKind.allCases.map { emitter.emit($0) }
        self.entries = entries

        // The text page: each entry at its slot, int3 between.
        var textBytes = [UInt8](repeating: 0xcc, count: Int(Self.pageSize))
        for e in entries { textBytes.replaceSubrange(Int(e.kind.slot)..<Int(e.kind.slot) + e.bytes.count, with: e.bytes) }

        // CFI: one CIE (the psABI's state at a function's first instruction), an FDE per entry.
        var table = FrameTable()
        let cie = table.add(.x86_64())
        for e in entries {
            table.add(FrameTable.FDE(cie: cie, start: e.address, length: e.size, instructions: e.frameInstructions))
        }
        frameTable = table

        let note = VunwindNote(
            imageBase: base, textAddress: text, vvarAddress: vvar, vvarSize: UInt64(VvarLayout.size),
            entries: entries.map { e in
                VunwindNote.Entry(name: e.kind.name, address: e.address, size: UInt32(e.size),
                                  syscallNumber: e.kind.syscallNumber, returnsSeconds: e.kind.returnsSeconds,
                                  pointerArguments: e.kind.pointerArguments.map {
                                      VunwindNote.PointerArgument(index: $0.index, nullAllowed: $0.nullAllowed, size: $0.size)
                                  })
            },
            fixups: entries.flatMap(\.fixups).map { VunwindNote.Fixup(store: $0.store, landingPad: $0.landingPad) })
        self.note = note

        let symbols = SymbolTables(symbols: entries.map { .init(name: $0.kind.name, address: $0.address, size: $0.size) },
                                   soname: Self.soname)

        // Sizes do not depend on addresses: lay page 0 out, then encode at the addresses.
        let phnum = 4
        var cursor = base + UInt64(ELF.headerSize + phnum * ELF.programHeaderSize)
        func place(_ size: Int, align: UInt64) -> UInt64 {
            cursor = (cursor + align - 1) / align * align
            defer { cursor += UInt64(size) }
            return cursor
        }
        let strings = symbols.strings
        let hash = symbols.hash
        let hashAddress = place(hash.count, align: 8)
        let dynsymAddress = place((entries.count + 1) * ELF.symbolSize, align: 8)
        let dynstrAddress = place(strings.count, align: 1)
        let dynamicCount = 7
        let dynamicAddress = place(dynamicCount * 16, align: 8)
        // Build-id placeholder (20 bytes) now, filled once the rest is known.
        let buildIDNoteSize = 12 + 4 + 20
        let noteAddress = place(note.encoded.count + buildIDNoteSize, align: 4)
        let headerSize = 12 + 8 * entries.count
        let headerAddress = place(headerSize, align: 4)
        let ehFrameAddress = place(0, align: 8)
        let ehFrame = try EhFrameWriter.ehFrame(table, address: ehFrameAddress)
        cursor += UInt64(ehFrame.ehFrame.count)
        let header = try EhFrameWriter.ehFrameHeader(for: table, sections: ehFrame, address: headerAddress)
        precondition(header.count == headerSize)
        precondition(cursor <= text, "image metadata overflows the header page")
        self.ehFrame = ehFrame
        self.ehFrameHeader = header
        self.ehFrameHeaderAddress = headerAddress

        var dynamic = ByteWriter()
        for (tag, value) in [(ELF.dtHash, hashAddress), (ELF.dtStrtab, dynstrAddress), (ELF.dtSymtab, dynsymAddress),
                             (ELF.dtStrsz, UInt64(strings.count)), (ELF.dtSyment, UInt64(ELF.symbolSize)),
                             (ELF.dtSoname, UInt64(symbols.sonameOffset)), (ELF.dtNull, 0)] {
            dynamic.i64(tag); dynamic.u64(value)
        }

        // A build-id over everything the page means: code, CFI and layout.
        let buildID = Self.buildID(textBytes + ehFrame.ehFrame + note.descriptor)
        self.buildID = buildID
        var notes = ByteWriter()
        notes.append(contentsOf: note.encoded)
        notes.u32(4); notes.u32(20); notes.u32(ELF.ntGnuBuildID)
        notes.cString("GNU")
        notes.append(contentsOf: buildID)

        // Section indices: null, then in this order.
        let textIndex: UInt16 = 8
        var b = ELFImageBuilder(type: ELF.etDyn, baseAddress: base)
        b.sections = [
            .init(name: ".hash", type: ELF.shtHash, flags: ELF.shfAlloc, address: hashAddress, alignment: 8, entrySize: 4,
                  link: ".dynsym", contents: hash),
            .init(name: ".dynsym", type: ELF.shtDynsym, flags: ELF.shfAlloc, address: dynsymAddress, alignment: 8,
                  entrySize: UInt64(ELF.symbolSize), link: ".dynstr", info: 1, contents: symbols.table(textIndex: textIndex)),
            .init(name: ".dynstr", type: ELF.shtStrtab, flags: ELF.shfAlloc, address: dynstrAddress, contents: strings),
            .init(name: ".dynamic", type: ELF.shtDynamic, flags: ELF.shfAlloc, address: dynamicAddress, alignment: 8,
                  entrySize: 16, link: ".dynstr", contents: dynamic.bytes),
            .init(name: ".note", type: ELF.shtNote, flags: ELF.shfAlloc, address: noteAddress, alignment: 4,
                  contents: notes.bytes),
            .init(name: ".eh_frame_hdr", type: ELF.shtProgbits, flags: ELF.shfAlloc, address: headerAddress, alignment: 4,
                  contents: header),
            .init(name: ".eh_frame", type: ELF.shtProgbits, flags: ELF.shfAlloc, address: ehFrameAddress, alignment: 8,
                  contents: ehFrame.ehFrame),
            .init(name: ".text", type: ELF.shtProgbits, flags: ELF.shfAlloc | ELF.shfExecinstr, address: text,
                  alignment: 16, contents: textBytes),
            .init(name: ".symtab", type: ELF.shtSymtab, alignment: 8, entrySize: UInt64(ELF.symbolSize), link: ".strtab",
                  info: 1, contents: symbols.table(textIndex: textIndex)),
            .init(name: ".strtab", type: ELF.shtStrtab, contents: strings),
        ]
        precondition(b.sections.firstIndex { $0.name == ".text" }! + 1 == Int(textIndex))
        b.segments = [
            .init(type: ELF.ptLoad, flags: ELF.pfR | ELF.pfX, address: base, fileSize: Self.imageSize, alignment: Self.pageSize),
            .init(type: ELF.ptDynamic, flags: ELF.pfR, address: dynamicAddress, fileSize: UInt64(dynamic.count), alignment: 8),
            .init(type: ELF.ptNote, flags: ELF.pfR, address: noteAddress, fileSize: UInt64(notes.count), alignment: 4),
            .init(type: ELF.ptGnuEhFrame, flags: ELF.pfR, address: headerAddress, fileSize: UInt64(header.count), alignment: 4),
        ]
        precondition(b.segments.count == phnum)
        let layout = try b.build()
        precondition(UInt64(layout.bytes.count) == Self.imageSize, "section headers did not fit in the header page")
        bytes = layout.bytes
    }

    /// 20 bytes from three FNV-1a passes: unique per content, which is all a build-id is for.
    static func buildID(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for seed in [UInt64(0xcbf2_9ce4_8422_2325), 0x8422_2325_cbf2_9ce4, 0x1234_5678_9abc_def1] {
            var h = seed
            for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            out.append(contentsOf: withUnsafeBytes(of: h.littleEndian) { Array($0) })
        }
        return Array(out.prefix(20))
    }

    /// What the registrars need: the image, its CFI and its symbols.
    public var registeredImage: RegisteredImage {
        RegisteredImage(name: "vunwind-vsyscall", imageAddress: base, imageSize: Self.imageSize,
                        ehFrameAddress: ehFrame.ehFrameAddress, ehFrameHeaderAddress: ehFrameHeaderAddress,
                        fdeCount: entries.count, code: textAddress..<(textAddress + Self.pageSize),
                        symbols: entries.map { .init(name: $0.kind.name, address: $0.address, size: $0.size) })
    }
}
