// Fuzz target: the in-memory image finder (what a live target's memory feeds): the input is
// the memory of a shared anonymous mapping ("/dev/zero (deleted)", as the page is mapped),
// found as a module by its ELF header, then as a MemoryImage by PT_GNU_EH_FRAME and the
// vunwind note; its CFI is taken through every lookup and one unwind step per FDE.

import Bytes
import DwarfCFI
import ELF
import Unwind

struct InputMemory: MemoryReader {
    let base: UInt64
    let bytes: [UInt8]
    func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let (offset, o1) = address.subtractingReportingOverflow(base)
        let (end, o2) = offset.addingReportingOverflow(UInt64(buffer.count))
        guard !o1, !o2, end <= UInt64(bytes.count) else {
            throw MemoryReadError(address: address, count: buffer.count, detail: "outside the input")
        }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<Int(end)])) }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let base: UInt64 = 0x5500_0000_0000
    let memory = InputMemory(base: base, bytes: input)
    // The mapping is exactly as long as the input: the module map reads it whole.
    guard input.count >= 64 else { return 0 }
    let end = String(base + UInt64(input.count), radix: 16)
    let map = MemoryMap(text: "550000000000-\(end) r-xs 00000000 00:01 1234 /dev/zero (deleted)\n")
    guard let modules = try? ModuleMap(map: map, memory: memory) else { return 0 }
    for image in MemoryImage.find(in: modules).prefix(4) {
        _ = image.note.map { n in n.entries.prefix(64).map { n.entry(containing: $0.address) } }
        guard let module = modules.module(containing: image.base), let info = try? module.callFrameInfo() else { continue }
        for pc in stride(from: image.code.lowerBound, to: min(image.code.upperBound, image.code.lowerBound &+ 4096), by: 61) {
            _ = try? info.row(at: pc &- module.bias)
        }
    }
    return 0
}
