// CFITracker: the CFA and the saved callee-saved registers at every instruction, kept by
// the assembler itself. Every instruction that moves the stack pointer, sets or restores
// the frame pointer, or saves or restores a callee-saved register updates it, so an
// entry's FDE is derived from the code, never written by hand.
//
// Rules take effect after the instruction that causes them: an update is recorded at the
// offset of the next instruction, which is where an unwinder looking up an interrupted pc
// must see it.

import DwarfCFI

public struct CFIState: Equatable, Sendable, CustomStringConvertible {
    /// The register the CFA is computed from (rsp or rbp) and the offset.
    public var cfaRegister: Register = .rsp
    public var cfaOffset: Int64 = 8
    /// CFA - rsp, always known: where the return address and pushes are.
    public var stackDepth: Int64 = 8
    /// Callee-saved registers saved in this frame, and where (offset from the CFA).
    public var saved: [Register: Int64] = [:]

    public var description: String {
        var s = "\(cfaRegister.name64)+\(cfaOffset)"
        for r in Register.allCases where saved[r] != nil { s += " \(r.name64)@cfa\(saved[r]!)" }
        return s
    }
}

public struct CFITracker: Sendable {
    public private(set) var state = CFIState()
    /// The FDE program as intent, offsets from the function start.
    public private(set) var instructions: [(offset: UInt64, instruction: FrameInstruction)] = []
    private var remembered: [CFIState] = []

    public init() {}

    mutating func emit(_ i: FrameInstruction, at offset: UInt64) { instructions.append((offset, i)) }

    /// `push reg` ending at `offset`.
    mutating func push(_ r: Register, endingAt offset: UInt64) {
        state.stackDepth += 8
        if state.cfaRegister == .rsp {
            state.cfaOffset = state.stackDepth
            emit(.cfaOffset(state.cfaOffset), at: offset)
        }
        if r.isCalleeSaved && state.saved[r] == nil {
            state.saved[r] = -state.stackDepth
            emit(.offset(r.dwarf, -state.stackDepth), at: offset)
        }
    }

    /// `pop reg` ending at `offset`. Popping a saved register restores its rule; popping
    /// the CFA register moves the CFA back to rsp.
    mutating func pop(_ r: Register, endingAt offset: UInt64) {
        let slot = -state.stackDepth
        state.stackDepth -= 8
        if r == state.cfaRegister && r != .rsp {
            state.cfaRegister = .rsp
            state.cfaOffset = state.stackDepth
            emit(.cfa(DwarfRegister.rsp, state.cfaOffset), at: offset)
        } else if state.cfaRegister == .rsp {
            state.cfaOffset = state.stackDepth
            emit(.cfaOffset(state.cfaOffset), at: offset)
        }
        if state.saved[r] == slot {
            state.saved[r] = nil
            emit(.restore(r.dwarf), at: offset)
        }
    }

    /// `mov rbp, rsp`: the frame pointer takes over as the CFA register.
    mutating func setFramePointer(endingAt offset: UInt64) {
        guard state.cfaRegister == .rsp else { return }
        state.cfaRegister = .rbp
        emit(.cfaRegister(DwarfRegister.rbp), at: offset)
    }

    /// `sub rsp, n` (positive) or `add rsp, n` (negative n).
    mutating func adjustStack(by bytes: Int64, endingAt offset: UInt64) {
        state.stackDepth += bytes
        if state.cfaRegister == .rsp {
            state.cfaOffset = state.stackDepth
            emit(.cfaOffset(state.cfaOffset), at: offset)
        }
    }

    /// `leave`: rsp = rbp, pop rbp.
    mutating func leave(endingAt offset: UInt64) {
        precondition(state.cfaRegister == .rbp, "leave without a frame pointer")
        state.stackDepth = state.cfaOffset - 8
        state.cfaRegister = .rsp
        state.cfaOffset = state.stackDepth
        emit(.cfa(DwarfRegister.rsp, state.cfaOffset), at: offset)
        if state.saved[.rbp] != nil {
            state.saved[.rbp] = nil
            emit(.restore(DwarfRegister.rbp), at: offset)
        }
    }

    /// Before an early return: the code after the `ret` is still inside the frame.
    /// Remembering changes no rule, so it goes where the last rule changed rather than at
    /// `offset`: that saves an advance, and no row appears that only repeats the one
    /// before it (readelf prints a row at every advance).
    mutating func rememberState(at offset: UInt64) {
        remembered.append(state)
        emit(.rememberState, at: min(offset, instructions.last?.offset ?? 0))
    }

    /// After the early return's `ret`.
    mutating func restoreState(at offset: UInt64) {
        state = remembered.removeLast()
        emit(.restoreState, at: offset)
    }

    public var isBalanced: Bool { remembered.isEmpty }
}
