#!/usr/bin/python3
"""mutate.py — mutation testing of docpipe's C sources against its tests.

    make mutate                      # MUTANTS=100 SEED=1
    /usr/bin/python3 tools/mutate.py --mutants 15 --seed 1 [--timeout SEC] [--jobs 2]
    /usr/bin/python3 tools/mutate.py --list      # every candidate, no runs
    /usr/bin/python3 tools/mutate.py --at ext/dedup.c:461 --tests boundary
                     # every mutant of that line, against test/*boundary* only
    /usr/bin/python3 tools/mutate.py --mutants 20 --files setindex --tests setindex
                     # 20 sites of ext/*setindex*.c only, against its tests

How it works.  Every ext/*.c file is scanned for mutation sites in its code
(comments, string and character literals and preprocessor lines are blanked
first, so nothing in them is touched).  One site gives one mutant, a single
change:

    relational   <  <=  >  >=  ==  !=   each to its neighbour (< to <=, ...,
                 == to !=, != to ==)
    logical      && to ||, || to &&
    not          !x to x
    bound        the right operand of < <= > >= given +1 or -1
                 (i < n  to  i < n+1 and i < n-1)
    return       a function returns at once: "return;" or "return 0;" as
                 its first statement

A sample of MUTANTS sites is drawn with SEED (random.Random(SEED).sample),
so a run can be repeated.  --files SUBSTR keeps only the sites of files
whose path contains SUBSTR (in --list and the sample; the same SEED then
draws from that smaller set).  The tree is copied to a scratch directory and
built and tested once unmutated: cases that fail there are known failures
(a test kept for a bug not yet fixed), which no mutant is blamed for, and
that run sets the timeout, 3 times its length (4 times with --jobs above 1:
the mutants then share the machine) and at least 60 s.  Each mutant is then a
copy of that tree (its objects included, so only the mutated file is
compiled again) with the one change, built with `make test-fast TCLSH=true`
(which builds what test-fast needs and runs nothing), then tested with
`make test-fast`.  Outcomes:

    killed        a case that passes unmutated failed (or a test file ended
                  early), or the run passed its timeout (counted as killed,
                  and shown as "timeout")
    survived      no new failure: the tests cannot tell the mutant apart
    not compiled  the build failed; left out of the score

Score = killed / (killed + survived), overall and per file.  Survivors are
printed with file:line, the change and the mutated line.  A survivor listed
in tools/mutate-equivalent.txt (a mutant that behaves exactly like the
original) is marked so, and a second score leaves those out.
"""
import argparse
import concurrent.futures
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EQUIVALENT = os.path.join(TOP, "tools", "mutate-equivalent.txt")
SKIP_COPY = {"build", "dist", ".git"}   # never copied into the scratch tree


def blank_non_code(text):
    """text with comments, string/char literals and preprocessor lines
    replaced by spaces (newlines kept), so offsets still match text."""
    out = list(text)
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":
            # a preprocessor line, with its backslash continuations
            j = i
            while j < n and not (text[j] == "\n" and text[j - 1] != "\\"):
                j += 1
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        if c == "\n":
            at_line_start = True
            i += 1
            continue
        if c not in " \t":
            at_line_start = False
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j += 1
        else:
            i += 1
            continue
        for k in range(i, min(j, n)):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


# Operators, longest first, so "->", "<<" and "<<=" are never taken for "<".
OPERATOR = re.compile(r"->|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||[<>!]")
SWAP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==",
        "&&": "||", "||": "&&", "!": ""}
# A simple right operand (name, member chain or number) ending the condition.
OPERAND = re.compile(r"\s*([A-Za-z_]\w*(?:(?:->|\.)\w+)*|\d+)(?=\s*(?:\)|;|&&|\|\||\?|,))")
# A function definition: return type and name at the start of a line,
# parameters, then its opening brace.
FUNCTION = re.compile(r"^(?P<type>[A-Za-z_][^;{}()=#]*?)\b(?P<name>\w+)\s*\([^;{}()]*(?:\([^;{}()]*\)[^;{}()]*)*\)\s*\{",
                      re.M)
NOT_FUNCTION = {"if", "for", "while", "switch", "return", "sizeof"}


def sites(path, text):
    """Every mutant of one file: (path, offset, old, new, kind)."""
    code = blank_non_code(text)
    found = []
    for m in OPERATOR.finditer(code):
        op = m.group()
        if op not in SWAP:
            continue
        kind = {"&&": "logical", "||": "logical", "!": "not"}.get(op, "relational")
        found.append((path, m.start(), op, SWAP[op], kind))
        if op in ("<", "<=", ">", ">="):
            o = OPERAND.match(code, m.end())
            if o:
                end = o.end(1)
                found.append((path, end, "", "+1", "bound"))
                found.append((path, end, "", "-1", "bound"))
    for m in FUNCTION.finditer(code):
        rtype = m.group("type").split()
        if m.group("name") in NOT_FUNCTION or not rtype or rtype[-1] in NOT_FUNCTION:
            continue
        void = rtype[-1] == "void" and "*" not in m.group("type")
        found.append((path, m.end(), "", " return;" if void else " return 0;", "return"))
    return found


def apply(text, offset, old, new):
    assert text[offset:offset + len(old)] == old
    return text[:offset] + new + text[offset + len(old):]


def line_of(text, offset):
    """(1-based line number, that line's text) of an offset."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return text.count("\n", 0, offset) + 1, text[start:end if end >= 0 else None]


def describe(old, new):
    if old == "":
        return "insert '%s'" % new.strip()
    return "'%s' -> '%s'" % (old, new)


def run(cmd, cwd, timeout):
    """(exit status or None on timeout, output, seconds); on timeout the
    whole process group (make, tclsh, test programs) is killed."""
    t0 = time.time()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        rc = None
    except BaseException:          # interrupted: leave no build or test behind
        os.killpg(p.pid, signal.SIGKILL)
        raise
    return rc, out.decode("utf-8", "replace"), time.time() - t0


def failed_cases(out):
    """The failing cases of a test-fast run, from all.tcl's output, as
    "boundary.test (avx2): 1.2" (a file that ended early, or a C test, as
    "boundary.test (avx2)"); None when all.tcl printed no summary."""
    cases, names, summary = set(), [], False
    for line in out.splitlines():
        if line.startswith("failed: "):
            names = line[len("failed: "):].split()
        elif line.startswith("FAILED "):
            label = line[len("FAILED "):].rsplit(" (", 1)[0]
            cases |= {label + ": " + n for n in names} if names else {label}
            names = []
        elif re.match(r"\d+ passed, \d+ failed", line):
            summary = True
    return cases if summary else None


def copy_tree(src, dst, skip=()):
    os.makedirs(dst)
    for name in os.listdir(src):
        if name in skip:
            continue
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s) and not os.path.islink(s):
            shutil.copytree(s, d, symlinks=True)   # copy2: times kept
        else:
            shutil.copy2(s, d, follow_symlinks=False)


def load_equivalent():
    """{(file, mutated line stripped): reason} from mutate-equivalent.txt:
    lines "ext/file.c | mutated line | reason", '#' comments."""
    eq = {}
    if os.path.exists(EQUIVALENT):
        for line in open(EQUIVALENT, encoding="utf-8"):
            if line.strip() and not line.lstrip().startswith("#"):
                parts = [p.strip() for p in line.split(" | ")]
                if len(parts) == 3:
                    eq[(parts[0], parts[1])] = parts[2]
    return eq


def main():
    # SIGTERM ends the run like ^C: the scratch tree is removed (finally)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mutants", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=1,
                    help="mutants built and tested at once, each in its own copy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=0,
                    help="seconds per test run (default: 3 x the unmutated run, >= 60)")
    ap.add_argument("--list", action="store_true", help="print every candidate mutant and stop")
    ap.add_argument("--at", action="append", default=[], metavar="FILE:LINE",
                    help="every mutant of that line instead of a sample (repeatable)")
    ap.add_argument("--verbose", action="store_true",
                    help="name the failing tests of each killed mutant")
    ap.add_argument("--files", default="", metavar="SUBSTR",
                    help="only the sites of files whose path contains this")
    ap.add_argument("--tests", default="",
                    help="run only the test files whose name contains this (make TESTS=...)")
    args = ap.parse_args()

    texts, candidates = {}, []
    for name in sorted(os.listdir(os.path.join(TOP, "ext"))):
        if name.endswith(".c"):
            rel = "ext/" + name
            texts[rel] = open(os.path.join(TOP, rel), encoding="utf-8").read()
            if args.files in rel:
                candidates += sites(rel, texts[rel])
    if args.list:
        for path, off, old, new, kind in candidates:
            n, line = line_of(texts[path], off)
            print("%s:%d  %-8s %-18s %s" % (path, n, kind, describe(old, new), line.strip()))
        print("%d candidate mutants" % len(candidates))
        return 0
    if args.at:
        sample = [c for c in candidates
                  if "%s:%d" % (c[0], line_of(texts[c[0]], c[1])[0]) in args.at]
        print("%d mutants on %s" % (len(sample), ", ".join(args.at)), flush=True)
    else:
        sample = random.Random(args.seed).sample(candidates, min(args.mutants, len(candidates)))
        print("%d candidate mutants in ext/*.c%s; %d drawn with seed %d"
              % (len(candidates), " (paths with %r)" % args.files if args.files else "",
                 len(sample), args.seed), flush=True)
    sample.sort(key=lambda s: (s[0], s[1]))
    test_fast = ["make", "test-fast", "TESTS=" + args.tests]

    scratch = tempfile.mkdtemp(prefix="docpipe-mutate-")
    try:
        base = os.path.join(scratch, "base")
        copy_tree(TOP, base, SKIP_COPY)
        rc, out, secs = run(test_fast, base, None)
        known = failed_cases(out)
        if rc is None or known is None or (rc != 0 and not known):
            print(out[-3000:])
            print("mutate: make test-fast does not run on the unmutated tree; nothing to measure")
            return 2
        # parallel jobs share the machine: allow them more time each
        timeout = args.timeout or max(60.0, (3 if args.jobs == 1 else 4) * secs)
        print("unmutated: make test-fast ran in %.0f s; timeout per mutant %.0f s"
              % (secs, timeout), flush=True)
        if known:
            print("known failures (fail unmutated, blamed on no mutant): "
                  + ", ".join(sorted(known)), flush=True)

        def one(site, slot):
            """Build and test one mutant in scratch/mutant-SLOT."""
            path, off, old, new, kind = site
            work = os.path.join(scratch, "mutant-%d" % slot)
            shutil.rmtree(work, ignore_errors=True)
            copy_tree(base, work)
            mutated = apply(texts[path], off, old, new)
            with open(os.path.join(work, path), "w", encoding="utf-8") as f:
                f.write(mutated)
            fresh = None
            rc, out, secs = run(test_fast + ["TCLSH=true"], work, timeout)
            if rc != 0:
                outcome = "not compiled"
            else:
                rc, out, secs = run(test_fast, work, timeout)
                failed = failed_cases(out) if rc is not None else None
                fresh = None if failed is None else sorted(failed - known)
                outcome = ("timeout" if rc is None else
                           "killed" if fresh is None or fresh else "survived")
            shutil.rmtree(work, ignore_errors=True)
            return outcome, mutated, secs, fresh, out

        # --jobs N: N mutants at once, each in its own copy (one per core)
        results = []   # (site, outcome)
        done = [0]
        slots = list(range(args.jobs))
        lock = threading.Lock()

        def job(site):
            with lock:
                slot = slots.pop()
            try:
                outcome, mutated, secs, fresh, out = one(site, slot)
            finally:
                with lock:
                    slots.append(slot)
            with lock:
                results.append((site, outcome))
                done[0] += 1
                path, off, old, new, kind = site
                n, line = line_of(mutated, off)
                print("%3d/%d %-12s %s:%d %s  (%.0f s)" % (done[0], len(sample), outcome,
                      path, n, describe(old, new), secs), flush=True)
                if outcome == "killed" and args.verbose:
                    print("        " + (", ".join(fresh) if fresh
                                        else out.strip().splitlines()[-1]), flush=True)

        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for f in [pool.submit(job, site) for site in sample]:
                f.result()
        results.sort(key=lambda r: (r[0][0], r[0][1]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    report(results, texts)
    return 0


def report(results, texts):
    eq = load_equivalent()
    files = sorted({s[0] for s, _ in results})

    def score(rows):
        k = sum(1 for _, o in rows if o in ("killed", "timeout"))
        s = sum(1 for _, o in rows if o == "survived")
        return k, s, "%.1f %%" % (100.0 * k / (k + s)) if k + s else "-"

    k, s, pct = score(results)
    nc = sum(1 for _, o in results if o == "not compiled")
    to = sum(1 for _, o in results if o == "timeout")
    print()
    print("score: %s  (%d killed, of which %d timed out; %d survived; %d not compiled)"
          % (pct, k, to, s, nc))
    print("per file:")
    for f in files:
        fk, fs, fpct = score([r for r in results if r[0][0] == f])
        print("  %-20s %-8s %d killed, %d survived" % (f, fpct, fk, fs))
    survivors = [site for site, o in results if o == "survived"]
    n_eq = 0
    if survivors:
        print("survivors:")
    for path, off, old, new, kind in survivors:
        n, line = line_of(apply(texts[path], off, old, new), off)
        why = eq.get((path, line.strip()))
        n_eq += why is not None
        print("  %s:%d  %s  %s" % (path, n, kind, describe(old, new)))
        print("      %s" % line.strip())
        if why:
            print("      equivalent: %s" % why)
    if n_eq:
        print("score without the %d listed equivalent mutants: %.1f %%"
              % (n_eq, 100.0 * k / (k + s - n_eq) if k + s - n_eq else 100.0))


if __name__ == "__main__":
    sys.exit(main())
