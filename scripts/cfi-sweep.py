#!/usr/bin/env python3
"""Sweep every ELF file under the given directories (and every member of every static
archive) with `vunwind cfi --rows` against `readelf --debug-dump=frames-interp`, and print
counts by class.

    scripts/cfi-sweep.py [--vunwind PATH] [--jobs N] [--show N] DIR...

Classes (one per file):
  same        the two listings are the same bytes
  differ      both list CFI, the listings differ (the first differing line is shown)
  refused     vunwind exits non-zero where readelf lists CFI
  dropped     readelf lists a CFI section vunwind does not (exit 0)
  no-cfi      neither lists CFI (a file with no .eh_frame or .debug_frame, or NOBITS)
  both-fail   readelf lists nothing and vunwind fails: not ours to judge
  other-machine  not ELF64 x86-64 (ELF32 i386 objects, aarch64 and riscv archives): skipped

Peak memory (max RSS of each process, by /usr/bin/time, Debian package "time") is compared too: "memory" counts files
where vunwind's peak exceeds readelf's by more than 20 MiB, and the largest excess is shown.
Exit status 1 if any file is refused, dropped, differs or is over the memory bound.
"""

import argparse
import concurrent.futures
import os
import stat
import subprocess
import sys
import tempfile

MEMORY_SLACK_KIB = 20 * 1024


def run(argv):
    """(stdout bytes, exit status, peak RSS in KiB) of one process, run under /usr/bin/time:
    a child of this script would count this script's pages in its peak (the kernel carries
    the pre-exec high-water mark across exec), a child of time(1) counts a few hundred KiB."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as peak:
        status = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name] + argv,
                                stdout=out, stderr=subprocess.DEVNULL).returncode
        out.seek(0)
        data = out.read()
        text = peak.read().strip().splitlines()
    # time(1) writes "Command exited with non-zero status N" before the figure.
    return data, status, int(text[-1]) if text and text[-1].isdigit() else 0


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def archive_members(path):
    """(name, bytes) of each ELF member of an ar archive, parsed here (GNU and BSD names)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return
    if not data.startswith(b"!<arch>\n"):
        return
    pos, names = 8, b""
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[0:16].decode("latin-1").rstrip()
        try:
            size = int(header[48:58].decode("latin-1").strip() or "0")
        except ValueError:
            return
        body = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
        if name == "//":
            names = body
            continue
        if name in ("/", "/SYM64/"):
            continue
        if name.startswith("/") and name[1:].isdigit():
            start = int(name[1:])
            end = names.find(b"/\n", start)
            name = names[start:end if end >= 0 else len(names)].decode("latin-1")
        elif name.startswith("#1/"):
            n = int(name[3:])
            name, body = body[:n].decode("latin-1").rstrip("\0"), body[n:]
        name = name.rstrip("/")
        if body[:4] == b"\x7fELF":
            yield name, body


def lists_cfi(listing):
    return b"Contents of the " in listing


def is_elf64_x86_64(path):
    """vunwind reads ELF64 x86-64 only (ELF32 i386 objects and other machines are skipped)."""
    with open(path, "rb") as f:
        h = f.read(20)
    return len(h) == 20 and h[4] == 2 and h[5] == 1 and int.from_bytes(h[18:20], "little") == 62


def compare(path, vunwind, label):
    if not is_elf64_x86_64(path):
        return label, "other-machine", 0, 0, ""
    readelf, r_status, r_rss = run(["readelf", "--debug-dump=no-follow-links", "--debug-dump=frames-interp", path])
    ours, o_status, o_rss = run([vunwind, "cfi", "--rows", path])
    theirs = lists_cfi(readelf)
    if o_status != 0:
        cls = "refused" if theirs else ("both-fail" if r_status != 0 else "no-cfi-refused")
    elif readelf == ours:
        cls = "same" if theirs else "no-cfi"
    else:
        ours_sections = ours.count(b"Contents of the ")
        if readelf.count(b"Contents of the ") > ours_sections:
            cls = "dropped"
        elif not theirs and not lists_cfi(ours):
            cls = "no-cfi"
        else:
            cls = "differ"
    detail = ""
    if cls == "differ":
        a, b = readelf.split(b"\n"), ours.split(b"\n")
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        detail = "line %d: readelf %r ours %r" % (i + 1, a[i] if i < len(a) else b"<end>", b[i] if i < len(b) else b"<end>")
    return label, cls, r_rss, o_rss, detail


def candidates(roots):
    seen = set()
    for root in roots:
        walk = [(os.path.dirname(root), [], [os.path.basename(root)])] if os.path.isfile(root) else os.walk(root)
        for dirpath, _, files in walk:
            for f in files:
                path = os.path.join(dirpath, f)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                if f.endswith(".a"):
                    yield ("archive", path)
                elif is_elf(path):
                    yield ("file", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vunwind", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "vunwind"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--show", type=int, default=5, help="examples shown per class")
    ap.add_argument("roots", nargs="+")
    args = ap.parse_args()
    counts, examples = {}, {}
    files = members = 0
    worst = (0, "")
    over = 0
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = []
        n = 0
        for kind, path in candidates(args.roots):
            if kind == "file":
                files += 1
                futures.append(pool.submit(compare, path, args.vunwind, path))
            else:
                for name, body in archive_members(path):
                    members += 1
                    n += 1
                    member = os.path.join(tmp, "%d.o" % n)
                    with open(member, "wb") as f:
                        f.write(body)
                    futures.append(pool.submit(compare, member, args.vunwind, "%s(%s)" % (path, name)))
        for fut in futures:
            label, cls, r_rss, o_rss, detail = fut.result()
            counts[cls] = counts.get(cls, 0) + 1
            examples.setdefault(cls, [])
            if len(examples[cls]) < args.show:
                examples[cls].append(label + ((": " + detail) if detail else ""))
            if cls == "other-machine":
                continue
            if o_rss - r_rss > worst[0]:
                worst = (o_rss - r_rss, "%s (ours %d KiB, readelf %d KiB)" % (label, o_rss, r_rss))
            if o_rss > r_rss + MEMORY_SLACK_KIB:
                over += 1
                examples.setdefault("memory", []).append("%s (ours %d KiB, readelf %d KiB)" % (label, o_rss, r_rss))
    print("swept %d ELF files and %d archive members under %s" % (files, members, " ".join(args.roots)))
    for cls in ["same", "differ", "refused", "dropped", "no-cfi", "no-cfi-refused", "both-fail", "other-machine"]:
        print("  %-15s %d" % (cls, counts.get(cls, 0)))
        if cls not in ("same", "no-cfi", "other-machine"):
            for e in examples.get(cls, []):
                print("      " + e)
    print("  memory          %d files over readelf's peak + 20 MiB; largest excess %d KiB: %s" % (over, worst[0], worst[1]))
    for e in examples.get("memory", [])[:args.show]:
        print("      " + e)
    bad = sum(counts.get(c, 0) for c in ("differ", "refused", "dropped", "no-cfi-refused")) + over
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
