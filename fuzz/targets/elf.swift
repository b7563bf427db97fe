// Fuzz target: the ELF reader: headers, sections, segments, symbols, notes, the vunwind
// note, decompression and relocation of every section, and the CFI sections found by name
// taken through the CFI parser.

import Bytes
import DwarfCFI
import ELF

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzELF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let elf = try? ELFFile(bytes: input) else { return 0 }
    _ = try? elf.symbols()
    _ = try? elf.notes()
    _ = try? VunwindNote(elf: elf)
    for p in elf.programHeaders.prefix(64) { _ = try? elf.contents(of: p) }
    for s in elf.sections.prefix(256) {
        guard let bytes = try? elf.decodedContents(of: s) else { continue }
        switch s.name {
        case ".eh_frame": exercise(CallFrameSection(kind: .ehFrame, bytes: bytes, address: s.address, fileOffset: s.offset))
        case ".debug_frame", ".zdebug_frame":
            exercise(CallFrameSection(kind: .debugFrame, bytes: bytes, address: s.address, fileOffset: s.offset))
        case ".eh_frame_hdr": _ = try? EhFrameHeader(bytes: bytes, address: s.address, fileOffset: s.offset)
        default: break
        }
    }
    return 0
}
