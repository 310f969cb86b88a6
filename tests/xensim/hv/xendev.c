/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xensim-hv: the devices Xen 4.17 emulates itself for an HVM guest.
 *
 * Xen tries its internal handlers (xen/arch/x86/hvm/intercept.c) before
 * any ioreq server; what they take never reaches the device model.  A
 * port handler matches only an access lying wholly inside its range
 * (hvm_portio_accept()); one that returns X86EMUL_UNHANDLEABLE passes
 * the access on to the ioreq servers.  As in RELEASE-4.17.0:
 *
 *   0x20-0x21, 0xa0-0xa1  vpic.c: the 8259 pair (IRR = the ISA lines the
 *                         device model drives), 0x4d0, 0x4d1 the ELCRs
 *   0x40-0x43, 0x61       emul-i8254.c: the PIT at 1.193182 MHz, port B
 *   0x70-0x71             rtc.c: only the clock registers 0x00-0x0d;
 *                         with the index at 0x0e or above (CMOS RAM) the
 *                         index write and the data access go on to the
 *                         device model (handle_rtc_io())
 *   PM1a_STS/EN, PM_TMR   pmtimer.c: 0x1f40-0x1f43 and 0x1f48-0x1f4b, or
 *                         0xb000/0xb008 with HVM_PARAM_ACPI_IOPORTS_
 *                         LOCATION = 1 (hvmloader's choice for qemu-xen);
 *                         the timer at 3.579545 MHz; PM1a_CNT in between
 *                         is the device model's
 *   0xe9                  hvm.c hvm_print_line(): writes (a line on the
 *                         hv's log), reads go on to the device model
 *   0xfec00000 +0x100     vioapic.c: IOREGSEL/IOWIN, 48 pins
 *   0xfee00000 page       vlapic.c: the vCPU's local APIC (a device's MSI
 *                         write is QEMU's, through its own xen-apic; only
 *                         a vCPU access lands here)
 *   0xfed00000 +0x400     hpet.c: capabilities, config, main counter at
 *                         14.31818 MHz
 * The models are small: what a guest reads back, and counters that run
 * in real time.
 *
 * Invariants: hv.lock held by every caller; an access is either taken
 * whole here (and counted in xen_internal_io) or left untouched.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hv.h"

#include <xen/hvm/ioreq.h>
#include <xen/hvm/params.h>

#define PIT_HZ          1193182ull
#define PMTMR_HZ        3579545ull
#define HPET_PERIOD_FS  69841279ull     /* 1e15 / 14.31818 MHz */
#define IOAPIC_BASE     0xfec00000ull
#define IOAPIC_PINS     48
#define LAPIC_BASE      0xfee00000ull
#define HPET_BASE       0xfed00000ull
#define RTC_REGS        14              /* Xen's RTC_CMOS_SIZE */

static struct {
    /* 8259s: [0] master, [1] slave */
    struct {
        uint8_t imr, elcr, icw_step, icw4, read_isr;
    } pic[2];
    /* 8254 */
    struct {
        uint16_t reload, latched;
        uint8_t mode, access;
        bool write_hi, read_hi;
        bool latched_valid;
        uint64_t load_ns;
    } pit[3];
    uint8_t port61;
    /* RTC */
    uint8_t rtc_index, rtc[RTC_REGS];
    int64_t rtc_offset;             /* guest clock - host clock, s */
    /* ACPI PM */
    uint16_t pm1a_sts, pm1a_en;
    /* IOAPIC */
    uint32_t ioregsel;
    uint64_t redir[IOAPIC_PINS];
    /* LAPIC: TPR and SVR kept per vCPU */
    uint32_t tpr[HV_MAX_VCPUS], svr[HV_MAX_VCPUS];
    /* HPET */
    uint64_t hpet_config, hpet_counter, hpet_start_ns;
    /* the 0xe9 debug console's line */
    char line[128];
    unsigned line_len;
    bool init;
} xendev_state[HV_MAX_DOMAINS];

/* The devices of the thread's current domain. */
#define xd (xendev_state[hv_dom->slot])

void hv_xendev_domain_reset(void)
{
    memset(&xd, 0, sizeof(xd));
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t ticks(uint64_t ns, uint64_t hz)
{
    return (unsigned __int128)ns * hz / 1000000000ull;
}

static void init_once(void)
{
    unsigned i;

    if (xd.init) {
        return;
    }
    xd.init = true;
    xd.pic[0].imr = xd.pic[1].imr = 0xff;
    for (i = 0; i < 3; i++) {
        xd.pit[i].load_ns = now_ns();
    }
    xd.rtc[0x0a] = 0x26;
    xd.rtc[0x0b] = 0x02;            /* 24 h, BCD */
    xd.rtc[0x0d] = 0x80;            /* valid RAM and time */
    for (i = 0; i < IOAPIC_PINS; i++) {
        xd.redir[i] = 1ull << 16;   /* masked */
    }
    for (i = 0; i < HV_MAX_VCPUS; i++) {
        xd.svr[i] = 0xff;
    }
}

/* --- 8259 -------------------------------------------------------------- */

static uint8_t pic_irr(int n)
{
    uint8_t irr = 0;
    unsigned i;

    for (i = 0; i < 8; i++) {
        irr |= hv_gsi_level_locked(n * 8 + i) ? 1u << i : 0;
    }
    return irr;
}

static void pic_io(uint16_t port, bool is_write, uint32_t *val)
{
    int n = port >= 0xa0;
    typeof(xd.pic[0]) *p = &xd.pic[n];
    uint8_t v = *val;

    if (!is_write) {
        *val = port & 1 ? p->imr : p->read_isr ? 0 : pic_irr(n);
        return;
    }
    if (!(port & 1)) {
        if (v & 0x10) {             /* ICW1 */
            p->icw_step = 2;
            p->icw4 = v & 1;
            p->imr = 0;
        } else if ((v & 0x18) == 0x08 && (v & 2)) {     /* OCW3 */
            p->read_isr = v & 1;
        }
        return;                     /* OCW2 (EOI): nothing in service */
    }
    switch (p->icw_step) {
    case 2:                         /* ICW2: vector base */
        p->icw_step = 3;
        break;
    case 3:                         /* ICW3 */
        p->icw_step = p->icw4 ? 4 : 0;
        break;
    case 4:
        p->icw_step = 0;
        break;
    default:                        /* OCW1 */
        p->imr = v;
    }
}

/* --- 8254 and port B ------------------------------------------------- */

static uint16_t pit_count(unsigned ch)
{
    uint64_t reload = xd.pit[ch].reload ? xd.pit[ch].reload : 0x10000;
    uint64_t d = ticks(now_ns() - xd.pit[ch].load_ns, PIT_HZ);

    if (xd.pit[ch].mode == 0 || xd.pit[ch].mode == 1 ||
        xd.pit[ch].mode == 4 || xd.pit[ch].mode == 5) {
        return (reload - d) & 0xffff;
    }
    return reload - (d % reload);
}

static void pit_io(uint16_t port, bool is_write, uint32_t *val)
{
    unsigned ch = port & 3;
    uint8_t v = *val;

    if (port == 0x61) {
        if (is_write) {
            xd.port61 = v & 3;
        } else {
            /* bit 4 refresh toggles every 15 us, bit 5 channel 2's OUT */
            *val = xd.port61 | ((now_ns() / 15000) & 1) << 4 |
                   (pit_count(2) > (xd.pit[2].reload ?: 0x10000) / 2) << 5;
        }
        return;
    }
    if (ch == 3) {
        if (!is_write) {
            *val = 0xff;
            return;
        }
        ch = v >> 6;
        if (ch == 3) {
            return;                 /* read-back: not modelled */
        }
        if (!(v & 0x30)) {          /* counter latch */
            xd.pit[ch].latched = pit_count(ch);
            xd.pit[ch].latched_valid = true;
            xd.pit[ch].read_hi = false;
            return;
        }
        xd.pit[ch].access = (v >> 4) & 3;
        xd.pit[ch].mode = (v >> 1) & 7;
        xd.pit[ch].write_hi = xd.pit[ch].read_hi = false;
        return;
    }
    if (is_write) {
        uint16_t r = xd.pit[ch].reload;

        if (xd.pit[ch].access == 1 ||
            (xd.pit[ch].access == 3 && !xd.pit[ch].write_hi)) {
            r = (r & 0xff00) | v;
        } else {
            r = (r & 0xff) | v << 8;
        }
        if (xd.pit[ch].access == 3) {
            xd.pit[ch].write_hi = !xd.pit[ch].write_hi;
        }
        xd.pit[ch].reload = r;
        xd.pit[ch].load_ns = now_ns();
        return;
    }
    {
        uint16_t c = xd.pit[ch].latched_valid ? xd.pit[ch].latched
                                              : pit_count(ch);
        bool hi = xd.pit[ch].access == 2 ||
                  (xd.pit[ch].access == 3 && xd.pit[ch].read_hi);

        *val = hi ? c >> 8 : c & 0xff;
        if (xd.pit[ch].access == 3) {
            xd.pit[ch].read_hi = !xd.pit[ch].read_hi;
        }
        if (xd.pit[ch].access != 3 || hi) {
            xd.pit[ch].latched_valid = false;   /* latch fully read */
        }
    }
}

/* --- RTC clock registers ----------------------------------------------- */

static uint8_t to_rtc(int v)
{
    return xd.rtc[0x0b] & 0x04 ? v : (v / 10) << 4 | v % 10;
}

static int from_rtc(uint8_t v)
{
    return xd.rtc[0x0b] & 0x04 ? v : (v >> 4) * 10 + (v & 15);
}

static void rtc_load_time(void)
{
    time_t t = time(NULL) + xd.rtc_offset;
    struct tm tm;

    gmtime_r(&t, &tm);
    xd.rtc[0] = to_rtc(tm.tm_sec);
    xd.rtc[2] = to_rtc(tm.tm_min);
    xd.rtc[4] = to_rtc(tm.tm_hour);
    xd.rtc[6] = to_rtc(tm.tm_wday + 1);
    xd.rtc[7] = to_rtc(tm.tm_mday);
    xd.rtc[8] = to_rtc(tm.tm_mon + 1);
    xd.rtc[9] = to_rtc(tm.tm_year % 100);
}

static void rtc_store_time(void)
{
    struct tm tm = {
        .tm_sec = from_rtc(xd.rtc[0]), .tm_min = from_rtc(xd.rtc[2]),
        .tm_hour = from_rtc(xd.rtc[4]), .tm_mday = from_rtc(xd.rtc[7]),
        .tm_mon = from_rtc(xd.rtc[8]) - 1,
        .tm_year = from_rtc(xd.rtc[9]) + 100,
    };

    xd.rtc_offset = (int64_t)timegm(&tm) - time(NULL);
}

/* false: not Xen's (CMOS RAM), the device model gets it */
static bool rtc_io(uint16_t port, bool is_write, uint32_t *val)
{
    uint8_t v = *val, i = xd.rtc_index;

    if (is_write && !(port & 1)) {
        xd.rtc_index = v & 0x7f;
        return xd.rtc_index < RTC_REGS;
    }
    if (i >= RTC_REGS) {
        return false;
    }
    if (!is_write) {
        if (!(port & 1)) {
            *val = 0xff;
        } else {
            if (i <= 9 && !(xd.rtc[0x0b] & 0x80)) {
                rtc_load_time();
            }
            *val = xd.rtc[i];
            if (i == 0x0c) {
                xd.rtc[0x0c] = 0;
            }
        }
        return true;
    }
    switch (i) {
    case 0x0a:
        xd.rtc[i] = v & 0x7f;       /* UIP is read-only */
        break;
    case 0x0b:
        if ((xd.rtc[i] & 0x80) && !(v & 0x80)) {
            rtc_store_time();       /* leaving SET mode */
        } else if (!(xd.rtc[i] & 0x80) && (v & 0x80)) {
            rtc_load_time();
        }
        xd.rtc[i] = v;
        break;
    case 0x0c:
    case 0x0d:
        break;                      /* read-only */
    default:
        if (i <= 9 && !(xd.rtc[0x0b] & 0x80)) {
            rtc_load_time();
            xd.rtc[i] = v;
            rtc_store_time();
        } else {
            xd.rtc[i] = v;
        }
    }
    return true;
}

/* --- ACPI PM1a event block and timer ------------------------------------ */

static uint16_t pm_base(void)
{
    return hv_dom->hvm_param[HVM_PARAM_ACPI_IOPORTS_LOCATION] == 1 ? 0xb000
                                                                : 0x1f40;
}

static void pm_update_sci(void);

static void pm_evt_io(unsigned off, unsigned size, bool is_write,
                      uint32_t *val)
{
    uint32_t data = *val;
    unsigned i;

    if (!is_write) {
        data = (xd.pm1a_sts | (uint32_t)xd.pm1a_en << 16) >> (8 * off);
        *val = size == 4 ? data : data & ((1u << (8 * size)) - 1);
        return;
    }
    for (i = 0; i < size; i++, off++, data >>= 8) {
        uint8_t b = data;

        switch (off) {
        case 0:
            xd.pm1a_sts &= ~b;
            break;
        case 1:
            xd.pm1a_sts &= ~(b << 8);
            break;
        case 2:
            xd.pm1a_en = (xd.pm1a_en & 0xff00) | b;
            break;
        case 3:
            xd.pm1a_en = (xd.pm1a_en & 0xff) | b << 8;
            break;
        }
    }    pm_update_sci();
}

/*
 * pmt_update_sci(): the SCI (ISA IRQ 9) follows PM1a_STS & PM1a_EN over
 * the status bits that raise it.  Xen drives the same ISA line as the
 * device model's set_isa_irq_level (hvm_isa_irq_assert/deassert).
 */
#define PM1_TMR_STS     (1u << 0)
#define PM1_GBL_STS     (1u << 5)
#define PM1_PWRBTN_STS  (1u << 8)
#define PM1_SLPBTN_STS  (1u << 9)
#define PM1_SCI_MASK    (PM1_TMR_STS | PM1_PWRBTN_STS | PM1_SLPBTN_STS | \
                         PM1_GBL_STS)
#define SCI_IRQ         9

static void pm_update_sci(void)
{
    uint8_t level = !!(xd.pm1a_en & xd.pm1a_sts & PM1_SCI_MASK);

    if (hv_dom->isa_level[SCI_IRQ] != level) {
        hv_dom->isa_level[SCI_IRQ] = level;
        hv_irqlog_lines_changed();
        hv.events++;
        pthread_cond_broadcast(&hv.cond);
    }
}

void hv_xendev_acpi_button(bool sleep)
{
    xd.pm1a_sts |= sleep ? PM1_SLPBTN_STS : PM1_PWRBTN_STS;
    pm_update_sci();
}

/* --- port I/O ---------------------------------------------------------- */

static bool in_range(uint64_t addr, unsigned size, uint64_t base,
                     uint64_t len)
{
    return addr >= base && addr + size <= base + len;
}

static void debugcons(uint8_t c)
{
    if (c != '\n' && c != '\t' && (c < 0x20 || c > 0x7e)) {
        return;
    }
    if (c != '\n') {
        xd.line[xd.line_len++] = c;
    }
    if (c == '\n' || xd.line_len == sizeof(xd.line) - 1) {
        xd.line[xd.line_len] = 0;
        hv_log("guest (port 0xe9): %s", xd.line);
        xd.line_len = 0;
    }
}

static bool pio(unsigned cpu, uint16_t port, unsigned size, bool is_write,
                uint32_t *val)
{
    uint16_t pm = pm_base();

    if (in_range(port, size, 0x20, 2) || in_range(port, size, 0xa0, 2) ||
        in_range(port, size, 0x40, 4) || in_range(port, size, 0x61, 1) ||
        in_range(port, size, 0x4d0, 1) || in_range(port, size, 0x4d1, 1)) {
        if (size != 1) {
            *val = ~0u;             /* Xen: "bad access", dropped */
        } else if (port >= 0x4d0) {
            if (is_write) {
                xd.pic[port & 1].elcr = *val & (port & 1 ? 0xde : 0xf8);
            } else {
                *val = xd.pic[port & 1].elcr;
            }
        } else if (port == 0x61 || (port & ~3) == 0x40) {
            pit_io(port, is_write, val);
        } else {
            pic_io(port, is_write, val);
        }
        return true;
    }
    if (in_range(port, size, 0x70, 2)) {
        if (size != 1) {
            *val = ~0u;
            return true;
        }
        return rtc_io(port, is_write, val);
    }
    if (in_range(port, size, pm, 4)) {
        pm_evt_io(port - pm, size, is_write, val);
        return true;
    }
    if (in_range(port, size, pm + 8, 4)) {
        *val = size == 4 && !is_write
               ? (uint32_t)ticks(now_ns(), PMTMR_HZ) : ~0u;
        return true;
    }
    if (port == 0xe9 && size == 1 && is_write) {
        debugcons(*val);
        return true;
    }
    return false;
}

/* --- MMIO -------------------------------------------------------------- */

static uint64_t ioapic_read(uint32_t reg)
{
    unsigned pin;
    uint64_t e;

    if (reg == 0) {
        return 0;                   /* ID 0 */
    }
    if (reg == 1) {
        return 0x11 | (IOAPIC_PINS - 1) << 16;
    }
    if (reg < 0x10 || reg >= 0x10 + 2 * IOAPIC_PINS) {
        return 0;
    }
    pin = (reg - 0x10) / 2;
    e = xd.redir[pin];
    /* Remote IRR: a level-triggered pin whose line is asserted. */
    if ((e & (1u << 15)) && hv_gsi_level_locked(pin)) {
        e |= 1u << 14;
    }
    return reg & 1 ? e >> 32 : (uint32_t)e;
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
    unsigned pin = (reg - 0x10) / 2;

    if (reg < 0x10 || reg >= 0x10 + 2 * IOAPIC_PINS) {
        return;
    }
    if (reg & 1) {
        xd.redir[pin] = (xd.redir[pin] & 0xffffffffull) |
                        (uint64_t)v << 32;
    } else {
        /* delivery status and remote IRR are read-only */
        xd.redir[pin] = (xd.redir[pin] & ~0xffffffffull) |
                        (v & ~((1u << 12) | (1u << 14)));
    }
}

static uint64_t hpet_counter(void)
{
    if (!(xd.hpet_config & 1)) {
        return xd.hpet_counter;
    }
    return xd.hpet_counter +
           (unsigned __int128)(now_ns() - xd.hpet_start_ns) * 1000000 /
           HPET_PERIOD_FS;
}

static void hpet_io(uint64_t off, unsigned size, bool is_write,
                    uint64_t *val)
{
    uint64_t reg = off & ~7ull, v;
    unsigned shift = (off & 7) * 8;

    switch (reg) {
    case 0x00:                      /* capabilities: 3 timers, 64-bit */
        v = HPET_PERIOD_FS << 32 | 0x8086a201ull;
        break;
    case 0x10:
        v = xd.hpet_config;
        break;
    case 0xf0:
        v = hpet_counter();
        break;
    default:
        v = 0;
    }
    if (!is_write) {
        v >>= shift;
        *val = size == 8 ? v : v & ((1ull << (8 * size)) - 1);
        return;
    }
    if (reg == 0x10) {
        uint64_t c = hpet_counter();

        xd.hpet_config = (*val << shift) & 3;
        xd.hpet_counter = c;
        xd.hpet_start_ns = now_ns();
    } else if (reg == 0xf0 && !(xd.hpet_config & 1)) {
        xd.hpet_counter = *val << shift;
    }
}

static bool mmio(unsigned cpu, uint64_t addr, unsigned size, bool is_write,
                 uint64_t *val)
{
    if (in_range(addr, size, IOAPIC_BASE, 0x100)) {
        uint64_t off = addr - IOAPIC_BASE;

        if (off == 0 && size == 4) {
            if (is_write) {
                xd.ioregsel = *val & 0xff;
            } else {
                *val = xd.ioregsel;
            }
        } else if (off == 0x10 && size == 4) {
            if (is_write) {
                ioapic_write(xd.ioregsel, *val);
            } else {
                *val = ioapic_read(xd.ioregsel);
            }
        } else if (!is_write) {
            *val = 0;
        }
        return true;
    }
    if (in_range(addr, size, LAPIC_BASE, XENSIM_PAGE_SIZE)) {
        uint64_t off = addr - LAPIC_BASE;
        uint64_t v = 0;

        if (size != 4 || (off & 0xf)) {
            /* vlapic_mmio_read()/write(): only aligned dwords count */
            if (!is_write) {
                *val = 0;
            }
            return true;
        }
        switch (off) {
        case 0x20:
            v = (uint64_t)cpu << 24;                /* ID */
            break;
        case 0x30:
            v = 0x50014;            /* version: 0x14, 6 LVT entries */
            break;
        case 0x80:
            if (is_write) {
                xd.tpr[cpu] = *val & 0xff;
            }
            v = xd.tpr[cpu];
            break;
        case 0xf0:
            if (is_write) {
                xd.svr[cpu] = *val & 0x13ff;
            }
            v = xd.svr[cpu];
            break;
        }
        if (!is_write) {
            *val = v;
        }
        return true;
    }
    if (in_range(addr, size, HPET_BASE, 0x400)) {
        hpet_io(addr - HPET_BASE, size, is_write, val);
        return true;
    }
    return false;
}

bool hv_xendev_access_locked(unsigned cpu, uint8_t type, uint64_t addr,
                             unsigned size, bool is_write, uint64_t *val)
{
    bool taken;

    init_once();
    if (type == IOREQ_TYPE_PIO) {
        uint32_t v = *val;

        taken = addr <= 0xffff && pio(cpu, addr, size, is_write, &v);
        if (taken && !is_write) {
            *val = v;
        }
    } else if (type == IOREQ_TYPE_COPY) {
        taken = mmio(cpu, addr, size, is_write, val);
    } else {
        taken = false;
    }
    if (taken) {
        hv.cnt[HV_CNT_xen_internal_io]++;
    }
    return taken;
}
