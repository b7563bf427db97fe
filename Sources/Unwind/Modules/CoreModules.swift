// CoreModules: the modules of a core dump, as libdwfl finds them and more:
// - files the process mapped (NT_FILE), read from this machine's disk, or from under a
//   sysroot for a core from another machine; the executable from `--exe` if given; each
//   matched against the build-id the core holds in the file's first page (dumped by the
//   default coredump_filter), so a different build on disk is not used silently;
// - ELF images found at the start of the core's segments that no file supplies: the
//   kernel's vDSO, a vunwind page, JIT code with an ELF header, read from the core itself.
// Every mapped ELF file that cannot be used is a `ModuleProblem` with its reason.

import Bytes
import ELF

public struct ModuleProblem: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var base: UInt64
    public var reason: String

    public var description: String { "\(name) at 0x\(String(base, radix: 16)): \(reason)" }
}

public struct CoreModules: Sendable {
    public let map: ModuleMap
    public let problems: [ModuleProblem]
    /// The module holding AT_ENTRY, when it was found.
    public let executable: Module?

    /// Images read from the core are parsed from at most this many bytes.
    public static let maxImageBytes: UInt64 = 64 << 20

    /// `cache`: files already read for another core (nil: read each anew).
    public init(core: CoreFile, executable exePath: String? = nil, sysroot: String? = nil, cache: ModuleImageCache? = nil) {
        var modules: [Module] = []
        var problems: [ModuleProblem] = []
        let entry = core.auxv(CoreFile.atEntry)

        // Mappings by path, in the order NT_FILE lists them.
        var order: [String] = []
        var byPath: [String: [CoreFileMapping]] = [:]
        for m in core.fileMappings {
            if byPath[m.path] == nil { order.append(m.path) }
            byPath[m.path, default: []].append(m)
        }
        var exe: Module?
        for path in order {
            let maps = byPath[path]!
            if Self.isMemoryOnly(path) { continue }  // found below, as an image in the core
            let isExecutable = entry.map { e in maps.contains { $0.start <= e && e < $0.end } } ?? false
            let end = maps.map(\.end).max() ?? 0
            guard let first = maps.first(where: { $0.fileOffset == 0 }) else {
                // A data file mapped from an offset; if it is ELF at all, say why it is unused.
                if Self.diskMagic(Self.diskPath(path, exe: isExecutable ? exePath : nil, sysroot: sysroot)) == true {
                    problems.append(ModuleProblem(name: path, base: maps[0].start,
                                                  reason: "the core has no mapping of its file offset 0"))
                }
                continue
            }
            let inCore = Self.image(in: core, at: first.start, sectionsRequired: false)
            if let magic = try? core.memory.fetchBytes(from: first.start, count: 4), magic != ELF.magic {
                continue  // the core holds the first page, and it is not ELF: not a module
            }
            let disk = Self.diskPath(path, exe: isExecutable ? exePath : nil, sysroot: sysroot)
            let image: ModuleImage
            do {
                image = try cache.map { try $0.image(path: disk) } ?? ModuleImage(elf: try ELFFile(source: try FileByteSource(path: disk)))
            } catch let e as FileError {
                // The first page is ELF or not in the core: either way a module is lost.
                problems.append(ModuleProblem(name: path, base: first.start, reason: "\(disk): \(e.message)"))
                continue
            } catch let e as ELFError where e.reason == .notELF || e.reason == .empty {
                continue  // a data file (a locale archive, a font): not a module
            } catch {
                problems.append(ModuleProblem(name: path, base: first.start, reason: "cannot read \(disk): \(error)"))
                continue
            }
            if let want = (try? inCore?.buildID()) ?? nil, let have = try? image.elf.buildID(), want != have {
                problems.append(ModuleProblem(name: path, base: first.start,
                                              reason: "\(disk) has build-id \(Self.hex(have)), the core \(Self.hex(want))"))
                continue
            }
            let module = Module(name: path, base: first.start, end: end, image: image)
            modules.append(module)
            if isExecutable { exe = module }
        }

        // ELF images at segment starts that no file above covers.
        var starts: [UInt64] = []
        for p in core.elf.programHeaders where p.type == ELF.ptLoad && p.fileSize > 0 { starts.append(p.virtualAddress) }
        // Files were handled above, found or not: only memory that no file backs is left.
        let fileRanges = byPath.filter { !Self.isMemoryOnly($0.key) }.flatMap { $0.value.map { $0.start..<$0.end } }
        for start in Set(starts).sorted()
        where !modules.contains(where: { $0.contains(start) }) && !fileRanges.contains(where: { $0.contains(start) }) {
            guard let magic = try? core.memory.fetchBytes(from: start, count: 4), magic == ELF.magic else { continue }
            guard let elf = Self.image(in: core, at: start, sectionsRequired: false) else {
                problems.append(ModuleProblem(name: "[anon:0x\(String(start, radix: 16))]", base: start,
                                              reason: "an ELF header the core holds does not parse"))
                continue
            }
            let extent = elf.programHeaders.filter { $0.type == ELF.ptLoad }
                .map { $0.virtualAddress &+ $0.memorySize &- (elf.firstLoadAddress ?? 0) }.max() ?? 0
            let mapped = byPath.first { $0.value.contains { $0.start == start } }?.key
            let name: String
            if start == core.auxv(CoreFile.atSysinfoEhdr) { name = "[vdso]" }
            else if let so = elf.soname() { name = so }
            else { name = mapped ?? "[anon:0x\(String(start, radix: 16))]" }
            // An image whose file is gone (the first page only, no CFI) is named, not used.
            let hasCFI = elf.programHeaders.contains { $0.type == ELF.ptGnuEhFrame && elf.source.contains(offset: $0.offset, count: $0.fileSize) }
            if !hasCFI && elf.sections.isEmpty {
                problems.append(ModuleProblem(name: mapped ?? name, base: start,
                                              reason: "the core holds only its first \(elf.source.size) bytes"))
                continue
            }
            modules.append(Module(name: name, base: start, end: start &+ max(extent, 1), elf: elf))
        }
        map = ModuleMap(modules: modules)
        self.problems = problems
        self.executable = exe
    }

    /// Paths the kernel gives memory that no file on disk holds.
    static func isMemoryOnly(_ path: String) -> Bool {
        path.hasSuffix(" (deleted)") || path.hasPrefix("/dev/zero") || path.hasPrefix("/memfd:") || path.hasPrefix("/SYSV")
    }

    static func diskPath(_ path: String, exe: String?, sysroot: String?) -> String {
        if let exe { return exe }
        guard let root = sysroot, !root.isEmpty else { return path }
        return (root.hasSuffix("/") ? String(root.dropLast()) : root) + path
    }

    /// true: an ELF file; false: a file that is not; nil: cannot tell.
    static func diskMagic(_ path: String) -> Bool? {
        guard let f = try? FileByteSource(path: path) else { return nil }
        guard let m = try? f.bytes(at: 0, count: 4) else { return false }
        return m == ELF.magic
    }

    /// The ELF image at `base`, seen through a window no larger than the image says it is
    /// (its segments' and section table's extent), so it never runs into the next mapping.
    static func image(in core: CoreFile, at base: UInt64, sectionsRequired: Bool) -> ELFFile? {
        let dumped = core.memory.dumpedLength(at: base, limit: maxImageBytes)
        guard dumped >= UInt64(ELF.headerSize), let extent = imageExtent(core.memory, base) else { return nil }
        let size = min(dumped, max(extent, UInt64(ELF.headerSize)))
        return try? ELFFile(source: MemoryWindow(core.memory, base: base, size: size), sectionsRequired: sectionsRequired)
    }

    /// The bytes an ELF image at `base` says it spans in its file (its PT_LOADs' file
    /// ranges and its section header table), read from the header and program headers
    /// alone; nil if those are not readable.
    static func imageExtent(_ memory: CoreMemory, _ base: UInt64) -> UInt64? {
        guard let h = try? memory.fetchBytes(from: base, count: ELF.headerSize) else { return nil }
        func u16(_ at: Int) -> UInt64 { UInt64(h[at]) | UInt64(h[at + 1]) << 8 }
        func u64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
        let phoff = u64(h, 32), shoff = u64(h, 40), phnum = min(u16(56), 4096), shnum = u16(60)
        guard phoff < maxImageBytes, let (table, o1) = Optional(phoff.addingReportingOverflow(phnum * 56)), !o1,
              table <= maxImageBytes, let ph = try? memory.fetchBytes(from: base + phoff, count: Int(phnum * 56)) else { return nil }
        var extent = table
        for i in 0..<Int(phnum) where ph[i * 56] == 1 && ph[i * 56 + 1] == 0 && ph[i * 56 + 2] == 0 && ph[i * 56 + 3] == 0 {
            let (end, over) = u64(ph, i * 56 + 8).addingReportingOverflow(u64(ph, i * 56 + 32))
            if !over { extent = max(extent, end) }
        }
        if shoff > 0, shnum > 0, !shoff.addingReportingOverflow(shnum * 64).overflow { extent = max(extent, shoff + shnum * 64) }
        return extent
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}
