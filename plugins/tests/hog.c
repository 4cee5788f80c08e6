/* Grows its memory a megabyte at a time: the host must stop it at the
 * memory cap. Reports down only if growth fails without a trap. */
#include "plugin.h"

static const char result[] = "\0\0\0\0\0\0\0\0\0\0\0\0memory.grow failed without a trap";

EXPORT("wanc_probe") long long wanc_probe(int ptr, int len) {
    (void)ptr;
    (void)len;
    /* 65536 pages is all of wasm32's address space. */
    for (int i = 0; i < 4096; i++)
        if (__builtin_wasm_memory_grow(0, 16) < 0)
            break;
    return (long long)pack(result, sizeof result - 1);
}
