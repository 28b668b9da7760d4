#!/usr/bin/python3
"""Write the cluster test's documents: DIR/partK/NNNNNN.txt, numbered from 1
across the parts, one document per file.

    cluster_corpus.py DIR SIZE1 SIZE2 ...

About a quarter of the documents are planted near-duplicates of an earlier
one (often from an earlier part, so a duplicate's original may have been
stored under another leader): exact copies, or copies with 2-12 % of the
words replaced.  The rest are new text from a made-up vocabulary.  Seeded:
the same arguments give the same files.
"""
import os
import random
import sys

SYLLABLES = ["ka", "lo", "mi", "ser", "tan", "vu", "or", "el", "zin", "pra",
             "dow", "ne", "sta", "qui", "ru", "bel", "fen", "gor", "ith", "am"]


def vocabulary(rng, size):
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def new_document(rng, words):
    return [rng.choice(words) for _ in range(rng.randint(60, 160))]


def near_copy(rng, words, original):
    copy = list(original)
    if rng.random() < 0.2:
        return copy
    rate = rng.uniform(0.02, 0.12)
    for i in range(len(copy)):
        if rng.random() < rate:
            copy[i] = rng.choice(words)
    return copy


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: cluster_corpus.py DIR SIZE1 [SIZE2 ...]")
    out = sys.argv[1]
    sizes = [int(n) for n in sys.argv[2:]]
    rng = random.Random(20261125)
    words = vocabulary(rng, 3000)
    documents = []
    for part, size in enumerate(sizes, start=1):
        folder = os.path.join(out, "part%d" % part)
        os.makedirs(folder, exist_ok=True)
        for _ in range(size):
            if documents and rng.random() < 0.25:
                text = near_copy(rng, words, rng.choice(documents))
            else:
                text = new_document(rng, words)
            documents.append(text)
            name = os.path.join(folder, "%06d.txt" % len(documents))
            with open(name, "w") as f:
                # Lines of 12 words, as prose files have.
                f.write("\n".join(" ".join(text[i:i + 12])
                                  for i in range(0, len(text), 12)) + "\n")


if __name__ == "__main__":
    main()
