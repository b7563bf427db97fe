// Disassembler: the mnemonic of a failing instruction, by objdump (an outside tool), from
// bytes read out of the helper. Only failures are disassembled, each address once.

import CVunwind
import Unwind
#if canImport(Glibc)
import Glibc
#endif

final class Disassembler {
    private var cache: [UInt64: String] = [:]

    /// objdump's text for the instruction at `address`, whose bytes start `bytes`; "?" when
    /// objdump is missing or says nothing.
    func instruction(at address: UInt64, bytes: [UInt8]) -> String {
        if let known = cache[address] { return known }
        let text = run(address: address, bytes: bytes) ?? "?"
        cache[address] = text
        return text
    }

    private func run(address: UInt64, bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty else { return nil }
        let fd = bytes.withUnsafeBytes { vu_memfd_with_bytes("vunwind-walk-insn", $0.baseAddress, UInt($0.count)) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var pipeFDs: [Int32] = [0, 0]
        guard vu_pipe_cloexec(&pipeFDs) == 0 else { return nil }
        var readEnd = pipeFDs[0]
        defer { if readEnd >= 0 { close(readEnd) } }
        let arguments = ["-D", "-b", "binary", "-m", "i386:x86-64", "--adjust-vma=0x" + String(address, radix: 16),
                         "/proc/\(getpid())/fd/\(fd)"]
        let pid: pid_t
        do {
            pid = try Spawner.spawn("/usr/bin/objdump", arguments, standardOutput: pipeFDs[1])
        } catch {
            close(pipeFDs[1])
            return nil
        }
        close(pipeFDs[1])
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while output.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            output += chunk[0..<n]
        }
        close(readEnd)
        readEnd = -1
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // "  401000:\t48 89 e5             \tmov    %rsp,%rbp": the text after the bytes.
        for line in String(decoding: output, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 3, fields[0].hasSuffix(":") else { continue }
            let text = fields[2...].joined(separator: " ").split(separator: " ").joined(separator: " ")
            return text.isEmpty ? nil : text
        }
        return nil
    }
}
