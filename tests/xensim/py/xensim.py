# SPDX-License-Identifier: GPL-2.0-or-later
"""The Python driver layer for xensim (as QEMU's libqos is for qtests).

Every Python program that talks to the simulator goes through here: the
launcher (build/xensim/run), the e2e tests in tests/ and q35/, and the
Q35 workload.  One client per interface:

  XenStore  the xs_wire protocol, as libxenstore speaks it (read, write,
            watch, ...); xs_read() for a single read
  Qmp       a QMP connection as libxl opens it (greeting, capabilities,
            numbered commands, strict \\r\\n framing, 1 MiB limit)
  Control   xensim-hv's control socket: one line per command, a final
            `ok ...` or `err ERRNO text` line (README.md's table); the
            guest's vCPU ops (PIO, MMIO, PCI config through CF8/CFC,
            IRQ lines, counters) are methods on it
  Guest     a device model started as libxl starts it (`run --keep`),
            with its Control and Qmp, torn down by stop()
  Tap       TAP output; a run labelled "stock..." (Debian's 7.2) turns
            its failures into "ok ... # SKIP known stock 7.2 failure"
  e2e_main  the command line of an e2e test: [--only REGEX] SIM
            LABEL=QEMU..., one run per device model

Invariants: nothing here exits the process; a protocol violation or a
closed connection raises Failure (with what went wrong); socket errors
stay OSError.  Blocking calls carry a timeout.
"""
import json
import os
import re
import select
import shlex
import shutil
import socket
import struct
import subprocess


class Failure(Exception):
    """A peer broke its protocol or went away; the message says how."""


# ---- xenstore (xs_wire) client ------------------------------------------

XS_DIRECTORY, XS_READ, XS_WATCH, XS_UNWATCH = 1, 2, 4, 5
XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS = 11, 12, 13, 14
XS_WATCH_EVENT, XS_ERROR = 15, 16
XS_HDR = struct.Struct("=IIII")


class XenStore:
    """A minimal blocking xs_wire client, as libxl's libxenstore talks."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.events = []
        self.req_id = 0

    def close(self):
        self.sock.close()

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise Failure("xenstored closed the connection")
            buf += chunk
        return buf

    def _recv_msg(self):
        mtype, req_id, _tx, length = XS_HDR.unpack(
            self._recv_exact(XS_HDR.size))
        if length > 4096:
            raise Failure("xenstored sent an oversized frame")
        return mtype, req_id, self._recv_exact(length)

    def request(self, mtype, *args, value=None):
        payload = b"".join(a.encode() + b"\0" for a in args)
        if value is not None:
            payload += value.encode()
        self.req_id += 1
        self.sock.sendall(XS_HDR.pack(mtype, self.req_id, 0, len(payload))
                          + payload)
        while True:
            rtype, req_id, data = self._recv_msg()
            if rtype == XS_WATCH_EVENT:
                self.events.append(data.split(b"\0")[:2])
                continue
            if rtype == XS_ERROR:
                raise OSError(data.rstrip(b"\0").decode())
            if rtype != mtype or req_id != self.req_id:
                raise Failure("xenstored answered type %d to type %d"
                              % (rtype, mtype))
            return data

    def write(self, path, value):
        self.request(XS_WRITE, path, value=value)

    def read(self, path):
        try:
            return self.request(XS_READ, path).decode(errors="replace")
        except OSError:
            return None

    def mkdir(self, path):
        self.request(XS_MKDIR, path)

    def rm(self, path):
        try:
            self.request(XS_RM, path)
        except OSError:
            pass

    def directory(self, path):
        try:
            data = self.request(XS_DIRECTORY, path)
        except OSError:
            return []
        return [x.decode() for x in data.split(b"\0") if x]

    def set_perms(self, path, *perms):
        self.request(XS_SET_PERMS, path, *perms)

    def watch(self, path, token):
        self.request(XS_WATCH, path, token)

    def unwatch(self, path, token):
        self.request(XS_UNWATCH, path, token)

    def wait_event(self, timeout):
        """The next watch event (path, token), or None after timeout."""
        if not self.events:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return None
            while True:
                rtype, _req, data = self._recv_msg()
                if rtype == XS_WATCH_EVENT:
                    self.events.append(data.split(b"\0")[:2])
                    break
        path, token = self.events.pop(0)
        return path.decode(), token.decode()


def xs_read(sock_path, path, timeout=10):
    """One read on a fresh xenstored connection; None if absent or down."""
    try:
        xs = XenStore(sock_path, timeout)
    except OSError:
        return None
    try:
        return xs.read(path)
    except (OSError, Failure):
        return None
    finally:
        xs.close()


# ---- QMP client, libxl style --------------------------------------------

LIBXL_QMP_ID_BASE = 0x786c7100     # "xlq\0", libxl_qmp.c
QMP_CMD_TIMEOUT = 10               # LIBXL_QMP_CMD_TIMEOUT
QMP_MAX_MSG = 1 << 20              # libxl's receive limit


class QmpError(Failure):
    """QEMU answered a command with an error (class and desc kept)."""

    def __init__(self, command, err):
        super().__init__("%s failed: %s: %s" % (command, err["class"],
                                                 err["desc"]))
        self.error = err


class Qmp:
    """One QMP connection as libxl makes it: greeting, capabilities,
    commands with ids; every line sent and received is appended to
    transcript (a list) when one is given."""

    def __init__(self, path, transcript=None, timeout=QMP_CMD_TIMEOUT,
                 handshake=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self.buf = b""
        self.next_id = LIBXL_QMP_ID_BASE
        self.transcript = transcript if transcript is not None else []
        self.greeting = None
        if handshake:
            self.handshake()

    def close(self):
        self.sock.close()

    def _recv_line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > QMP_MAX_MSG:
                raise Failure("QMP message over 1 MiB")
            bare = self.buf.find(b"\n")
            if bare >= 0:
                raise Failure("QMP message not terminated by \\r\\n: %r"
                              % self.buf[:bare][:80])
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise Failure("no QMP answer within %d s" % self.timeout)
            if not chunk:
                raise Failure("QEMU closed the QMP connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        if b"\n" in line:
            raise Failure("QMP message not terminated by \\r\\n: %r"
                          % line[:80])
        self.transcript.append("<- " + line.decode(errors="replace"))
        try:
            msg = json.loads(line)
        except ValueError:
            raise Failure("QMP sent invalid JSON: %r" % line[:80])
        if not isinstance(msg, dict):
            raise Failure("QMP message is not an object")
        return msg

    def _recv_message(self):
        """Next non-event message, classified as libxl does."""
        while True:
            msg = self._recv_line()
            for key in ("QMP", "return", "error", "event"):
                if key in msg:
                    break
            else:
                raise Failure("QMP message of no known type: %s" % msg)
            if key != "event":
                return key, msg

    def handshake(self):
        kind, msg = self._recv_message()
        if kind != "QMP":
            raise Failure("expected the QMP greeting, got %s" % kind)
        try:
            ver = msg["QMP"]["version"]["qemu"]
            self.greeting = (int(ver["major"]), int(ver["minor"]),
                             int(ver["micro"]))
        except (KeyError, TypeError, ValueError):
            raise Failure("greeting lacks QMP.version.qemu")
        self.execute("qmp_capabilities")

    def command(self, command, arguments=None):
        """Send one command; its reply message ({"return": ...} or
        {"error": ...}) as QEMU sent it."""
        cmd_id = self.next_id
        self.next_id += 1
        req = {"execute": command, "id": cmd_id}
        if arguments is not None:
            req["arguments"] = arguments
        line = json.dumps(req, separators=(",", ":"))
        self.transcript.append("-> " + line)
        self.sock.sendall(line.encode() + b"\r\n")
        kind, msg = self._recv_message()
        if "id" not in msg:
            raise Failure("reply to %s has no id" % command)
        if msg["id"] != cmd_id:
            raise Failure("reply id %r, expected %#x" % (msg["id"], cmd_id))
        if kind == "error":
            err = msg["error"]
            if not isinstance(err, dict) or "class" not in err \
                    or "desc" not in err:
                raise Failure("error reply without class/desc")
        elif kind != "return":
            raise Failure("unexpected %s in reply to %s" % (kind, command))
        return msg

    def execute(self, command, arguments=None):
        """Send one command; its return value, or QmpError."""
        msg = self.command(command, arguments)
        if "error" in msg:
            raise QmpError(command, msg["error"])
        return msg["return"]

    def run(self, command, **arguments):
        """execute() with keyword arguments."""
        return self.execute(command, arguments or None)

    def hmp(self, line):
        return self.run("human-monitor-command", **{"command-line": line})


def qmp_status(path, timeout=10):
    """query-status on a fresh QMP connection: the status, or a sentence
    saying why there is none."""
    try:
        q = Qmp(path, timeout=timeout)
        try:
            return q.execute("query-status").get("status", "no status")
        finally:
            q.close()
    except (OSError, Failure) as e:
        return "no answer (%s)" % e


# ---- hypervisor control socket: the guest's vCPUs -----------------------

def cf8(dev, fn, reg, bus=0):
    """The CF8 value selecting a PCI function's dword register."""
    return 0x80000000 | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc)


class Control:
    """Line client of xensim-hv's control socket (README.md's table).

    cmd() returns the final reply line and the lines before it; ok(),
    do() and value() raise Failure on an `err` reply.  The vCPU ops run
    on this connection's vCPU (cpu())."""

    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("hv control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def cmd(self, line):
        """Send one command; return (final reply line, preceding lines)."""
        self.sock.sendall(line.encode() + b"\n")
        body = []
        while True:
            reply = self._line()
            if reply == "ok" or reply.startswith("ok ") \
                    or reply.startswith("err"):
                return reply, body
            body.append(reply)

    command = cmd

    def ok(self, line):
        """The `ok ...` reply line, or Failure."""
        reply, _ = self.cmd(line)
        if not reply.startswith("ok"):
            raise Failure("%s: %s" % (line, reply))
        return reply

    def do(self, line):
        """The words after `ok` and the lines before it, or Failure."""
        reply, body = self.cmd(line)
        if not reply.startswith("ok"):
            raise Failure("%s: %s" % (line, reply))
        return reply.split()[1:], body

    def value(self, line):
        """The number an `ok VALUE` reply carries, or Failure."""
        words, _ = self.do(line)
        if not words:
            raise Failure("%s: no value in the reply" % line)
        return int(words[0], 0)

    # the vCPU's view of the guest
    def cpu(self, n):
        self.ok("cpu %d" % n)

    def mem(self, addr, length):
        """memread: guest-physical bytes (RAM or MMIO)."""
        words, _ = self.do("memread %#x %d" % (addr, length))
        return bytes.fromhex(words[0]) if words else b""

    def cfg_read(self, dev, fn, reg, size=4, bus=0):
        """PCI configuration through CF8/CFC, as firmware does."""
        self.ok("outl 0xcf8 %#x" % cf8(dev, fn, reg, bus))
        op = {1: "inb", 2: "inw", 4: "inl"}[size]
        return self.value("%s %#x" % (op, 0xcfc + (reg & 3)))

    def cfg_write(self, dev, fn, reg, val, size=4, bus=0):
        self.ok("outl 0xcf8 %#x" % cf8(dev, fn, reg, bus))
        op = {1: "outb", 2: "outw", 4: "outl"}[size]
        self.ok("%s %#x %#x" % (op, 0xcfc + (reg & 3), val))

    def irq(self, gsi):
        return self.value("irq %d" % gsi)

    def link_routes(self):
        _, lines = self.do("state")
        return [l for l in lines if "link" in l]

    def counters(self):
        """The hv's counters as {name: int}."""
        _, lines = self.do("counters")
        out = {}
        for l in lines:
            k, _, v = l.partition(" ")
            try:
                out[k] = int(v, 0)
            except ValueError:
                pass
        return out

    def counter(self, name):
        return self.counters().get(name)


def pci_scan(ctl, bus=0):
    """Every function on a PCI bus through CF8/CFC, as firmware finds
    them: [(dev, fn, vendor/device dword, class code)]."""
    found = []
    for dev in range(32):
        for fn in range(8):
            ids = ctl.cfg_read(dev, fn, 0, bus=bus)
            if ids & 0xffff == 0xffff:
                if fn == 0:
                    break
                continue
            cls = ctl.cfg_read(dev, fn, 0x08, bus=bus) >> 8
            hdr_type = (ctl.cfg_read(dev, fn, 0x0c, bus=bus) >> 16) & 0xff
            found.append((dev, fn, ids, cls))
            if fn == 0 and not hdr_type & 0x80:
                break
    return found


def scan_bus0(ctl):
    """{(dev, fn): vendor/device dword} of PCI bus 0."""
    return {(d, f): ids for d, f, ids, _ in pci_scan(ctl)}


# ---- launching ----------------------------------------------------------

def lib_env(env, mode, sim_dir):
    """Point env at the Xen libraries QEMU runs on: mode "real" is
    Debian's own over the devxen shim (LD_PRELOAD), "sim" xensim's
    replacements (LD_LIBRARY_PATH); sim_dir is build/xensim."""
    def prepend(var, value):
        env[var] = value + (":" + env[var] if env.get(var) else "")
    if mode == "real":
        prepend("LD_PRELOAD", os.path.join(sim_dir, "shim",
                                           "libxensim-devxen.so"))
    else:
        prepend("LD_LIBRARY_PATH", os.path.join(sim_dir, "lib"))
    env["XENSIM_LIBS"] = mode
    return env


def libs_mode():
    """The library set $XENSIM_LIBS asks for (default "real")."""
    return os.environ.get("XENSIM_LIBS") or "real"


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Guest:
    """A device model started as libxl starts it (`SIM/run --keep`),
    SIM being build/xensim.  Options left None take run's defaults.

    ok says whether it reached running; launch_log has run's output (and
    QEMU's log when the launch failed); env the variables run printed
    (XENSIM_CONTROL, XENSIM_QMP, ...); ctl and qmp are connected when ok
    (qmp=False leaves QMP to the caller); env is run's (and so QEMU's)
    environment, default ours."""

    def __init__(self, sim, qemu, args=(), memory=None, domid=None,
                 vcpus=None, vga=None, disk=None, hdtype=None, extra=(),
                 qmp=True, env=None, timeout=120):
        argv = [os.path.join(sim, "run"), "--keep"]
        for opt, val in (("--domid", domid), ("--memory", memory),
                         ("--vcpus", vcpus), ("--vga", vga),
                         ("--disk", disk), ("--hdtype", hdtype)):
            if val is not None:
                argv += [opt, str(val)]
        argv += list(extra) + ["--", qemu] + list(args)
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env,
                           timeout=timeout)
        self.launch_log = p.stderr + p.stdout
        self.env = {}
        self.ctl = self.qmp = None
        self.ok = p.returncode == 0
        if not self.ok:
            self.collect_failed_run()
            return
        for tok in shlex.split(p.stdout):
            k, _, v = tok.partition("=")
            self.env[k] = v
        self.ctl = Control(self.env["XENSIM_CONTROL"])
        if qmp:
            self.qmp = Qmp(self.env["XENSIM_QMP"], timeout=30)

    @property
    def pid(self):
        return int(self.env.get("XENSIM_QEMU_PID", 0))

    def collect_failed_run(self):
        """A failed launch keeps its run directory: take QEMU's log, rm."""
        for line in self.launch_log.splitlines():
            if "logs kept in " not in line:
                continue
            d = line.split("logs kept in ")[1].strip()
            if not os.path.basename(d).startswith("xensim-run."):
                continue
            for fn in os.listdir(d):
                if fn.startswith("qemu-dm"):
                    with open(os.path.join(d, fn), errors="replace") as f:
                        self.launch_log += f.read()
            shutil.rmtree(d, ignore_errors=True)

    def log(self):
        try:
            with open(self.env["XENSIM_QEMU_LOG"], errors="replace") as f:
                return f.read()
        except (KeyError, OSError):
            return ""

    def hv_log(self):
        try:
            with open(os.path.join(self.env["XENSIM_RUN_DIR"], "hv.log"),
                      errors="replace") as f:
                return f.read()
        except (KeyError, OSError):
            return ""

    def stop(self):
        for c in (self.ctl, self.qmp):
            if c:
                try:
                    c.close()
                except OSError:
                    pass
        self.ctl = self.qmp = None
        if self.env.get("XENSIM_STOP"):
            subprocess.run(shlex.split(self.env["XENSIM_STOP"]),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
            self.env["XENSIM_STOP"] = ""


# ---- TAP ---------------------------------------------------------------

class Tap:
    """TAP lines numbered across the whole program.

    check(ok, what, detail, stock=False): a failure prints detail as a
    comment; with stock=True (Debian's 7.2 is the baseline) it becomes
    "ok N - what # SKIP known stock 7.2 failure: what".  failed counts
    the real failures; plan() prints the trailing 1..N."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.only = None

    def wanted(self, what):
        """Whether the command line's --only REGEX (if any) selects the
        check named what."""
        return not self.only or bool(self.only.search(what))

    def check(self, ok, what, detail="", stock=False, skip=None):
        self.n += 1
        if not ok and detail:
            print("# " + str(detail).replace("\n", "\n# "))
        if not ok and (stock or skip):
            print("ok %d - %s # SKIP %s" % (
                self.n, what, skip or "known stock 7.2 failure: " + what),
                flush=True)
        else:
            print("%sok %d - %s" % ("" if ok else "not ", self.n, what),
                  flush=True)
            self.failed += not ok
        return ok

    def skip(self, what, why):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, what, why), flush=True)

    def plan(self):
        print("1..%d" % self.n)


def e2e_main(run, argv):
    """An e2e test's main: argv is [--only REGEX] SIM LABEL=QEMU...;
    run(tap, sim, label, qemu) for each device model in order (tap.wanted()
    says which checks --only selects), then the plan.  Returns the exit
    status: 1 when a check failed."""
    t = Tap()
    if len(argv) > 1 and argv[0] == "--only":
        t.only = re.compile(argv[1])
        argv = argv[2:]
    sim = argv[0]
    for arg in argv[1:]:
        label, qemu = arg.split("=", 1)
        run(t, sim, label, qemu)
    t.plan()
    return 1 if t.failed else 0
