-- demo.sql — docpipe in the sqlite3 shell:  sqlite3 :memory: < sql/demo.sql
.load ./dist/docpipe
.mode box
SELECT docpipe_version() AS version, docpipe_simd() AS kernels;

-- A table that decides on every INSERT: a document is the set of its
-- 5-word shingles, a duplicate shares at least half of the two sets' union
-- with a kept document (exact Jaccard >= 0.5, the default).
CREATE VIRTUAL TABLE docs USING docpipe(title TEXT);
INSERT INTO docs(body, title) VALUES
  ('In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep.', 'Genesis 1'),
  ('Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.', 'Moby-Dick'),
  ('IN THE BEGINNING God created the heaven and the earth.  And the earth was without form, and void; and darkness was upon the face of the deep!', 'Genesis 1, shouted'),
  ('In the beginning God created the heaven and the earth. And the earth was without form and empty; and darkness was upon the face of the deep.', 'Genesis 1, edited'),
  ('It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.', 'Two Cities');

-- The decisions made on insert.
SELECT rowid, title, is_duplicate, duplicate_of, round(similarity, 3) AS similarity FROM docs;

-- Nearest documents to a query text.
SELECT rowid, title, round(score, 3) AS score
FROM docs WHERE docs MATCH 'God created the heaven and the earth and darkness was upon the deep' AND k = 3;

-- The same decisions again in batch, at a stricter threshold, and every pair above it.
SELECT id, is_duplicate, duplicate_of, round(similarity, 3) AS similarity FROM dedup_index('docs', 0.9);
SELECT id, other_id, round(similarity, 3) AS similarity FROM dedup_index('docs', 0.5, 'pairs');

-- Any table works through a query: embed() gives hashed vectors (cosine).
CREATE TEMP TABLE notes(id INTEGER PRIMARY KEY, text TEXT);
INSERT INTO notes(text) SELECT body FROM docs;
SELECT id, cluster_id FROM dedup_index('SELECT id, embed(text) FROM notes', 0.7, 'clusters');

-- The features behind a vector, and cosine() of two texts.
SELECT token, bucket, sign FROM tokenize('Call me Ishmael. Some years ago, never mind') LIMIT 3;
SELECT round(cosine(embed('the cat sat on the mat today'), embed('the cat sat on the mat yesterday')), 3) AS cosine;
