// Fuzz target: the vunwind note's descriptor parser (a live target's memory feeds it).

import ELF

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNote(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    if let note = try? VunwindNote(descriptor: input, origin: 0x100) {
        for e in note.entries.prefix(64) { _ = note.entry(containing: e.address) }
    }
    return 0
}
