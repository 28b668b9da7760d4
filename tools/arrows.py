#!/usr/bin/env python3
"""arrows.py -- check who calls whom among the files of ext/.

Every cross-file function of docpipe is declared in ext/docpipe.h and named
dpSomething.  This finds, for each ext/*.c, the file that defines each such
function, then every call of it from another file: an arrow caller -> callee.
Each arrow must be one the design allows (ALLOWED below, the block at the
top of ext/docpipe.h); anything else is printed and the exit status is 1.

  python3 tools/arrows.py            # check; prints the arrows found
"""
import os
import re
import sys

# The intended arrows (module -> modules it may call).  util.c and config.c
# are leaves every module may use: small helpers and the option syntax.
ALLOWED = {
    "docpipe": {"vtab", "funcs", "dedup", "simd", "stats", "body"},
    "vtab": {"pipeline", "storage", "index", "embed", "stats", "query",
             "setindex"},
    "pipeline": {"storage", "index", "embed", "stats", "simd", "setindex"},
    "dedup": {"storage", "simd", "stats", "setindex", "setjoin"},
    "funcs": {"embed", "simd", "tokenize", "setindex"},
    "index": {"simd"},
    "embed": {"tokenize"},
    "query": {"tokenize"},
    "storage": {"body"},       # bodies packed with zstd
    "body": set(),
    "stats": set(),
    "tokenize": set(),
    "setindex": set(),          # the set kind's index
    "setjoin": {"setindex"},    # the join of stored sets (dedup_index)
    "simd": set(),
    "simd_avx2": set(),
    # the AVX-512 row reuses AVX2 kernels where 512 bits do not pay
    "simd_avx512": {"simd_avx2"},
}
LEAVES = {"util", "config"}

here = os.path.dirname(os.path.abspath(__file__))
ext = os.path.join(os.path.dirname(here), "ext")
files = sorted(f[:-2] for f in os.listdir(ext) if f.endswith(".c"))

def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r'"(\\.|[^"\\])*"', '""', text)

src = {f: strip_comments(open(os.path.join(ext, f + ".c")).read())
       for f in files}
# a definition starts a line: "type dpName(" or "type *dpName(" (not static)
definer = {}
for f in files:
    for m in re.finditer(r"^(?!static)[A-Za-z_][\w \*]*?\b(dp[A-Z]\w*)\s*\(",
                         src[f], flags=re.M):
        definer.setdefault(m.group(1), f)
# the dispatch table of kernels is data, read through dpKernels
for f in files:
    if re.search(r"^const DpKernels \*dpKernels", src[f], flags=re.M):
        definer["dpKernels"] = f

arrows = {}
for f in files:
    for m in re.finditer(r"\b(dp[A-Z]\w*)\b", src[f]):
        callee = definer.get(m.group(1))
        if callee and callee != f:
            arrows.setdefault((f, callee), set()).add(m.group(1))

bad = 0
for (a, b), names in sorted(arrows.items()):
    ok = b in LEAVES or b in ALLOWED.get(a, set())
    mark = "  " if ok else "! "
    print("%s%-10s -> %-10s %s" % (mark, a, b, ", ".join(sorted(names))))
    if not ok:
        bad += 1
for f in files:
    if f not in ALLOWED and f not in LEAVES:
        print("! %s.c is not in tools/arrows.py's ALLOWED table" % f)
        bad += 1
if bad:
    print("%d arrow(s) the design does not allow" % bad)
    sys.exit(1)
print("every arrow is allowed")
