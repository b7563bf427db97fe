// `vunwind emit`: the vsyscall image as the emitter builds it, without installing it:
// a listing (address, bytes, instruction, CFA rule in force at each instruction) and/or
// the ELF image written to a file, for objdump, readelf and friends.

import ArgumentParser
import DwarfCFI
import FoundationEssentials
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

struct EmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emit",
        abstract: "Emit the vsyscall image: a listing with the CFA at each instruction, or the ELF file.")

    @Option(help: "Image base address (hex accepted: 0x...).")
    var address: String = "0x" + String(Vsyscall.defaultAddress, radix: 16)

    @Flag(help: "Print address, bytes, instruction and CFA rule for every instruction.")
    var listing = false

    @Option(help: "Write the ELF image to this file.")
    var elf: String?

    @Option(help: "CPU features to emit for: auto, rdpid, rdtscp, none.")
    var features: String = "auto"

    @Flag(help: "With --listing: print the EmitListing JSON model instead of text.")
    var json = false

    func validate() throws {
        guard parseAddress(address) != nil else { throw ValidationError("bad address \(address)") }
        guard ["auto", "rdpid", "rdtscp", "none"].contains(features) else { throw ValidationError("bad --features") }
        guard listing || elf != nil else { throw ValidationError("give --listing and/or --elf FILE") }
    }

    func run() throws {
        let f: EntryEmitter.Features
        switch features {
        case "rdpid": f = .init(rdpid: true, rdtscp: true)
        case "rdtscp": f = .init(rdpid: false, rdtscp: true)
        case "none": f = .init(rdpid: false, rdtscp: false)
        default: f = CPUFeatures.current.emitter
        }
        let image = try VsyscallImage(base: parseAddress(address)!, features: f)
        if let elf {
            try InputFailure.guarding(elf) { try writeFile(elf, image.bytes) }
        }
        if listing && json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            writeStandardOutput(Array(try encoder.encode(EmitListing(image))) + [0x0a])
        } else if listing {
            var out = ""
            for e in image.entries {
                out += "\(e.kind.name) at 0x\(String(e.address, radix: 16)), \(e.size) bytes, \(e.frameInstructions.count) CFI rules\n"
                for i in e.listing {
                    let hex = i.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
                    out += "  \(String(e.address + i.offset, radix: 16))  \(hex.padded(30)) \(i.text.padded(44)) CFA=\(i.cfa)\n"
                }
                out += "\n"
            }
            print(out, terminator: "")
        }
    }
}

func parseAddress(_ s: String) -> UInt64? {
    s.hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileReadError(message: "cannot create: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileReadError(message: "cannot write: \(String(cString: strerror(errno)))")
        }
        done += n
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// The listing as JSON: per entry, per instruction, the address, bytes, text and the CFA
/// state (register, offset, where each saved register is) in force at that instruction.
struct EmitListing: Encodable {
    struct Instruction: Encodable {
        var address: UInt64
        var bytes: String
        var text: String
        var cfaRegister: String
        var cfaOffset: Int64
        /// Register name -> offset from the CFA where it is saved.
        var saved: [String: Int64]
    }

    struct Entry: Encodable {
        var name: String
        var address: UInt64
        var size: UInt64
        var instructions: [Instruction]
        var fixups: [[UInt64]]
    }

    var base: UInt64
    var vvar: UInt64
    var entries: [Entry]

    init(_ image: VsyscallImage) {
        base = image.base
        vvar = image.vvarAddress
        entries = image.entries.map { e in
            Entry(name: e.kind.name, address: e.address, size: e.size,
                  instructions: e.listing.map { i in
                      Instruction(address: e.address + i.offset,
                                  bytes: i.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " "),
                                  text: i.text, cfaRegister: i.cfa.cfaRegister.name64, cfaOffset: i.cfa.cfaOffset,
                                  saved: Dictionary(uniqueKeysWithValues: i.cfa.saved.map { ($0.key.name64, $0.value) }))
                  },
                  fixups: e.fixups.map { [$0.store, $0.landingPad] })
        }
    }
}
