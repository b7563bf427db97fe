// LocalWalk: our own DwarfUnwinder, in process. The SIGTRAP handler (C) saved each stop's
// registers and a copy of its stack; after the call, outside any handler, this walks each
// one over that copy (stack addresses) and this process's own memory (code and CFI, through
// /proc/self/mem), and writes the frames as records like libgcc's and libunwind's.

import Bytes
import CWalkSubject
import DwarfCFI
import Unwind
#if canImport(Glibc)
import Glibc
#endif

/// The saved stack first, then the live process for everything else.
struct StopMemory: MemoryReader {
    let stack: SnapshotMemoryReader
    let range: Range<UInt64>
    let process: ProcessMemoryReader

    func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let (end, overflow) = address.addingReportingOverflow(UInt64(buffer.count))
        if !overflow, address >= range.lowerBound, end <= range.upperBound {
            try stack.fetch(from: address, into: buffer)
        } else {
            try process.fetch(from: address, into: buffer)
        }
    }
}

enum LocalWalk {
    /// Walks every context in `contexts` (a file of vu_walk_context) and writes records to `out`.
    static func run(contexts: Int32, out: Int32) throws {
        let process = ProcessMemoryReader.current()
        let modules = try ModuleMap(pid: getpid(), memory: process)
        // Read as bytes: Swift does not import the 16 KiB array member. The layout is the
        // header's: magic, stop, regs[17], stack_base, stack_length, then the stack.
        let size = MemoryLayout<vu_walk_context>.size
        let stackOffset = 8 * (2 + 17 + 2)
        var buffer = [UInt8](repeating: 0, count: size)
        var index = 0
        func word(_ i: Int) -> UInt64 { buffer.withUnsafeBytes { $0.load(fromByteOffset: i * 8, as: UInt64.self) } }
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(contexts, $0.baseAddress, size, off_t(index * size)) }
            guard n == size, word(0) == VU_WALK_CONTEXT_MAGIC else { break }
            index += 1
            let regs = (0..<17).map { word(2 + $0) }
            let base = word(19)
            let length = Int(min(word(20), UInt64(VU_WALK_CONTEXT_BYTES)))
            let bytes = Array(buffer[stackOffset..<(stackOffset + length)])
            var registers = FrameRegisters()
            for (i, v) in regs.enumerated() { registers[UInt16(i)] = v }
            let memory = StopMemory(stack: SnapshotMemoryReader(address: base, bytes: bytes),
                                    range: base..<(base + UInt64(length)), process: process)
            var walker = DwarfUnwinder(registers: registers, memory: memory, modules: modules, maxFrames: Int(VU_WALK_RECORD_FRAMES))
            var record = vu_walk_record()
            record.magic = VU_WALK_RECORD_MAGIC
            record.walker = UInt64(VU_WALK_VUNWIND_LOCAL)
            record.stop = word(1)
            record.rip = regs[16]
            record.rsp = regs[7]
            let walk = walker.walk()
            let frames = walk.frames
            record.frame_count = UInt64(frames.count)
            withUnsafeMutableBytes(of: &record.frames) { raw in
                for (i, frame) in frames.enumerated() {
                    var f = vu_walk_frame()
                    f.pc = frame.pc
                    if let sp = frame.registers[DwarfRegister.rsp] {
                        f.sp = sp
                        f.known = UInt64(VU_WALK_KNOWN_SP)
                    }
                    withUnsafeMutableBytes(of: &f.regs) { slots in
                        let values = slots.bindMemory(to: UInt64.self)
                        for (j, r) in DwarfRegister.calleeSaved.enumerated() {
                            if let v = frame.registers[r] {
                                values[j] = v
                                f.known |= 1 << UInt64(j)
                            }
                        }
                    }
                    raw.storeBytes(of: f, toByteOffset: i * MemoryLayout<vu_walk_frame>.size, as: vu_walk_frame.self)
                }
            }
            _ = withUnsafeBytes(of: &record) { write(out, $0.baseAddress, $0.count) }
        }
    }
}
