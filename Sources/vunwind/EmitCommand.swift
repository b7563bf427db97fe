// `vunwind emit`: the vsyscall image as the emitter builds it, without installing it:
// a listing (address, bytes, instruction, CFA rule in force at each instruction) and/or
// the ELF image written to a file, for objdump, readelf and friends.

import ArgumentParser
import DwarfCFI
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
        if listing {
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
