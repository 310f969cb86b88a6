#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The qtest bridge's known-failures table (check.d/33, README-bridge.md).

The table (tests/xensim/bridge-known-failures.tsv) has one row per case,
tab-separated: device model (ours, stock or both), test program, case
path, kind, reason.  Kinds:
  fail   the case fails for the reason given: reported "ok ... # SKIP
         known: reason"; if it passes, check.d/33 reports "not ok" (the
         row is stale: delete it, or narrow "both" to the other model)
  flaky  it fails for that reason only sometimes (timing): SKIP when it
         fails, ok when it passes
  norun  not run at all (SKIP "not run: reason")
Case "(no cases)" stands for a test program that lists no cases at all.

  known-failures.py TABLE rows            the rows, "both" expanded, checked
  known-failures.py TABLE markdown        README-bridge.md's generated section
  known-failures.py TABLE check README    fails when README's section differs
  known-failures.py TABLE update README   rewrites README's section
"""
import sys

MODELS = {"ours": ["ours"], "stock": ["stock"], "both": ["ours", "stock"]}
KINDS = {"fail": "fails", "flaky": "fails at times",
         "norun": "not run"}
# the case of a test program that lists none (its set-up probe failed)
NO_CASES = "(no cases)"
BEGIN = "<!-- known-failures: begin (generated from the table; do not edit) -->"
END = "<!-- known-failures: end -->"


def load(path):
    rows, seen = [], set()
    with open(path) as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            where = "%s:%d" % (path, no)
            if len(fields) != 5 or not all(x.strip() for x in fields):
                sys.exit("%s: want 5 tab-separated fields" % where)
            dm, test, case, kind, reason = fields
            if dm not in MODELS:
                sys.exit("%s: device model %r is not ours, stock or both"
                         % (where, dm))
            if kind not in KINDS:
                sys.exit("%s: kind %r is not fail, flaky or norun"
                         % (where, kind))
            if not case.startswith("/") and case != NO_CASES:
                sys.exit("%s: case %r is not a test path" % (where, case))
            for m in MODELS[dm]:
                if (m, test, case) in seen:
                    sys.exit("%s: %s %s %s listed twice"
                             % (where, m, test, case))
                seen.add((m, test, case))
            rows.append((dm, test, case, kind, reason))
    return rows


def markdown(rows):
    groups = {}
    for dm, test, case, kind, reason in rows:
        groups.setdefault((dm, test, kind, reason), []).append(case)
    out = [BEGIN, "",
           "| device model | test | cases | | reason |",
           "|---|---|---|---|---|"]
    for (dm, test, kind, reason), cases in groups.items():
        if len(cases) <= 4:
            what = ", ".join("`%s`" % c for c in cases)
        else:
            what = "%d cases, `%s` to `%s`" % (len(cases), cases[0],
                                               cases[-1])
        out.append("| %s | %s | %s | %s | %s |"
                   % (dm, test, what, KINDS[kind],
                      reason.replace("|", "\\|")))
    out += ["", END]
    return "\n".join(out) + "\n"


def split_readme(path):
    text = open(path).read()
    try:
        a = text.index(BEGIN)
        b = text.index(END, a) + len(END) + 1
    except ValueError:
        sys.exit("%s: no generated known-failures section (%s ... %s)"
                 % (path, BEGIN, END))
    return text[:a], text[a:b], text[b:]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = load(sys.argv[1])
    cmd = sys.argv[2]
    if cmd == "rows":
        for dm, test, case, kind, reason in rows:
            for m in MODELS[dm]:
                print("\t".join((m, test, case, kind, reason)))
    elif cmd == "markdown":
        sys.stdout.write(markdown(rows))
    elif cmd in ("check", "update") and len(sys.argv) == 4:
        head, section, tail = split_readme(sys.argv[3])
        want = markdown(rows)
        if cmd == "update":
            with open(sys.argv[3], "w") as f:
                f.write(head + want + tail)
        elif section != want:
            sys.exit("%s: the known-failures section differs from %s; "
                     "regenerate it with: %s %s update %s"
                     % (sys.argv[3], sys.argv[1], sys.argv[0], sys.argv[1],
                        sys.argv[3]))
    else:
        sys.exit(__doc__)


main()
