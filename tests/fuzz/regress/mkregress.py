#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the regression inputs that are made by hand, not by afl-fuzz.

    mkregress.py [DIR]      (default: this directory)

Each is the smallest guest flow that reproduces a finding, written with
mkseeds.py's encoders (xsfuzz.c's action format) so that the flow can be
read here; README.md says what each one found and where it is fixed.
MMIO region 7 is the AHCI ABAR (the second memory BAR the start-up scan
assigns, as in mkseeds.py's rep-movs-abar seed); port 1's PxCMD is at
ABAR + 0x198.  Port 1 is the throttled disk (xsfuzz.c target_start()).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import mkseeds as m                                     # noqa: E402

ABAR = 7
PXCMD1 = 0x198
FRE_POD_SUD = 0x16
START = 0x01
GHC = 0x04
GHC_AE = 0x80000000
GHC_HR = 0x01


def pio_reset_multiple(pio_cmd, multiple_count):
    """PIO_CMD (READ or WRITE SECTORS) of 16 sectors on port 1 after six
    reads that use up the throttle's burst, so that each block stays in
    flight; an HBA reset (GHC.HR) while one is moved: the IDE reset's
    cancel waits for it, and its completion issues the next 512-byte
    block.  The port is started again and takes READ MULTIPLE of
    MULTIPLE_COUNT sectors (16-sector blocks: the unit's qiov is 8 KiB)
    before that block completes."""
    return ((m.ahci(port_=1, cmd=0x20, count=1, prds=[(0, 0, 0x1ff)]) +
             m.ahci_wait(1)) * 6 +
            m.ahci(port_=1, cmd=pio_cmd, count=16, prds=[(0, 0, 0xffff)]) +
            m.mmio_w(ABAR, GHC, GHC_AE | GHC_HR) +
            m.mmio_w(ABAR, PXCMD1, FRE_POD_SUD) +
            m.mmio_w(ABAR, PXCMD1, FRE_POD_SUD | START) +
            m.ahci(port_=1, cmd=0xc4, count=multiple_count,
                   prds=[(0, 0, 0xffff)]) +
            m.ahci_wait(1) * 8)


INPUTS = {
    # READ DMA EXT of 8 sectors with no PRD table at all (PRDTL = 0)
    "ahci-dma-no-prdt.bin":
        m.ahci(cmd=0x25, count=8, prds=()) + m.ahci_wait(),
    # the same for WRITE DMA
    "ahci-write-dma-no-prdt.bin":
        m.ahci(cmd=0xca, count=8, prds=()) + m.ahci_wait(),
    # READ SECTORS (PIO) of 16 sectors on port 1 (the throttled disk:
    # after a burst of 5, each block stays in flight ~20 ms); while a
    # block is read, PxCMD.ST is cleared and set again
    "ahci-pio-engine-restart.bin":
        m.ahci(port_=1, cmd=0x20, count=16, prds=[(0, 0, 0xffff)]) +
        m.mmio_w(ABAR, PXCMD1, FRE_POD_SUD) +
        m.mmio_w(ABAR, PXCMD1, FRE_POD_SUD | START) + m.ahci_wait(1),
    # READ DMA of 16 sectors on port 1, the engine restarted under it;
    # twelve reads before it use up the throttle's burst
    "ahci-dma-engine-restart.bin":
        (m.ahci(port_=1, cmd=0xc8, count=16, prds=[(0, 0, 0xffff)]) +
         m.ahci_wait(1)) * 12 +
        m.ahci(port_=1, cmd=0xc8, count=16, prds=[(0, 0, 0xffff)]) +
        m.mmio_w(ABAR, PXCMD1, FRE_POD_SUD) +
        m.mmio_w(ABAR, PXCMD1, FRE_POD_SUD | START) + m.ahci_wait(1),
    # READ SECTORS, then READ MULTIPLE across an HBA reset
    "ahci-pio-reset-multiple.bin": pio_reset_multiple(0x20, 16),
    # the same with WRITE SECTORS: the block the cancel let the command
    # issue completes into READ MULTIPLE of 20 sectors, takes its first
    # 16 and writes the next 4 (a read command writing to the disk), and
    # READ MULTIPLE's own 8 KiB block then completes into a 2 KiB qiov
    "ahci-pio-write-reset-multiple.bin": pio_reset_multiple(0x30, 20),
    # READ SECTORS (PIO) of 16 sectors on port 1; while its blocks are
    # still being read, a machine reset (CF9: the IDE reset cancels the
    # block in flight, whose completion issues the next one), then a PV
    # driver's unplug of the emulated disks (platform port 0x10,
    # UNPLUG_ALL_DISKS) while that one is in flight
    "ahci-pio-reset-unplug.bin":
        m.ahci(port_=1, cmd=0x20, count=16, prds=[(0, 0, 0xffff)]) +
        m.outp(0xcf9, 0x06) + m.inp(0x10, 2) +
        m.inp(0x10, 2) + m.outp(0x10, 0x01, 2) + m.inp(0x10, 2),
}


OPEN = set()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else HERE
    for name, data in INPUTS.items():
        # an input of a finding still open goes to ../open, not replayed
        where = os.path.join(os.path.dirname(out), "open") \
            if name in OPEN and len(sys.argv) < 2 else out
        with open(os.path.join(where, name), "wb") as f:
            f.write(data)
    print("%d inputs in %s" % (len(INPUTS), out))


if __name__ == "__main__":
    main()
