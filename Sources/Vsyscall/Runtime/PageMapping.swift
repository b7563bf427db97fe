// PageMapping: the memory behind an installed vsyscall page.
//
//   text  image pages (headers + code) at `base`, read+execute, shared
//   vvar  one page at base + 0x2000, read-only for readers; the timekeeper writes it
//         through a second, read+write mapping of the same memfd elsewhere
//
// No mapping is ever writable and executable at once: with memfd the image is written
// with pwrite into the file (no writable mapping exists at all) and sealed
// (F_SEAL_WRITE|F_SEAL_GROW|F_SEAL_SHRINK|F_SEAL_SEAL) before it is mapped read+execute;
// with a shared anonymous mapping it is written read+write, then mprotect'ed to read+exec.

import CVunwind
#if canImport(Glibc)
import Glibc
#endif

public enum MappingKind: String, Sendable, CaseIterable {
    /// memfd, sealed against writes through any new mapping. eu-stack -p and gdb see it;
    /// perf does not symbolize it (it treats "/memfd:..." as a file it cannot open).
    case memfd
    /// The same sealed memfd mapped MAP_PRIVATE: the path stays, and ptrace can write
    /// breakpoints into it (a private mapping is copy-on-write for a debugger's
    /// PTRACE_POKETEXT; the kernel refuses forced writes to a shared one).
    case memfdPrivate = "memfd-private"
    /// MAP_SHARED|MAP_ANONYMOUS (shows as "/dev/zero (deleted)"): the default, because every
    /// consumer sees it: perf's map file covers it, eu-stack -p and gdb read it from
    /// /proc/PID/mem. It cannot be sealed.
    case sharedAnonymous = "shared-anonymous"
    /// MAP_PRIVATE|MAP_ANONYMOUS, as most JITs map code: no path in /proc/PID/maps, so
    /// eu-stack -p and libdwfl do not see it (RemoteUnwind's libdwfl hook does).
    case privateAnonymous = "private-anonymous"
}

public enum VsyscallError: Error, Equatable, CustomStringConvertible {
    case alreadyInstalled(at: UInt64)
    case notInstalled
    case sealed(at: UInt64)
    case misaligned(UInt64)
    case addressOccupied(UInt64)
    case system(String, Int32)

    public var description: String {
        switch self {
        case let .alreadyInstalled(a): return "a vsyscall page is already installed at 0x\(String(a, radix: 16))"
        case .notInstalled: return "no vsyscall page is installed"
        case let .sealed(a): return "the vsyscall page at 0x\(String(a, radix: 16)) is sealed: it stays for the process's life"
        case let .misaligned(a): return "address 0x\(String(a, radix: 16)) is not page-aligned"
        case let .addressOccupied(a):
            return "address 0x\(String(a, radix: 16)) is occupied: something is already mapped in [0x\(String(a, radix: 16)), +0x3000)"
        case let .system(call, e): return "\(call): \(String(cString: strerror(e)))"
        }
    }
}

struct PageMapping {
    let base: UInt64
    let kind: MappingKind
    /// The timekeeper's writable view of the vvar page.
    let vvarWriter: UnsafeMutableRawPointer

    static func fail(_ call: String) -> VsyscallError { .system(call, errno) }

    /// mmap at exactly `address` or fail (MAP_FIXED_NOREPLACE: never clobbers a mapping).
    static func mapFixed(_ address: UInt64, _ length: Int, _ prot: Int32, _ flags: Int32, _ fd: Int32) throws -> UnsafeMutableRawPointer {
        let p = mmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), length, prot,
                     flags | Int32(VU_MAP_FIXED_NOREPLACE), fd, 0)
        if p == MAP_FAILED {
            if errno == EEXIST { throw VsyscallError.addressOccupied(address) }
            throw fail("mmap at 0x\(String(address, radix: 16))")
        }
        // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and pick another address.
        if UInt64(UInt(bitPattern: p)) != address {
            munmap(p, length)
            throw VsyscallError.addressOccupied(address)
        }
        return p!
    }

    static func map(image: VsyscallImage, kind: MappingKind) throws -> PageMapping {
        let base = image.base
        let size = Int(VsyscallImage.imageSize)
        switch kind {
        case .memfd, .memfdPrivate:
            let fd = image.bytes.withUnsafeBytes { vu_memfd_with_bytes("vunwind-vsyscall", $0.baseAddress, UInt(size)) }
            guard fd >= 0 else { throw fail("writing the image to a memfd") }
            defer { close(fd) }
            let seals = Int32(VU_F_SEAL_WRITE | VU_F_SEAL_GROW | VU_F_SEAL_SHRINK | VU_F_SEAL_SEAL)
            guard vu_add_seals(fd, seals) == 0 else { throw fail("F_ADD_SEALS") }
            _ = try mapFixed(base, size, PROT_READ | PROT_EXEC, kind == .memfd ? MAP_SHARED : MAP_PRIVATE, fd)
        case .sharedAnonymous, .privateAnonymous:
            let flags = kind == .sharedAnonymous ? MAP_SHARED | MAP_ANONYMOUS : MAP_PRIVATE | MAP_ANONYMOUS
            let p = try mapFixed(base, size, PROT_READ | PROT_WRITE, flags, -1)
            image.bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: size) }
            guard mprotect(p, size, PROT_READ | PROT_EXEC) == 0 else {
                munmap(p, size)
                throw fail("mprotect")
            }
        }
        do {
            let writer = try mapVvar(at: image.vvarAddress)
            return PageMapping(base: base, kind: kind, vvarWriter: writer)
        } catch {
            munmap(UnsafeMutableRawPointer(bitPattern: UInt(base)), size)
            throw error
        }
    }

    /// The vvar page: read-only at `address`, read+write for the writer wherever the
    /// kernel puts it.
    static func mapVvar(at address: UInt64) throws -> UnsafeMutableRawPointer {
        let fd = vu_memfd_create("vunwind-vvar")
        guard fd >= 0 else { throw fail("memfd_create") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(VvarLayout.size)) == 0 else { throw fail("ftruncate") }
        _ = vu_add_seals(fd, Int32(VU_F_SEAL_GROW | VU_F_SEAL_SHRINK))
        _ = try mapFixed(address, VvarLayout.size, PROT_READ, MAP_SHARED, fd)
        let writer = mmap(nil, VvarLayout.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard writer != MAP_FAILED, let writer else {
            let e = errno
            munmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), VvarLayout.size)
            throw VsyscallError.system("mmap vvar writer", e)
        }
        return writer
    }

    func unmap() {
        munmap(UnsafeMutableRawPointer(bitPattern: UInt(base)), Int(VsyscallImage.imageSize))
        munmap(UnsafeMutableRawPointer(bitPattern: UInt(base + VsyscallImage.vvarOffset)), VvarLayout.size)
        munmap(vvarWriter, VvarLayout.size)
    }
}
