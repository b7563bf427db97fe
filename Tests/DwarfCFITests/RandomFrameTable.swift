// RandomFrameTable: seeded random FrameTables that use every instruction kind, several CIE
// variants, and offsets and advances large enough to force each encoding width.

import DwarfCFI
import TestSupport

struct RandomFrameTable {
    var rng: SeededGenerator
    /// eu-readelf 0.188 misreads a CIE whose augmentation has both 'P' and 'S' (it takes a
    /// data byte for 'S' and so shifts the program); tables meant for it leave that out.
    var allowsPersonalityWithSignalFrame = true

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    /// Registers with readelf names, including ones >= 64 (extended opcodes).
    mutating func register() -> UInt16 {
        let pool: [UInt16] = Array(0...16) + [17, 20, 32, 49, 64, 65, 66, 70]
        return pool[int(0...(pool.count - 1))]
    }

    /// A factored offset of varied magnitude: 1-byte, 2-byte and 3-byte LEB128 sizes.
    mutating func factor() -> Int64 {
        switch int(0...3) {
        case 0: return Int64(int(-8...8))
        case 1: return Int64(int(-200...200))
        case 2: return Int64(int(-20000...20000))
        default: return Int64(int(-2_000_000...2_000_000))
        }
    }

    mutating func expression() -> DwarfExpression {
        var e = DwarfExpression().breg(UInt16(int(0...16)), Int64(int(-300...300)))
        for _ in 0..<int(0...3) {
            switch int(0...5) {
            case 0: e = e.deref()
            case 1: e = e.constant(UInt64(int(0...100_000))).plus()
            case 2: e = e.plusUconst(UInt64(int(0...5000)))
            case 3: e = e.signedConstant(Int64(int(-70_000 ... -1))).minus()
            case 4: e = e.constant(UInt64(int(0...63))).and()
            default: e = e.derefSize(UInt8(int(1...8)))
            }
        }
        return e
    }

    mutating func cie() -> FrameTable.CIE {
        let daf: Int64 = [-8, -4, -1, 4, 8][int(0...4)]
        let caf: UInt64 = [1, 1, 2, 4][int(0...3)]
        // -8 is a multiple of every factor drawn here.
        var initial: [FrameInstruction] = [.cfa(DwarfRegister.rsp, 8), .offset(DwarfRegister.returnAddress, -8)]
        if chance(0.2) { initial.append(.sameValue(DwarfRegister.rbx)) }
        if chance(0.1) { initial.append(.undefined(DwarfRegister.rax)) }
        var c = FrameTable.CIE(codeAlignmentFactor: caf, dataAlignmentFactor: daf,
                               isSignalFrame: chance(0.2), initialInstructions: initial)
        if chance(0.3) {
            c.personality = .init(encoding: chance(0.5) ? (.pcrel | .sdata4 | .indirect) : .udata8,
                                  address: UInt64(0x40_0000 + int(0...0xffff)))
        }
        if c.personality != nil && !allowsPersonalityWithSignalFrame { c.isSignalFrame = false }
        if chance(0.3) { c.lsdaEncoding = chance(0.5) ? (.pcrel | .sdata4) : .udata8 }
        if chance(0.1) { c.fdeEncoding = .udata8 }
        return c
    }

    /// A table of `cies` CIEs (interned, so equal draws collapse) and `fdes` FDEs laid out
    /// without overlap from `start`.
    mutating func table(cies: Int, fdes: Int, start: UInt64 = 0x1000_0000) -> FrameTable {
        var t = FrameTable()
        var ids: [FrameTable.CIEID] = []
        for _ in 0..<cies { ids.append(t.add(cie())) }
        var address = start
        for _ in 0..<fdes {
            let id = ids[int(0...(ids.count - 1))]
            let c = t.cies[id.index]
            let fde = self.fde(cie: c, id: id, start: address)
            t.add(fde)
            address += fde.length + UInt64(int(0...64))
        }
        return t
    }

    mutating func fde(cie c: FrameTable.CIE, id: FrameTable.CIEID, start: UInt64) -> FrameTable.FDE {
        let caf = c.codeAlignmentFactor
        let daf = c.dataAlignmentFactor
        var instructions: [(offset: UInt64, instruction: FrameInstruction)] = []
        var location: UInt64 = 0
        var depth = 0
        var cfaIsRegister = true
        for _ in 0..<int(0...24) {
            // Advances of every width: 6-bit, 1, 2 and 4 bytes.
            if chance(0.6) {
                let units: UInt64
                switch int(0...9) {
                case 0...5: units = UInt64(int(0...63))
                case 6, 7: units = UInt64(int(64...255))
                case 8: units = UInt64(int(256...65535))
                default: units = UInt64(int(65536...300_000))
                }
                location += units * caf
            }
            let reg = register()
            let instruction: FrameInstruction
            switch int(0...15) {
            case 0:
                instruction = .cfa(UInt16(int(0...16)), chance(0.8) ? Int64(int(0...100_000)) : factor() * daf)
                cfaIsRegister = true
            case 1:
                guard cfaIsRegister else { continue }
                instruction = .cfaOffset(chance(0.7) ? Int64(int(0...5000)) : factor() * daf)
            case 2:
                guard cfaIsRegister else { continue }
                instruction = .cfaRegister(UInt16(int(0...16)))
            case 3:
                instruction = .cfaExpression(expression())
                cfaIsRegister = false
            case 4, 5: instruction = .offset(reg, factor() * daf)
            case 6: instruction = .valOffset(reg, factor() * daf)
            case 7: instruction = .register(reg, UInt16(int(0...16)))
            case 8: instruction = .restore(reg)
            case 9: instruction = .undefined(reg)
            case 10: instruction = .sameValue(reg)
            case 11:
                guard depth < 8 else { continue }
                depth += 1
                instruction = .rememberState
            case 12:
                guard depth > 0 else { continue }
                depth -= 1
                instruction = .restoreState
                // The restored CFA could be either kind; stay conservative.
                cfaIsRegister = false
            case 13: instruction = .expression(reg, expression())
            case 14: instruction = .valExpression(reg, expression())
            default: instruction = .argsSize(UInt64(int(0...4096)))
            }
            instructions.append((location, instruction))
        }
        let length = max(location + UInt64(int(1...400)) * caf, caf)
        let lsda: UInt64? = c.lsdaEncoding == nil ? nil : UInt64(0x50_0000 + int(0...0xffff))
        return FrameTable.FDE(cie: id, start: start, length: length, lsda: lsda, instructions: instructions)
    }
}
