// ExpressionEvaluator: a DWARF stack machine for the expressions CFI uses
// (DW_CFA_def_cfa_expression, DW_CFA_expression, DW_CFA_val_expression), bounded in steps
// and stack depth, reading registers from FrameRegisters and memory from a MemoryReader.

import Bytes

public enum ExpressionEvaluator {
    /// Evaluates `bytes` (an expression found at file offset `origin`) with `initialStack`
    /// pushed first (the CFA, for register rules) and returns the top of the stack.
    public static func evaluate(_ bytes: ArraySlice<UInt8>, origin: UInt64 = 0, initialStack: [UInt64] = [],
                                registers: FrameRegisters, memory: some MemoryReader,
                                cfa: UInt64? = nil, limits: UnwindLimits = .default) throws -> UInt64 {
        // A private copy indexed from 0, so error offsets are origin + index.
        var r = ByteReader(Array(bytes), origin: origin)
        var stack = initialStack
        var steps = 0
        func fail(_ reason: CFIError.Reason, _ at: Int) -> CFIError {
            CFIError(offset: origin &+ UInt64(at), reason: reason)
        }
        while !r.isAtEnd {
            let at = r.position
            steps += 1
            if steps > limits.maxExpressionSteps { throw fail(.expressionStepLimit(limits.maxExpressionSteps), at) }
            let op = try r.u8()
            func pop() throws -> UInt64 {
                guard let v = stack.popLast() else { throw fail(.expressionStackUnderflow(op), at) }
                return v
            }
            func push(_ v: UInt64) throws {
                guard stack.count < limits.maxExpressionStack else {
                    throw fail(.expressionStackOverflow(limit: limits.maxExpressionStack), at)
                }
                stack.append(v)
            }
            func register(_ n: UInt64) throws -> UInt64 {
                guard n < UInt64(FrameRegisters.count), let v = registers[UInt16(n)] else {
                    throw fail(.registerUnavailable(n), at)
                }
                return v
            }
            func read(_ address: UInt64, size: Int) throws -> UInt64 {
                do {
                    var value: UInt64 = 0
                    try withUnsafeMutableBytes(of: &value) { buf in
                        try memory.fetch(from: address, into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<size]))
                    }
                    return UInt64(littleEndian: value)
                } catch {
                    throw fail(.memory(address: address, count: size), at)
                }
            }
            switch op {
            case DwarfOperation.addr: try push(try r.u64())
            case DwarfOperation.deref: try push(try read(try pop(), size: 8))
            case DwarfOperation.derefSize:
                let n = Int(try r.u8())
                guard (1...8).contains(n) else { throw fail(.unknownExpressionOpcode(op), at) }
                try push(try read(try pop(), size: n))
            case DwarfOperation.const1u: try push(UInt64(try r.u8()))
            case DwarfOperation.const1s: try push(UInt64(bitPattern: Int64(try r.i8())))
            case DwarfOperation.const2u: try push(UInt64(try r.u16()))
            case DwarfOperation.const2s: try push(UInt64(bitPattern: Int64(try r.i16())))
            case DwarfOperation.const4u: try push(UInt64(try r.u32()))
            case DwarfOperation.const4s: try push(UInt64(bitPattern: Int64(try r.i32())))
            case DwarfOperation.const8u: try push(try r.u64())
            case DwarfOperation.const8s: try push(try r.u64())
            case DwarfOperation.constu: try push(try r.uleb128())
            case DwarfOperation.consts: try push(UInt64(bitPattern: try r.sleb128()))
            case DwarfOperation.dup:
                let v = try pop(); try push(v); try push(v)
            case DwarfOperation.drop: _ = try pop()
            case DwarfOperation.over:
                guard stack.count >= 2 else { throw fail(.expressionStackUnderflow(op), at) }
                try push(stack[stack.count - 2])
            case DwarfOperation.pick:
                let i = Int(try r.u8())
                guard i < stack.count else { throw fail(.expressionStackUnderflow(op), at) }
                try push(stack[stack.count - 1 - i])
            case DwarfOperation.swap:
                let a = try pop(), b = try pop()
                try push(a); try push(b)
            case DwarfOperation.rot:
                let a = try pop(), b = try pop(), c = try pop()
                try push(a); try push(c); try push(b)
            case DwarfOperation.abs:
                let v = Int64(bitPattern: try pop())
                try push(v == .min ? UInt64(bitPattern: v) : UInt64(v.magnitude))
            case DwarfOperation.and: let b = try pop(), a = try pop(); try push(a & b)
            case DwarfOperation.div:
                let b = Int64(bitPattern: try pop()), a = Int64(bitPattern: try pop())
                guard b != 0 else { throw fail(.divisionByZero, at) }
                try push(UInt64(bitPattern: a.dividedReportingOverflow(by: b).partialValue))
            case DwarfOperation.minus: let b = try pop(), a = try pop(); try push(a &- b)
            case DwarfOperation.mod:
                let b = try pop(), a = try pop()
                guard b != 0 else { throw fail(.divisionByZero, at) }
                try push(a % b)
            case DwarfOperation.mul: let b = try pop(), a = try pop(); try push(a &* b)
            case DwarfOperation.neg: try push(0 &- (try pop()))
            case DwarfOperation.not: try push(~(try pop()))
            case DwarfOperation.or: let b = try pop(), a = try pop(); try push(a | b)
            case DwarfOperation.plus: let b = try pop(), a = try pop(); try push(a &+ b)
            case DwarfOperation.plusUconst: let a = try pop(); try push(a &+ (try r.uleb128()))
            case DwarfOperation.shl:
                let b = try pop(), a = try pop(); try push(b >= 64 ? 0 : a << b)
            case DwarfOperation.shr:
                let b = try pop(), a = try pop(); try push(b >= 64 ? 0 : a >> b)
            case DwarfOperation.shra:
                let b = try pop(), a = Int64(bitPattern: try pop())
                try push(UInt64(bitPattern: b >= 64 ? (a < 0 ? -1 : 0) : a >> Int64(b)))
            case DwarfOperation.xor: let b = try pop(), a = try pop(); try push(a ^ b)
            case DwarfOperation.eq...DwarfOperation.ne:
                let b = Int64(bitPattern: try pop()), a = Int64(bitPattern: try pop())
                let result: Bool
                switch op {
                case DwarfOperation.eq: result = a == b
                case DwarfOperation.ge: result = a >= b
                case DwarfOperation.gt: result = a > b
                case DwarfOperation.le: result = a <= b
                case DwarfOperation.lt: result = a < b
                default: result = a != b
                }
                try push(result ? 1 : 0)
            case DwarfOperation.skip, DwarfOperation.bra:
                let distance = Int(try r.i16())
                let taken = op == DwarfOperation.skip ? true : (try pop()) != 0
                if taken {
                    let target = r.position + distance
                    guard target >= 0, target <= r.end else { throw fail(.expressionBranchOutOfRange(target), at) }
                    try r.seek(to: target)
                }
            case DwarfOperation.lit0...DwarfOperation.lit31:
                try push(UInt64(op - DwarfOperation.lit0))
            case DwarfOperation.breg0...DwarfOperation.breg31:
                let v = try register(UInt64(op - DwarfOperation.breg0))
                try push(v &+ UInt64(bitPattern: try r.sleb128()))
            case DwarfOperation.bregx:
                let n = try r.uleb128()
                let off = try r.sleb128()
                try push(try register(n) &+ UInt64(bitPattern: off))
            case DwarfOperation.nop:
                break
            case DwarfOperation.callFrameCfa:
                guard let c = cfa else { throw fail(.cfaUnavailable, at) }
                try push(c)
            default:
                throw fail(.unknownExpressionOpcode(op), at)
            }
        }
        guard let top = stack.last else { throw fail(.expressionStackUnderflow(0), r.position) }
        return top
    }
}
