// Fuzz target: the whole core analysis (threads, modules from the core's own memory and
// NT_FILE, our unwinder over each thread, vsyscall-frame detection and the synthesized
// return), without libdwfl's cross-check (a judge, not what is under test).

import Bytes
import CoreDump
import ELF

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCoreAnalysis(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let core = try? CoreFile(source: ArrayByteSource(input)) else { return 0 }
    // No executable and a sysroot with nothing in it: only what the core holds is read.
    let options = CoreAnalyzer.Options(executable: nil, sysroot: "/nonexistent-fuzz-sysroot", crossCheck: false,
                                       maxFrames: 64)
    _ = CoreAnalyzer.analyze(core: core, path: "fuzz.core", options: options)
    return 0
}
