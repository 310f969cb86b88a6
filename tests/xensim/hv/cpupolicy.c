/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv CPU policies: XEN_SYSCTL_get_cpu_featureset,
 * XEN_SYSCTL_get_cpu_policy and XEN_DOMCTL_{get,set}_cpu_policy, as
 * libxenguest's xc_cpuid_apply_policy() uses them when libxl builds a
 * domain.
 *
 * The policies are the CPUID of the machine the hv runs on (read with
 * the cpuid instruction), serialised as Xen's x86_cpuid_copy_to_buffer()
 * does: basic leaves up to 0xd with their subleaves (4 and 0xb until a
 * null type, 7 up to its max subleaf, 0xd for the xstates present), the
 * two hypervisor-limit leaves, extended leaves up to 0x80000021.  The
 * bounds are those of Debian's libxenguest 4.17.7 (cpu-policy.h), which
 * refuses more.  Unlike Xen no feature is masked for HVM except that
 * leaf 1 says "hypervisor": nothing executes the guest's CPUID here, the
 * policy only has to be one libxl accepts and reads back.  The two MSRs
 * (PLATFORM_INFO, ARCH_CAPABILITIES) are 0.
 *
 * A domain's policy starts as the HVM default; set_cpu_policy merges
 * the toolstack's leaves into it with Xen's checks (E2BIG over the
 * serialised maximum, ERANGE and err_leaf/err_subleaf for a leaf out of
 * range, EINVAL for MSR flags, and the audit of
 * x86_cpu_policies_are_compatible(): max leaves no higher than the max
 * policy's, EOPNOTSUPP).  Runs under hv.lock.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hypercall.h"

#include <xen/sysctl.h>

#define NR_BASIC        (0xdu + 1)
#define NR_CACHE        (5u + 1)
#define NR_FEAT         (2u + 1)
#define NR_TOPO         (1u + 1)
#define NR_XSTATE       (62u + 1)
#define NR_EXTD         (0x21u + 1)
#define MAX_LEAVES      (NR_BASIC + NR_FEAT - 1 + NR_CACHE - 1 + \
                         NR_TOPO - 1 + NR_XSTATE - 1 + NR_EXTD + 2)
#define MAX_MSRS        2
#define FSCAPINTS       19          /* featureset words, 4.17.7 */

#define MSR_INTEL_PLATFORM_INFO 0xce
#define MSR_ARCH_CAPABILITIES   0x10a

typedef struct CpuPolicy {
    xen_cpuid_leaf_t leaf[MAX_LEAVES];
    uint32_t nr;
    xen_msr_entry_t msr[MAX_MSRS];
} CpuPolicy;

static CpuPolicy host_policy;
static bool have_host;
static struct {
    CpuPolicy policy;
    bool have;
} dom_state[HV_MAX_DOMAINS];

/* The thread's current domain's policy. */
#define dom_policy  (dom_state[hv_dom->slot].policy)
#define have_dom    (dom_state[hv_dom->slot].have)

static void add(CpuPolicy *p, uint32_t leaf, uint32_t sub)
{
    unsigned a, b, c, d;
    xen_cpuid_leaf_t *l;

    if (p->nr >= MAX_LEAVES) {
        return;
    }
    __cpuid_count(leaf, sub == XEN_CPUID_NO_SUBLEAF ? 0 : sub, a, b, c, d);
    l = &p->leaf[p->nr++];
    *l = (xen_cpuid_leaf_t) { leaf, sub, a, b, c, d };
    if (leaf == 1) {
        l->c |= 1u << 31;       /* running under a hypervisor */
    }
    if (leaf == 0 && l->a > NR_BASIC - 1) {
        l->a = NR_BASIC - 1;
    }
    if (leaf == 7 && sub == 0 && l->a > NR_FEAT - 1) {
        l->a = NR_FEAT - 1;
    }
    if (leaf == 0x80000000 && l->a > 0x80000000 + NR_EXTD - 1) {
        l->a = 0x80000000 + NR_EXTD - 1;
    }
}

static void build_host(CpuPolicy *p)
{
    unsigned a, b, c, d, max, sub;
    uint64_t xstates;

    memset(p, 0, sizeof(*p));
    __cpuid(0, max, b, c, d);
    max = max < NR_BASIC - 1 ? max : NR_BASIC - 1;
    for (unsigned leaf = 0; leaf <= max; leaf++) {
        switch (leaf) {
        case 4:
            for (sub = 0; sub < NR_CACHE; sub++) {
                add(p, 4, sub);
                if (!(p->leaf[p->nr - 1].a & 0x1f)) {
                    break;
                }
            }
            break;
        case 7:
            __cpuid_count(7, 0, a, b, c, d);
            for (sub = 0; sub <= a && sub < NR_FEAT; sub++) {
                add(p, 7, sub);
            }
            break;
        case 0xb:
            for (sub = 0; sub < NR_TOPO; sub++) {
                add(p, 0xb, sub);
                if (!((p->leaf[p->nr - 1].c >> 8) & 0xff)) {
                    break;
                }
            }
            break;
        case 0xd:
            __cpuid_count(0xd, 0, a, b, c, d);
            xstates = a | (uint64_t)d << 32;
            __cpuid_count(0xd, 1, a, b, c, d);
            xstates |= c | (uint64_t)d << 32;
            add(p, 0xd, 0);
            add(p, 0xd, 1);
            for (xstates >>= 2, sub = 2; xstates && sub < NR_XSTATE;
                 xstates >>= 1, sub++) {
                add(p, 0xd, sub);
            }
            break;
        default:
            add(p, leaf, XEN_CPUID_NO_SUBLEAF);
        }
    }
    p->leaf[p->nr++] = (xen_cpuid_leaf_t) { 0x40000000, XEN_CPUID_NO_SUBLEAF };
    p->leaf[p->nr++] = (xen_cpuid_leaf_t) { 0x40000100, XEN_CPUID_NO_SUBLEAF };
    __cpuid(0x80000000, max, b, c, d);
    if ((max & 0xffff0000) == 0x80000000) {
        max = (max & 0xffff) < NR_EXTD - 1 ? (max & 0xffff) : NR_EXTD - 1;
        for (unsigned i = 0; i <= max; i++) {
            add(p, 0x80000000 | i, XEN_CPUID_NO_SUBLEAF);
        }
    }
    p->msr[0] = (xen_msr_entry_t) { .idx = MSR_INTEL_PLATFORM_INFO };
    p->msr[1] = (xen_msr_entry_t) { .idx = MSR_ARCH_CAPABILITIES };
}

static const CpuPolicy *host(void)
{
    if (!have_host) {
        build_host(&host_policy);
        have_host = true;
    }
    return &host_policy;
}

void hv_cpupolicy_domain_reset(void)
{
    have_dom = false;
}

static CpuPolicy *domain_policy(void)
{
    if (!have_dom) {
        dom_policy = *host();
        have_dom = true;
    }
    return &dom_policy;
}

/* x86_cpuid_copy_to_buffer() and x86_msr_copy_to_buffer(): ENOBUFS
 * when the caller's array is too short. */
static long copy_out(const HcCall *h, const CpuPolicy *p, uint64_t leaves,
                     uint32_t *nr_leaves, uint64_t msrs, uint32_t *nr_msrs)
{
    if (!leaves) {
        *nr_leaves = MAX_LEAVES;
    } else {
        if (*nr_leaves < p->nr) {
            return -ENOBUFS;
        }
        if (hc_to_user(h, leaves, p->leaf, p->nr * sizeof(p->leaf[0])) < 0) {
            return -EFAULT;
        }
        *nr_leaves = p->nr;
    }
    if (!msrs) {
        *nr_msrs = MAX_MSRS;
    } else {
        if (*nr_msrs < MAX_MSRS) {
            return -ENOBUFS;
        }
        if (hc_to_user(h, msrs, p->msr, sizeof(p->msr)) < 0) {
            return -EFAULT;
        }
        *nr_msrs = MAX_MSRS;
    }
    return 0;
}

long hv_cpupolicy_sysctl(const HcCall *h, struct xen_sysctl *s)
{
    if (s->cmd == XEN_SYSCTL_get_cpu_featureset) {
        struct xen_sysctl_cpu_featureset *f = &s->u.cpu_featureset;
        uint32_t fs[FSCAPINTS] = { 0 }, nr;
        const CpuPolicy *p = host();

        if (!f->features.p) {
            f->nr_features = FSCAPINTS;
            return hc_to_user(h, h->arg[0], s, sizeof(*s));
        }
        nr = f->nr_features < FSCAPINTS ? f->nr_features : FSCAPINTS;
        if (f->index > XEN_SYSCTL_cpu_featureset_hvm) {
            return -EINVAL;
        }
        if (f->index == XEN_SYSCTL_cpu_featureset_pv) {
            return -EOPNOTSUPP;         /* a Xen without CONFIG_PV */
        }
        for (uint32_t i = 0; i < p->nr; i++) {
            const xen_cpuid_leaf_t *l = &p->leaf[i];

            if (l->leaf == 1) {
                fs[0] = l->d;
                fs[1] = l->c;
            } else if (l->leaf == 0x80000001) {
                fs[2] = l->d;
                fs[3] = l->c;
            } else if (l->leaf == 0xd && l->subleaf == 1) {
                fs[4] = l->a;
            } else if (l->leaf == 7 && l->subleaf == 0) {
                fs[5] = l->b;
                fs[6] = l->c;
                fs[9] = l->d;
            } else if (l->leaf == 0x80000007) {
                fs[7] = l->d;
            } else if (l->leaf == 0x80000008) {
                fs[8] = l->b;
            }
        }
        if (hc_to_user(h, (uintptr_t)f->features.p, fs,
                       nr * sizeof(fs[0])) < 0) {
            return -EFAULT;
        }
        f->nr_features = nr;
        if (hc_to_user(h, h->arg[0], s, sizeof(*s)) < 0) {
            return -EFAULT;
        }
        return nr < FSCAPINTS ? -ENOBUFS : 0;
    } else {
        struct xen_sysctl_cpu_policy *c = &s->u.cpu_policy;
        long ret;

        if (c->_rsvd || c->index > XEN_SYSCTL_cpu_policy_hvm_default) {
            return -EINVAL;
        }
        if (c->index == XEN_SYSCTL_cpu_policy_pv_max ||
            c->index == XEN_SYSCTL_cpu_policy_pv_default) {
            return -EOPNOTSUPP;
        }
        ret = copy_out(h, host(), (uintptr_t)c->leaves.p, &c->nr_leaves,
                       (uintptr_t)c->msrs.p, &c->nr_msrs);
        if (ret < 0) {
            return ret;
        }
        return hc_to_user(h, h->arg[0], s, sizeof(*s));
    }
}

static bool leaf_in_range(const xen_cpuid_leaf_t *l)
{
    if (l->leaf < NR_BASIC) {
        switch (l->leaf) {
        case 4:
            return l->subleaf < NR_CACHE;
        case 7:
            return l->subleaf < NR_FEAT;
        case 0xb:
            return l->subleaf < NR_TOPO;
        case 0xd:
            return l->subleaf < NR_XSTATE;
        }
        return l->subleaf == XEN_CPUID_NO_SUBLEAF;
    }
    if (l->leaf == 0x40000000 || l->leaf == 0x40000100 ||
        (l->leaf >= 0x80000000 && l->leaf < 0x80000000 + NR_EXTD)) {
        return l->subleaf == XEN_CPUID_NO_SUBLEAF;
    }
    return false;
}

static int leaf_cmp(const void *a, const void *b)
{
    const xen_cpuid_leaf_t *x = a, *y = b;

    if (x->leaf != y->leaf) {
        return x->leaf < y->leaf ? -1 : 1;
    }
    return x->subleaf < y->subleaf ? -1 : x->subleaf > y->subleaf;
}

static const xen_cpuid_leaf_t *find(const CpuPolicy *p, uint32_t leaf,
                                    uint32_t sub)
{
    for (uint32_t i = 0; i < p->nr; i++) {
        if (p->leaf[i].leaf == leaf && p->leaf[i].subleaf == sub) {
            return &p->leaf[i];
        }
    }
    return NULL;
}

static long set_policy(const HcCall *h, struct xen_domctl *d, bool *copyback)
{
    struct xen_domctl_cpu_policy *c = &d->u.cpu_policy;
    CpuPolicy n = *domain_policy();
    const CpuPolicy *max = host();
    static const uint32_t max_leaves[] = { 0, 0x80000000 };
    xen_cpuid_leaf_t l;
    xen_msr_entry_t m;

    c->err_leaf = c->err_subleaf = c->err_msr = ~0u;
    if (c->nr_leaves > MAX_LEAVES || c->nr_msrs > MAX_MSRS) {
        return -E2BIG;
    }
    for (uint32_t i = 0; i < c->nr_leaves; i++) {
        xen_cpuid_leaf_t *have;

        if (hc_from_user(h, &l, (uintptr_t)c->leaves.p + i * sizeof(l),
                         sizeof(l)) < 0) {
            return -EFAULT;
        }
        if (!leaf_in_range(&l)) {
            c->err_leaf = l.leaf;
            c->err_subleaf = l.subleaf;
            *copyback = true;
            return -ERANGE;
        }
        have = (xen_cpuid_leaf_t *)find(&n, l.leaf, l.subleaf);
        if (have) {
            *have = l;
        } else if (n.nr < MAX_LEAVES) {
            n.leaf[n.nr++] = l;
        }
    }
    for (uint32_t i = 0; i < c->nr_msrs; i++) {
        if (hc_from_user(h, &m, (uintptr_t)c->msrs.p + i * sizeof(m),
                         sizeof(m)) < 0) {
            return -EFAULT;
        }
        if (m.flags) {
            c->err_msr = m.idx;
            *copyback = true;
            return -EINVAL;
        }
        if (m.idx == MSR_INTEL_PLATFORM_INFO) {
            n.msr[0].val = m.val;
        } else if (m.idx == MSR_ARCH_CAPABILITIES) {
            n.msr[1].val = m.val;
        } else {
            c->err_msr = m.idx;
            *copyback = true;
            return -ERANGE;
        }
    }
    /* x86_cpu_policies_are_compatible(): max leaves within the max. */
    for (unsigned i = 0; i < 2; i++) {
        const xen_cpuid_leaf_t *want = find(&n, max_leaves[i],
                                            XEN_CPUID_NO_SUBLEAF);
        const xen_cpuid_leaf_t *lim = find(max, max_leaves[i],
                                           XEN_CPUID_NO_SUBLEAF);

        if (want && lim && want->a > lim->a) {
            c->err_leaf = max_leaves[i];
            *copyback = true;
            return -EOPNOTSUPP;
        }
    }
    qsort(n.leaf, n.nr, sizeof(n.leaf[0]), leaf_cmp);
    dom_policy = n;
    return 0;
}

long hv_cpupolicy_domctl(const HcCall *h, struct xen_domctl *d,
                         bool *copyback)
{
    struct xen_domctl_cpu_policy *c = &d->u.cpu_policy;
    long ret;

    if (d->cmd == XEN_DOMCTL_set_cpu_policy) {
        return set_policy(h, d, copyback);
    }
    ret = copy_out(h, domain_policy(), (uintptr_t)c->leaves.p,
                   &c->nr_leaves, (uintptr_t)c->msrs.p, &c->nr_msrs);
    *copyback = ret == 0;
    return ret;
}
