// Shared by every fuzz target: a stack that reads as a repeating pattern (so expressions
// and unwind steps that dereference get defined bytes) and a frame with every register.

import Bytes
import DwarfCFI

/// Memory below 1 MiB reads as the low byte of its address; above it, nothing.
struct PatternMemory: MemoryReader {
    func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let (end, overflow) = address.addingReportingOverflow(UInt64(buffer.count))
        guard !overflow, end <= 1 << 20 else {
            throw MemoryReadError(address: address, count: buffer.count, detail: "outside the fuzz stack")
        }
        for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: address &+ UInt64(i)) }
    }
}

/// rsp and rbp inside the fuzz stack, the others small distinct values.
func fuzzRegisters() -> FrameRegisters {
    var r = FrameRegisters()
    for n in UInt16(0)..<UInt16(FrameRegisters.count) { r[n] = 0x1000 &* UInt64(n + 1) }
    r[DwarfRegister.rsp] = 0x8000
    r[DwarfRegister.rbp] = 0x9000
    return r
}

/// The bytes libFuzzer hands over, as an array.
func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// Every row of every FDE of `section` (the first 256), in both groupings, each row taken
/// through one unwind step over the fuzz stack, and point lookups through CallFrameInfo.
func exercise(_ section: CallFrameSection, header: EhFrameHeader? = nil) {
    var fdes: [(FrameDescriptionEntry, CommonInformationEntry)] = []
    // Bounded: every entry consumes at least four bytes.
    try? section.forEachEntry { entry in
        switch entry {
        case let .cie(c): _ = try? UnwindTableBuilder.initialRow(cie: c, section: section)
        case let .fde(f): if fdes.count < 256, let c = try? section.cie(at: f.cieOffset) { fdes.append((f, c)) }
        case .terminator: break
        }
    }
    let registers = fuzzRegisters(), memory = PatternMemory()
    for (f, c) in fdes {
        for grouping in [RowGrouping.merged, .asListed] {
            try? UnwindTableBuilder.forEachRow(fde: f, cie: c, section: section, grouping: grouping) { row in
                _ = try? UnwindStep.cfa(of: row, registers: registers, memory: memory)
                _ = try? UnwindStep.step(row: row, returnAddressRegister: c.returnAddressRegister, registers: registers,
                                         memory: memory)
                return true
            }
        }
        _ = try? UnwindTableBuilder.row(at: f.initialLocation &+ f.addressRange / 2, fde: f, cie: c, section: section)
    }
    let info = section.kind == .ehFrame ? try? CallFrameInfo(ehFrame: section, header: header)
        : try? CallFrameInfo(ehFrame: nil, debugFrame: section)
    guard let info else { return }
    for (f, _) in fdes {
        for pc in [f.initialLocation, f.initialLocation &+ f.addressRange / 2, f.initialLocation &+ f.addressRange] {
            _ = try? info.row(at: pc)
        }
    }
    if let h = header {
        for i in 0..<min(h.count, 256) { if let e = try? h.entry(i) { _ = try? info.row(at: e.location) } }
    }
}
