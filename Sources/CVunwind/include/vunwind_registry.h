// Registration glue that must be C: gdb's JIT interface (its symbols must have C linkage
// and the register function must not be inlined away) and libunwind's unw_dyn_info_t
// (its layout comes from the installed libunwind-dynamic.h; nothing of libunwind is linked).
#pragma once
#include <stdint.h>

// gdb JIT interface (gdb manual, "JIT Compilation Interface"). gdb finds
// __jit_debug_descriptor by name, reads its entry list when it attaches or opens a core,
// and breaks on __jit_debug_register_code to hear of changes live.
struct jit_code_entry {
    struct jit_code_entry *next_entry;
    struct jit_code_entry *prev_entry;
    const char *symfile_addr;
    uint64_t symfile_size;
};

struct jit_descriptor {
    uint32_t version;
    uint32_t action_flag;  // 0 none, 1 register, 2 unregister
    struct jit_code_entry *relevant_entry;
    struct jit_code_entry *first_entry;
};

extern struct jit_descriptor __jit_debug_descriptor;
void __jit_debug_register_code(void);

/// Adds an in-memory ELF symfile to the list and tells gdb. Returns the entry (the handle
/// for vu_jit_unregister), or NULL if out of memory. Serialised by an internal lock.
struct jit_code_entry *vu_jit_register(const void *symfile, uint64_t size);
void vu_jit_unregister(struct jit_code_entry *entry);
/// Entries in the list now (for tests).
unsigned vu_jit_entry_count(void);

/// A heap unw_dyn_info_t describing a remote .eh_frame_hdr search table
/// (UNW_INFO_FORMAT_REMOTE_TABLE): code [start, end), table at `table` with `fde_count`
/// entries, relative to `segbase` (the header's address). NULL if out of memory.
void *vu_libunwind_dyn_info_create(uint64_t start, uint64_t end, uint64_t segbase, uint64_t table,
                                   uint64_t fde_count);
void vu_libunwind_dyn_info_destroy(void *info);

/// dladdr's dli_fname for `address` copied into buf (NUL-terminated); 0 if not found.
int vu_dladdr_path(const void *address, char *buf, unsigned long size);
