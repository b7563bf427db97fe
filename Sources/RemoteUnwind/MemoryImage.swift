// MemoryImage: an ELF image that lives only in a process's memory (a vsyscall page, JIT
// code, the vDSO): where its code is and where its .eh_frame_hdr table is, found from the
// image itself (its ELF header at the start of a mapping, PT_GNU_EH_FRAME), not from files.

import DwarfCFI
import ELF
import Unwind

public struct MemoryImage: Sendable, Equatable {
    public var name: String
    public var base: UInt64
    /// The executable PT_LOAD, at run-time addresses.
    public var code: Range<UInt64>
    /// .eh_frame_hdr at its run-time address, and the entries in its table.
    public var header: UInt64
    public var fdeCount: Int
    /// The vunwind note, when the image is a vsyscall page.
    public var note: VunwindNote?

    /// The memory-only images among `modules` that have CFI.
    public static func find(in modules: ModuleMap) -> [MemoryImage] {
        modules.modules.compactMap { m -> MemoryImage? in
            guard !m.name.hasPrefix("/") || m.name.hasPrefix("/dev/zero") || m.name.hasPrefix("/memfd:"),
                  let eh = m.elf.programHeaders.first(where: { $0.type == ELF.ptGnuEhFrame }),
                  let load = m.elf.programHeaders.first(where: { $0.type == ELF.ptLoad && $0.flags & ELF.pfX != 0 }),
                  let bytes = try? m.elf.contents(of: eh),
                  let header = try? EhFrameHeader(bytes: bytes, address: eh.virtualAddress &+ m.bias) else { return nil }
            // The headers come from the target's memory: an image whose code would wrap
            // past 2^64 is no image (skipped, as one without CFI is).
            let (start, o1) = load.virtualAddress.addingReportingOverflow(m.bias)
            let (end, o2) = start.addingReportingOverflow(load.memorySize)
            guard !o1, !o2 else { return nil }
            let note = (try? VunwindNote(elf: m.elf)) ?? nil
            return MemoryImage(name: note != nil ? "vunwind-vsyscall" : m.name, base: m.base, code: start..<end,
                               header: header.address, fdeCount: header.count, note: note)
        }
    }
}
