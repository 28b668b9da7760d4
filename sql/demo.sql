-- demo.sql — docpipe in the sqlite3 shell:  sqlite3 :memory: < sql/demo.sql
.load ./dist/docpipe
.mode box
SELECT docpipe_version() AS version, docpipe_simd() AS kernels;

-- A few texts: an original, an edited copy, a cropped copy, and unrelated ones.
CREATE TEMP TABLE t(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO t(body) VALUES
  ('In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep.'),
  ('In the beginning God created the heaven and the earth. And the earth was without form and empty; and darkness was upon the face of the deep.'),
  ('In the beginning God created the heaven and the earth. And the earth was without form, and void;'),
  ('Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.'),
  ('It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.');

-- Cosine similarity of every pair, on the default embedding (5-word shingles).
SELECT a.id AS a, b.id AS b, round(cosine(embed(a.body), embed(b.body)), 3) AS cosine
FROM t a JOIN t b ON a.id < b.id ORDER BY cosine DESC;

-- The features behind it: word 5-shingles, their bucket and sign.
SELECT token, bucket, sign FROM tokenize((SELECT body FROM t WHERE id = 3)) LIMIT 4;

-- Scripts without spaces become one token per character.
SELECT group_concat(token, ' | ') AS tokens FROM tokenize('東京タワーに行く', 'tokenize=words');
