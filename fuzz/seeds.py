#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fixtures/fuzz/TARGET/) from real files: the
fixtures, the vsyscall page's image (`vunwind emit --elf`), a minimal x86-64 core laid
out as the kernel writes one, and bytes no one here wrote: the running kernel's vDSO
(read from this process's memory), the first entries of libc's and libstdc++'s
.eh_frame, and a core the kernel wrote (headers only: /proc/self/coredump_filter 0x10).
Every seed stays under the targets' 64 KiB input limit. Run from the repository root after `make build`:

    python3 fuzz/seeds.py [path/to/vunwind]
"""
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "fuzz")


def sections(path):
    """name -> (file offset, size, address) of each section (ELF64 little-endian)."""
    data = open(path, "rb").read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    heads = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = heads[shstrndx]
    out = {}
    for h in heads:
        start = strtab[4] + h[0]
        name = data[start:data.index(b"\0", start)].decode()
        out.setdefault(name, (h[4], h[5], h[3], h[1]))
    return data, out


def section_bytes(path, name):
    data, s = sections(path)
    off, size, addr, _ = s[name]
    return data[off:off + size], addr


def write(target, name, blob):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(blob)


def minimal_core():
    """ET_CORE with a PT_NOTE (NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE) and two PT_LOADs
    of one page each, in the kernel's order: header, program headers, notes, segments."""
    def note(name, ntype, desc):
        n = name.encode() + b"\0"
        pad = lambda b: b + b"\0" * (-len(b) % 4)
        return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)
    regs = [0] * 27
    regs[16] = 0x401000  # rip (user_regs_struct order: r15 ... rbp(4) ... rip(16), cs, eflags, rsp(19))
    regs[19] = 0x7ffd0000 + 0x800  # rsp
    regs[4] = 0x7ffd0000 + 0x900  # rbp
    prstatus = bytearray(336)
    struct.pack_into("<i", prstatus, 32, 1234)  # pr_pid
    struct.pack_into("<27Q", prstatus, 112, *regs)
    prpsinfo = bytearray(136)
    prpsinfo[40:48] = b"seedcore"
    auxv = struct.pack("<8Q", 6, 4096, 33, 0x7fff0000, 9, 0x401000, 0, 0)
    nt_file = struct.pack("<QQ", 1, 4096) + struct.pack("<QQQ", 0x400000, 0x401000, 0) + b"/seed/prog\0"
    notes = (note("CORE", 1, bytes(prstatus)) + note("CORE", 3, bytes(prpsinfo)) + note("CORE", 6, auxv)
             + note("CORE", 0x46494c45, nt_file))
    phnum = 3
    notes_off = 64 + 56 * phnum
    load_off = (notes_off + len(notes) + 4095) // 4096 * 4096
    ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack(
        "<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 4, 4, notes_off, 0, 0, len(notes), 0, 4)
    ph += struct.pack("<IIQQQQQQ", 1, 5, load_off, 0x400000, 0, 4096, 4096, 4096)
    ph += struct.pack("<IIQQQQQQ", 1, 6, load_off + 4096, 0x7ffd0000, 0, 4096, 4096, 4096)
    body = ehdr + ph + notes
    body += bytes(load_off - len(body))
    text = bytes([0x55, 0x48, 0x89, 0xe5, 0x0f, 0x0b]) + bytes(4090)
    stack = bytes((i * 7) & 0xff for i in range(4096))
    return body + text + stack


LIMIT = 60000  # bytes per seed, under libFuzzer's -max_len=65536 of scripts/fuzz.sh


def entries_prefix(eh, limit):
    """The longest prefix of an .eh_frame made of whole entries (CIEs and FDEs), <= limit."""
    end = 0
    while end + 4 <= len(eh):
        length, = struct.unpack_from("<I", eh, end)
        if length == 0 or length == 0xffffffff:
            break
        nxt = end + 4 + length
        if nxt > limit or nxt > len(eh):
            break
        end = nxt
    return eh[:end]


def library(name):
    for d in ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"]:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    sys.exit("seeds.py: %s not found" % name)


def vdso():
    """The running kernel's vDSO, read from this process's memory."""
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[vdso]"):
            start, end = (int(x, 16) for x in line.split()[0].split("-"))
            with open("/proc/self/mem", "rb") as mem:
                mem.seek(start)
                return mem.read(end - start)
    sys.exit("seeds.py: this process has no [vdso]")


CRASHER = r"""
#include <stdio.h>
int main(void) {
    FILE *f = fopen("/proc/self/coredump_filter", "w");
    if (!f || fputs("0x10", f) < 0 || fclose(f) != 0) return 3;
    *(volatile int *)8 = 1;
    return 0;
}
"""


def kernel_core(tmp):
    """A core the kernel wrote for a program that stored to address 8 (SIGSEGV), with only
    the ELF header pages of its file mappings and the vDSO dumped."""
    pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    if pattern.startswith("|") or "/" in pattern:
        sys.exit("seeds.py: core_pattern is %r; a kernel core needs a plain file name (as 'core')" % pattern)
    src = os.path.join(tmp, "crash.c")
    open(src, "w").write(CRASHER)
    exe = os.path.join(tmp, "crash")
    subprocess.run(["gcc", "-O1", "-o", exe, src], check=True)
    import resource
    def limits():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    r = subprocess.run([exe], cwd=tmp, preexec_fn=limits)
    if r.returncode != -11:
        sys.exit("seeds.py: the crasher ended with %d, not SIGSEGV" % r.returncode)
    cores = [f for f in os.listdir(tmp) if f == "core" or f.startswith("core.")]
    if not cores:
        sys.exit("seeds.py: the kernel wrote no core (core_pattern %r)" % pattern)
    data = open(os.path.join(tmp, cores[0]), "rb").read()
    if len(data) > LIMIT:
        sys.exit("seeds.py: the kernel core is %d bytes, over %d" % (len(data), LIMIT))
    return data


def main():
    vunwind = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".build", "release", "vunwind")
    fx = lambda n: os.path.join(ROOT, "fixtures", n)
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "page.so")
        subprocess.run([vunwind, "emit", "--elf", page], check=True, stdout=subprocess.DEVNULL)
        # cfi: byte 0 is the mode (bit 0 .debug_frame, bit 1 with a header of byte 1's length).
        for name, path in [("cfa-expression", fx("cfa-expression.so")), ("personality", fx("eh-frame-personality.so")),
                           ("page", page)]:
            eh, eh_addr = section_bytes(path, ".eh_frame")
            write("cfi", "eh_frame-" + name, b"\0" + b"\0" + eh)
            hdr, hdr_addr = section_bytes(path, ".eh_frame_hdr")
            gap = eh_addr - hdr_addr  # the header, padded to where .eh_frame starts
            write("cfi", "eh_frame_hdr-" + name, b"\x02" + bytes([gap]) + hdr + bytes(gap - len(hdr)) + eh)
        for v in ["v1", "v3", "v4", "v4-dwarf64"]:
            df, _ = section_bytes(fx("debug-frame-%s.so" % v), ".debug_frame")
            write("cfi", "debug_frame-" + v, b"\x01" + b"\0" + df)
        # expression: the CFA expressions of cfa-expression.S, libgcrypt's and glibc's
        # __restore_rt (as readelf lists them).
        write("expression", "realigned", bytes([0x77, 0x38, 0x06, 0x23, 0x10]))
        write("expression", "libgcrypt", bytes([0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22]))
        write("expression", "restore_rt", bytes([0x77, 0xa0, 0x01, 0x06]))
        # elf: whole small files of each class.
        for n in ["cfa-expression.so", "two-eh-frames.o", "debug-frame-relocatable.o", "debug-frame-zlib.so",
                  "debug-frame-zstd.so", "cfa-expression.debug"]:
            write("elf", n, open(fx(n), "rb").read())
        write("elf", "page.so", open(page, "rb").read())
        # note: the page's vunwind note descriptor.
        data, s = sections(page)
        off, size, _, _ = s[".note"]  # the vunwind note comes first
        namesz, descsz, _ = struct.unpack_from("<III", data, off)
        d = off + 12 + (namesz + 3) // 4 * 4
        write("note", "page", data[d:d + descsz])
        write("core", "minimal", minimal_core())
        # image: the page's image as it sits in memory; core-analysis: the minimal core.
        write("image", "page.so", open(page, "rb").read())
        write("core-analysis", "minimal", minimal_core())
        # Bytes no one here wrote.
        for lib in ["libc.so.6", "libstdc++.so.6"]:
            eh, _ = section_bytes(library(lib), ".eh_frame")
            write("cfi", "eh_frame-" + lib.split(".so")[0] + "-prefix", b"\0" + b"\0" + entries_prefix(eh, LIMIT))
        image = vdso()
        vpath = os.path.join(tmp, "vdso.so")
        open(vpath, "wb").write(image)
        write("elf", "vdso.so", image)
        write("image", "vdso.so", image)
        eh, eh_addr = section_bytes(vpath, ".eh_frame")
        write("cfi", "eh_frame-vdso", b"\0" + b"\0" + eh)
        hdr, hdr_addr = section_bytes(vpath, ".eh_frame_hdr")
        gap = eh_addr - hdr_addr
        if 0 < gap < 256 and gap >= len(hdr):
            write("cfi", "eh_frame_hdr-vdso", b"\x02" + bytes([gap]) + hdr + bytes(gap - len(hdr)) + eh)
        core = kernel_core(tmp)
        write("core", "kernel-sigsegv", core)
        write("core-analysis", "kernel-sigsegv", core)


main()
