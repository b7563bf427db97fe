// Fuzz target: the core reader: notes, threads and their registers, the auxiliary vector,
// file mappings, and memory reads through the dumped segments.

import Bytes
import ELF

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCore(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let source = ArrayByteSource(input)
    guard let core = try? CoreFile(source: source) else { return 0 }
    _ = core.auxv(6)
    let memory = core.memory
    var word = [UInt8](repeating: 0, count: 64)
    for p in core.elf.programHeaders.prefix(64) {
        for address in [p.virtualAddress, p.virtualAddress &+ p.memorySize / 2, p.virtualAddress &+ p.memorySize &- 8] {
            _ = memory.dumpedLength(at: address, limit: 1 << 20)
            word.withUnsafeMutableBytes { _ = try? memory.fetch(from: address, into: $0) }
        }
    }
    return 0
}
