#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the fuzzer's seed inputs and its dictionary.

    mkseeds.py OUT-DIR

OUT-DIR/seeds/NAME gets one binary input per guest flow below, encoded
in xsfuzz.c's action format (decode_one(): an opcode byte, then its
operands, little-endian).  The flows are what the qtests (ahci-test,
ide-test, xen-platform-test, display-vga-test) and the AHCI workload do
to the devices, plus the hostile classes of e2e-hostile.py; written as
actions so the fuzzer starts from inputs that reach deep device state.
OUT-DIR/xsfuzz.dict gets the dictionary: opcodes with typical operands,
register offsets, ATA commands, ports and ioreq types.

The port table is read from xsfuzz.c so the two cannot drift apart.
"""
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(HERE, "xsfuzz.c")) as f:
    src = f.read()
m = re.search(r"fixed_ports\[\] = \{(.*?)\};", src, re.S)
PORTS = [int(x, 0) for x in m.group(1).replace("\n", " ").split(",")
         if x.strip()]

# opcodes (decode_one(): op % 24)
OUT, IN, MW, MR, CW, CR, REP, MOVS, HOST, _HOST2, BUFW, RAWBUF, BUFRING, \
    INVAL, BALLOON, FAULT, RAM, AHCI, _AHCI2, AWAIT, IDE, CPU, NOTIFY, \
    TIMEOFF = range(24)

SZ = {1: 0, 2: 1, 4: 2, 8: 3}


def u8(v):
    return struct.pack("<B", v & 0xff)


def u16(v):
    return struct.pack("<H", v & 0xffff)


def u32(v):
    return struct.pack("<I", v & 0xffffffff)


def u64(v):
    return struct.pack("<Q", v & 0xffffffffffffffff)


def port(p):
    """Port selector: the table entry (offset 0..3) or a raw low port."""
    for i, base in enumerate(PORTS):
        if base <= p <= base + 3:
            return u16(i | (p - base) << 8)
    assert p < 0x1000, hex(p)
    return u16(0xf000 | p)


def gpa(kind=0, off=0):
    """kind 0-3 DMA buffers, 4 balloon window, 5 VGA hole, 6 RAM's end."""
    return u8(kind) + u32(off)


def outp(p, v, size=1):
    return u8(OUT) + u8(SZ[size]) + port(p) + u32(v)


def inp(p, size=1):
    return u8(IN) + u8(SZ[size]) + port(p)


def cfgw(dev, reg, v, size=4, fn=0):
    return u8(CW) + u8(dev << 3 | fn) + u8(reg) + u8(SZ[size]) + u32(v)


def cfgr(dev, reg, size=4, fn=0):
    return u8(CR) + u8(dev << 3 | fn) + u8(reg) + u8(SZ[size])


def mmio_w(region, off, v, size=4):
    return u8(MW) + u8(SZ[size]) + u8(region) + u32(off) + u64(v)


def mmio_r(region, off, size=4):
    return u8(MR) + u8(SZ[size]) + u8(region) + u32(off)


def ahci(port_=0, slot=0, cmd=0xec, flags=0x00, lba=0, count=1, prds=(),
         feat=0, cdb=None):
    """A command through the AHCI macro; cmd is the raw ATA opcode."""
    b = u8(AHCI) + u8(port_) + u8(slot) + u8(0xe0 | cmd if cmd >= 0xe0
                                                else ata_sel(cmd))
    b += u8(flags) + u8(len(prds)) + u8(feat) + u32(lba) + u16(count)
    if flags & 0x20:
        b += bytes((cdb or b"\0" * 12)[:12]).ljust(12, b"\0")
    for kind, off, length in prds:
        b += gpa(kind, off) + u16(length) + u8(0)
    return b


ATA = [0xec, 0x25, 0x35, 0x60, 0x61, 0xea, 0xe7, 0xa0, 0xa1, 0xef, 0xc8,
       0xca, 0x20, 0x30, 0xc4, 0xc5, 0xf8, 0x27, 0x40, 0x42, 0x91, 0x06,
       0xb0, 0x2f, 0x63, 0x64, 0x65, 0xe5, 0x08, 0x90]


def ata_sel(cmd):
    return ATA.index(cmd)


def ahci_wait(port_=0):
    return u8(AWAIT) + u8(port_)


def ide(chan=0, cmd=0xc8, prds=((0, 0, 4096),), write=False, dev=0x10,
        lba=0, count=8):
    b = u8(IDE) + u8(chan) + u8(0xe0 | cmd if cmd >= 0xe0 else
                                  ata_sel(cmd))
    b += u8(len(prds) - 1) + u8(0 if write else 8) + u8(dev) + u32(lba)
    b += u8(count)
    for kind, off, length in prds:
        b += gpa(kind, off) + u16(length)
    return b


def rep(p, gkind, goff, count, size=2, out=False):
    return u8(REP) + u8(SZ[size]) + port(p) + u8(1 if out else 0) + \
        gpa(gkind, goff) + u16(count)


def movs(region, off, gkind, goff, count, size=4, to_dev=False):
    return u8(MOVS) + u8(SZ[size]) + u8(region) + u32(off) + \
        u8(1 if to_dev else 0) + gpa(gkind, goff) + u16(count)


def hostile(cls, typ=None, size=1, count=1, data=0, write=True, df=False,
            ptr=False, race=None, tail=None):
    """A request written into the slot.  cls: the address class (0 a
    port, 1 MMIO, 2 PCI config as bdf + register, 3 a raw address; tail
    is its selector bytes); typ: the ioreq type if not the class's own;
    size 1..9 (3, 5, 9 are the just-past shapes)."""
    if typ is None:
        t = cls << 6
    else:
        t = next(b for b in range(256)
                 if b >> 6 == cls and b & 0x20 and b % 9 == typ)
    fl = (1 if write else 0) | (2 if df else 0) | (0x80 if ptr else 0) | \
        (0x40 if race else 0)
    sz = {1: 0, 2: 1, 4: 2, 8: 3, 3: 0x11, 5: 0x12, 9: 0x13}[size]
    if tail is None:
        tail = [port(0x10), u8(7) + u32(0x100), u8(4) + u16(0),
                u64(0x1000)][cls]
    b = u8(HOST) + u8(t) + u8(sz) + u8(fl) + u32(count) + u64(data) + tail
    if ptr:
        b += gpa(0, 0x1000)
    if race:
        b += u8(race[0]) + u32(race[1])
    return b


SEEDS = {
    # ahci-test / the AHCI workload: identify, DMA, NCQ, flush
    "ahci-identify": ahci(cmd=0xec, prds=[(0, 0, 511)]) + ahci_wait(),
    "ahci-read-dma-ext": ahci(cmd=0x25, lba=0, count=8,
                              prds=[(0, 0, 2047), (1, 0x8000, 2047)])
    + ahci_wait(),
    "ahci-write-dma-ext": ahci(cmd=0x35, flags=0x40, lba=16, count=4,
                               prds=[(0, 0x4000, 2047)]) + ahci_wait(),
    "ahci-ncq": b"".join(ahci(slot=s, cmd=0x60 if s & 1 else 0x61,
                              lba=8 * s, count=8,
                              prds=[(0, s * 0x2000, 4095)])
                         for s in range(4)) + ahci_wait(),
    "ahci-flush": ahci(cmd=0xea) + ahci(slot=1, cmd=0xe7) + ahci_wait(),
    "ahci-atapi-on-disk": ahci(cmd=0xa0, flags=0x20, cdb=b"\x12" +
                               b"\0" * 11, prds=[(0, 0, 95)]) + ahci_wait(),
    "ahci-ports": b"".join(ahci(port_=p, cmd=0xec, prds=[(0, p << 12, 511)])
                           for p in range(6)) + ahci_wait(1),
    "ahci-prd-ballooned": u8(BALLOON) + u8(0) + u8(3) +
    ahci(cmd=0x25, count=8, prds=[(4, 0, 4095)]) + ahci_wait(),
    "ahci-prd-vga-hole": ahci(cmd=0x25, count=8, prds=[(5, 0, 4095)]) +
    ahci_wait(),
    "ahci-prd-past-ram": ahci(cmd=0x25, count=16, prds=[(6, 0xf000, 8191)])
    + ahci_wait(),
    "ahci-map-fail": u8(FAULT) + u8(1) + u8(0) +
    ahci(cmd=0x25, count=8, prds=[(0, 0, 4095)]) + ahci_wait(),
    "ahci-page-error": u8(FAULT) + u8(0) + u8(3) +
    ahci(cmd=0x25, count=8, prds=[(0, 0x3000, 4095)]) + ahci_wait(),
    "ahci-invalidate-storm": ahci(cmd=0x25, count=64,
                                  prds=[(0, 0, 32767)]) +
    u8(INVAL) + u8(3) + u8(INVAL) + u8(3) + ahci_wait(),
    # ide-test: PIO identify through rep insw, bus-master DMA
    "ide-identify-pio": outp(0x1f6, 0xb0) + outp(0x1f7, 0xec) +
    inp(0x1f7) + rep(0x1f0, 0, 0, 256),
    "ide-write-pio": outp(0x1f6, 0xf0) + outp(0x1f2, 1) + outp(0x1f3, 0) +
    outp(0x1f7, 0x30) + rep(0x1f0, 0, 0x800, 256, out=True) + inp(0x1f7),
    "ide-dma-read": ide(cmd=0xc8, prds=[(0, 0, 2048), (1, 0x10000, 2048)]),
    "ide-dma-write": ide(cmd=0xca, write=True, prds=[(0, 0x2000, 4096)]),
    "ide-dma-ext-balloon": u8(BALLOON) + u8(2) + u8(1) +
    ide(cmd=0x25, prds=[(4, 0x2000, 4096)]),
    "ide-no-disk": ide(chan=1, dev=0, cmd=0xc8),
    "ide-srst": outp(0x3f6, 0x04) + outp(0x3f6, 0x00) + inp(0x1f7),
    # i440fx-test / PCI: config space walk and writes
    "pci-walk": b"".join(cfgr(d, r) for d in range(6)
                         for r in (0, 8, 0x10, 0x2c, 0x3c)),
    "pci-bar-move": cfgw(4, 0x24, 0xf2000000) + cfgw(4, 4, 0x6) +
    cfgr(4, 0x24) + cfgw(4, 4, 0x0) + cfgw(4, 0x24, 0xffffffff),
    "pci-pam-smram": cfgw(0, 0x59, 0x30, 1) + cfgw(0, 0x5a, 0x33, 1) +
    cfgw(0, 0x72, 0x0a, 1) + cfgr(0, 0x72, 1),
    "piix-pirq": cfgw(1, 0x60, 0x0b, 1) + cfgw(1, 0x61, 0x0a, 1) +
    cfgw(1, 0x62, 0x80, 1) + cfgr(1, 0x60),
    # xen-platform-test: magic, unplug, log port
    "platform": inp(0x10, 2) + inp(0x12, 1) + outp(0x10, 0x01, 2) +
    outp(0x12, 0x41) + outp(0x10, 0x06, 2) + inp(0x10, 2),
    # display-vga-test: VGA registers, the window, the buffered ring
    "vga": outp(0x3c4, 0x02) + outp(0x3c5, 0x0f) + outp(0x3ce, 0x05) +
    outp(0x3cf, 0x40) + u8(BUFW) + u8(SZ[4]) + u8(1) + u32(0x100) +
    u64(0x11223344) + mmio_r(0, 0x100) + mmio_w(0, 0x8000, 0xaa, 1),
    "cirrus-blt": outp(0x3ce, 0x31) + outp(0x3cf, 0x02) + outp(0x3ce, 0x20)
    + outp(0x3cf, 0xff) + outp(0x3ce, 0x31) + outp(0x3cf, 0x02),
    # rtc, acpi pm (poweroff: QEMU stops and is reset and continued)
    "rtc": outp(0x70, 0x0b) + outp(0x71, 0x46) + outp(0x70, 0x0c) +
    inp(0x71) + u8(TIMEOFF) + u32(3600),
    "acpi-poweroff": inp(0xb000, 2) + outp(0xb004, 0x2000 | 5 << 10, 2),
    "kbd-reset": outp(0x64, 0xfe) + inp(0x64),
    # hostile ioreqs (e2e-hostile.py's classes)
    "hostile-pio-size8": hostile(0, size=8, data=0x1234) +
    hostile(0, size=3, write=False),
    "hostile-copy-ptr": hostile(1, size=4, count=4096, ptr=True) +
    hostile(1, size=8, count=0x7fffffff, ptr=True, df=True),
    "hostile-pci-ext": hostile(2, size=4, write=False,
                               tail=u8(4) + u16(0x100)) +
    hostile(2, size=2, tail=u8(31) + u16(0xfff)),
    "hostile-types": b"".join(hostile(3, typ=t, size=4, tail=u64(0x1000))
                              for t in range(9)),
    "hostile-race": hostile(0, size=4, write=False, race=(0, 0x1f0)) +
    hostile(1, size=4, count=2, ptr=True, race=(2, 0x100000)),
    "ring-scenarios": b"".join(u8(BUFRING) + u8(i) for i in range(6)) +
    inp(0x10, 2),
    "ring-raw": u8(RAWBUF) + u8(1) + u64(0x000a0000 << 12 | 0x2 << 10 | 1) +
    u64(0) + u8(RAWBUF) + u8(3) + u64(0xffffffffffffffff) + u64(0x7f),
    "notify-spurious": u8(NOTIFY) + u8(1) + u8(NOTIFY) + u8(0) +
    inp(0x10, 2),
    "rep-movs-abar": movs(7, 0x100, 0, 0, 32) +
    movs(7, 0x100, 0, 0x100, 32, to_dev=True),
    "two-vcpus": u8(CPU) + u8(1) + inp(0x10, 2) + ahci(cmd=0xec,
                                                       prds=[(0, 0, 511)])
    + u8(CPU) + u8(0) + ahci_wait(),
}

DICT = {
    # opcodes with a first operand that reaches something
    "op_ahci_identify": u8(AHCI) + b"\0\0\0",
    "op_ahci_ncq": u8(AHCI) + b"\0\x01" + u8(3),
    "op_ahci_wait": u8(AWAIT) + b"\0",
    "op_ide_dma": u8(IDE) + b"\0" + u8(10),
    "op_balloon": u8(BALLOON) + b"\0\x03",
    "op_inval": u8(INVAL) + b"\x03",
    "op_fault_mapfail": u8(FAULT) + b"\x01\x00",
    "op_fault_pageerr": u8(FAULT) + b"\x00\x03",
    "op_bufring": u8(BUFRING),
    "op_hostile_pio8": u8(HOST) + b"\x20\x03\x01",
    "op_hostile_copy": u8(HOST) + b"\x61\x02\x81",
    "op_hostile_pci": u8(HOST) + b"\xa2\x02\x00",
    "op_cpu1": u8(CPU) + b"\x01",
    # ioreq types, sizes, counts
    "ioreq_invalidate": b"\x08",
    "ioreq_timeoffset": b"\x07",
    "count_page": u32(4096),
    "count_huge": u32(0x7fffffff),
    # AHCI registers (port 0) and values
    "ahci_pxci": u32(0x138), "ahci_pxsact": u32(0x134),
    "ahci_pxcmd": u32(0x118), "ahci_pxis": u32(0x110),
    "ahci_ghc": u32(0x4), "ahci_ghc_hr": u32(0x80000001),
    "ahci_cmd_st": u32(0x17),
    # ATA commands
    "ata_identify": b"\xec", "ata_read_ext": b"\x25",
    "ata_write_ext": b"\x35", "ata_ncq_read": b"\x60",
    "ata_ncq_write": b"\x61", "ata_packet": b"\xa0",
    "ata_set_features": b"\xef", "ata_read_dma": b"\xc8",
    "ata_dsm": b"\x06",
    # ports
    "port_cf8": u16(0xcf8), "port_ide": u16(0x1f0),
    "port_platform": u16(0x10), "port_pm": u16(0xb004),
    "port_cf9": u16(0xcf9), "port_bmide": u16(0xc000),
    "cf8_enable": u32(0x80000000),
}


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "seeds"), exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, "seeds", name), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "xsfuzz.dict"), "w") as f:
        for name, data in sorted(DICT.items()):
            f.write('%s="%s"\n' % (name, "".join("\\x%02x" % b
                                                 for b in data)))
    print("%d seeds, %d dictionary entries in %s"
          % (len(SEEDS), len(DICT), out))


if __name__ == "__main__":
    main()
