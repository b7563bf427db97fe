// Module: one loaded ELF image in an address space (a shared library, the executable, the
// vDSO, a vsyscall page) with its load bias, its CFI and its symbols, parsed on first use.
// What does not depend on where the image is loaded (the CFI, the sorted symbols) lives in
// a ModuleImage, which several modules (one library in several cores) can share.

import Bytes
import DwarfCFI
import ELF
import Locking

/// An ELF image and what is parsed from it once, whatever its load address.
public final class ModuleImage: Sendable {
    public let elf: ELFFile
    private let cfi = Locked<Result<CallFrameInfo, Error>?>(nil)
    private let symbols = Locked<[ELFSymbol]?>(nil)

    public init(elf: ELFFile) { self.elf = elf }

    /// The CFI at link-time addresses, or the error that made it unreadable.
    public func callFrameInfo() throws -> CallFrameInfo {
        try cfi.withLock { state in
            if let s = state { return try s.get() }
            let r = Result { try CallFrameInfo(elf: elf) }
            state = r
            return try r.get()
        }.self
    }

    /// Defined, named function symbols sorted by address. Among aliases at one address the
    /// lookup takes the last: a global name sorts after a weak one (the vDSO's
    /// __vdso_gettimeofday over gettimeofday), as eu-stack and gdb name them.
    var sortedSymbols: [ELFSymbol] {
        symbols.withLock { state in
            if let s = state { return s }
            let all = (try? elf.symbols()) ?? []
            let sorted = all.filter { $0.type == ELF.sttFunc && $0.isDefined && !$0.name.isEmpty }
                .sorted { ($0.value, $0.binding == ELF.stbGlobal ? 1 : 0) < ($1.value, $1.binding == ELF.stbGlobal ? 1 : 0) }
            state = sorted
            return sorted
        }
    }
}

public final class Module: Sendable {
    /// File path, "[vdso]", or a description of where the image was found.
    public let name: String
    /// Run-time address of the image's first byte (file offset 0).
    public let base: UInt64
    /// End of the highest mapping of the image.
    public let end: UInt64
    /// Run-time address minus link-time address.
    public let bias: UInt64
    public let image: ModuleImage
    public var elf: ELFFile { image.elf }

    public convenience init(name: String, base: UInt64, end: UInt64, elf: ELFFile) {
        self.init(name: name, base: base, end: end, image: ModuleImage(elf: elf))
    }

    public init(name: String, base: UInt64, end: UInt64, image: ModuleImage) {
        self.name = name
        self.base = base
        self.end = end
        self.image = image
        let first = image.elf.programHeaders.filter { $0.type == ELF.ptLoad }.min { $0.virtualAddress < $1.virtualAddress }
        let linkBase = first.map { $0.virtualAddress &- $0.offset } ?? 0
        self.bias = base &- linkBase
    }

    public func contains(_ address: UInt64) -> Bool { address >= base && address < end }

    /// The module's CFI at link-time addresses (look up `pc - bias`), or the error that
    /// made it unreadable.
    public func callFrameInfo() throws -> CallFrameInfo { try image.callFrameInfo() }

    /// The function symbol covering `address` (run-time) and the offset into it.
    public func symbol(for address: UInt64) -> (name: String, offset: UInt64)? {
        let symbols = image.sortedSymbols
        let link = address &- bias
        let lo = symbols.partitionPoint { $0.value <= link }
        var i = lo - 1
        while i >= 0 {
            let s = symbols[i]
            if link >= s.value && (link < s.value &+ s.size || s.size == 0) { return (s.name, link - s.value) }
            if s.value < link && s.size > 0 && link >= s.value &+ s.size && i < lo - 4 { break }
            i -= 1
            if lo - i > 8 { break }
        }
        return nil
    }
}
