// VsyscallCode: the places in a core where a thread can be inside a virtual syscall:
// - a vunwind page: an ELF image in the core carrying the `vunwind` note, which says where
//   each entry is, where the vvar is and which stores have -EFAULT landing pads;
// - the kernel's vDSO: the image at AT_SYSINFO_EHDR (NT_AUXV);
// - the legacy x86-64 page at 0xffffffffff600000: entries at +0, +0x400, +0x800, frameless
//   (the return address is at [rsp]); in xonly mode the core holds none of its bytes, so
//   its layout is known here rather than read.

import ELF
import Unwind

public struct VsyscallCode: Sendable {
    public enum Kind: String, Sendable, Codable {
        case vunwindPage = "vunwind page"
        case vdso = "vDSO"
        case legacyPage = "legacy [vsyscall] page"
    }

    public var kind: Kind
    public var range: Range<UInt64>
    /// The image's module (nil for the legacy page, which has no image).
    public var module: Module?
    /// The vunwind note (vunwind pages only).
    public var note: VunwindNote?

    public static let legacyBase: UInt64 = 0xffff_ffff_ff60_0000
    /// The legacy entries and the syscalls they stand for.
    public static let legacyEntries: [(offset: UInt64, name: String)] =
        [(0x000, "gettimeofday"), (0x400, "time"), (0x800, "getcpu")]

    /// Every vsyscall region of `core`, given its modules.
    public static func locate(in core: CoreFile, modules: ModuleMap) -> [VsyscallCode] {
        var out: [VsyscallCode] = []
        let vdsoBase = core.auxv(CoreFile.atSysinfoEhdr)
        for m in modules.modules {
            if let note = (try? VunwindNote(elf: m.elf)) ?? nil {
                let lo = note.entries.map(\.address).min() ?? m.base
                let hi = note.entries.map { $0.address &+ UInt64($0.size) }.max() ?? m.end
                out.append(VsyscallCode(kind: .vunwindPage, range: lo..<max(lo, hi), module: m, note: note))
            } else if m.base == vdsoBase {
                let text = m.elf.programHeaders.first { $0.type == ELF.ptLoad && $0.flags & ELF.pfX != 0 }
                let lo = text.map { $0.virtualAddress &+ m.bias } ?? m.base
                let hi = text.map { lo &+ $0.memorySize } ?? m.end
                out.append(VsyscallCode(kind: .vdso, range: lo..<max(lo, hi), module: m, note: nil))
            }
        }
        out.append(VsyscallCode(kind: .legacyPage, range: legacyBase..<(legacyBase + 0x1000), module: nil, note: nil))
        return out
    }

    /// The function at `pc`: the note's entry, the vDSO's symbol, or the legacy slot.
    public func function(at pc: UInt64) -> (name: String, offset: UInt64)? {
        switch kind {
        case .vunwindPage:
            guard let e = note?.entry(containing: pc) else { return nil }
            return (e.name, pc - e.address)
        case .vdso:
            return module?.symbol(for: pc)
        case .legacyPage:
            let offset = pc &- Self.legacyBase
            guard let e = Self.legacyEntries.last(where: { $0.offset <= offset }) else { return nil }
            return ("vsyscall " + e.name, offset - e.offset)
        }
    }
}
