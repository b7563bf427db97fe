// See vunwind_decompress.h. Both decoders run as streams into the caller's buffer: neither
// library allocates in proportion to what the input claims.
#include "vunwind_decompress.h"

#include <limits.h>
#include <zlib.h>
#include <zstd.h>

int vu_inflate_zlib(const void *src, size_t src_size, void *dst, size_t capacity, size_t *produced,
                    const char **detail) {
    z_stream z = {0};
    *produced = 0;
    *detail = "";
    if (inflateInit(&z) != Z_OK) {
        *detail = "zlib cannot start";
        return VU_DECOMPRESS_CORRUPT;
    }
    const unsigned char *in = src;
    unsigned char *out = dst;
    size_t in_left = src_size, out_left = capacity;
    int rc = Z_OK;
    // zlib counts in uInt: feed and drain in chunks that fit.
    while (rc == Z_OK) {
        if (z.avail_in == 0 && in_left > 0) {
            z.next_in = (unsigned char *)in;
            z.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            in += z.avail_in;
            in_left -= z.avail_in;
        }
        unsigned char spare;
        if (out_left == 0) {
            // Room for one more byte, to tell "ends here" from "has more".
            z.next_out = &spare;
            z.avail_out = 1;
        } else {
            z.next_out = out;
            z.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
        }
        uInt before = z.avail_out, before_in = z.avail_in;
        rc = inflate(&z, Z_NO_FLUSH);
        size_t made = before - z.avail_out;
        if (out_left == 0 && made > 0) {
            inflateEnd(&z);
            *produced = capacity;
            return VU_DECOMPRESS_LONG;
        }
        out += made;
        out_left -= made;
        // Z_BUF_ERROR: no progress was possible. Every pass consumes input or makes output,
        // so the loop ends within src_size + capacity passes.
        if (rc == Z_BUF_ERROR) {
            if (made == 0 && z.avail_in == before_in && (z.avail_in == 0 ? in_left == 0 : 1)) break;
            rc = Z_OK;
        }
    }
    *produced = capacity - out_left;
    int result = VU_DECOMPRESS_OK;
    if (rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
        *detail = z.msg ? z.msg : "corrupt zlib stream";
        result = VU_DECOMPRESS_CORRUPT;
    } else if (rc != Z_STREAM_END || out_left != 0) {
        result = VU_DECOMPRESS_SHORT;
    }
    inflateEnd(&z);
    return result;
}

int vu_decompress_zstd(const void *src, size_t src_size, void *dst, size_t capacity, size_t *produced,
                       const char **detail) {
    *produced = 0;
    *detail = "";
    ZSTD_DCtx *ctx = ZSTD_createDCtx();
    if (!ctx) {
        *detail = "zstd cannot start";
        return VU_DECOMPRESS_CORRUPT;
    }
    // A frame may declare a window of up to 2^31; refuse more than 128 MiB of window
    // memory rather than let the input choose the allocation.
    ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, 27);
    ZSTD_inBuffer in = {src, src_size, 0};
    ZSTD_outBuffer out = {dst, capacity, 0};
    int result = VU_DECOMPRESS_OK;
    size_t rc = 0;
    // Every pass consumes input or makes output, else it stops: at most src_size +
    // capacity + 1 passes.
    for (;;) {
        size_t in_before = in.pos, out_before = out.pos;
        rc = ZSTD_decompressStream(ctx, &out, &in);
        if (ZSTD_isError(rc)) {
            *detail = ZSTD_getErrorName(rc);
            result = VU_DECOMPRESS_CORRUPT;
            break;
        }
        if (rc == 0 && in.pos == in.size) break;  // the last frame is complete
        if (out.pos == out.size) {
            // Full: one more byte tells whether the stream has more.
            unsigned char spare;
            ZSTD_outBuffer probe = {&spare, 1, 0};
            size_t r2 = ZSTD_decompressStream(ctx, &probe, &in);
            if (ZSTD_isError(r2)) {
                *detail = ZSTD_getErrorName(r2);
                result = VU_DECOMPRESS_CORRUPT;
                break;
            }
            if (probe.pos > 0) {
                result = VU_DECOMPRESS_LONG;
                break;
            }
            rc = r2;
            if (rc == 0 && in.pos == in.size) break;
        }
        if (in.pos == in_before && out.pos == out_before) break;  // no progress: the input ends early
    }
    *produced = out.pos;
    if (result == VU_DECOMPRESS_OK && (rc != 0 || out.pos != capacity)) result = VU_DECOMPRESS_SHORT;
    ZSTD_freeDCtx(ctx);
    return result;
}
