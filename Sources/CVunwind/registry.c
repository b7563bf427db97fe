// gdb JIT interface and libunwind dyn-info glue (see vunwind_registry.h).
#define _GNU_SOURCE
#include "vunwind_registry.h"
#include <libunwind.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct jit_descriptor __jit_debug_descriptor __attribute__((visibility("default"), used)) = {1, 0, NULL, NULL};

// noinline and with a side effect gdb can break on; the asm keeps the call from being
// optimised away.
void __attribute__((noinline, visibility("default"), used)) __jit_debug_register_code(void) {
    __asm__ volatile("" ::: "memory");
}

static pthread_mutex_t jit_lock = PTHREAD_MUTEX_INITIALIZER;

struct jit_code_entry *vu_jit_register(const void *symfile, uint64_t size) {
    struct jit_code_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->symfile_addr = symfile;
    e->symfile_size = size;
    pthread_mutex_lock(&jit_lock);
    e->next_entry = __jit_debug_descriptor.first_entry;
    if (e->next_entry) e->next_entry->prev_entry = e;
    __jit_debug_descriptor.first_entry = e;
    __jit_debug_descriptor.relevant_entry = e;
    __jit_debug_descriptor.action_flag = 1;
    __jit_debug_register_code();
    __jit_debug_descriptor.action_flag = 0;
    pthread_mutex_unlock(&jit_lock);
    return e;
}

void vu_jit_unregister(struct jit_code_entry *e) {
    if (!e) return;
    pthread_mutex_lock(&jit_lock);
    if (e->prev_entry) e->prev_entry->next_entry = e->next_entry;
    else __jit_debug_descriptor.first_entry = e->next_entry;
    if (e->next_entry) e->next_entry->prev_entry = e->prev_entry;
    __jit_debug_descriptor.relevant_entry = e;
    __jit_debug_descriptor.action_flag = 2;
    __jit_debug_register_code();
    __jit_debug_descriptor.action_flag = 0;
    __jit_debug_descriptor.relevant_entry = NULL;
    pthread_mutex_unlock(&jit_lock);
    free(e);
}

unsigned vu_jit_entry_count(void) {
    unsigned n = 0;
    pthread_mutex_lock(&jit_lock);
    for (struct jit_code_entry *e = __jit_debug_descriptor.first_entry; e; e = e->next_entry) n++;
    pthread_mutex_unlock(&jit_lock);
    return n;
}

void *vu_libunwind_dyn_info_create(uint64_t start, uint64_t end, uint64_t segbase, uint64_t table,
                                   uint64_t fde_count) {
    unw_dyn_info_t *di = calloc(1, sizeof *di);
    if (!di) return NULL;
    di->start_ip = start;
    di->end_ip = end;
    di->gp = 0;
    di->format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di->u.rti.name_ptr = 0;
    di->u.rti.segbase = segbase;
    di->u.rti.table_data = table;
    // Counted in machine words, not entries or bytes: an entry is two int32s.
    di->u.rti.table_len = fde_count * 8 / sizeof(unw_word_t);
    return di;
}

void vu_libunwind_dyn_info_destroy(void *info) { free(info); }

#include <dlfcn.h>

int vu_dladdr_path(const void *address, char *buf, unsigned long size) {
    Dl_info info;
    if (!dladdr(address, &info) || !info.dli_fname || size == 0) return 0;
    strncpy(buf, info.dli_fname, size - 1);
    buf[size - 1] = 0;
    return 1;
}
