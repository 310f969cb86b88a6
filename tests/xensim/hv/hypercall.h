/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv: what the hypercall files (hypercall.c, domain.c) share: a
 * call as the devxen shim forwards it, the copies from and to the
 * caller's memory (EFAULT on a bad pointer), and the ENOSYS account.
 * Everything here runs under hv.lock.
 */
#ifndef XENSIM_HV_HYPERCALL_H
#define XENSIM_HV_HYPERCALL_H

#include <sys/types.h>

#include "hv.h"

#include <xen/domctl.h>

typedef struct HcCall {
    HvClient *c;
    pid_t pid;
    uint64_t op;
    uint64_t arg[5];
} HcCall;

int hc_from_user(const HcCall *h, void *dst, uint64_t src, size_t len);
int hc_to_user(const HcCall *h, uint64_t dst, const void *src, size_t len);
/* Count an unimplemented (hypercall, sub-op), say so once: -ENOSYS. */
long hc_not_simulated(const HcCall *h, uint32_t sub);

/* domain.c: the guest domain's life as Xen's domctl sees it. */

unsigned hv_domain_count(void);
/* A domctl other than the ones hypercall.c serves; *copyback set when
 * the xen_domctl is to be copied back on success. */
long hv_domain_domctl(const HcCall *h, struct xen_domctl *d,
                      bool *copyback);
/* getdomaininfo for the domain (which must exist). */
void hv_domain_info(struct xen_domctl_getdomaininfo *info);
/* XEN_SYSCTL_getdomaininfolist order: the domains with id >= first
 * (dom0 too in toolstack mode), at most max; returns how many. */
unsigned hv_domain_list(uint32_t first, struct xen_domctl_getdomaininfo *out,
                        unsigned max);
/* memory_op claim_pages; max pages for populate. */
long hv_domain_claim(uint64_t pages);
bool hv_domain_may_populate(uint64_t pages);
/* The grant table as XENMEM_acquire_resource hands it out
 * (gnttab_acquire_resource): v1, shared frames only. */
#define HV_GNTTAB_MAX_FRAMES 64
uint32_t hv_domain_gnttab_max_frames(uint32_t id);
long hv_domain_gnttab_frames(uint32_t id, uint64_t frame, uint32_t nr,
                             xen_pfn_t *mfn);
/* XENMEM_set_memory_map's e820 (E820MAX entries of 20 bytes). */
#define HV_E820_MAX 128
long hv_domain_set_e820(const HcCall *h, uint64_t buf, uint32_t nr);

/* cpupolicy.c: XEN_SYSCTL_get_cpu_featureset/get_cpu_policy, and
 * XEN_DOMCTL_get/set_cpu_policy for the domain (reset on create). */
struct xen_sysctl;
long hv_cpupolicy_sysctl(const HcCall *h, struct xen_sysctl *s);
long hv_cpupolicy_domctl(const HcCall *h, struct xen_domctl *d,
                         bool *copyback);
void hv_cpupolicy_domain_reset(void);

/* hvmctx.c: XEN_DOMCTL_get/sethvmcontext; reset on create. */
long hv_hvmctx_domctl(const HcCall *h, struct xen_domctl *d,
                      bool *copyback);
void hv_hvmctx_reset(unsigned vcpus);

/* domain-save.c: what the migration stream's save side uses. */
long hv_domain_max_gpfn(const HcCall *h);
long hv_domain_shadow_op(const HcCall *h, struct xen_domctl *d,
                         bool *copyback, uint64_t paging_pool);
long hv_domain_pageframeinfo(const HcCall *h, struct xen_domctl *d);
void hv_domain_save_reset(void);

#endif /* XENSIM_HV_HYPERCALL_H */
