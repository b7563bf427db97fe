// ModuleMap: the modules of an address space: file-backed ELF mappings (read from disk),
// the vDSO (read from memory), and ELF images in anonymous or shared memory (a vsyscall
// page announces itself with an ELF header at the start of its mapping).

import Bytes
import ELF
#if canImport(Glibc)
import Glibc
#endif

public final class ModuleMap: @unchecked Sendable {
    public private(set) var modules: [Module] = []

    public init(modules: [Module]) { self.modules = modules.sorted { $0.base < $1.base } }

    /// The modules of process `pid`, read through `memory` for images that are not files.
    public convenience init(pid: pid_t, memory: some MemoryReader) throws {
        try self.init(map: try MemoryMap.read(pid: pid), memory: memory)
    }

    public init(map: MemoryMap, memory: some MemoryReader) throws {
        var byPath: [String: [MemoryMapping]] = [:]
        var order: [String] = []
        var found: [Module] = []
        for m in map.mappings {
            // Shared anonymous memory shows as "/dev/zero (deleted)", a memfd as
            // "/memfd:NAME (deleted)": paths, but only the process's memory holds them.
            let memoryOnly = m.path.isEmpty || m.path == "[vdso]" || m.path.hasSuffix(" (deleted)")
                || m.path.hasPrefix("/dev/zero") || m.path.hasPrefix("/memfd:")
            if m.path.hasPrefix("/") && !memoryOnly {
                if byPath[m.path] == nil { order.append(m.path) }
                byPath[m.path, default: []].append(m)
            } else if memoryOnly && m.readable {
                // Memory-only images: an ELF header at the mapping's first byte.
                guard let magic = try? memory.fetchBytes(from: m.start, count: 4), magic == ELF.magic else { continue }
                let size = Int(min(m.end - m.start, 1 << 24))
                guard let bytes = try? memory.fetchBytes(from: m.start, count: size),
                      let elf = try? ELFFile(bytes: bytes) else { continue }
                found.append(Module(name: m.path.isEmpty ? "[anon:0x\(String(m.start, radix: 16))]" : m.path,
                                    base: m.start, end: m.end, elf: elf))
            }
        }
        for path in order {
            let maps = byPath[path]!
            // The image's base is the mapping of file offset 0.
            guard let first = maps.first(where: { $0.offset == 0 }) ?? maps.first else { continue }
            // Read on demand: only headers, CFI and symbol tables are ever fetched.
            guard let source = try? FileByteSource(path: path), let elf = try? ELFFile(source: source) else { continue }
            let end = maps.map(\.end).max() ?? first.end
            found.append(Module(name: path, base: first.start, end: end, elf: elf))
        }
        modules = found.sorted { $0.base < $1.base }
    }

    public func module(containing address: UInt64) -> Module? {
        var i = modules.partitionPoint { $0.base <= address } - 1
        while i >= 0 {
            if modules[i].contains(address) { return modules[i] }
            if address - modules[i].base > 1 << 32 { break }
            i -= 1
        }
        return nil
    }

    public func add(_ module: Module) {
        modules.append(module)
        modules.sort { $0.base < $1.base }
    }
}
