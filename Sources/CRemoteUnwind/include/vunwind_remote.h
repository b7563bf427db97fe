// Remote unwinding of code that lives in memory only (a vsyscall page, JIT code).
//
// libunwind-ptrace cannot find dynamic registrations in another process on x86-64, and it
// finds CFI only in file-backed mappings. These accessors forward every request to
// _UPT_accessors except find_proc_info for an IP inside one of the given images, which
// they answer from the image's .eh_frame_hdr table, read out of the target's memory.
#pragma once
#include <libunwind.h>
#include <stdint.h>

#define VU_REMOTE_MAX_IMAGES 16

struct vu_remote_image {
    uint64_t code_start;     // first IP covered
    uint64_t code_end;       // first IP not covered
    uint64_t header;         // address of .eh_frame_hdr in the target
    uint64_t fde_count;      // entries in its search table
};

#define VU_REMOTE_MAGIC 0x646e69776e757675ull  // "vunwind"

struct vu_remote_context {
    // Our accessors are called with this context by libunwind, but also with the bare UPT
    // handle when _UPT_find_proc_info calls back through the address space: the magic
    // tells them apart (a UPT_info starts with a pid).
    uint64_t magic;          // VU_REMOTE_MAGIC
    void *upt;               // from _UPT_create(pid)
    unsigned image_count;
    struct vu_remote_image images[VU_REMOTE_MAX_IMAGES];
    uint64_t answered;       // find_proc_info calls answered from an image (for tests)
};

/// The accessors; pass a struct vu_remote_context as the `arg` of unw_init_remote.
extern unw_accessors_t vu_remote_accessors;

// Static-inline style wrappers for the generic (remote) libunwind API, which Swift cannot
// call by its macro names.
unw_addr_space_t vu_remote_create_address_space(void);
void vu_remote_destroy_address_space(unw_addr_space_t space);
int vu_remote_init(unw_cursor_t *cursor, unw_addr_space_t space, struct vu_remote_context *context);
int vu_remote_step(unw_cursor_t *cursor);
int vu_remote_get_reg(unw_cursor_t *cursor, int reg, uint64_t *value);
int vu_remote_is_signal_frame(unw_cursor_t *cursor);
void *vu_upt_create(int pid);
void vu_upt_destroy(void *upt);
/// unw_set_caching_policy(space, UNW_CACHE_GLOBAL).
void vu_remote_cache_globally(unw_addr_space_t space);
