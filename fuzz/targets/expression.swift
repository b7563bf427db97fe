// Fuzz target: the DWARF expression evaluator, with the CFA pushed first (as for a register
// rule) and without, over the fuzz stack and registers.

import DwarfCFI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExpression(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let registers = fuzzRegisters(), memory = PatternMemory()
    _ = try? ExpressionEvaluator.evaluate(input[...], origin: 0x400, registers: registers, memory: memory)
    _ = try? ExpressionEvaluator.evaluate(input[...], origin: 0x400, initialStack: [0x8010], registers: registers,
                                          memory: memory, cfa: 0x8010)
    return 0
}
