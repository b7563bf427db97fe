// Fuzz target: the .eh_frame / .debug_frame parser and evaluator, with and without an
// .eh_frame_hdr. Byte 0 picks the form: bit 0 .debug_frame, bit 1 a header whose length
// is byte 1 (the header first, then the section).

import DwarfCFI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCFI(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard input.count >= 2 else { return 0 }
    let mode = input[0]
    if mode & 2 != 0 {
        let n = min(Int(input[1]), input.count - 2)
        let headerBytes = Array(input[2..<(2 + n)])
        let body = Array(input[(2 + n)...])
        // The header at 0x2000, .eh_frame right after it (what eh_frame_ptr usually says).
        let header = try? EhFrameHeader(bytes: headerBytes, address: 0x2000, fileOffset: 0x2000)
        exercise(CallFrameSection(kind: .ehFrame, bytes: body, address: 0x2000 + UInt64(n), fileOffset: 0x2000 + UInt64(n)),
                 header: header)
        return 0
    }
    let kind: CallFrameSection.Kind = mode & 1 == 0 ? .ehFrame : .debugFrame
    exercise(CallFrameSection(kind: kind, bytes: Array(input[1...]), address: 0x10_0000, fileOffset: 0x1000))
    return 0
}
