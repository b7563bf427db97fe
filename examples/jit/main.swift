// A JIT author's example: emit a function at run time, describe it with DwarfCFI's
// writer, map it as a small ELF image (never writable and executable at once), register
// it with libgcc and libunwind, then let `vunwind walk` (the StackWalk API) stop at every
// one of its instructions and judge every unwinder. Tests/StackWalkTests/JITExampleTests
// runs it both ways:
//
//   example-jit-walk right   the CFI matches the code: every walker passes everywhere
//   example-jit-walk wrong   rbx's save slot is off by one word: the walkers recover a
//                            wrong rbx from `mov rbx, rdi` to `pop rbx`, and the tester
//                            names those four instructions
//
// It is a walk helper: it asks to be traced (PTRACE_TRACEME) and calls the function
// through CWalkSubject's trampoline, which stops at int3 just before the call. Run it under
// StackWalkTester (WalkSubject.helper), not alone: alone it would stop forever at int3.

import CVunwind
import CWalkSubject
import DwarfCFI
import ELF
import UnwindRegistry
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = Array(("example-jit-walk: " + message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(64)
}

guard CommandLine.arguments.count == 2, ["right", "wrong"].contains(CommandLine.arguments[1]) else {
    fail("usage: example-jit-walk right|wrong")
}
let wrong = CommandLine.arguments[1] == "wrong"

// jit_function(x) = 2x, with a frame pointer and a saved rbx it clobbers:
let code: [UInt8] = [
    0x55,                                      // +0   push rbp
    0x48, 0x89, 0xe5,                          // +1   mov rbp, rsp
    0x53,                                      // +4   push rbx
    0x48, 0x89, 0xfb,                          // +5   mov rbx, rdi
    0x48, 0x8d, 0x04, 0x1b,                    // +8   lea rax, [rbx + rbx]
    0x48, 0xc7, 0xc3, 0x99, 0x00, 0x00, 0x00,  // +12  mov rbx, 0x99
    0x5b,                                      // +19  pop rbx
    0x5d,                                      // +20  pop rbp
    0xc3,                                      // +21  ret
]
// ... and its CFI, one rule change after each instruction that moves the frame.
let rbx = DwarfRegister.rbx, rbp = DwarfRegister.rbp, rsp = DwarfRegister.rsp
let rules: [(offset: UInt64, instruction: FrameInstruction)] = [
    (1, .cfaOffset(16)), (1, .offset(rbp, -16)),
    (4, .cfaRegister(rbp)),
    (5, .offset(rbx, wrong ? -32 : -24)),  // the deliberate bug: one word off
    (20, .restore(rbx)),
    (21, .cfa(rsp, 8)),
]

// Layout: page 0 holds the ELF header, .eh_frame_hdr, .eh_frame and the symbols; page 1
// the code. The image is built at the address it will run at.
let pageSize = 4096
guard let region = mmap(nil, 2 * pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
      region != MAP_FAILED else { fail("mmap: \(String(cString: strerror(errno)))") }
let base = UInt64(UInt(bitPattern: region))
let text = base + UInt64(pageSize)
var table = FrameTable()
let cie = table.add(.x86_64())
table.add(FrameTable.FDE(cie: cie, start: text, length: UInt64(code.count), instructions: rules))
let headerAddress = base + 0x100
let ehFrameAddress = base + 0x200
let image: [UInt8]
do {
    let ehFrame = try EhFrameWriter.ehFrame(table, address: ehFrameAddress)
    let header = try EhFrameWriter.ehFrameHeader(for: table, sections: ehFrame, address: headerAddress)
    let name = Array("jit_function".utf8)
    var symtab = [UInt8](repeating: 0, count: 2 * ELF.symbolSize)  // the null symbol, then ours
    func put<T: FixedWidthInteger>(_ v: T, at offset: Int) {
        withUnsafeBytes(of: v.littleEndian) { symtab.replaceSubrange(offset..<offset + $0.count, with: $0) }
    }
    put(UInt32(1), at: 24)           // st_name
    symtab[28] = 0x12                // STB_GLOBAL, STT_FUNC
    put(UInt16(3), at: 30)           // st_shndx: .text (null, .eh_frame_hdr, .eh_frame, .text)
    put(text, at: 32)                // st_value
    put(UInt64(code.count), at: 40)  // st_size
    var b = ELFImageBuilder(type: ELF.etDyn, baseAddress: base)
    b.sections = [
        .init(name: ".eh_frame_hdr", type: ELF.shtProgbits, flags: ELF.shfAlloc, address: headerAddress, alignment: 4,
              contents: header),
        .init(name: ".eh_frame", type: ELF.shtProgbits, flags: ELF.shfAlloc, address: ehFrameAddress, alignment: 8,
              contents: ehFrame.ehFrame),
        .init(name: ".text", type: ELF.shtProgbits, flags: ELF.shfAlloc | ELF.shfExecinstr, address: text, alignment: 16,
              contents: code),
        .init(name: ".symtab", type: ELF.shtSymtab, alignment: 8, entrySize: UInt64(ELF.symbolSize), link: ".strtab",
              info: 1, contents: symtab),
        .init(name: ".strtab", type: ELF.shtStrtab, contents: [0] + name + [0]),
    ]
    b.segments = [
        .init(type: ELF.ptLoad, flags: ELF.pfR | ELF.pfX, address: base, fileSize: UInt64(2 * pageSize), alignment: UInt64(pageSize)),
        .init(type: ELF.ptGnuEhFrame, flags: ELF.pfR, address: headerAddress, fileSize: UInt64(header.count), alignment: 4),
    ]
    image = try b.build().bytes
} catch {
    fail("building the image: \(error)")
}
guard image.count <= 2 * pageSize else { fail("the image is \(image.count) bytes, more than two pages") }

// Write while writable, then make it executable and read-only: never both.
image.withUnsafeBytes { region.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
guard mprotect(region, 2 * pageSize, PROT_READ | PROT_EXEC) == 0 else { fail("mprotect: \(String(cString: strerror(errno)))") }

// In-process unwinders learn of it from the registry; vunwind walk's remote walkers find
// it by its ELF header in anonymous memory.
let registry: UnwindRegistry
do {
    registry = UnwindRegistry(registrars: try UnwindRegistry.registrars(for: [.libgcc, .libunwind]))
    try registry.register(RegisteredImage(
        name: "example-jit", imageAddress: base, imageSize: UInt64(2 * pageSize), ehFrameAddress: ehFrameAddress,
        ehFrameHeaderAddress: headerAddress, fdeCount: 1, code: text..<(text + UInt64(code.count)),
        symbols: [.init(name: "jit_function", address: text, size: UInt64(code.count))]))
} catch {
    fail("register: \(error)")
}

guard vu_ptrace_traceme() == 0 else { fail("PTRACE_TRACEME: \(String(cString: strerror(errno)))") }
let arguments: [UInt64] = [21, 0, 0, 0, 0, 0]
let result = vu_walk_call(UnsafeRawPointer(bitPattern: UInt(text))!, arguments)
let line = Array("returned \(result)\n".utf8)
_ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
exit(result == 42 ? 0 : 1)
