// dl_iterate_phdr and _dl_find_object, interposed by libvunwind-vsyscall.so: the program's
// loaded objects as glibc lists them, and the installed page, as the kernel's vDSO is.
//
// Unwinders and symbolizers that find code through these never consult __register_frame's
// list in libgcc_s.so.1: a statically linked libgcc (-static-libgcc -static-libstdc++:
// libgcc 12 asks _dl_find_object), LLVM's libunwind and the sanitizers' module lists
// (dl_iterate_phdr).
// The program's calls bind here because the library comes before libc.so.6 in the
// lookup order of everything that links it; a library loaded later with dlopen does not
// interpose, and then only the registrars are told.
//
// The page is described by a copy of its program headers (the image is our own, linked at
// its absolute address, so dlpi_addr is 0) under its soname. dlpi_adds and dlpi_subs count
// our publish and withdraw too, so a caller's cache keyed on them (libgcc's is) drops
// what it remembered of a page that went away. The lock is held only while the copy is
// read, never during a callback, so a callback may call dl_iterate_phdr again.
#define _GNU_SOURCE
#include "vunwind_library.h"
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

enum { MAX_PHDRS = 16 };

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static ElfW(Phdr) phdrs[MAX_PHDRS];
static int phnum;                       // 0: nothing published
static unsigned long long adds, subs;   // our publishes and withdrawals
static char name[64];  // the soname, copied at publish
// _dl_find_object's answer, readable without the lock (it runs for every frame of every
// C++ throw): a sequence count, odd while publish or withdraw rewrites the three values.
static unsigned long sequence, page_start, page_end, page_eh_frame;

static void set_answer(unsigned long start, unsigned long end, unsigned long eh_frame) {
    __atomic_store_n(&sequence, sequence + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&page_start, start, __ATOMIC_RELAXED);
    __atomic_store_n(&page_end, end, __ATOMIC_RELAXED);
    __atomic_store_n(&page_eh_frame, eh_frame, __ATOMIC_RELAXED);
    __atomic_store_n(&sequence, sequence + 1, __ATOMIC_RELEASE);
}

int vu_phdr_publish(unsigned long base, const char *soname) {
    const ElfW(Ehdr) *e = (const ElfW(Ehdr) *)base;
    if (memcmp(e->e_ident, ELFMAG, SELFMAG) != 0 || e->e_phentsize != sizeof(ElfW(Phdr))
        || e->e_phnum == 0 || e->e_phnum > MAX_PHDRS) return -1;
    pthread_rwlock_wrlock(&lock);
    memcpy(phdrs, (const char *)base + e->e_phoff, e->e_phnum * sizeof(ElfW(Phdr)));
    phnum = e->e_phnum;
    strncpy(name, soname, sizeof name - 1);
    adds++;
    unsigned long start = 0, end = 0, eh_frame = 0;
    for (int i = 0; i < phnum; i++) {
        if (phdrs[i].p_type == PT_LOAD) {
            if (start == 0 || phdrs[i].p_vaddr < start) start = phdrs[i].p_vaddr;
            if (phdrs[i].p_vaddr + phdrs[i].p_memsz > end) end = phdrs[i].p_vaddr + phdrs[i].p_memsz;
        } else if (phdrs[i].p_type == PT_GNU_EH_FRAME) {
            eh_frame = phdrs[i].p_vaddr;
        }
    }
    set_answer(start, end, eh_frame);
    pthread_rwlock_unlock(&lock);
    return 0;
}

int vu_phdr_withdraw(void) {
    pthread_rwlock_wrlock(&lock);
    int was = phnum != 0;
    if (was) subs++;
    phnum = 0;
    set_answer(0, 0, 0);
    pthread_rwlock_unlock(&lock);
    return was;
}

typedef int (*callback)(struct dl_phdr_info *, size_t, void *);
typedef int (*iterator)(callback, void *);

struct relay {
    callback cb;
    void *data;
    unsigned long long adds, subs;
    unsigned long long seen_adds, seen_subs;  // glibc's, from the last object it listed
};

// glibc builds each object's dl_phdr_info afresh for its callback, so the counters are
// adjusted in place.
static int relay(struct dl_phdr_info *info, size_t size, void *data) {
    struct relay *r = data;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        r->seen_adds = info->dlpi_adds;
        r->seen_subs = info->dlpi_subs;
        info->dlpi_adds += r->adds;
        info->dlpi_subs += r->subs;
    }
    return r->cb(info, size, r->data);
}

int dl_iterate_phdr(callback cb, void *data) {
    static iterator real;
    iterator it = __atomic_load_n(&real, __ATOMIC_RELAXED);
    if (!it) {
        it = (iterator)dlsym(RTLD_NEXT, "dl_iterate_phdr");
        __atomic_store_n(&real, it, __ATOMIC_RELAXED);
    }
    if (!it) return 0;
    // Never published in this process: glibc's list and counters as they are.
    if (__atomic_load_n(&sequence, __ATOMIC_ACQUIRE) == 0) return it(cb, data);
    ElfW(Phdr) mine[MAX_PHDRS];
    struct relay r = {cb, data, 0, 0, 0, 0};
    int count;
    char soname[sizeof name];
    pthread_rwlock_rdlock(&lock);
    count = phnum;
    memcpy(soname, name, sizeof soname);
    r.adds = adds;
    r.subs = subs;
    memcpy(mine, phdrs, (size_t)count * sizeof(ElfW(Phdr)));
    pthread_rwlock_unlock(&lock);
    int result = it(relay, &r);
    if (result != 0 || count == 0) return result;
    struct dl_phdr_info page;
    memset(&page, 0, sizeof page);
    page.dlpi_addr = 0;
    page.dlpi_name = soname;
    page.dlpi_phdr = mine;
    page.dlpi_phnum = (ElfW(Half))count;
    page.dlpi_adds = r.seen_adds + r.adds;
    page.dlpi_subs = r.seen_subs + r.subs;
    return cb(&page, sizeof page, data);
}

// _dl_find_object (glibc 2.35), interposed the same way: libgcc 12's unwinder, static or
// not, asks it (not dl_iterate_phdr) for the object holding a pc and reads the
// PT_GNU_EH_FRAME it returns. A pc outside the page goes to glibc's.
typedef int (*finder)(void *, struct dl_find_object *);

int _dl_find_object(void *pc, struct dl_find_object *result) {
    static finder real;
    finder f = __atomic_load_n(&real, __ATOMIC_RELAXED);
    if (!f) {
        f = (finder)dlsym(RTLD_NEXT, "_dl_find_object");
        __atomic_store_n(&real, f, __ATOMIC_RELAXED);
    }
    unsigned long address = (unsigned long)pc, start, end, eh_frame, before;
    for (int tries = 0;; tries++) {
        before = __atomic_load_n(&sequence, __ATOMIC_ACQUIRE);
        start = __atomic_load_n(&page_start, __ATOMIC_RELAXED);
        end = __atomic_load_n(&page_end, __ATOMIC_RELAXED);
        eh_frame = __atomic_load_n(&page_eh_frame, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(before & 1) && __atomic_load_n(&sequence, __ATOMIC_RELAXED) == before) break;
        if (tries == 64) { start = end = 0; break; }  // a publish in progress: not listed yet
    }
    if (address >= start && address < end && eh_frame != 0) {
        memset(result, 0, sizeof *result);
        result->dlfo_map_start = (void *)start;
        result->dlfo_map_end = (void *)end;
        result->dlfo_eh_frame = (void *)eh_frame;
        return 0;
    }
    return f ? f(pc, result) : -1;
}
