// Our unwind rows against libdw's (dwarf_getcfi_elf, dwarf_cfi_addrframe, dwarf_frame_cfa,
// dwarf_frame_register) at sampled addresses of every FDE of the real libraries and the
// running kernel's vDSO: the CFA rule and every general register's rule must agree.
//
// libdw speaks in location expressions: CFA reg+off is [bregx reg off]; "saved at CFA+N" is
// [call_frame_cfa, plus_uconst N]; a value rule ends in stack_value; same_value is no ops
// and a NULL pointer; undefined is no ops and the caller's buffer.

import Bytes
import CLibdw
import DwarfCFI
import ELF
import Foundation
import TestSupport
import Unwind
import XCTest

final class LibdwCrossCheckTests: XCTestCase {
    struct Op: Equatable, CustomStringConvertible {
        var atom: UInt8
        var number: UInt64
        var number2: UInt64
        var description: String { "0x\(String(atom, radix: 16))(\(Int64(bitPattern: number)),\(Int64(bitPattern: number2)))" }
    }

    enum Rule: Equatable {
        case same, undefined, location([Op])
    }

    /// Our expression bytes as libdw's Dwarf_Op atoms and operands.
    static func ops(_ bytes: ArraySlice<UInt8>) throws -> [Op] {
        var r = ByteReader(Array(bytes))
        var out: [Op] = []
        while !r.isAtEnd {
            let a = try r.u8()
            var op = Op(atom: a, number: 0, number2: 0)
            switch a {
            case DwarfOperation.addr, DwarfOperation.const8u, DwarfOperation.const8s: op.number = try r.u64()
            case DwarfOperation.const1u: op.number = UInt64(try r.u8())
            case DwarfOperation.const1s: op.number = UInt64(bitPattern: Int64(try r.i8()))
            case DwarfOperation.const2u: op.number = UInt64(try r.u16())
            case DwarfOperation.const2s: op.number = UInt64(bitPattern: Int64(try r.i16()))
            case DwarfOperation.const4u: op.number = UInt64(try r.u32())
            case DwarfOperation.const4s: op.number = UInt64(bitPattern: Int64(try r.i32()))
            case DwarfOperation.constu, DwarfOperation.plusUconst, DwarfOperation.regx: op.number = try r.uleb128()
            case DwarfOperation.consts: op.number = UInt64(bitPattern: try r.sleb128())
            case DwarfOperation.pick, DwarfOperation.derefSize: op.number = UInt64(try r.u8())
            case DwarfOperation.skip, DwarfOperation.bra: _ = try r.i16()  // libdw rewrites targets; compare the atom
            case DwarfOperation.breg0...DwarfOperation.breg31: op.number = UInt64(bitPattern: try r.sleb128())
            case DwarfOperation.bregx:
                op.number = try r.uleb128()
                op.number2 = UInt64(bitPattern: try r.sleb128())
            default: break
            }
            out.append(op)
        }
        return out
    }

    static let callFrameCFA = Op(atom: DwarfOperation.callFrameCfa, number: 0, number2: 0)
    static let stackValue = Op(atom: DwarfOperation.stackValue, number: 0, number2: 0)

    static func expected(_ rule: RegisterRule?, register: UInt16, row: UnwindRow) throws -> Rule? {
        guard let rule else {
            // Unspecified: libdw applies its own ABI defaults; rsp is the CFA.
            return register == DwarfRegister.rsp ? .location([callFrameCFA, stackValue]) : nil
        }
        switch rule {
        case .undefined: return .undefined
        case .sameValue: return .same
        case let .offset(o):
            return .location([callFrameCFA] + (o == 0 ? [] : [Op(atom: DwarfOperation.plusUconst, number: UInt64(bitPattern: o), number2: 0)]))
        case let .valOffset(o):
            return .location([callFrameCFA] + (o == 0 ? [] : [Op(atom: DwarfOperation.plusUconst, number: UInt64(bitPattern: o), number2: 0)]) + [stackValue])
        case let .register(r): return .location([Op(atom: DwarfOperation.regx, number: UInt64(r), number2: 0)])
        case let .expression(e): return .location([callFrameCFA] + (try ops(try row.expression(e).bytes)))
        case let .valExpression(e): return .location([callFrameCFA] + (try ops(try row.expression(e).bytes)) + [stackValue])
        }
    }

    static func convert(_ ops: UnsafeMutablePointer<Dwarf_Op>?, _ n: Int) -> [Op] {
        guard let ops else { return [] }
        return (0..<n).map { Op(atom: ops[$0].atom, number: ops[$0].number, number2: ops[$0].number2) }
    }

    /// Checks every FDE of `bytes` (an ELF image) at the start, middle and last byte of each
    /// row. Returns the number of addresses compared.
    func crossCheck(_ bytes: [UInt8], name: String) throws -> Int {
        let elfFile = try ELFFile(bytes: bytes)
        let sections = try ELFCallFrameSections(elf: elfFile)
        let section = try XCTUnwrap(sections.ehFrame, name)
        elf_version(UInt32(EV_CURRENT))
        var copy = bytes
        return try copy.withUnsafeMutableBytes { raw -> Int in
            let elf = try XCTUnwrap(elf_memory(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count))
            defer { elf_end(elf) }
            let cfi = try XCTUnwrap(dwarf_getcfi_elf(elf), "\(name): \(String(cString: dwarf_errmsg(-1)))")
            var checked = 0
            var mismatches = 0
            try section.forEachEntry { entry in
                guard case let .fde(fde) = entry, fde.addressRange > 0 else { return }
                let (_, cie) = try section.fde(at: fde.offset)
                for row in try UnwindTableBuilder.rows(fde: fde, cie: cie, section: section) {
                    for pc in Set([row.start, row.start + (row.end - row.start) / 2, row.end - 1]) {
                        var frame: OpaquePointer?
                        guard dwarf_cfi_addrframe(cfi, pc, &frame) == 0, let frame else {
                            XCTFail("\(name) 0x\(String(pc, radix: 16)): libdw has no frame: \(String(cString: dwarf_errmsg(-1)))")
                            mismatches += 1
                            continue
                        }
                        defer { free(UnsafeMutableRawPointer(frame)) }
                        checked += 1
                        var ops: UnsafeMutablePointer<Dwarf_Op>?
                        var n = 0
                        XCTAssertEqual(dwarf_frame_cfa(frame, &ops, &n), 0)
                        let cfa = Self.convert(ops, n)
                        let want: [Op]
                        switch row.cfa {
                        case let .registerOffset(r, o): want = [Op(atom: DwarfOperation.bregx, number: UInt64(r), number2: UInt64(bitPattern: o))]
                        case let .expression(e): want = try Self.ops(try row.expression(e).bytes)
                        }
                        if cfa != want {
                            mismatches += 1
                            XCTFail("\(name) 0x\(String(pc, radix: 16)) CFA: libdw \(cfa), ours \(want)")
                        }
                        for r in UInt16(0)...16 {
                            var mem = [Dwarf_Op](repeating: Dwarf_Op(), count: 3)
                            var regOps: UnsafeMutablePointer<Dwarf_Op>?
                            var count = 0
                            let theirs: Rule = mem.withUnsafeMutableBufferPointer { buf in
                                let rc = dwarf_frame_register(frame, Int32(r), buf.baseAddress!, &regOps, &count)
                                if rc < 0 { return .location([Op(atom: 0xff, number: 0, number2: 0)]) }
                                if count == 0 { return regOps == nil ? .same : .undefined }
                                return .location(Self.convert(regOps, count))
                            }
                            let ours = try Self.expected(row.registers[r], register: r, row: row)
                            if let ours {
                                if ours != theirs {
                                    mismatches += 1
                                    XCTFail("\(name) 0x\(String(pc, radix: 16)) \(DwarfRegister.name(UInt64(r))): libdw \(theirs), ours \(ours)")
                                }
                            } else if theirs != .same && theirs != .undefined {
                                mismatches += 1
                                XCTFail("\(name) 0x\(String(pc, radix: 16)) \(DwarfRegister.name(UInt64(r))): unspecified for us, libdw \(theirs)")
                            }
                        }
                        if mismatches > 20 { throw XCTSkip("too many mismatches in \(name)") }
                    }
                }
            }
            return checked
        }
    }

    func testEveryFDEOfTheSystemLibrariesHasTheSameRulesAsLibdwAtSampledAddresses() throws {
        for lib in SystemLibraries.judged {
            let path = try SystemLibraries.path(lib)
            let checked = try crossCheck(Array(try Data(contentsOf: URL(fileURLWithPath: path))), name: lib)
            XCTAssertGreaterThan(checked, 1000, lib)
        }
    }

    func testEveryFDEOfTheRunningKernelsVDSOHasTheSameRulesAsLibdw() throws {
        let (_, bytes) = try VDSOImage.current()
        XCTAssertGreaterThan(try crossCheck(bytes, name: "[vdso]"), 5)
    }
}
