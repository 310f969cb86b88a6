#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Mutants of the ioreq core, each killed by the test that claims it.

Every mutant is one small, plausible defect in hw/i386/xen/xen-ioreq-*.c,
xen-hvm.c or accel/xen/xen-all.c (a check dropped, a bound cut, a notify
lost) together with
the suite 40 (e2e-hostile.py) case or suite 41 (e2e-ioreq.py) / 42
(e2e-lifecycle.py) check that says it guards against that defect.  For each mutant this script rewrites the
file in the assembled tree (BUILD/assembled/qemu), recompiles that one
object with ninja, links BUILD/mutants/NAME with the build's own link
command (lld) and puts the file back; then it runs the named test on
BUILD/mutants/NAME.  The test must fail ("killed"); a mutant that passes
is "SURVIVED".  BUILD/qemu-system-x86_64 is never replaced; at the end
the touched objects are recompiled from the real sources.

usage: mutants.py TOP BUILD [NAME...]        (default: all mutants)
Prints one line per mutant and exits 1 if any survived.
"""
import os
import re
import shutil
import subprocess
import sys

D = "hw/i386/xen/xen-ioreq-dispatch.c"
S = "hw/i386/xen/xen-ioreq-server.c"

# name, claim, file, old text, new text, suite, test regex
MUTANTS = [
    # ---- suite 40: hostile requests ----
    ("pio-port-wraps", "PIO port wrapped to 16 bits, not refused (XSA-199)",
     D, """    if (req->addr >= PIO_PORT_LIMIT || req->addr + size > PIO_PORT_LIMIT) {
        return reject(s, req, "port beyond 0xffff");
    }
    port = req->addr;
""", """    port = req->addr & 0xffff;
""", "hostile", r"PIO port beyond 0xffff"),
    ("pio-rep-count0", "rep PIO of count 0 served as one item",
     D, """    if (count == 0 || count > XEN_IOREQ_MAX_REPS) {
        return reject(s, req, "rep count 0 or beyond 4096");
""", """    count = count ? count : 1;
    if (count > XEN_IOREQ_MAX_REPS) {
        return reject(s, req, "rep count 0 or beyond 4096");
""", "hostile", r"PIO count 0 with data_is_ptr"),
    ("mmio-size0", "MMIO of size 0 served as one byte",
     D, """    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return reject(s, req, "MMIO size not 1, 2, 4 or 8");
""", """    size = size ? size : 1;
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        return reject(s, req, "MMIO size not 1, 2, 4 or 8");
""", "hostile", r"MMIO size 0"),
    ("mmio-count0", "MMIO of count 0 served as one access",
     D, """    if (count == 0 || count > XEN_IOREQ_MAX_REPS) {
        return reject(s, req, "MMIO count 0 or beyond 4096");
""", """    count = count ? count : 1;
    if (count > XEN_IOREQ_MAX_REPS) {
        return reject(s, req, "MMIO count 0 or beyond 4096");
""", "hostile", r"MMIO count 0"),
    ("pci-reg-12bit", "PCI_CONFIG register cut to 12 bits, not refused",
     D, """    if (reg >= PCIE_CONFIG_SPACE_SIZE) {
        return reject(s, req, "PCI config register beyond 4095");
    }
""", """    reg &= PCIE_CONFIG_SPACE_SIZE - 1;
""", "hostile", r"PCI_CONFIG register 0x10000"),
    ("ptr-buffer-qemu-ram", "data_is_ptr buffer only required to be RAM "
     "to QEMU, not memory Xen maps (the code before this branch)",
     D, """        if (!xen_hvm_section_is_xen_memory(&sec)) {
""", """        if (!sec.mr) {
""", "hostile", r"data_is_ptr buffer in MMIO"),
    ("ptr-buffer-mappable", "data_is_ptr buffer only required to be "
     "mappable (a bounce buffer will do), not RAM",
     D, """        if (l < len || !memory_access_is_direct(sec.mr, is_write)) {
            return false;
        }
        /* RAM to QEMU is not always RAM to Xen: VGA's chain-4 window */
        if (!xen_hvm_section_is_xen_memory(&sec)) {
            return false;
        }
""", """        if (l < len) {
            return false;
        }
""", "hostile", r"data_is_ptr buffer (in MMIO|outside guest RAM)"),
    ("rep-df-range-ignored", "df not applied to a rep PIO buffer's range",
     D, """    if (!rep_range(req->data, size, count, req->df, &lo)) {
""", """    if (!rep_range(req->data, size, count, false, &lo)) {
""", "hostile", r"df rep buffer running below 0"),
    ("ring-rp-stuck",
     "buffered read pointer not advanced past pointers that disagree",
     S, """                                  rd, wr);
        qatomic_add(&pg->read_pointer, pending);
""", """                                  rd, wr);
""", "hostile", r"buffered ring pointers 600 apart"),
    ("buf-dir-unread", "buffered entry's direction not read: a read entry "
     "carried out as a write",
     S, """        is_write = e.dir == IOREQ_WRITE;
""", """        is_write = true;
""", "hostile", r"buffered read entry"),
    ("serve-idle-slot", "slot served unless already answered (idle ones "
     "too)",
     S, """        if (state == STATE_IOREQ_READY) {
            serve_slot(s, i);
""", """        if (state != STATE_IORESP_READY) {
            serve_slot(s, i);
""", "hostile", r"spurious notify of an idle vCPU slot"),
    ("stale-slot-left", "notified slot in process or in a bad state left "
     "unanswered",
     S, """            answer_stale_slot(s, i, state);
""", """            s->stats.spurious++;
""", "hostile", r"notified slot (left INPROCESS|in a state)"),
    # ---- suite 41: the ioreq paths against real devices ----
    ("pio-read-1-byte", "PIO read answers one byte whatever its size",
     D, """    return ldn_le_p(buf, size);
}

static void pio_write""", """    return ldn_le_p(buf, 1);
}

static void pio_write""", "ioreq", r"^PIO 1, 2, 4"),
    ("response-no-notify", "response written without the notify",
     S, """    xenevtchn_notify(s->xce, s->vcpu_port[vcpu]);
}
""", """}
""", "ioreq", r"^PIO 1, 2, 4"),
    ("rep-df-ignored", "df ignored: every rep runs up",
     D, """    return df ? (uint64_t)(count - 1 - i) * size : (uint64_t)i * size;
""", """    return (uint64_t)i * size;
""", "ioreq", r"^rep outsb/insb"),
    ("mmio-8-truncated", "8-byte MMIO write truncated to 32 bits",
     D, """static void mem_write(uint64_t addr, uint32_t size, uint64_t val)
{
    uint8_t buf[8];

    stn_le_p(buf, size, val);
""", """static void mem_write(uint64_t addr, uint32_t size, uint64_t val)
{
    uint8_t buf[8];

    stn_le_p(buf, size, size == 8 ? (uint32_t)val : val);
""", "ioreq", r"^MMIO 1, 2, 4, 8"),
    ("stos-once", "rep stos does one access, not count",
     D, """        for (i = 0; i < count; i++) {
            uint64_t a = addr_lo""", """        for (i = 0; i < 1; i++) {
            uint64_t a = addr_lo""", "ioreq", r"^rep stos"),
    ("pci-size-unchecked", "PCI config register not checked against the "
     "function's config space size",
     D, """        val = pci_host_config_read_common(dev, reg, pci_config_size(dev),
""", """        val = pci_host_config_read_common(dev, reg, PCIE_CONFIG_SPACE_SIZE,
""", "ioreq", r"^PCI config"),
    ("ring-rp-one-per-entry", "buffered read pointer advanced by one slot "
     "for an 8-byte entry",
     S, """        done += used;
""", """        done++;
""", "ioreq", r"^buffered ring wrapped"),
    ("sync-before-ring", "a synchronous request served without draining "
     "the buffered ring first",
     S, """        bufioreq_drain_batch(s);    /* only what Xen put before the slot */
""", "", "ioreq", r"^buffered writes then a synchronous read"),
    ("invalidate-unanswered", "INVALIDATE carried out but not answered",
     S, """    xen_ioreq_dispatch(s, &req);

    if (slot_state(slot) != STATE_IOREQ_INPROCESS) {""",
     """    xen_ioreq_dispatch(s, &req);
    if (req.type == IOREQ_TYPE_INVALIDATE) {
        return;
    }

    if (slot_state(slot) != STATE_IOREQ_INPROCESS) {""",
     "ioreq", r"^map cache invalidations"),
    # ---- suite 42: set-up failures ----
    ("setup-server-left", "a server whose set-up failed is not torn down",
     S, """    s->exit.notify = xen_ioreq_exit;
    qemu_add_exit_notifier(&s->exit);
""", """    s->exit.notify = xen_ioreq_exit;
""", "lifecycle", r"^set-up failures"),
    ("restrict-failure-ignored", "a failed -xen-domid-restrict only "
     "warned about: the device model runs unrestricted",
     "accel/xen/xen-all.c", """        error_setg_errno(errp, errno, "xen: cannot restrict the device "
                         "model's handles to domain %u", xen_domid);
        return false;
""", """        warn_report("xen: cannot restrict the device model's handles");
        return true;
""", "lifecycle", r"^set-up failures"),
    ("notify-vcpu0-port", "every answer notified on vCPU 0's port",
     S, """    xenevtchn_notify(s->xce, s->vcpu_port[vcpu]);
""", """    xenevtchn_notify(s->xce, s->vcpu_port[0]);
""", "ioreq", r"^4 vCPUs at once"),
]

SCRIPTS = {"hostile": "e2e-hostile.py", "ioreq": "e2e-ioreq.py",
           "lifecycle": "e2e-lifecycle.py"}


def object_of(build_dir, path):
    """The ninja target that compiles path of the assembled tree."""
    pat = re.compile(r"^build (\S+\.o): c_COMPILER \.\./assembled/qemu/%s[ |]"
                     % re.escape(path))
    with open(build_dir + "/qemu/build.ninja") as f:
        for line in f:
            m = pat.match(line)
            if m and "x86_64-softmmu" in m.group(1):
                return m.group(1)
    raise RuntimeError("no object for " + path)


def ninja(build_dir, target):
    r = subprocess.run(["nice", "ninja", "-C", build_dir + "/qemu", target],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode:
        sys.stderr.write(r.stdout[-3000:])
    return r.returncode == 0


def link(build_dir, out):
    """The binary's own link command, with lld (several times faster
    than ld.bfd on a 37 MB binary) and its output moved to out; the
    build's qemu-system-x86_64 is left as it is."""
    cmd = subprocess.run(["ninja", "-C", build_dir + "/qemu", "-t",
                          "commands", "qemu-system-x86_64"],
                         stdout=subprocess.PIPE, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    if " -o qemu-system-x86_64 " not in cmd:
        raise RuntimeError("unexpected link command")
    cmd = cmd.replace(" -o qemu-system-x86_64 ",
                      " -fuse-ld=lld -o %s " % out, 1)
    return subprocess.run("nice " + cmd, shell=True,
                          cwd=build_dir + "/qemu").returncode == 0


def make_mutant(build_dir, m):
    name, _, path, old, new = m[:5]
    src = os.path.join(build_dir, "assembled/qemu", path)
    obj = object_of(build_dir, path)
    orig = open(src).read()
    if orig.count(old) != 1:
        return "text to mutate found %d times" % orig.count(old)
    os.makedirs(build_dir + "/mutants", exist_ok=True)
    try:
        with open(src, "w") as f:
            f.write(orig.replace(old, new))
        if not ninja(build_dir, obj):
            return "does not build"
        if not link(build_dir, "%s/mutants/%s" % (build_dir, name)):
            return "does not link"
    finally:
        with open(src, "w") as f:
            f.write(orig)
        # The next mutant, of another file, must not link this one's
        # object: each mutant carries exactly one defect.
        ninja(build_dir, obj)
    return None


def run_test(top, build_dir, m):
    name, suite, regex = m[0], m[5], m[6]
    script = os.path.join(top, "tests/xensim/tests", SCRIPTS[suite])
    r = subprocess.run(["python3", script, "--only", regex,
                        build_dir + "/xensim",
                        "mutant=%s/mutants/%s" % (build_dir, name)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=1800)
    failed = [l for l in r.stdout.splitlines() if l.startswith("not ok")]
    detail = [l[2:] for l in r.stdout.splitlines() if l.startswith("# ")]
    ran = [l for l in r.stdout.splitlines() if re.match(r"(not )?ok ", l)]
    return ran, failed, detail


def main():
    top, build_dir = (os.path.abspath(a) for a in sys.argv[1:3])
    names = sys.argv[3:]
    todo = [m for m in MUTANTS if not names or m[0] in names]
    survived = 0
    try:
        built = {m[0]: make_mutant(build_dir, m) for m in todo}
    finally:
        for path in sorted({m[2] for m in todo}):
            ninja(build_dir, object_of(build_dir, path))
    for m in todo:
        if built[m[0]]:
            print("%-22s ERROR %s" % (m[0], built[m[0]]), flush=True)
            survived += 1
            continue
        ran, failed, detail = run_test(top, build_dir, m)
        verdict = "killed" if failed else "SURVIVED"
        survived += not failed
        print("%-22s %-8s %s (%s): %s" % (
            m[0], verdict, m[1], SCRIPTS[m[5]],
            "; ".join(f.split(" - ", 1)[-1] for f in failed) or
            "%d checks passed" % len(ran)), flush=True)
        for d in detail[:2]:
            print("%22s   # %s" % ("", d[:200]), flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
