// TortureMapping: the torture harness's own code and data pages, independent of any
// installed vsyscall page (and of its fixed address):
//
//   text  one page, read+execute, the two snapshot variants
//   vvar  the next page, read-only for the readers; the writer stores through a second,
//         read+write mapping of the same memfd, exactly as PageMapping.mapVvar does
//
// Both pages go into a two-page PROT_NONE reservation the kernel places, so the code is
// next to its data (its rip-relative operands reach it) and MAP_FIXED only ever replaces
// the reservation itself. The text is written with pwrite into a memfd that is then
// sealed and mapped read+execute: no mapping of it is ever writable.

import CVunwind
#if canImport(Glibc)
import Glibc
#endif

struct TortureMapping {
    static let pageSize = VvarLayout.size

    /// The reservation: text page, then vvar page.
    let text: UInt64
    var vvar: UInt64 { text + UInt64(Self.pageSize) }
    /// The writer's view of the vvar.
    let vvarWriter: UnsafeMutableRawPointer

    static func fail(_ call: String) -> VsyscallError { .system(call, errno) }

    static func map() throws -> TortureMapping {
        let length = 2 * pageSize
        guard let reservation = mmap(nil, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              reservation != MAP_FAILED else { throw fail("mmap torture reservation") }
        let text = UInt64(UInt(bitPattern: reservation))
        var writer: UnsafeMutableRawPointer?
        do {
            writer = try mapVvar(into: text + UInt64(pageSize))
            try mapText(SnapshotCode.page(origin: text, vvar: text + UInt64(pageSize)), into: text)
            return TortureMapping(text: text, vvarWriter: writer!)
        } catch {
            if let writer { munmap(writer, pageSize) }
            munmap(reservation, length)
            throw error
        }
    }

    /// Replaces the reservation page at `address` with `prot` over `fd`.
    private static func replace(_ address: UInt64, prot: Int32, fd: Int32) throws {
        let p = mmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), pageSize, prot, MAP_SHARED | MAP_FIXED, fd, 0)
        guard p != MAP_FAILED, UInt64(UInt(bitPattern: p)) == address else {
            throw fail("mmap at 0x\(String(address, radix: 16))")
        }
    }

    private static func mapVvar(into address: UInt64) throws -> UnsafeMutableRawPointer {
        let fd = vu_memfd_create("vunwind-torture-vvar")
        guard fd >= 0 else { throw fail("memfd_create") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(pageSize)) == 0 else { throw fail("ftruncate") }
        _ = vu_add_seals(fd, Int32(VU_F_SEAL_GROW | VU_F_SEAL_SHRINK))
        try replace(address, prot: PROT_READ, fd: fd)
        let writer = mmap(nil, pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard writer != MAP_FAILED, let writer else { throw fail("mmap torture vvar writer") }
        return writer
    }

    private static func mapText(_ bytes: [UInt8], into address: UInt64) throws {
        precondition(bytes.count == pageSize)
        let fd = vu_memfd_create("vunwind-torture")
        guard fd >= 0 else { throw fail("memfd_create") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(pageSize)) == 0 else { throw fail("ftruncate") }
        var done = 0
        while done < pageSize {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, pageSize - done, off_t(done)) }
            if n < 0 { if errno == EINTR { continue }; throw fail("pwrite") }
            done += n
        }
        let seals = Int32(VU_F_SEAL_WRITE | VU_F_SEAL_GROW | VU_F_SEAL_SHRINK | VU_F_SEAL_SEAL)
        guard vu_add_seals(fd, seals) == 0 else { throw fail("F_ADD_SEALS") }
        try replace(address, prot: PROT_READ | PROT_EXEC, fd: fd)
    }

    func unmap() {
        munmap(UnsafeMutableRawPointer(bitPattern: UInt(text)), 2 * Self.pageSize)
        munmap(vvarWriter, Self.pageSize)
    }
}
