/* Never returns: the host must stop it at the check's timeout. */
#include "plugin.h"

EXPORT("wanc_probe") long long wanc_probe(int ptr, int len) {
    volatile unsigned counter = 0;
    (void)ptr;
    (void)len;
    for (;;)
        counter++;
}
