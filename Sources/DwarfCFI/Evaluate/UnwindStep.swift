// UnwindStep: one frame of unwinding. Given the registers of a frame and the row that holds
// at its pc, computes the caller's registers (DWARF 5 section 6.4.4; x86-64 psABI 3.6.3).
//
// ABI defaults for registers without a rule follow libgcc: every unspecified register keeps
// its value (callee-saved registers really do; for caller-saved ones the value is stale and
// consumers compare only callee-saved registers, rsp and rip). The caller's rsp is the CFA
// unless a rule says otherwise. An undefined or missing return-address rule marks the
// outermost frame.

import Bytes

public struct UnwindStepResult: Sendable, Equatable {
    /// The caller's registers; its pc is the return address (or, after a signal frame, the
    /// interrupted instruction).
    public var caller: FrameRegisters
    public var cfa: UInt64
}

public enum UnwindStep {
    /// Evaluates the row's CFA rule.
    public static func cfa(of row: UnwindRow, registers: FrameRegisters, memory: some MemoryReader,
                           limits: UnwindLimits = .default) throws -> UInt64 {
        switch row.cfa {
        case let .registerOffset(reg, off):
            guard let v = registers[reg] else {
                throw CFIError(offset: 0, reason: .registerUnavailable(UInt64(reg)))
            }
            return v &+ UInt64(bitPattern: off)
        case let .expression(e):
            let (bytes, origin) = try row.expression(e)
            return try ExpressionEvaluator.evaluate(bytes, origin: origin, registers: registers, memory: memory,
                                                    limits: limits)
        }
    }

    /// The caller's registers, or nil if this is the outermost frame.
    public static func step(row: UnwindRow, returnAddressRegister: UInt64, registers: FrameRegisters,
                            memory: some MemoryReader, limits: UnwindLimits = .default) throws -> UnwindStepResult? {
        let ra = UInt16(truncatingIfNeeded: returnAddressRegister)
        guard let raRule = row.registers[ra], raRule != .undefined else { return nil }
        let cfa = try cfa(of: row, registers: registers, memory: memory, limits: limits)
        var caller = registers
        caller[DwarfRegister.rsp] = cfa
        for entry in row.registers where Int(entry.register) < FrameRegisters.count {
            caller[entry.register] = try value(of: entry.register, rule: entry.rule, row: row, cfa: cfa,
                                               registers: registers, memory: memory, limits: limits)
        }
        // The caller's pc is what the return-address column held.
        if ra != DwarfRegister.returnAddress {
            caller[DwarfRegister.returnAddress] = try value(of: ra, rule: raRule, row: row, cfa: cfa,
                                                            registers: registers, memory: memory, limits: limits)
        }
        guard caller.pc != nil else { return nil }
        return UnwindStepResult(caller: caller, cfa: cfa)
    }

    static func value(of register: UInt16, rule: RegisterRule, row: UnwindRow, cfa: UInt64, registers: FrameRegisters,
                      memory: some MemoryReader, limits: UnwindLimits) throws -> UInt64? {
        switch rule {
        case .undefined:
            return nil
        case .sameValue:
            return registers[register]
        case let .offset(off):
            let address = cfa &+ UInt64(bitPattern: off)
            do { return try memory.fetch(UInt64.self, from: address) } catch {
                throw CFIError(offset: 0, reason: .memory(address: address, count: 8))
            }
        case let .valOffset(off):
            return cfa &+ UInt64(bitPattern: off)
        case let .register(other):
            return registers[other]
        case let .expression(e):
            let (bytes, origin) = try row.expression(e)
            let address = try ExpressionEvaluator.evaluate(bytes, origin: origin, initialStack: [cfa],
                                                           registers: registers, memory: memory, cfa: cfa, limits: limits)
            do { return try memory.fetch(UInt64.self, from: address) } catch {
                throw CFIError(offset: origin, reason: .memory(address: address, count: 8))
            }
        case let .valExpression(e):
            let (bytes, origin) = try row.expression(e)
            return try ExpressionEvaluator.evaluate(bytes, origin: origin, initialStack: [cfa], registers: registers,
                                                    memory: memory, cfa: cfa, limits: limits)
        }
    }
}
