/* Speaks a future ABI version: the host must refuse to load it. */
#define WANC_ABI_VERSION 2
#include "plugin.h"

EXPORT("wanc_probe") long long wanc_probe(int ptr, int len) {
    (void)ptr;
    (void)len;
    return 0;
}
