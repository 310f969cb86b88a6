/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv HVM context: XEN_DOMCTL_gethvmcontext / sethvmcontext, the
 * records libxenguest's HVM builder reads (for the header) and writes
 * (the BSP's CPU state, MTRRs) and that xl save / restore carry.
 *
 * The domain's context is a set of records in Xen's save format
 * (public/arch-x86/hvm/save.h: a descriptor {typecode, instance, length}
 * then the record; HEADER first, END last).  A new domain has what
 * hvm_save() would write for one whose vCPUs never ran: HEADER (Xen's
 * magic and version, this machine's CPUID 1 eax), then per vCPU CPU,
 * LAPIC, LAPIC_REGS and MTRR, and once each PIC (two), IOAPIC, PCI_IRQ,
 * ISA_IRQ, PCI_LINK, PIT, RTC, HPET, PMTIMER, all zero but the LAPIC
 * base MSR.  sethvmcontext replaces the records it carries, with
 * hvm_load()'s checks: a domain being destroyed, a missing or bad
 * header, a record past the end or without END (ENODATA, EINVAL), an
 * unknown typecode, a length other than the type's, a vCPU instance
 * the domain lacks (EINVAL).  No vCPU executes here, so the state is
 * only kept and handed back, never acted on.  Runs under hv.lock.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hypercall.h"

#include <xen/hvm/save.h>

#define CTX_MAX_RECORDS (HV_MAX_VCPUS * 4 + 16)
#define CTX_MAX_BYTES   (1u << 20)

typedef struct CtxRecord {
    uint16_t type, instance;
    uint32_t len;
    uint8_t *data;
} CtxRecord;

/* Each domain's context: records in the order Xen keeps them. */
static struct {
    CtxRecord rec[CTX_MAX_RECORDS];
    unsigned nr_rec;
    unsigned ctx_vcpus;
} ctx_state[HV_MAX_DOMAINS];

#define rec         (ctx_state[hv_dom->slot].rec)
#define nr_rec      (ctx_state[hv_dom->slot].nr_rec)
#define ctx_vcpus   (ctx_state[hv_dom->slot].ctx_vcpus)

/* Record lengths of the types Xen has a handler for; 0: none. */
static uint32_t type_len(uint16_t t, bool *per_vcpu)
{
    *per_vcpu = false;
    switch (t) {
    case HVM_SAVE_CODE(HEADER):
        return HVM_SAVE_LENGTH(HEADER);
    case HVM_SAVE_CODE(CPU):
        *per_vcpu = true;
        return HVM_SAVE_LENGTH(CPU);
    case HVM_SAVE_CODE(PIC):
        return HVM_SAVE_LENGTH(PIC);
    case HVM_SAVE_CODE(IOAPIC):
        return HVM_SAVE_LENGTH(IOAPIC);
    case HVM_SAVE_CODE(LAPIC):
        *per_vcpu = true;
        return HVM_SAVE_LENGTH(LAPIC);
    case HVM_SAVE_CODE(LAPIC_REGS):
        *per_vcpu = true;
        return HVM_SAVE_LENGTH(LAPIC_REGS);
    case HVM_SAVE_CODE(PCI_IRQ):
        return HVM_SAVE_LENGTH(PCI_IRQ);
    case HVM_SAVE_CODE(ISA_IRQ):
        return HVM_SAVE_LENGTH(ISA_IRQ);
    case HVM_SAVE_CODE(PCI_LINK):
        return HVM_SAVE_LENGTH(PCI_LINK);
    case HVM_SAVE_CODE(PIT):
        return HVM_SAVE_LENGTH(PIT);
    case HVM_SAVE_CODE(RTC):
        return HVM_SAVE_LENGTH(RTC);
    case HVM_SAVE_CODE(HPET):
        return HVM_SAVE_LENGTH(HPET);
    case HVM_SAVE_CODE(PMTIMER):
        return HVM_SAVE_LENGTH(PMTIMER);
    case HVM_SAVE_CODE(MTRR):
        *per_vcpu = true;
        return HVM_SAVE_LENGTH(MTRR);
    case HVM_SAVE_CODE(TSC_ADJUST):
        *per_vcpu = true;
        return HVM_SAVE_LENGTH(TSC_ADJUST);
    }
    return 0;
}

static int put(uint16_t type, uint16_t instance, const void *data,
               uint32_t len)
{
    unsigned i;
    uint8_t *copy = malloc(len ? len : 1);

    if (!copy) {
        return -ENOMEM;
    }
    memcpy(copy, data, len);
    for (i = 0; i < nr_rec; i++) {
        if (rec[i].type == type && rec[i].instance == instance) {
            free(rec[i].data);
            rec[i].data = copy;
            rec[i].len = len;
            return 0;
        }
    }
    if (nr_rec == CTX_MAX_RECORDS) {
        free(copy);
        return -ENOMEM;
    }
    rec[nr_rec++] = (CtxRecord) { type, instance, len, copy };
    return 0;
}

static void ctx_zero(uint16_t type, uint16_t instance)
{
    bool per_vcpu;
    uint32_t len = type_len(type, &per_vcpu);
    uint8_t *z = calloc(1, len);

    if (z) {
        put(type, instance, z, len);
        free(z);
    }
}

void hv_hvmctx_reset(unsigned vcpus)
{
    struct hvm_save_header hdr = { .magic = HVM_FILE_MAGIC,
                                   .version = HVM_FILE_VERSION };
    struct hvm_hw_lapic lapic = { 0 };
    unsigned a, b, c, d, i;

    for (i = 0; i < nr_rec; i++) {
        free(rec[i].data);
    }
    nr_rec = 0;
    ctx_vcpus = vcpus;
    __cpuid(1, a, b, c, d);
    hdr.cpuid = a;
    put(HVM_SAVE_CODE(HEADER), 0, &hdr, sizeof(hdr));
    for (i = 0; i < vcpus; i++) {
        ctx_zero(HVM_SAVE_CODE(CPU), i);
    }
    ctx_zero(HVM_SAVE_CODE(PIC), 0);
    ctx_zero(HVM_SAVE_CODE(PIC), 1);
    ctx_zero(HVM_SAVE_CODE(IOAPIC), 0);
    for (i = 0; i < vcpus; i++) {
        /* APIC enabled at 0xfee00000; the BSP flag on vCPU 0. */
        lapic.apic_base_msr = 0xfee00000ull | (1u << 11) | (i ? 0 : 1u << 8);
        put(HVM_SAVE_CODE(LAPIC), i, &lapic, sizeof(lapic));
    }
    for (i = 0; i < vcpus; i++) {
        ctx_zero(HVM_SAVE_CODE(LAPIC_REGS), i);
    }
    ctx_zero(HVM_SAVE_CODE(PCI_IRQ), 0);
    ctx_zero(HVM_SAVE_CODE(ISA_IRQ), 0);
    ctx_zero(HVM_SAVE_CODE(PCI_LINK), 0);
    ctx_zero(HVM_SAVE_CODE(PIT), 0);
    ctx_zero(HVM_SAVE_CODE(RTC), 0);
    ctx_zero(HVM_SAVE_CODE(HPET), 0);
    ctx_zero(HVM_SAVE_CODE(PMTIMER), 0);
    for (i = 0; i < vcpus; i++) {
        ctx_zero(HVM_SAVE_CODE(MTRR), i);
    }
}

static uint32_t ctx_size(void)
{
    uint32_t n = 0;
    unsigned i;

    for (i = 0; i < nr_rec; i++) {
        n += sizeof(struct hvm_save_descriptor) + rec[i].len;
    }
    return n + sizeof(struct hvm_save_descriptor);   /* END */
}

static long get_context(const HcCall *h, struct xen_domctl_hvmcontext *c)
{
    uint32_t size = ctx_size(), at = 0;
    uint8_t *buf;
    unsigned i;
    long ret;

    if (!c->buffer.p) {
        c->size = size;
        return 0;
    }
    if (c->size < size) {
        return -ENOSPC;
    }
    buf = calloc(1, size);
    if (!buf) {
        return -ENOMEM;
    }
    for (i = 0; i < nr_rec; i++) {
        struct hvm_save_descriptor d = { rec[i].type, rec[i].instance,
                                         rec[i].len };

        memcpy(buf + at, &d, sizeof(d));
        memcpy(buf + at + sizeof(d), rec[i].data, rec[i].len);
        at += sizeof(d) + rec[i].len;
    }
    ret = hc_to_user(h, (uintptr_t)c->buffer.p, buf, size);
    free(buf);
    c->size = size;
    return ret;
}

static long set_context(const HcCall *h, struct xen_domctl_hvmcontext *c)
{
    const uint32_t dl = sizeof(struct hvm_save_descriptor);
    struct hvm_save_descriptor d;
    struct hvm_save_header hdr;
    uint8_t *buf;
    uint32_t at = 0;
    long ret;

    if (c->size > CTX_MAX_BYTES) {
        return -ENOMEM;
    }
    buf = malloc(c->size ? c->size : 1);
    if (!buf) {
        return -ENOMEM;
    }
    ret = hc_from_user(h, buf, (uintptr_t)c->buffer.p, c->size);
    if (ret < 0) {
        goto out;
    }
    /* The header must come first (hvm_load_entry(HEADER)). */
    ret = -ENODATA;
    if (c->size < dl + sizeof(hdr)) {
        goto out;
    }
    memcpy(&d, buf, dl);
    if (d.typecode != HVM_SAVE_CODE(HEADER) || d.length != sizeof(hdr)) {
        goto out;
    }
    memcpy(&hdr, buf + dl, sizeof(hdr));
    ret = -EINVAL;
    if (hdr.magic != HVM_FILE_MAGIC || hdr.version != HVM_FILE_VERSION) {
        goto out;
    }
    put(HVM_SAVE_CODE(HEADER), 0, &hdr, sizeof(hdr));
    at = dl + sizeof(hdr);
    for (;;) {
        bool per_vcpu;
        uint32_t len;

        if (c->size - at < dl) {
            ret = -ENODATA;         /* no END record */
            goto out;
        }
        memcpy(&d, buf + at, dl);
        if (d.typecode == 0) {
            ret = 0;
            goto out;
        }
        len = type_len(d.typecode, &per_vcpu);
        if (!len || d.typecode == HVM_SAVE_CODE(HEADER)) {
            ret = -EINVAL;          /* unknown entry typecode */
            goto out;
        }
        if (d.length != len || c->size - at - dl < len ||
            (per_vcpu && d.instance >= ctx_vcpus)) {
            ret = -EINVAL;
            goto out;
        }
        ret = put(d.typecode, d.instance, buf + at + dl, len);
        if (ret < 0) {
            goto out;
        }
        at += dl + len;
    }
out:
    free(buf);
    return ret;
}

long hv_hvmctx_domctl(const HcCall *h, struct xen_domctl *d, bool *copyback)
{
    long ret;

    if (d->cmd == XEN_DOMCTL_sethvmcontext) {
        return set_context(h, &d->u.hvmcontext);
    }
    ret = get_context(h, &d->u.hvmcontext);
    *copyback = ret == 0 || ret == -ENOSPC;
    return ret;
}
