// Decompression of ELF sections (SHF_COMPRESSED with ELFCOMPRESS_ZLIB or ELFCOMPRESS_ZSTD,
// and GNU .zdebug_* sections), by the real zlib and libzstd. The caller gives the exact
// size the section declares and a buffer of that size; a stream that makes more or less
// is an error, so a lying size cannot overrun or leave bytes unset.
#ifndef VUNWIND_DECOMPRESS_H
#define VUNWIND_DECOMPRESS_H

#include <stddef.h>

enum {
    VU_DECOMPRESS_OK = 0,
    /// The stream is corrupt (the library's message is in `detail`).
    VU_DECOMPRESS_CORRUPT = 1,
    /// The stream ends before `capacity` bytes came out (`*produced` says how many).
    VU_DECOMPRESS_SHORT = 2,
    /// The stream would make more than `capacity` bytes.
    VU_DECOMPRESS_LONG = 3,
};

/// zlib (RFC 1950) stream in `src` into exactly `capacity` bytes at `dst`.
int vu_inflate_zlib(const void *src, size_t src_size, void *dst, size_t capacity, size_t *produced,
                    const char **detail);

/// One or more zstd frames in `src` into exactly `capacity` bytes at `dst`.
int vu_decompress_zstd(const void *src, size_t src_size, void *dst, size_t capacity, size_t *produced,
                       const char **detail);

#endif
