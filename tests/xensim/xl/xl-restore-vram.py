#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The VGA framebuffer across Debian's real `xl save` / `xl restore`.

An HVM guest with a std VGA (vga = "stdvga", 16 MiB of VRAM) is created
by xl 4.17 under xensim-hv --toolstack, as xl-e2e.py does.  The guest
(the hv's vCPU player, through PCI configuration, its CPU's loads and
stores and an IDE bus-master transfer, as a driver would) then

  1. programs the VGA's LFB BAR as hvmloader does: QEMU moves VRAM from
     its ram_addr gfns onto the BAR (relocate_memory) and records the
     move in xenstore (device-model/<domid>/physmap/<ram_addr>/...);
  2. writes a pattern into the framebuffer through the BAR; QEMU's view
     of VRAM (HMP xp, through its own mapping) must show it;
  3. is saved and restored by xl: libxl carries the physmap nodes in its
     stream (libxl_dom_save.c, EMULATOR_XENSTORE_DATA) and writes them
     back for the new domain, libxenguest restores the pages at the BAR
     gfns, and QEMU starts with -incoming: when the restored PCI state
     maps VRAM at the BAR again it points its stand-in mapping of VRAM
     at those gfns (xen_replace_cache_entry, hw/i386/xen/xen-hvm.c);
  4. after the restore reads the pattern back through the BAR, writes a
     new one, and QEMU sees both through its mapping;
  5. reads disk sectors with READ DMA into the framebuffer (PRD pointing
     at the BAR): the data must land in VRAM, QEMU must stay up and keep
     VRAM mapped.  The DMA's unmap looks the VRAM pointer up in the map
     cache (qemu_ram_block_from_host): after the replace it must still
     answer VRAM's ram_addr, not the BAR address (issue #15, defect 1:
     then no RAM block matches and QEMU aborts).

Checks are TAP lines without numbers ("ok - ..."), numbered by the suite
(tests/check.d/36-xensim-xl.sh).  --known-failures LABEL turns failures
into "ok - ... # SKIP known LABEL failure: ..." (Debian's stock 7.2).
"""
import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "py"))
from xensim import Control, Failure, Qmp, pci_scan  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "xl_e2e", os.path.join(HERE, "xl-e2e.py"))
xle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(xle)

NAME = "xsimvga"
VIDEORAM_MIB = 16
BAR = 0xf0000000
PRD_GPA = 0x300000          # guest RAM: the PRD table
BMDMA_PORT = 0xc000         # the IDE function's BAR4
DMA_OFF = 0x10000           # framebuffer offset the DMA writes to
DMA_SECTORS = 8
# framebuffer offsets the CPU writes: first page, one further in, last
PATTERN_OFFS = (0x0, 0x1000, (VIDEORAM_MIB << 20) - 0x40)


class Checks:
    def __init__(self, known):
        self.known = known

    def __call__(self, good, what, detail=""):
        if not good and detail:
            xle.diag(detail)
        if not good and self.known:
            print("ok - %s # SKIP known %s failure: %s" % (what, self.known,
                                                           what), flush=True)
        else:
            xle.report(good, what)
        return good


def pattern(tag, off):
    """64 bytes naming the tag and the offset they were written at."""
    return (("%s@%07x:" % (tag, off)).encode() * 8)[:64]


def sector(i):
    return (b"DMA-SECTOR-%04d." % i) * 32


class Guest:
    """The guest's side: PCI set-up, framebuffer stores and loads, and a
    minimal PIIX IDE bus-master driver, all through the vCPU player."""

    def __init__(self, ctl):
        self.c = ctl
        self.vga = self.ide = None

    def scan(self):
        for dev, fn, ids, cls in pci_scan(self.c):
            if ids == 0x11111234:
                self.vga = (dev, fn)
            elif cls >> 8 == 0x0101 and self.ide is None:
                self.ide = (dev, fn)
        return self.vga is not None and self.ide is not None

    def map_framebuffer(self):
        dev, fn = self.vga
        self.c.cfg_write(dev, fn, 0x10, BAR)
        self.c.cfg_write(dev, fn, 0x04, 0x0003, size=2)
        return self.c.cfg_read(dev, fn, 0x10) & ~0xf

    def enable_ide(self):
        dev, fn = self.ide
        self.c.cfg_write(dev, fn, 0x20, BMDMA_PORT | 1)
        self.c.cfg_write(dev, fn, 0x04, 0x0005, size=2)  # I/O, bus master

    def write(self, addr, data):
        self.c.ok("memwrite %#x %s" % (addr, data.hex()))

    def read(self, addr, n):
        return self.c.mem(addr, n)

    def read_dma(self, lba, count, dest):
        """ATA READ DMA of count sectors at lba into guest address dest
        (one PRD); the bus-master status and the ATA status after it."""
        c = self.c
        prd = (dest.to_bytes(4, "little") +
               (count * 512).to_bytes(2, "little") + b"\x00\x80")
        self.write(PRD_GPA, prd)
        c.ok("outb 0x1f6 %#x" % (0xe0 | (lba >> 24 & 0xf)))
        c.ok("outl %#x %#x" % (BMDMA_PORT + 4, PRD_GPA))
        c.ok("outb %#x 0x06" % (BMDMA_PORT + 2))     # clear irq, error
        c.ok("outb 0x1f2 %#x" % count)
        c.ok("outb 0x1f3 %#x" % (lba & 0xff))
        c.ok("outb 0x1f4 %#x" % (lba >> 8 & 0xff))
        c.ok("outb 0x1f5 %#x" % (lba >> 16 & 0xff))
        c.ok("outb 0x1f7 0xc8")                      # READ DMA
        c.ok("outb %#x 0x09" % BMDMA_PORT)           # start, to memory

        def done():     # interrupt raised, no longer active
            st = c.value("inb %#x" % (BMDMA_PORT + 2))
            return st if st & 0x05 == 0x04 else 0
        bm = xle.wait_for(done, 20, 0.05)
        c.ok("outb %#x 0x00" % BMDMA_PORT)
        # the alternate status (no interrupt acknowledge) until not busy
        xle.wait_for(lambda: not c.value("inb 0x3f6") & 0x80, 10, 0.05)
        return bm, c.value("inb 0x1f7")


def qemu_bytes(q, addr, n):
    """n bytes at guest address addr as QEMU sees them (HMP xp: through
    its own mapping of the memory region there), or None."""
    try:
        out = q.hmp("xp /%dxb %#x" % (n, addr))
    except (OSError, Failure) as e:
        xle.diag("xp failed: %s" % e)
        return None
    vals = []
    for line in out.splitlines():
        if ":" in line:
            vals += re.findall(r"0x([0-9a-f]{2})\b", line.split(":", 1)[1])
    return bytes(int(v, 16) for v in vals[:n])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--xensim", required=True, help="build/xensim")
    ap.add_argument("--dm", required=True, help="device_model_override")
    ap.add_argument("--known-failures", metavar="LABEL", default="",
                    help="report failures as SKIP (a known LABEL failure)")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    xle.private_namespace(False)
    check = Checks(a.known_failures)

    a.xensim = os.path.abspath(a.xensim)
    d = tempfile.mkdtemp(prefix="xensim-xlvga.")
    paths = {k: os.path.join(d, k) for k in ("xs.sock", "hv.sock", "hv.ctl")}
    plain = dict(os.environ, XENSTORED_PATH=paths["xs.sock"],
                 XENSIM_SOCKET=paths["hv.sock"])
    plain.pop("XLE2E_NS", None)
    env = dict(plain, LD_PRELOAD=os.path.join(a.xensim, "shim",
                                              "libxensim-devxen.so"))
    procs, dm_pids, logs = [], [], []
    cfg = image = None

    def spawn(name, argv, e):
        log = open(os.path.join(d, name + ".log"), "w")
        logs.append(log)
        procs.append(subprocess.Popen(argv, env=e, stdout=log,
                                      stderr=subprocess.STDOUT))

    def xl(*args, timeout=120):
        r = subprocess.run([xle.XL, "-vvv"] + list(args), env=env,
                           capture_output=True, text=True, timeout=timeout)
        with open(os.path.join(d, "xl.log"), "a") as f:
            f.write("$ xl %s\n%s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def dm_of(domid):
        pid = xle.dm_pid(env, domid)
        dm_pids.append(pid)
        return pid

    def physmap_nodes(domid):
        base = "/local/domain/0/device-model/%s/physmap" % domid
        rc, keys = xle.xs(env, "list", base)
        nodes = {}
        for k in keys.split() if rc == 0 else []:
            nodes[k] = tuple(xle.xs(env, "read", "%s/%s/%s" % (base, k, f))[1]
                             for f in ("start_addr", "size", "name"))
        return nodes

    def monitor(domid):
        return Qmp("/var/run/xen/qmp-libxenstat-%s" % domid, timeout=30)

    try:
        spawn("xenstored", [os.path.join(a.xensim, "xenstored"), "--socket",
                            paths["xs.sock"]], plain)
        spawn("hv", [os.path.join(a.xensim, "xensim-hv"), "--socket",
                     paths["hv.sock"], "--control", paths["hv.ctl"],
                     "--toolstack"], plain)
        xle.wait_for(lambda: all(os.path.exists(p) for p in paths.values()),
                     20)
        xle.xs(env, "write", "/local/pool/0/name", "Pool-0")
        spawn("xenconsoled", [xle.XENCONSOLED, "-i", "--log=none"], env)

        disk = os.path.join(d, "disk.img")
        with open(disk, "wb") as f:
            f.write(b"".join(sector(i) for i in range(DMA_SECTORS)))
            f.truncate(64 << 20)
        cfg = os.path.join(d, "vga.cfg")
        xle.write_cfg(cfg, NAME, a.dm,
                      'vga = "stdvga"\nvideoram = %d\n'
                      'disk = [ "format=raw,vdev=hda,access=rw,'
                      'backendtype=qdisk,target=%s" ]\n'
                      % (VIDEORAM_MIB, disk))

        r = xl("create", cfg)
        dom = xl("domid", NAME).stdout.strip()
        pid = dm_of(dom)
        if not check(r.returncode == 0 and pid,
                     "stdvga guest: xl create succeeds, device model %d "
                     "running" % pid, r.stderr[-2000:]):
            return
        ctl = Control(paths["hv.ctl"])
        g = Guest(ctl)
        ready = ctl.cmd("ready")[0] == "ok 1" and g.scan()
        bar = g.map_framebuffer() if ready else None
        nodes = physmap_nodes(dom)
        saved_keys = list(nodes)
        check(bar == BAR and list(nodes.values()) ==
              [("%x" % BAR, "%x" % (VIDEORAM_MIB << 20), "vga.vram")],
              "the guest maps the std VGA's LFB BAR at %#x: VRAM moved "
              "there, physmap recorded in xenstore" % BAR,
              "VGA %s, IDE %s, BAR %s, physmap %s"
              % (g.vga, g.ide, bar and hex(bar), nodes))

        q = monitor(dom)
        for off in PATTERN_OFFS:
            g.write(BAR + off, pattern("before", off))
        seen = {off: qemu_bytes(q, BAR + off, 64) for off in PATTERN_OFFS}
        q.close()
        check(all(seen[o] == pattern("before", o) for o in PATTERN_OFFS),
              "the guest's stores into the framebuffer are what QEMU's "
              "VRAM holds (HMP xp at the BAR)", "QEMU sees %s" % seen)

        image = os.path.join(d, "saved.img")
        r = xl("save", NAME, image)
        gone = xle.wait_for(lambda: not xle.alive(pid), 15)
        r2 = xl("restore", image)
        dom = xl("domid", NAME).stdout.strip()
        pid = dm_of(dom)
        argv = xle.dm_argv(pid)
        status = xle.qmp_status(dom)
        if not check(r.returncode == 0 and gone and r2.returncode == 0 and
                     pid and any(x.startswith("fd:") for x in argv) and
                     status == "running",
                     "xl save, xl restore: domain %s, its device model "
                     "started with -incoming fd:N, running" % dom,
                     (r.stderr + r2.stderr)[-2000:] + "\nstatus %s" % status):
            return
        # libxl's EMULATOR_XENSTORE_DATA record: key, value, NUL-ended
        with open(image, "rb") as f:
            carried = [m.group(1).decode() for m in re.finditer(
                rb"physmap/([0-9a-f]+)/start_addr\0%x\0" % BAR, f.read())]
        nodes = physmap_nodes(dom)
        check(carried == saved_keys and list(nodes.values()) ==
              [("%x" % BAR, "%x" % (VIDEORAM_MIB << 20), "vga.vram")],
              "libxl carried the physmap in its save image and domain %s "
              "has it" % dom, "in the image %s (saved %s), physmap %s"
              % (carried, saved_keys, nodes))

        ctl.cmd("ready")
        back = {off: g.read(BAR + off, 64) for off in PATTERN_OFFS}
        check(all(back[o] == pattern("before", o) for o in PATTERN_OFFS),
              "after restore the guest reads its framebuffer pattern back "
              "through the BAR", "guest reads %s" % back)
        q = monitor(dom)
        seen = {off: qemu_bytes(q, BAR + off, 64) for off in PATTERN_OFFS}
        check(all(seen[o] == pattern("before", o) for o in PATTERN_OFFS),
              "after restore QEMU's VRAM is the restored framebuffer (its "
              "mapping repointed at the BAR gfns)", "QEMU sees %s" % seen)
        for off in PATTERN_OFFS:
            g.write(BAR + off, pattern("after", off))
        back = {off: g.read(BAR + off, 64) for off in PATTERN_OFFS}
        seen = {off: qemu_bytes(q, BAR + off, 64) for off in PATTERN_OFFS}
        check(all(back[o] == pattern("after", o) == seen[o]
                  for o in PATTERN_OFFS),
              "after restore the guest writes the framebuffer, and QEMU "
              "sees what it wrote", "guest %s, QEMU %s" % (back, seen))

        def mapcache():
            try:
                return q.execute("query-xen-mapcache")
            except (OSError, Failure):
                return None
        mc_before = mapcache()
        g.enable_ide()
        want = b"".join(sector(i) for i in range(DMA_SECTORS))
        try:
            bm, ata = g.read_dma(0, DMA_SECTORS, BAR + DMA_OFF)
        except (OSError, Failure) as e:
            bm, ata = None, "%s" % e
        alive = xle.alive(pid)
        try:
            status = q.execute("query-status").get("status")
        except (OSError, Failure) as e:
            status = "no answer (%s)" % e
        landed = g.read(BAR + DMA_OFF, len(want)) if alive else b""
        check(alive and status == "running" and bm and ata == 0x50 and
              landed == want,
              "a READ DMA into the framebuffer lands in VRAM and the "
              "device model stays up (VRAM's reverse lookup is its "
              "ram_addr)",
              "bus master %s, ATA status %s, QEMU %s (%s), landed %r"
              % (bm, ata, "alive" if alive else "dead", status,
                 landed[:32]))
        if alive:
            try:
                q.close()
                q = monitor(dom)
                seen = qemu_bytes(q, BAR + DMA_OFF, 64)
            except (OSError, Failure) as e:
                seen = "%s" % e
            mc_after = mapcache()
            g.write(BAR, pattern("dma", 0))
            again = qemu_bytes(q, BAR, 64)
            check(seen == want[:64] and again == pattern("dma", 0) and
                  (mc_before is None or
                   mc_after["locked"] == mc_before["locked"]),
                  "after the DMA QEMU sees it in VRAM, VRAM stays mapped "
                  "and locked (map cache locked entries %s -> %s)"
                  % (mc_before and mc_before["locked"],
                     mc_after and mc_after["locked"]),
                  "QEMU sees %r, then %r" % (seen, again))
        else:
            try:
                with open("/var/log/xen/qemu-dm-%s.log" % NAME) as f:
                    xle.diag("device model log: " + f.read()[-1500:])
            except OSError:
                pass
            check(False, "after the DMA QEMU sees it in VRAM, VRAM stays "
                  "mapped and locked", "the device model died")

        r = xl("destroy", NAME)
        check(r.returncode == 0 and
              xle.wait_for(lambda: not pid or not xle.alive(pid), 15),
              "xl destroy: the restored domain and its device model gone")
    finally:
        xle.stop_all((cfg, image), dm_pids, procs)
        for f in logs:
            f.close()
        if a.keep:
            for f in os.listdir("/var/log/xen"):
                shutil.copy(os.path.join("/var/log/xen", f), d)
            xle.diag("logs kept in " + d)
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
