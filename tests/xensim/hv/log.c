/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv logging and counters.  Traces go to stderr unless --quiet;
 * device-model bugs always do, prefixed "xensim-hv: DM BUG:" so tests
 * and humans can grep for them, and are counted.
 */
#include <stdarg.h>
#include <stdio.h>

#include "hv.h"

const char *const hv_counter_names[HV_CNT_MAX] = {
#define HV_COUNTER_NAME(n) #n,
    HV_COUNTERS(HV_COUNTER_NAME)
#undef HV_COUNTER_NAME
};

void hv_log(const char *fmt, ...)
{
    va_list ap;

    if (hv.quiet) {
        return;
    }
    va_start(ap, fmt);
    fputs("xensim-hv: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void hv_bug(const char *fmt, ...)
{
    va_list ap;

    hv.cnt[HV_CNT_dm_bugs]++;
    va_start(ap, fmt);
    fputs("xensim-hv: DM BUG: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void hv_print_counters(FILE *f)
{
    int i;

    for (i = 0; i < HV_CNT_MAX; i++) {
        fprintf(f, "%s %llu\n", hv_counter_names[i],
                (unsigned long long)hv.cnt[i]);
    }
    hv_hypercall_print_enosys(f);
}
