#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Cut the Xen map cache's hooks out of a softmmu/physmem.c.

    physmem-slice.py PHYSMEM.C OUT.C

writes to OUT.C, unchanged and in their order in the file, the
definitions that test-xen-physmem.c and bench/mapcache compile over the
map cache (our physmem.c from the assembled tree, or 7.2's from the
pristine base): the RAM block lookups and their Xen branches, the map
clients, address_space_unmap(), the MemoryRegionCache path and the
memory_ldst.c.inc instance of the *_cached_slow accessors.  A name that
the file does not define is skipped, unless it is marked required below;
each definition is preceded by a #line, so that compiler messages and
backtraces name the physmem.c line.  TARGET_PAGE_MASK, which the
target-independent build poisons, becomes SLICE_TARGET_PAGE_MASK.
"""
import re
import sys

# (name, required): functions, variables and types, found by name.
WANTED = [
    ("qemu_get_ram_block", True),
    ("qemu_map_ram_ptr", True),
    ("qemu_ram_ptr_length", True),
    ("qemu_ram_block_from_host", True),
    ("BounceBuffer", True),
    ("bounce", True),
    ("MapClient", True),
    ("map_client_list_lock", True),
    ("map_client_list", True),
    ("map_clients_waiting", False),
    ("cpu_unregister_map_client_do", True),
    ("cpu_notify_map_clients_locked", True),
    ("cpu_register_map_client", True),
    ("cpu_unregister_map_client", True),
    ("cpu_notify_map_clients", True),
    ("xen_notify_map_clients", False),
    ("xen_mapcache_locked", False),
    ("address_space_unmap", True),
    ("address_space_cache_destroy", True),
    ("address_space_translate_cached", True),
]


def is_top(line):
    return line[:1] not in ("", " ", "\t", "\n", "}", "#", "/", "*")


def find(lines, name):
    """(first, last) line indexes of the top-level definition of @name."""
    word = re.compile(r"(^|[^A-Za-z0-9_])" + re.escape(name) +
                      r"($|[^A-Za-z0-9_])")
    for i, line in enumerate(lines):
        if not word.search(line):
            continue
        if line.startswith("} " + name + ";"):
            # the end of "typedef struct {": back to its start
            j = i
            while not lines[j].startswith("typedef"):
                j -= 1
            return j, i
        if not is_top(line) or line.rstrip().endswith(";") and "(" in line:
            continue
        head = re.sub(r"Q[A-Z]*_HEAD\([^)]*\)", "", line)
        head = head.split("(")[0].split("=")[0]
        if not word.search(head) and not line.startswith(name + "("):
            continue
        first = i
        # a return type on the line before ("MemTxResult\nname(...)")
        if line.startswith(name + "(") and i and is_top(lines[i - 1]):
            first = i - 1
        last = i
        if line.rstrip().endswith(";"):
            return first, last
        if not line.rstrip().endswith(("(", ")", "{", ",")):
            # a variable whose initialiser goes on
            while not lines[last].rstrip().endswith(";"):
                last += 1
            return first, last
        while not lines[last].startswith("}"):
            last += 1
        return first, last
    return None


def main():
    src, out = sys.argv[1], sys.argv[2]
    lines = open(src).read().split("\n")
    spans = []
    for name, required in WANTED:
        span = find(lines, name)
        if span is None:
            if required:
                sys.exit("%s: no definition of %s" % (src, name))
            continue
        spans.append(span)
    # the *_cached_slow accessors: physmem.c's own instance
    for i, line in enumerate(lines):
        if re.match(r"#define SUFFIX\s+_cached_slow", line):
            first = i
            while not lines[first - 1].startswith("#define ARG1_DECL"):
                first -= 1
            first -= 1
            last = i
            while not lines[last].startswith('#include "memory_ldst.c.inc"'):
                last += 1
            spans.append((first, last))
            break
    else:
        sys.exit("%s: no _cached_slow instance of memory_ldst.c.inc" % src)
    with open(out, "w") as f:
        f.write("/* Cut from %s by mk/physmem-slice.py */\n" % src)
        for first, last in sorted(set(spans)):
            f.write('#line %d "%s"\n' % (first + 1, src))
            text = "\n".join(lines[first:last + 1]) + "\n"
            # poisoned outside target code: the including file defines it
            f.write(re.sub(r"\bTARGET_PAGE_MASK\b", "SLICE_TARGET_PAGE_MASK",
                           text))


main()
