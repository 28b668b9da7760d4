/*
** setindex.c — the index of the set kind (measure='jaccard'|'cosine'):
** each document's exact set of 64-bit shingle hashes (stored, or with a
** set source made again from the document when needed), and an inverted
** index over them stored in the database, searched exactly.
**
**   CREATE VIRTUAL TABLE docs USING docpipe(measure='jaccard', threshold=0.5);
**   INSERT INTO docs(body) VALUES ('...');     -- dpSetIndexBest, dpSetIndexAdd
**   SELECT rowid, score FROM docs WHERE docs MATCH 'text' AND k = 5;
**                                              -- dpSetIndexNearest
**
** (The table calls; this file knows nothing of bodies or tokens: it is
** given sorted distinct hashes and document ids.)
**
** WHAT IT DECIDES
**
** For a new document's set A (n = |A| hashes, sorted, distinct) and a
** stored document's set B (m = |B|), with i = |A n B|:
**
**   jaccard(A,B) = (double)i / (double)(n + m - i)
**   cosine(A,B)  = (double)i / sqrt((double)n * (double)m)
**
** computed in exactly these double operations (the SQL reference function
** must do the same), and "B qualifies" means that double >= t.  A pair
** with i = 0 is never a hit, whatever t (an empty set matches nothing).
** dpSetIndexBest returns the kept document (kept=1) of highest similarity
** >= t, ties to the lowest id; dpSetIndexNearest the k best of all stored
** documents (or only kept ones), best first, ties to the lowest id.  Both
** are exactly what a scan of every stored set computing the formulas
** above returns (test/setindex.c checks it against such a scan).
**
** ON DISK (shadow tables of table zName in schema zDb)
**
**   %_sets(id INTEGER PRIMARY KEY, kept INTEGER, n INTEGER, h BLOB)
**       each document's set: n hashes, 8 bytes each, little-endian,
**       strictly increasing.  The truth; everything else is an index of it.
**       With a set source (dpSetIndexSetSource; the table's sets='body',
**       the default of new tables since build c8097b5) h is 8 bytes, a check
**       of the set (siSetCheck), and a set is asked of the source (the
**       table makes it again from the document's body), which must give n
**       hashes of that check: the source is then the truth, and the row
**       holds its size, kept flag and check (siSetOf).
**   %_pruns(id INTEGER PRIMARY KEY, level, lo, hi, npair, nblock, dest, resume)
**       one row per sorted run of postings.  [lo, hi] is the range of
**       flush sequence numbers the run holds; dest is the run a merge in
**       progress is writing it into; resume is NULL for a finished run,
**       else the run is such a merge output (invisible to searches) and
**       resume is the first key not yet written.
**   %_pblocks(id INTEGER PRIMARY KEY, data BLOB)   id = run<<24 | block
**       the postings of one block of a run (format below).
**   %_pfilter(id INTEGER PRIMARY KEY, data BLOB)   id = run<<24 | block
**       the block's summary: a Bloom filter of its keys and its "heavy"
**       keys (more than one posting) with their counts.
**   %_pfence(id INTEGER PRIMARY KEY, data BLOB)    id = run<<24 | group
**       the fence keys: first key and posting count of each block, 64
**       blocks (DP_SET_FENCE_GROUP) per row; and at id = run<<24 |
**       0xFFFFFF the run's summary: first key and pairs of each group.
**   %_ptomb(id INTEGER PRIMARY KEY, seq INTEGER)
**       tombstones: document id removed when flush sequence seq was next.
**
** A posting is a pair (key, val): key = the top 40 bits of a hash
** (DP_SET_KEY), val = id<<1 | kept.  A run holds its pairs sorted by
** (key, val) and cut into blocks; a key is never split between blocks, so
** the block holding key K is the last whose fence key is <= K.  Block
** format (varints are LEB128, 1-10 bytes):
**
**   byte 0, varint nKey, varint nRestart (= ceil(nKey/16)), nRestart-1 x
**   varint (offset of restart point r - offset of r-1), then the key area:
**   per key: varint (delta<<1 | multi), [varint count-2 when multi],
**   varint val0, varint (val - previous val) for the others
**
** where delta is the key minus the previous key, or for every 16th key
** (DP_SET_RESTART_KEYS; the restart points, the first at offset 0) the key
** minus the block's fence key, so that a probe can start decoding at the
** last restart point <= its key (a binary search over their first
** varints) instead of at the first key.  A block takes no new key once its
** bytes would pass DP_SET_BLOCK_BYTES (1,990; its last key's postings may
** go past it) or it holds DP_SET_BLOCK_KEYS (384) keys.  Filter row:
** varint nKey, varint nHeavy, nHeavy x (varint key delta from the fence or
** the previous heavy key, varint count), then DP_SET_FILTER_WORDS (48)
** filter words (8 bytes little-endian each: DP_SET_FILTER_BITS bits per
** key of a block of 384 keys, more when it has fewer; a key sets 3 bits
** of one word, so a test costs one cache miss).  Fence row: per block,
** varint (first key - previous block's first key; the first absolute),
** varint pairs.  Summary row: the same per group (its first key, its
** pairs), written when the run is whole.
**
** Builds before 2026-12-01 wrote fence rows of 4,096 blocks and no
** summary, and a new connection read every one of them: 1.7M fences at
** 1M stored, ~55 ms before its first statement.  Such a run is read whole
** as before (a run without a summary), and rewritten in groups by a later
** merge call of a writer (siConvertFences: one run a call, the smallest
** first; its fences are in memory, so that writes ~6 bytes a block and
** reads back only those rows, for the summary: 11-87 ms a commit for the
** runs of the 1M table).  A
** merge output begun in old rows is finished in them (siWriterResume
** tells them apart: past one group, the row of the last block's group
** exists only in groups) and rewritten after.  Builds before 2026-12-01
** take the summary row for a damaged fence row.
**
** Builds before 2026-12 wrote blocks of 512 pairs with 64 filter words,
** and their blocks began with varint nKey (never 0: no restart points,
** every key coded from the one before).  Such runs are read as they are:
** a block's first byte tells its format, a filter row's length after the
** heavy keys its words, a run's first filter read sets the run's (one
** size per run; the integrity check sees to it), and a merge resumed
** continues its output with the size it was begun with.  New runs, and so
** every merge output begun now, have this build's blocks ('optimize' of a
** table whose single run is old leaves it as it is).  Builds before
** 2026-12 take this build's blocks for damaged ones: there is no going
** back once this build has written to a table.
**
** Why blocks end by size: SQLite stores a row of more than ~4 KB with an
** overflow page, which a probe reads and copies whole, and packs rows
** whole into 4 KB pages, so a page holds two ~2 KB blocks, or one block
** of 2.1 KB and nothing else.  512 pairs (~4.5 KB) took an overflow page
** each; 256 pairs came to 1.4 KB on bigram text (two a page, 21 % of
** the pages empty) and 2.1 KB on verse mixes (one a page, 42 % empty).
** Cut at 1,990 bytes, 3 % and 1 % are left empty.  Side by side at
** 10k-20k stored (build/scale_bench, 2026-11-30, one run each): verse
** mixes at 10k insert 318 -> 392 docs/s with the restart points (256
** pairs both) and 370 -> 439 with blocks cut by size (file 4.18 -> 4.03x
** the text); bigram text at 20k 4.73 -> 4.45x the text, inserts and
** MATCH within noise.
**
** The in-memory summary of a run is its group summary (16 bytes per
** group) with a directory on the top bits of the key (keys are uniform
** hashes, so it points next to the group), read when the run is first
** used (one row); the fences of a group (12 bytes per block), read the
** first time a probe lands in it; and once every group is read, a
** directory over the blocks, as the summary's, through which probes then
** go with prefetches (siEstimateBatch).  Each block's filter row is read
** the first time a probe lands in that block, and kept (filters in
** chunks of DP_SET_CHUNK_WORDS words: 5 blocks, or 4 of 512 pairs; heavy
** keys beside them).  So a new connection reads the pruns rows and the
** summary row of each run, then the groups and filter rows its first
** probes touch, never the postings unless a key is present.  Groups and
** filters are read through blob handles kept open from row to row within
** a call (siRowBytes).  A group of 64 blocks: the summaries of the 1M
** table are ~190 KB (a new connection reads them and makes its first
** one-word insert in ~3.5 ms), a group row ~390 bytes.  Memory, once
** every filter was touched (a long load does touch them all): the filters
** (8 bits a key) and the counts of keys of 4 or more postings in a block
** (SiHeavy), 91 MB at 100k stored and 1.2 GB at 1.27M on bigram text; and
** the pending postings of the open transaction (24 bytes each, in an
** open-addressing table by key with its own small Bloom filter in
** front).  Past SQLite's soft heap limit (PRAGMA soft_heap_limit) no
** filter is cached any more: each is read, asked and dropped
** (siCacheFull), with the estimate a cached one gives, so a MATCH with a
** score bound reads the same lists (a search of k = 1 asks fewer runs
** whose filters are not cached, and one of k > 1 without a score bound
** reads the block instead of the filter: see siEstimateBatch, bList); a
** quarter past it a search first drops the filters cached before, and the
** candidate arrays kept (siCacheTrim).  A
** connection kept open for 200 MATCH top-10 at 1M stored (2026-12-01,
** AMD EPYC, the file in the OS cache): resident 214 MB within a 200 MB
** limit against 707 MB without, medians 17-25 ms either way; a bulk load
** past the limit reads a filter row per probe instead (its choice).
**
** WHY THIS LAYOUT
**
** One b-tree row per (feature, document) drops from 1,644 docs/s at 10k
** stored to 321 at 100k (a prototype, WAL, 64 MB page cache, 1,000
** documents per transaction): random keys dirty most leaf
** pages on every commit.  Here postings of a transaction are kept in memory
** (a hash table, searchable at once) and written at sync or at a savepoint
** as one sorted run, appended in key order: a commit of 1,000 documents
** writes ~1,000 new blocks and dirties no old page.  Runs are merged in the
** background (tiered, like FTS5 segments or an LSM): siFanIn runs of a
** level (8 of levels 0 and 1, 4 above) make one run of the next level,
** a bounded number of pairs per
** call, resumable from its key (state in %_pruns), so no commit pays for a
** whole large merge.  (A finished merge deletes its inputs' rows; with
** PRAGMA secure_delete on, as Debian's SQLite has it by default, each
** page they free is zeroed and written again: ~8 % of an insert at ~370k
** stored.  That is the connection's choice, and left to it: pages freed
** without zeroing would keep postings of documents deleted later.)  Keys
** are cut to 40 bits because the set is verified anyway: an extra
** candidate costs a set read, and at 10^9 postings a key of 40 bits
** collides with another ~1 time in 1,000 probes, while the delta between
** neighbouring keys shrinks from ~6 to ~3 bytes.  Measured figures:
** bench/results/setindex.md.
**
** PROBES (why the search stays flat as the table grows)
**
** Every feature of every document is indexed.  A probe sorts A's keys by
** an estimate of their current posting count: 0 when no filter of any run
** and no pending posting has the key (no page read, once the filter is
** cached), else the count from the heavy lists (keys of DP_SET_HEAVY_MIN
** or more postings in a block; 1 for another key whose filter says maybe;
** with k = 1, of the runs asked, below).  It reads the
** postings of keys in that order, counts for each candidate the query's
** features whose key it has (an upper bound of the intersection over the
** probed keys: a key may stand for more than one hash, and a dead pair
** only adds), and stops as soon as no document
** unseen so far can qualify:
**
**   After the postings of keys covering c features of A were read, an
**   unseen B shares none of them, so i <= n - c.  It can reach tau only
**   if i >= omin(tau):
**     jaccard: i/(n+m-i) >= tau and m >= i give i(1+tau) >= tau(n+m)
**              >= tau(n+i), so i >= tau*n;
**     cosine:  i/sqrt(nm) >= tau and m >= i give i >= tau*sqrt(n*i), so
**              i >= tau^2*n.
**   So unseen documents are out once n - c < omin(tau): after the
**   n - ceil(tau*n) + 1 (jaccard) or n - ceil(tau^2*n) + 1 (cosine) rarest
**   features when nothing qualifies, and sooner when a good candidate has
**   raised tau (tau = the threshold, or the k-th best similarity so far
**   when k are held; an unseen document equal to the k-th and of lower id
**   would displace it, so equality keeps the search going).  A counted
**   candidate with count x shares at most x + n - c.
**
**   Exactness with doubles: the computed similarity is within 4 ulp of
**   i/u (resp. i/sqrt(nm)), so "double >= tau" implies the rational
**   inequality with tau*(1 - 2^-50); omin is computed as
**   ceil(tau*n*(1 - 1e-9)) (tau^2 for cosine), a bound below the true
**   one.  Probing more features than needed is always safe; probing fewer
**   never happens.  Candidates are verified with the reference formula
**   itself.  The same margin makes the size filter (jaccard <= min/max,
**   cosine <= sqrt(min/max)) safe.
**
** Which candidates are read (their set merged with A's) and when:
**
**   k = 1 (an insert's decision): a candidate is verified as soon as its
**   count reaches siEagerCount(n) (16, or n/8 up to 48): a near-copy
**   shares nearly every key probed, is read early and raises tau, which
**   ends the probe.  The probe goes on until n - c < omin(tau) and also
**   (highest count not verified) + n - c < omin(tau), so that no counted
**   candidate is left that could qualify (the candidates not verified are
**   kept by count, so one verified leaves the bound); if the keys run out
**   first, those left are taken as for k > 1 below.  Verifying every
**   candidate on sight instead read the set of every document met in the
**   probed postings; on verse mixes
**   (every verse in ~16 documents at 20k) that gave 89 docs/s at
**   10k-20k stored, counting first 113 (30-70 sets read per insert at 9k
**   stored), and 122 with the word-at-a-time skip in siBlockFind; bigram
**   text is unchanged (2026-11-30, one run each).  A candidate's set is
**   merged with A's without a branch per step (its order checked in a
**   pass of its own): the branchy merge mispredicted about every other
**   step, 12 % of verse-mix inserts.  The count was 16 before the night
**   of 2026-11-30: on verse mixes a document that shares one whole verse
**   (~20-30 shingles) with the query reached it and was read, though one
**   verse of a document's ~30 is far from t; at 48 such documents stay
**   counted, and the probe's bound drops them after a few more keys.
**   Verse mixes, 10k to 20k stored (build/scale_bench, 2026-11-30, AMD
**   EPYC, alternating): sets read 688,713 -> 10,040, posting lists +9 %,
**   docs/s at 20k 273-347 -> 347-452, the whole run (0 to 20k) 43-55 ->
**   35-44 s; 32 and 64 were no better (bench/results/scale-verses.md).
**   Bigram text: the same sets read, posting lists +0.05 %.  But 48 for
**   every query doubled the posting lists read on short documents (20k
**   KJV passages of 40-150 words, 10 % near-copies: 491k -> 989k, 20-30 %
**   slower), whose near-copies then reached the count only after most of
**   their keys: hence n/8, which keeps 16 there (the same work as before)
**   and gives 48 from ~400 features (2-5 KB documents).  Passages of
**   150-400 words: lists +12 %, sets read -11 %, docs/s the same within
**   noise (2,354 / 2,419 against 2,440 / 2,277).
**
**   k > 1 (a MATCH): the k-th best is usually far below the best (a text's
**   top ten often holds one near-copy and nine that share a common
**   phrase), so tau stays low and nearly every key is probed; nothing is
**   read while probing.  Then candidates are taken by decreasing bound
**   count + (features not probed): the size first (stored sets: the
**   length of the set row's h, from the row's header through a blob
**   handle: no overflow page, and no statement unless the row is gone;
**   with a set source the small row's n; siSetSize), the set
**   only if the bound with that size can still reach rMin and beat the
**   k-th hit held.  A document never counted is below rMin as above.
**   50 top-10 queries on 10k bigram documents: 18 ms each when every
**   candidate was verified on sight, 12 ms counting first.  Such a
**   search (no score bound) reads the block in place of the filter of a
**   run of more than DP_SET_MATCH_FILTER_BLOCKS blocks when the filter
**   is not cached (siEstimateBatch): at 1M stored, after 'optimize' (one
**   run), with the candidate arrays kept (siCollFree), a connection kept
**   open went from 8.7-11.0 to 5.7-6.6 ms a MATCH (200 distinct queries
**   after 200), a new one from 11.5-16.7 to 8.5-12.0, median 9.1 (20 new
**   connections a round, eight rounds; 2026-12-01, AMD EPYC, the file
**   cached).
**   The postings met are appended as (candidate, features) pairs, summed
**   per candidate by a radix sort when the array is full and at the end,
**   and the candidates ordered by bound with a counting sort (bounds are
**   at most n): a MATCH at 1M documents meets 10^4-2*10^5 candidates, and
**   a hash map slot per posting plus a qsort of them were a third of its
**   time (20 queries with their filters cached, median 32-36 -> 21 ms,
**   2026-11-30).
**
** For a new document that copies nothing, most of its keys have no
** posting at all; as soon as n - omin + 1 of them are known absent from
** the filters, the search ends with no block read.  The estimates are
** computed 32 keys at a time, run by run, in stages (directory, fence,
** filter word, heavy-key slot) with prefetches, so that the cache misses
** of different keys overlap (best() at 30k stored: 100-224 us of CPU
** before, 65-138 after).  The estimate keeps which runs' filters said
** maybe, so the probe reads those runs' blocks without asking again.
** A search of k = 1 (an insert's decision, or a MATCH of one) asks no
** run about a key already found maybe elsewhere if that would read a
** row (the run's fence groups not all read yet, or the block's filter not
** cached): the key is not known absent either way, and most such keys are
** never read (the probe asks those runs for the ones it reads).  A new
** connection's first INSERT takes ~40 % less time for it (siEstimateBatch).
** That filter work, ~280 keys x the number of runs, is what grows:
** ~2,000 probes per insert at 100k stored.  A search reads its blocks
** through one blob handle (sqlite3_blob_reopen, ~1.1 us a block against
** ~2.0 for a statement step), closed when the search ends.
**
** ONE RUN A DOCUMENT.  All the pairs of a document are in one place: the
** pending pairs (dpSetIndexAdd adds them together, and a flush forced by
** their number comes after), or one run (a flush writes every pending
** pair into one run, a merge every pair of its inputs into one output).
** A removed document's dead pairs may stay in an older run while its id
** lives again elsewhere; they only make a candidate, verified against
** the set as it is.  So the bound above holds per run: a document of run
** r shares with A at most n minus the features known absent from r.
** Once that is below omin(tau) the run is ruled out: the estimate asks
** it nothing more and the probe reads none of its blocks; when every run
** and the pending pairs are ruled out, the search ends (a key found maybe
** in one run no longer keeps the others from ending).  Inserts into
** copies of a 100k table (+20,000, new connection, three rounds
** alternating, 2026-12-01, AMD EPYC): 2,569-2,788 docs/s against
** 2,273-2,536; filter probes per insert 3,724 against 5,355, posting
** lists 5.8 against 6.8.  Only when every run's answers are kept
** (runs <= nRunMaybe, 64): past that, the global bound alone.  The
** integrity check holds the file to it: a document alive in two runs is
** damage.
**
** MEASURED (bench/results/setindex.md; 2 shared vCPUs, WAL on disk)
**
**   stored  docs/s  new connection's first insert  file / raw sets
**   10k     3,573   4.2 ms (open 0.6 ms)            2.31
**   100k    1,269   12.0 ms (open 3.6 ms)           2.53
**
** Decisions equal a brute-force scan (40 of 40 sampled at 100k; every
** planted near-copy found).  Those figures are for synthetic sets (90 %
** of each document's features its own).  Through the table, with
** tokenizing, bodies and sets written (bench/scale_bench.c): see
** bench/results/scale.md for word-bigram text, whose shingles are mostly
** a document's own, and scale-verses.md for verse mixes, where every verse
** is in many documents, so half of a document's keys each name ~16
** documents to verify at 20k.  Below the project's targets
** (5,000 docs/s at 10k; memory <= 200 MB and file <= 2x text at 1M): see
** "LEFT TO DO".
**
** TRANSACTIONS
**
** dpSetIndexAdd writes the set row at once and keeps the postings pending
** in memory; dpSetIndexSync writes them as a run (the table calls it at
** xSync and at xSavepoint, as FTS5 flushes at xSavepoint), so SQLite's
** journal undoes everything written.  dpSetIndexRollback (xRollback,
** xRollbackTo) drops pending postings (after a savepoint they are exactly
** the changes made since) and marks the run list stale: the next call
** re-reads %_pruns and keeps the cached summaries of runs that still exist
** (a finished run never changes, and run ids only grow among committed
** runs, so an id names one content for ever once committed).  Another
** connection's commit is noticed through SQLITE_FCNTL_DATA_VERSION and
** re-reads only the run list and new runs.
**
** A run of an open transaction is not for ever: ROLLBACK or ROLLBACK TO
** undoes it, and the next run written, by this connection or another,
** takes its id again (max + 1).  So each cached run carries iTag: -1 when
** committed, else the number of savepoints open when this connection
** wrote it (a flush, a merge, a rewrite in groups) or read it inside its
** write transaction (it may be one of its own, read again after a
** statement's rollback); xRelease lowers tags to the savepoint left,
** ROLLBACK TO savepoint i drops the runs tagged above i, ROLLBACK every
** tagged one (marked there, dropped at the next call: a rollback may come
** from inside a nested statement's step), and xCommit clears the tags.  A
** statement refused (on_duplicate=abort) drops nothing read before it, so
** the filters stay cached.  (Without the tags a connection kept its summary
** of an undone run under the id of the next: writes refused as damaged,
** searches that missed documents; found by test/opfuzz.test.)
**
** DELETES: tombstones.  Removing document id writes (id, seq) into %_ptomb,
** seq being the number the next flushed run will get (or beyond it).
** A pair of id in a run whose hi < seq is dead; merges drop dead pairs;
** a tombstone goes when every run has hi >= seq.  Searches ignore
** tombstones: a dead pair only makes a candidate whose set row is gone or
** says otherwise, and the candidate is verified against its set anyway.
** Pending pairs of a document removed in the same batch are dropped at
** flush (the removal remembers the position in the pending list).
**
** LEFT TO DO (figures: bench/results/scale.md, a run to 1M bigram
** documents with the build of 2026-11-30 evening; the run before, of
** 2026-11-29, in brackets)
**
** - Probe cost grows with the number of runs (7 at 100k, 16 at 1M with
**   fan-in 4 -- 14 at 100k with the lowest levels' 8, siFanIn -- and
**   merge work DP_SET_MERGE_FACTOR x the flushed pairs per
**   sync): 1,205 docs/s at 100k, 814 at 500k, 590 at 1M (979, 490,
**   290).  Inserts after a new connection's first read its filter rows
**   cold: 20,000 inserts into copies of the 1M table took 313-327
**   docs/s (263-267 with the build of the morning); 2,000 of them from
**   a cold OS cache 71-74 docs/s (the evening's build: 60-68): such a
**   job probes more (key, run) pairs than the runs have blocks, so it
**   reads nearly every filter row (1.1 GB at 1.27M).  At 1M about a
**   third of an insert is merging, a quarter the search (cache misses
**   in the runs' summaries).  Fewer runs cost merge work: a simulation
**   of the policies gave fan-in 2 5.6 runs on average at 1M instead of
**   8 for twice the pairs written, and on bigram text fan-in 2 measured
**   811 docs/s at 100k against ~1,100 (2026-11-30).
** - A new connection's first INSERT reads a filter row and a fence group
**   per probed key and run (~6,500 and ~3,500 at 1M over 20 runs): 99 ms
**   at 1M over 16 runs in the run of 2026-11-30 (202; 57 after 'optimize'
**   into one run), of which ~55 ms were every run's fences (1.7M), read
**   before the first statement.  With fence groups read as probes need
**   them, through blob handles: 34-37 ms against 67-81 for build 7809ea1
**   (a copy of the 1M table whose runs were rewritten in groups, 20 runs,
**   against the table itself, 16 runs; open + INSERT rolled back, median
**   of 20, alternating, 2026-11-30); open + a one-word INSERT 3.5 ms
**   against 62.  Fewer runs (one table-wide filter, or leveled merging of
**   the upper levels) would cut the rest.
** - Runs piled up while a merge was under way: dpSetIndexMerge took the
**   lowest level with work, and did not start a merge of level L while
**   one of level L went on, each sync giving it DP_SET_MERGE_MIN (65,536)
**   pairs.  After bulk loads, a stream of one-document commits added a
**   run each until the merge of the batches' runs (1.33M pairs: ~20
**   syncs) was done: a copy of the 1M table had 35 runs instead of 16
**   (21 of one document), and a new connection's first INSERT took
**   167-256 ms.  Now the job of least work goes first (2026-11-30 night):
**   60 one-document commits after 24 batches of 1,000 left 7-14 runs
**   instead of a count growing to 21; batch loads to 20k are unchanged
**   (same files, same rates).  Levels by size rather than by flush would
**   bound it further; not measured at 1M.
** - MATCH top-10 on a new connection: 77 ms at 1M (117); with candidates
**   collected and counting-sorted (see PROBES), 75-84 ms against 90-97
**   for build 8b912c1, alternating on a copy of the 1M table.  A query's
**   keys are probed in every run and their filter rows are cold; warm filters
**   cost ~1 byte per posting (1.2 GB at 1.27M with heavy keys' counts,
**   see SiHeavy), over the 200 MB budget:
**   fewer bits per key (DP_SET_FILTER_BITS) or a run-level summary of
**   ~2 bits per posting would trade page reads for memory.  On an idle
**   host with the file cached (2026-12-01, zstd bodies, 16 runs): 33-34
**   ms on a new connection, 18-21 ms on one kept open (also within a
**   200 MB soft heap limit), ~10 ms once every filter is cached (~900
**   MB).  What is left is rows read: ~2.6 posting blocks a key (the
**   copy's own, shared keys, false positives), each a pread (~45 % of
**   the time then).  Reading the block in place of every uncached
**   filter (small runs' too), a larger page cache and a map did not help
**   (bench/results/scale.md); fewer runs (leveled merging of the large
**   ones) would, at the cost of inserts.  With fan-in 8 on the two lowest
**   levels (siFanIn) a new connection's MATCH at 1M took 44-48 ms against
**   39-43 on the table of fan-in 4 (18 runs against 17, same binary,
**   2026-12-01 night); inserts there went from 1,572 to 1,943 docs/s.
**   With blocks read in place of the large runs' uncached filters (see
**   PROBES) and the candidate arrays kept from one search to the next:
**   39.7-40.3 ms on a new connection and 18.4-19.3 kept open over the 18
**   runs with every large run read so (43.5-48.5 and 17.4-21.1 before),
**   44.2 and 16.1 with only the 3 runs past DP_SET_MATCH_FILTER_BLOCKS
**   (one round); after 'optimize' (135 s into one run) 8.5-12.0 (median
**   9.1) and 5.7-6.6 ms: the goal's 10 met kept open, and at the median on
**   new connections.  There the sizes of ~1,400 candidates (a row each,
**   siSetSize) are now half the time: a lower bound of the sets' sizes
**   (per run, or the table's) would spare 93 % of them on the benchmark's
**   text (no set below 355 shingles; a count of the sizes read by 30
**   queries) and none in a table holding one short document; a table of
**   sizes by ranges of ids (a row a page) would spare most everywhere, at
**   a write per commit.  Not built.  As loaded, each large run costs a
**   MATCH ~500 row reads.  Keeping fewer of them (leveled merging of the
**   top) rewrites the largest run for each new one: a simulation over
**   1,000 batches gave 2 large runs for 2.2 times the merge work, 1 for
**   3.5 times, and at 1M the work lands at the top (~500M pairs, 135 s,
**   for each run of 64,000 documents: ~2 ms an insert, inserts below 500
**   docs/s).  'optimize' after a bulk load is the way, as with FTS5.
** - The file: 4.27x the text at 1M with every set stored (4.76x before
**   blocks were cut by size): %_docs ~1.2x, %_sets ~1.75x (8 B per
**   shingle: random hashes do not compress), postings and filters the
**   rest.  With a set source (sets='body') the sets are not stored: 2.54x
**   at 10k bigram documents (%_docs 1.2x, blocks 1.05x, filters 0.25x),
**   inserts 3,357 and 2,947 docs/s against 2,421 and 2,732 for the build
**   before, alternating (AMD EPYC, 2026-12-01): writing ~40 % fewer bytes
**   pays for a tokenization per verify (~0.05 per insert on bigram text,
**   ~0.3 on verse mixes, ~18 per MATCH top-10).  With the bodies packed
**   (compress='zstd', body.c; 2026-12-01) %_docs is 0.64x: 2.07x at 10k,
**   1.95x at 1M.  Less would need fewer bytes per posting (~5.6 with its
**   filter bits ~1.3).  Pages freed by merges are reused by later writes
**   but not returned (auto_vacuum is the table's choice).
** - Verse mixes (every passage in many documents) insert ~3x slower than
**   the dense kind at 10k-20k (see bench/results/scale-verses.md): half
**   of a document's keys must be probed, each present in several runs
**   and naming ~16 documents, each probe a block read.  The dense kind's
**   scan is cheap at that size.  (The set kind is the default since
**   2026-12 all the same: it wins on real text; see README.)  Measured at
**   10k-12k stored (2026-11-30, a build counting): 728 posting lists, 47
**   sets and ~2,700 filter probes per insert; SQLite's row reads (b-tree
**   seeks, page copies) are ~30 % of the time, the sets' merges 10 %.
*/
#include "docpipe.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DP_SET_KEY(h)        ((uint64_t)(h) >> 24)  /* 40-bit posting key */
#define DP_SET_BLOCK_BYTES   1990     /* a block takes no new key past this
                                      ** size: two to a 4 KB page (each row
                                      ** at most ~2,040 with its cell) */
#define DP_SET_BLOCK_KEYS    384      /* ... or at this many keys (runs
                                      ** written before 2026-12: 512 pairs) */
#define DP_SET_FENCE_GROUP   64       /* blocks per %_pfence row, read
                                      ** when a probe first needs it */
#define DP_SET_FENCE_CHUNK_OLD 4096   /* ... in runs written before
                                      ** 2026-12-01, all read at once */
#define DP_SET_FENCE_SUMMARY 0xFFFFFF /* the fence row id (in its run) of
                                      ** the run's group summary */
#define DP_SET_RESTART_KEYS  16       /* keys between restart points */
#define DP_SET_RESTART_MAX   64       /* restart points a block may have */
#define DP_SET_FILTER_BITS   8        /* Bloom filter bits per key */
#define DP_SET_FILTER_WORDS  (DP_SET_BLOCK_KEYS*DP_SET_FILTER_BITS/64)
                                      /* filter words of a block written */
#define DP_SET_FILTER_WORDS_MAX 64    /* ... or read (512-pair blocks) */
#define DP_SET_CHUNK_WORDS   256      /* filter words per cached chunk:
                                      ** 5 blocks of 48 words, 4 of 64 */
#define DP_SET_CHUNK_BLOCKS  (DP_SET_CHUNK_WORDS/DP_SET_FILTER_WORDS)
                                      /* most blocks a chunk can hold */
#define DP_SET_CHUNK_BLOCKS_MIN (DP_SET_CHUNK_WORDS/DP_SET_FILTER_WORDS_MAX)
                                      /* fewest */
#define DP_SET_PROBE_BATCH   32       /* keys estimated together */
#define DP_SET_MATCH_FILTER_BLOCKS 262144 /* a search of k > 1 and
                                      ** omin(rMin) <= 1 (a MATCH without a
                                      ** score bound) reads the uncached
                                      ** filters of runs of at most this
                                      ** many blocks (~100 MB of filters
                                      ** cached); of a larger run, or past
                                      ** the soft heap limit, it reads the
                                      ** block (siEstimateBatch, bList;
                                      ** runs below nRunMaybe only) */
#define DP_SET_HOT_RUN       4        /* a run with 1/4 of its filters
                                      ** read has the rest of each chunk
                                      ** read with a block (siBlkLoad) */
#define DP_SET_HEAVY_MIN     4        /* postings of a key in a block for
                                      ** its count to be kept in memory
                                      ** (siBlkLoadOne) */
#define DP_SET_EAGER_MIN     16       /* an insert's probe verifies a
                                      ** candidate once it has this many of
                                      ** the query's features (by the keys
                                      ** it has), or an eighth of them
                                      ** (DP_SET_EAGER_SHARE) if more, */
#define DP_SET_EAGER_SHARE   8
#define DP_SET_EAGER_MAX     48       /* ... but at most this many
                                      ** (siEagerCount) */
#define DP_SET_FANIN         4        /* runs of one level merged together */
#define DP_SET_FANIN_LOW     8        /* ... of the lowest levels (siFanIn) */
#define DP_SET_LOW_LEVELS    2        /* ... levels 0 and 1 */
#define DP_SET_PENDING_MAX   4000000  /* pending pairs that force a flush */
#define DP_SET_MERGE_MIN     65536    /* merge work of one automatic step */
#define DP_SET_MERGE_FACTOR  16       /* merge work per flushed pair */
#define DP_SET_ID_MAX        (((sqlite3_int64)1)<<62)
#define DP_SET_N_MAX         (1<<26)  /* hashes in one set */

/**************************************************************************
** Small helpers: varints, byte buffers, an integer hash map.
*/
static int siPutVarint(unsigned char *p, uint64_t v){
  int n = 0;
  while( v>=0x80 ){ p[n++] = (unsigned char)(v | 0x80); v >>= 7; }
  p[n++] = (unsigned char)v;
  return n;
}

/* The bytes siPutVarint would write for v. */
static int siVarintLen(uint64_t v){
  int n = 1;
  while( v>=0x80 ){ v >>= 7; n++; }
  return n;
}

static inline uint64_t siGet64(const unsigned char *p);

/* Bytes read, or 0 when the varint runs past pEnd or is longer than 10.
** With 8 bytes to read, a varint that ends within them is decoded without
** a branch on its length: the lowest byte with its high bit clear ends
** it, and its 7-bit groups are packed by three shifts.  Lengths vary from
** one varint to the next (fence deltas of 2 or 3 bytes, ids), and the
** byte loop mispredicted its exit about every other varint: it was most
** of a new connection's time at 1M documents (1.7M fences). */
static inline int siGetVarint(const unsigned char *p,
                              const unsigned char *pEnd, uint64_t *pv){
  uint64_t v = 0;
  int n = 0, s = 0;
  if( pEnd - p>=8 ){
    uint64_t w = siGet64(p);
    uint64_t mEnd = ~w & 0x8080808080808080ull;   /* byte i ends: bit 8i+7 */
    if( mEnd ){
      uint64_t mLow = mEnd & (~mEnd + 1);          /* the first end */
      uint64_t x = w & (mLow | (mLow - 1)) & 0x7f7f7f7f7f7f7f7full;
      x = (x & 0x007f007f007f007full) | ((x & 0x7f007f007f007f00ull)>>1);
      x = (x & 0x00003fff00003fffull) | ((x & 0x3fff00003fff0000ull)>>2);
      x = (x & 0x000000000fffffffull) | ((x & 0x0fffffff00000000ull)>>4);
      *pv = x;
      return __builtin_ctzll(mEnd)/8 + 1;
    }
  }
  while( p+n<pEnd && n<10 ){
    unsigned char c = p[n++];
    v |= (uint64_t)(c & 0x7f) << s;
    if( (c & 0x80)==0 ){ *pv = v; return n; }
    s += 7;
  }
  return 0;
}

static inline uint64_t siGet64(const unsigned char *p){
  return (uint64_t)p[0] | (uint64_t)p[1]<<8 | (uint64_t)p[2]<<16
       | (uint64_t)p[3]<<24 | (uint64_t)p[4]<<32 | (uint64_t)p[5]<<40
       | (uint64_t)p[6]<<48 | (uint64_t)p[7]<<56;
}
/* The byte after the n varints starting at p, or 0 when they run past
** pEnd.  Eight bytes at a time: a byte with its high bit clear ends a
** varint, so their count is the popcount of the word's inverted high
** bits (the skip over the vals of the keys before the one a probe seeks,
** ~16 vals a key on corpora whose passages recur). */
static const unsigned char *siSkipVarints(const unsigned char *p,
                                          const unsigned char *pEnd,
                                          uint64_t n){
  while( n>0 && pEnd - p>=8 ){
    uint64_t mEnd = ~siGet64(p) & 0x8080808080808080ull;  /* byte i: bit 8i+7 */
    uint64_t nEnd = ((mEnd>>7) * 0x0101010101010101ull) >> 56;  /* popcount */
    if( nEnd<n ){
      n -= nEnd;
      p += 8;
      continue;
    }
    while( --n>0 ) mEnd &= mEnd - 1;     /* the n-th end is the lowest left */
    return p + __builtin_ctzll(mEnd)/8 + 1;
  }
  for(; n>0; n--){
    while( p<pEnd && (*p & 0x80) ) p++;
    if( p>=pEnd ) return 0;
    p++;
  }
  return p;
}

static void siPut64(unsigned char *p, uint64_t v){
  int i;
  for(i=0; i<8; i++){ p[i] = (unsigned char)(v >> (8*i)); }
}

typedef struct SiBuf SiBuf;
struct SiBuf {
  unsigned char *a;       /* bytes */
  sqlite3_int64 n;        /* bytes used */
  sqlite3_int64 nAlloc;   /* bytes allocated */
};

/* Make room for nExtra more bytes; SQLITE_NOMEM into *pRc on failure. */
static void siBufReserve(int *pRc, SiBuf *b, sqlite3_int64 nExtra){
  sqlite3_int64 nNew;
  unsigned char *aNew;
  if( *pRc ) return;
  if( b->n + nExtra<=b->nAlloc ) return;
  nNew = b->nAlloc*2;
  if( nNew<b->n + nExtra ) nNew = b->n + nExtra;
  if( nNew<256 ) nNew = 256;
  aNew = sqlite3_realloc64(b->a, (sqlite3_uint64)nNew);
  if( aNew==0 ){ *pRc = SQLITE_NOMEM; return; }
  b->a = aNew;
  b->nAlloc = nNew;
}
static void siBufVarint(int *pRc, SiBuf *b, uint64_t v){
  siBufReserve(pRc, b, 10);
  if( *pRc==SQLITE_OK ) b->n += siPutVarint(&b->a[b->n], v);
}
static void siBufFree(SiBuf *b){
  sqlite3_free(b->a);
  memset(b, 0, sizeof(*b));
}

/* Open-addressing map from a 64-bit id to two 64-bit values. */
typedef struct SiMap SiMap;
struct SiMap {
  sqlite3_int64 *aKey;    /* key of each slot */
  sqlite3_int64 *aV1;     /* first value of each slot */
  sqlite3_int64 *aV2;     /* second value of each slot */
  unsigned char *aUsed;   /* 1 where the slot is in use */
  int nSlot;              /* slots, a power of two (0: nothing allocated) */
  int nUsed;              /* slots in use */
};

static unsigned siMapHash(sqlite3_int64 k){
  uint64_t x = (uint64_t)k * 0x9E3779B97F4A7C15ull;
  return (unsigned)(x >> 32);
}

static void siMapClear(SiMap *m){
  if( m->nUsed ) memset(m->aUsed, 0, (size_t)m->nSlot);
  m->nUsed = 0;
}
static void siMapFree(SiMap *m){
  sqlite3_free(m->aKey);
  memset(m, 0, sizeof(*m));
}

static int siMapResize(SiMap *m, int nSlot){
  SiMap n;
  sqlite3_int64 nByte = (sqlite3_int64)nSlot * (3*sizeof(sqlite3_int64) + 1);
  unsigned char *pAll;
  int i;
  memset(&n, 0, sizeof(n));
  if( nSlot>(1<<28) ) return SQLITE_NOMEM;
  pAll = dpMallocZero((sqlite3_uint64)nByte);
  if( pAll==0 ) return SQLITE_NOMEM;
  n.aKey = (sqlite3_int64*)pAll;
  n.aV1 = &n.aKey[nSlot];
  n.aV2 = &n.aV1[nSlot];
  n.aUsed = (unsigned char*)&n.aV2[nSlot];
  n.nSlot = nSlot;
  for(i=0; i<m->nSlot; i++){
    if( m->aUsed[i] ){
      unsigned h = siMapHash(m->aKey[i]) & (unsigned)(nSlot-1);
      while( n.aUsed[h] ) h = (h+1) & (unsigned)(nSlot-1);
      n.aUsed[h] = 1;
      n.aKey[h] = m->aKey[i];
      n.aV1[h] = m->aV1[i];
      n.aV2[h] = m->aV2[i];
      n.nUsed++;
    }
  }
  sqlite3_free(m->aKey);
  *m = n;
  return SQLITE_OK;
}

/* Slot of k, or -1. */
static int siMapFind(const SiMap *m, sqlite3_int64 k){
  unsigned h;
  if( m->nSlot==0 ) return -1;
  h = siMapHash(k) & (unsigned)(m->nSlot-1);
  while( m->aUsed[h] ){
    if( m->aKey[h]==k ) return (int)h;
    h = (h+1) & (unsigned)(m->nSlot-1);
  }
  return -1;
}

/* Slot of k, inserted with values 0 if absent (*pbNew set); -1 on OOM. */
static int siMapInsert(SiMap *m, sqlite3_int64 k, int *pbNew){
  unsigned h;
  if( (m->nUsed+1)*2>m->nSlot ){
    if( siMapResize(m, m->nSlot ? m->nSlot*2 : 64) ) return -1;
  }
  h = siMapHash(k) & (unsigned)(m->nSlot-1);
  while( m->aUsed[h] ){
    if( m->aKey[h]==k ){ if( pbNew ) *pbNew = 0; return (int)h; }
    h = (h+1) & (unsigned)(m->nSlot-1);
  }
  m->aUsed[h] = 1;
  m->aKey[h] = k;
  m->aV1[h] = 0;
  m->aV2[h] = 0;
  m->nUsed++;
  if( pbNew ) *pbNew = 1;
  return (int)h;
}

/**************************************************************************
** Structures.
*/
typedef struct SiPair SiPair;
struct SiPair {
  uint64_t key;           /* DP_SET_KEY of a hash */
  uint64_t val;           /* id<<1 | kept */
};

/* A pending pair: a SiPair chained by key in the pending hash table. */
typedef struct SiPend SiPend;
struct SiPend {
  uint64_t key;           /* posting key */
  uint64_t val;           /* id<<1 | kept */
  int iNext;              /* next pending pair of the same key, or -1 */
};

/* A slot of the pending hash table: one key and its chain of pairs. */
typedef struct SiSlot SiSlot;
struct SiSlot {
  uint64_t key;           /* posting key */
  int iHead;              /* its last pending pair (chained by iNext) */
  int nCnt;               /* its pending pairs (0: the slot is empty) */
};

/* The cached summary of one block: its filter and heavy keys. */
typedef struct SiBlk SiBlk;
struct SiBlk {
  int nKey;               /* distinct keys in the block */
  int nWord;              /* 64-bit words of aFilter */
  int nHeavy;             /* keys with more than one posting */
  uint64_t *aFilter;      /* Bloom filter, nWord words */
  uint64_t *aHeavyKey;    /* heavy keys, increasing */
  uint32_t *aHeavyCnt;    /* their posting counts */
};

/* The keys of a block with DP_SET_HEAVY_MIN or more postings there (of its
** heavy keys, those of more than one), when it has any, as an
** open-addressing table: slot key<<24 | count (0: empty; a count kept is
** >= DP_SET_HEAVY_MIN, so no slot of a key is 0), linear probing from the
** key's low bits (uniform: keys are hash bits), at most 3/4 full.  A lookup is
** one cache line, whose address a probe can prefetch; a binary search of
** a sorted list cost a dependent miss per step, 18 % of the time of
** inserts on verse mixes.  Counts above 2^24-1 are kept as 2^24-1: they
** only order the probe's keys.  That is also why keys of 2 or 3 postings
** are not kept (counted 1, as a key of one): on bigram text they are 87 %
** of the heavy keys (73 % of 2, at 100k stored), and their tables were
** 40 % of the memory of a connection that had read every filter (100k:
** 145 -> 91 MB; 1.27M: 2.2 -> 1.2 GB), for 4 % more posting lists read
** and less time (2,000 searches of k = 1 at 100k, twice: 1.14 and 0.75 s
** against 0.99 and 0.65, 2026-11-30). */
typedef struct SiHeavy SiHeavy;
struct SiHeavy {
  uint64_t *aSlot;        /* mask+1 slots, NULL when the block has none */
  uint32_t mask;          /* slots - 1 */
};
#define DP_SET_HEAVY_CNT_MAX 0xFFFFFF

/* The cached filters of consecutive blocks of a run (SiRun.nChunkBlk of
** them): a probe costs the chunk pointer and one filter word.  Small
** chunks (2 KB), because a new connection's first probes land in
** different chunks: with 64 blocks a chunk (32 KB), its first INSERT at
** 500k stored allocated and cleared 172 MB for ~4,000 probes. */
typedef struct SiChunk SiChunk;
struct SiChunk {
  uint64_t mLoaded;       /* bit i: block i of the chunk is loaded */
  SiHeavy aHeavy[DP_SET_CHUNK_BLOCKS];    /* heavy keys of each block */
  uint64_t aWord[DP_SET_CHUNK_WORDS];     /* filters, SiRun.nWord a block */
};

/* The in-memory summary of one finished run. */
typedef struct SiRun SiRun;
struct SiRun {
  sqlite3_int64 iId;      /* %_pruns.id */
  sqlite3_int64 iLo, iHi; /* flush sequence numbers it holds */
  sqlite3_int64 nPair;    /* pairs */
  int iLevel;             /* merge level (0: written by a flush) */
  int nBlock;             /* blocks */
  uint64_t *aFence;       /* first key of each block, increasing */
  uint32_t *aCount;       /* pairs of each block */
  SiChunk **apChunk;      /* cached filters, NULL until a block is read */
  int nChunk;             /* slots of apChunk (enough when chunks hold the
                          ** fewest blocks, DP_SET_CHUNK_BLOCKS_MIN) */
  int nWord;              /* filter words of each block of the run (48, or
                          ** 64 in runs of 512-pair blocks), 0 until one
                          ** is read */
  int nChunkBlk;          /* blocks a chunk holds: DP_SET_CHUNK_WORDS/nWord */
  uint64_t *aLoaded;      /* bit per block: its filter is in apChunk */
  int nLoadedBlk;         /* bits set in aLoaded */
  uint32_t *aDir;         /* aDir[d]: first block whose fence has the top
                          ** nDirBits bits >= d (2^nDirBits + 1 entries);
                          ** NULL until every group below is read */
  int nDirBits;           /* bits of the key indexing aDir */
  /* fence groups (runs with a group summary): aFence and aCount are
  ** filled a group of DP_SET_FENCE_GROUP blocks at a time, when a probe
  ** first lands in it; NULL arrays in runs read whole at once */
  int nGroup;             /* groups: ceil(nBlock / DP_SET_FENCE_GROUP) */
  int nGroupRead;         /* groups whose fences are in aFence, aCount */
  uint64_t *aGroupKey;    /* first key of each group (the summary) */
  sqlite3_int64 *aGroupPair; /* pairs of each group (the summary) */
  uint64_t *aGroupRead;   /* bit per group: its fences are read */
  uint32_t *aGroupDir;    /* as aDir, over aGroupKey */
  int nGroupDirBits;      /* bits of the key indexing aGroupDir */
  int bOldFences;         /* rows of DP_SET_FENCE_CHUNK_OLD blocks and no
                          ** summary: rewritten by dpSetIndexMerge */
  int iTag;               /* -1: committed.  Else written (a flush, a
                          ** merge), rewritten in groups, or read inside a
                          ** write transaction by this connection since its
                          ** last commit, with that many savepoints open:
                          ** a rollback to savepoint i < iTag (or of the
                          ** transaction) may undo it, and then its id be
                          ** given to another run (ids are max + 1), so
                          ** the cache of it is dropped (see "TRANSACTIONS"
                          ** in the manual) */
};

/* The chunk of block iBlk of pRun (its index), and the block's place in
** it: the two chunk sizes as constants, so that the compiler replaces the
** divisions (a division by a variable twice per probed key and run). */
static inline int siChunkOf(const SiRun *pRun, int iBlk, int *piIn){
  int iChunk = pRun->nChunkBlk==DP_SET_CHUNK_BLOCKS ? iBlk/DP_SET_CHUNK_BLOCKS
             : pRun->nChunkBlk==DP_SET_CHUNK_BLOCKS_MIN ? iBlk/DP_SET_CHUNK_BLOCKS_MIN
             : iBlk/pRun->nChunkBlk;
  *piIn = iBlk - iChunk*pRun->nChunkBlk;
  return iChunk;
}

enum SiStmt {
  SI_SET_INSERT, SI_SET_GET, SI_SET_EXISTS, SI_SET_DELETE, SI_SET_SCAN,
  SI_TOMB_PUT, SI_TOMB_MAX, SI_TOMB_ALL, SI_TOMB_TRIM,
  SI_RUN_LIST, SI_RUN_PUT, SI_RUN_DEST, SI_RUN_DELETE, SI_RUN_MAX,
  SI_RUN_RETIRED_TRIM,
  SI_BLOCK_PUT, SI_BLOCK_GET, SI_BLOCK_DELETE,
  SI_FILTER_PUT, SI_FILTER_DELETE,
  SI_FENCE_PUT, SI_FENCE_GET, SI_FENCE_RANGE, SI_FENCE_DELETE, SI_FENCE_COUNT,
  SI_N_STMT
};

/* A read handle on the data column of one of %_pblocks, %_pfilter and
** %_pfence, and the row it read (siRowBytes); or on the h column of %_sets,
** for the size of a set (siSetSize). */
enum SiRead { SI_READ_BLOCK, SI_READ_FILTER, SI_READ_FENCE, SI_READ_SET,
              SI_N_READ };
typedef struct SiReader SiReader;
struct SiReader {
  sqlite3_blob *pBlob;    /* NULL until a row is read, and after siBlobClose */
  unsigned char *a;       /* the row read */
  int nAlloc;             /* bytes at a */
};

struct DpSetIndex {
  sqlite3 *db;            /* connection */
  char *zDb;              /* schema name */
  char *zName;            /* table name */
  sqlite3_stmt *aStmt[SI_N_STMT]; /* cached statements, prepared lazily */
  char *zErr;             /* message of the last error (or NULL) */

  SiRun **apRun;          /* finished runs, by increasing lo */
  int nRun, nRunAlloc;    /* runs in apRun, slots allocated */
  int bStale;             /* run list must be re-read */
  int bWriting;           /* a sync, merge or optimize is running (a
                          ** nested statement's xSavepoint comes back to
                          ** dpSetIndexSync: see there) */
  int nDepth;             /* savepoints open (xSavepoint, xRelease,
                          ** xRollbackTo): the iTag of runs cached now */
  int iDropAbove;         /* after a rollback: runs of iTag > this are
                          ** dropped at the next refresh (INT_MAX: none) */
  unsigned int iDataVersion; /* SQLITE_FCNTL_DATA_VERSION when read */
  sqlite3_int64 iNextSeq; /* sequence number of the next flushed run */

  SiPend *aPend;          /* pending pairs, in order of addition */
  int nPend, nPendAlloc;  /* pairs in aPend, slots allocated */
  SiSlot *aSlot;          /* pending hash table, by key */
  int nSlot;              /* slots of aSlot, a power of two */
  int nSlotUsed;          /* keys in aSlot */
  uint64_t *aPendFilter;  /* Bloom filter of the pending keys, nSlot/16 words
                          ** (small enough for the cache: most keys are
                          ** absent and answered here) */
  SiMap pendRemoved;      /* id -> nPend when it was removed (this batch) */

  /* scratch of one search, kept between calls */
  uint64_t *aKey;         /* keys of the query */
  int *aMult;             /* features of the query per key */
  sqlite3_int64 *aEst;    /* estimated postings per key */
  uint64_t *aMaybe;       /* per key: bit j, run j's filter said maybe */
  uint64_t *aAsked;       /* per key: bit j, run j's answer is in aMaybe (a
                          ** search of k = 1 leaves out runs it would have
                          ** to read a row of for a key found maybe
                          ** elsewhere: the probe asks them, if it reads
                          ** that key) */
  int nKeyAlloc;          /* slots of the five arrays above */
  SiReader aRead[SI_N_READ]; /* read handles on blocks, filters, fences */
  SiMap seen;             /* k = 1: candidate ids counted or verified */
  SiPair *aColl;          /* k > 1: (candidate, features) collected, the
                          ** candidate as siCollKey of its id */
  SiPair *aCollTmp;       /* the radix sort's other array, as large */
  int nColl, nCollAlloc;  /* pairs in aColl, slots of aColl and aCollTmp */
  struct SiCand *aCand;   /* k > 1: the candidates ranked (siRankColl) */
  int nCandAlloc;         /* slots of aCand */
  sqlite3_int64 nFilterRead;  /* statistics: filter rows read */
  sqlite3_int64 nListRead;    /* statistics: posting lists read */
  sqlite3_int64 nVerify;      /* statistics: candidate sets read */
  sqlite3_int64 nProbe;       /* statistics: (key, run) filter probes */
  SiPair *aBlockPair;     /* decoded block */
  int nBlockPairAlloc;    /* slots of aBlockPair */
  int nWordWrite;         /* filter words of the blocks of new runs */
  int nFenceRowWrite;     /* blocks per fence row of new runs */
  sqlite3_int64 nMergeMin;  /* least merge work of a sync */
  int nRunMaybe;          /* runs whose filter answers aMaybe keeps */
  int nListBlocks;        /* a MATCH reads no uncached filter of a run of
                          ** more blocks (DP_SET_MATCH_FILTER_BLOCKS) */
  int (*xSetOf)(void*, sqlite3_int64, const uint64_t**, int*, char**);
                          /* sets='body': a document's set made again from
                          ** its body (then h is a check, siSetCheck);
                          ** NULL: each set row holds its set in h */
  int (*xSetsOf)(void*, int, const sqlite3_int64*, const sqlite3_int64*,
                 uint64_t*, sqlite3_int64*, char**);
                          /* the same for many documents at once (may be
                          ** NULL: xSetOf for each), dpSetIndexLoadAll */
  void *pSetOfCtx;        /* xSetOf's and xSetsOf's first argument */
  uint64_t *aSetBuf;      /* a stored set decoded (siSetOf) */
  int nSetBufAlloc;       /* slots of aSetBuf */
};

/**************************************************************************
** Errors and statements.
*/
static int siError(DpSetIndex *p, int rc, const char *zFmt, ...){
  va_list ap;
  sqlite3_free(p->zErr);
  va_start(ap, zFmt);
  p->zErr = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  return rc;
}
/* Forget the message of an earlier call, at the start of each call that
** can fail: an error returned as SQLite gave it (out of memory, I/O) has
** none of its own, and the table would show the stale one with it. */
static void siErrReset(DpSetIndex *p){
  sqlite3_free(p->zErr);
  p->zErr = 0;
}

/* SQLITE_CORRUPT_VTAB with a message naming the table. */
static int siCorrupt(DpSetIndex *p, const char *zWhat){
  return siError(p, SQLITE_CORRUPT_VTAB, "docpipe: %s of %s is damaged",
                 zWhat, p->zName);
}

/* A blob read as NULL (a) is damage unless SQLite ran out of memory
** loading it (a row past a page is copied out of its overflow pages). */
static int siBlobMissing(DpSetIndex *p, const void *a, const char *zWhat){
  if( a ) return SQLITE_OK;
  return sqlite3_errcode(p->db)==SQLITE_NOMEM ? SQLITE_NOMEM : siCorrupt(p, zWhat);
}

static int siStmt(DpSetIndex *p, int eStmt, sqlite3_stmt **ppStmt){
  static const char *const azSql[SI_N_STMT] = {
    /* SI_SET_INSERT */ "INSERT INTO \"%w\".\"%w_sets\"(id, kept, n, h) VALUES(?1, ?2, ?3, ?4)",
    /* SI_SET_GET */    "SELECT kept, n, h FROM \"%w\".\"%w_sets\" WHERE id=?1",
    /* SI_SET_EXISTS */ "SELECT 1 FROM \"%w\".\"%w_sets\" WHERE id=?1",
    /* SI_SET_DELETE */ "DELETE FROM \"%w\".\"%w_sets\" WHERE id=?1",
    /* SI_SET_SCAN */   "SELECT id, kept, n, h FROM \"%w\".\"%w_sets\" ORDER BY id",
    /* SI_TOMB_PUT */   "INSERT OR REPLACE INTO \"%w\".\"%w_ptomb\"(id, seq) VALUES(?1, ?2)",
    /* SI_TOMB_MAX */   "SELECT max(seq) FROM \"%w\".\"%w_ptomb\"",
    /* SI_TOMB_ALL */   "SELECT id, seq FROM \"%w\".\"%w_ptomb\"",
    /* SI_TOMB_TRIM */  "DELETE FROM \"%w\".\"%w_ptomb\" WHERE seq<=?1",
    /* SI_RUN_LIST */   "SELECT id, level, lo, hi, npair, nblock, dest, resume "
                        "FROM \"%w\".\"%w_pruns\" ORDER BY lo, id",
    /* SI_RUN_PUT */    "INSERT OR REPLACE INTO \"%w\".\"%w_pruns\""
                        "(id, level, lo, hi, npair, nblock, dest, resume) "
                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* SI_RUN_DEST */   "UPDATE \"%w\".\"%w_pruns\" SET dest=?2 WHERE id=?1",
    /* SI_RUN_DELETE */ "DELETE FROM \"%w\".\"%w_pruns\" WHERE id=?1",
    /* SI_RUN_MAX */    "SELECT max(id) FROM \"%w\".\"%w_pruns\"",
    /* SI_RUN_RETIRED_TRIM */ "DELETE FROM \"%w\".\"%w_pruns\" WHERE level<0 AND id<?1",
    /* SI_BLOCK_PUT */  "INSERT OR REPLACE INTO \"%w\".\"%w_pblocks\"(id, data) VALUES(?1, ?2)",
    /* SI_BLOCK_GET */  "SELECT data FROM \"%w\".\"%w_pblocks\" WHERE id=?1",
    /* SI_BLOCK_DELETE */ "DELETE FROM \"%w\".\"%w_pblocks\" WHERE id BETWEEN ?1 AND ?2",
    /* SI_FILTER_PUT */ "INSERT OR REPLACE INTO \"%w\".\"%w_pfilter\"(id, data) VALUES(?1, ?2)",
    /* SI_FILTER_DELETE */ "DELETE FROM \"%w\".\"%w_pfilter\" WHERE id BETWEEN ?1 AND ?2",
    /* SI_FENCE_PUT */  "INSERT OR REPLACE INTO \"%w\".\"%w_pfence\"(id, data) VALUES(?1, ?2)",
    /* SI_FENCE_GET */  "SELECT data FROM \"%w\".\"%w_pfence\" WHERE id=?1",
    /* SI_FENCE_RANGE */ "SELECT id, data FROM \"%w\".\"%w_pfence\" WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
    /* SI_FENCE_DELETE */ "DELETE FROM \"%w\".\"%w_pfence\" WHERE id BETWEEN ?1 AND ?2",
    /* SI_FENCE_COUNT */ "SELECT count(*) FROM \"%w\".\"%w_pfence\" WHERE id BETWEEN ?1 AND ?2",
  };
  int rc = SQLITE_OK;
  if( p->aStmt[eStmt]==0 ){
    char *zSql = sqlite3_mprintf(azSql[eStmt], p->zDb, p->zName);
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v3(p->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                            &p->aStmt[eStmt], 0);
    sqlite3_free(zSql);
    if( rc!=SQLITE_OK ){
      siError(p, rc, "%s", sqlite3_errmsg(p->db));
    }
  }
  *ppStmt = p->aStmt[eStmt];
  return rc;
}

/* Step a write statement to its end and reset it. */
static int siExec(DpSetIndex *p, sqlite3_stmt *pStmt){
  int rc;
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  if( rc!=SQLITE_OK ) siError(p, rc, "%s", sqlite3_errmsg(p->db));
  return rc;
}

/* The suffixes of the shadow tables, for xShadowName. */
static const char *const azShadow[] = {
  "sets", "pruns", "pblocks", "pfilter", "pfence", "ptomb"
};

int dpSetIndexShadowName(const char *zSuffix){
  size_t i;
  for(i=0; i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    if( sqlite3_stricmp(zSuffix, azShadow[i])==0 ) return 1;
  }
  return 0;
}

static int siCreateTables(sqlite3 *db, const char *zDb, const char *zName,
                          char **pzErr){
  return dpExecf(db, pzErr,
    "CREATE TABLE \"%w\".\"%w_sets\"(id INTEGER PRIMARY KEY, kept INTEGER, n INTEGER, h BLOB);"
    "CREATE TABLE \"%w\".\"%w_pruns\"(id INTEGER PRIMARY KEY, level INTEGER, lo INTEGER,"
    " hi INTEGER, npair INTEGER, nblock INTEGER, dest INTEGER, resume INTEGER);"
    "CREATE TABLE \"%w\".\"%w_pblocks\"(id INTEGER PRIMARY KEY, data BLOB);"
    "CREATE TABLE \"%w\".\"%w_pfilter\"(id INTEGER PRIMARY KEY, data BLOB);"
    "CREATE TABLE \"%w\".\"%w_pfence\"(id INTEGER PRIMARY KEY, data BLOB);"
    "CREATE TABLE \"%w\".\"%w_ptomb\"(id INTEGER PRIMARY KEY, seq INTEGER);",
    zDb, zName, zDb, zName, zDb, zName, zDb, zName, zDb, zName, zDb, zName);
}

int dpSetIndexDrop(sqlite3 *db, const char *zDb, const char *zName,
                   char **pzErr){
  size_t i;
  int rc = SQLITE_OK;
  for(i=0; rc==SQLITE_OK && i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    rc = dpExecf(db, pzErr, "DROP TABLE IF EXISTS \"%w\".\"%w_%s\"",
                   zDb, zName, azShadow[i]);
  }
  return rc;
}

int dpSetIndexRename(DpSetIndex *p, const char *zNew, char **pzErr){
  size_t i;
  int rc = SQLITE_OK;
  char *zCopy;
  siErrReset(p);
  for(i=0; i<SI_N_STMT; i++){
    sqlite3_finalize(p->aStmt[i]);
    p->aStmt[i] = 0;
  }
  for(i=0; rc==SQLITE_OK && i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    rc = dpShadowRename(p->db, p->zDb, p->zName, zNew, azShadow[i], pzErr);
  }
  if( rc==SQLITE_OK ){
    zCopy = sqlite3_mprintf("%s", zNew);
    if( zCopy==0 ) return SQLITE_NOMEM;
    sqlite3_free(p->zName);
    p->zName = zCopy;
  }
  return rc;
}

/**************************************************************************
** Bloom filter of a block: DP_SET_FILTER_BITS bits per key, 3 probes.
*/
/* A key sets 3 bits of one 64-bit word: one cache miss per test. */
static inline void siFilterPos(uint64_t key, int nWord, int *piWord,
                               uint64_t *pmBits){
  uint64_t x = (key + 0x632BE59BD9B4E019ull) * 0x9E3779B97F4A7C15ull;
  /* the two sizes written (48 words, 64 by earlier builds) as constants,
  ** so that the compiler replaces the division: a division by a variable
  ** was 4 % of the time of inserts (every key of every block written) */
  *piWord = (int)(nWord==DP_SET_FILTER_WORDS ? (x >> 32) % DP_SET_FILTER_WORDS
                  : nWord==DP_SET_FILTER_WORDS_MAX ? (x >> 32) % DP_SET_FILTER_WORDS_MAX
                  : (x >> 32) % (uint64_t)nWord);
  *pmBits = ((uint64_t)1 << (x & 63)) | ((uint64_t)1 << ((x >> 6) & 63))
          | ((uint64_t)1 << ((x >> 12) & 63));
}

static void siFilterAdd(uint64_t *aFilter, int nWord, uint64_t key){
  int iWord;
  uint64_t m;
  siFilterPos(key, nWord, &iWord, &m);
  aFilter[iWord] |= m;
}

static int siFilterTest(const uint64_t *aFilter, int nWord, uint64_t key){
  int iWord;
  uint64_t m;
  siFilterPos(key, nWord, &iWord, &m);
  return (aFilter[iWord] & m)==m;
}

/**************************************************************************
** Block encoding and decoding.
*/

/* The header of a block blob a[0..pEnd): its keys, and for a block with
** restart points their offsets in the key area (see the manual). */
typedef struct SiBlockHdr SiBlockHdr;
struct SiBlockHdr {
  uint64_t nKey;            /* keys */
  int nRestart;             /* restart points (0: a block without) */
  const unsigned char *aKeys;   /* the key area */
  uint32_t aOff[DP_SET_RESTART_MAX];  /* offset of each restart's key */
};

/* Parse the header of the block a[0..pEnd) into *h: SQLITE_OK, or
** SQLITE_CORRUPT_VTAB when it cannot be one. */
static int siBlockHeader(DpSetIndex *p, const unsigned char *a,
                         const unsigned char *pEnd, SiBlockHdr *h){
  const unsigned char *pC = a;
  uint64_t v, nRestart;
  int m, r;
  h->nRestart = 0;
  if( a==0 || a>=pEnd ) return siCorrupt(p, "a postings block");
  if( a[0]!=0 ){
    /* written before 2026-12: varint nKey, then the keys */
    m = siGetVarint(pC, pEnd, &h->nKey);
    if( m==0 || h->nKey>(uint64_t)(pEnd - a) ) return siCorrupt(p, "a postings block");
    h->aKeys = pC + m;
    return SQLITE_OK;
  }
  pC++;
  if( (m = siGetVarint(pC, pEnd, &h->nKey))==0 || h->nKey==0
   || h->nKey>(uint64_t)(pEnd - a) ){
    return siCorrupt(p, "a postings block");
  }
  pC += m;
  if( (m = siGetVarint(pC, pEnd, &nRestart))==0
   || nRestart!=(h->nKey + DP_SET_RESTART_KEYS - 1)/DP_SET_RESTART_KEYS
   || nRestart>DP_SET_RESTART_MAX ){
    return siCorrupt(p, "a postings block");
  }
  pC += m;
  h->nRestart = (int)nRestart;
  h->aOff[0] = 0;
  for(r=1; r<h->nRestart; r++){
    if( (m = siGetVarint(pC, pEnd, &v))==0 || v==0
     || v>(uint64_t)(pEnd - a) - h->aOff[r-1] ){
      return siCorrupt(p, "a postings block");
    }
    pC += m;
    h->aOff[r] = h->aOff[r-1] + (uint32_t)v;
  }
  h->aKeys = pC;
  if( h->aOff[h->nRestart-1]>=(uint64_t)(pEnd - pC) ){
    return siCorrupt(p, "a postings block");
  }
  return SQLITE_OK;
}

/* Decode the block blob a[0..n) whose fence key is iFence into
** p->aBlockPair.  *pnPair receives the pairs.  SQLITE_CORRUPT_VTAB when
** the bytes are not a valid block, keys/vals are not increasing or a
** restart point is not where its offset says. */
static int siBlockDecode(DpSetIndex *p, const unsigned char *a, int n,
                         uint64_t iFence, int *pnPair){
  const unsigned char *pEnd = a ? &a[n] : 0;
  const unsigned char *pC;
  uint64_t iKey = iFence, v;
  int nPair = 0, i, m, rc;
  SiBlockHdr h;
  rc = siBlockHeader(p, a, pEnd, &h);
  if( rc ) return rc;
  pC = h.aKeys;
  for(i=0; i<(int)h.nKey; i++){
    uint64_t d, nCnt = 1, j, val, base = iKey;
    int bRestart = h.nRestart>0 && i % DP_SET_RESTART_KEYS==0;
    if( bRestart ){
      if( (uint64_t)(pC - h.aKeys)!=h.aOff[i/DP_SET_RESTART_KEYS] ){
        return siCorrupt(p, "a postings block (restart)");
      }
      base = iFence;
    }
    m = siGetVarint(pC, pEnd, &d);
    if( m==0 ) return siCorrupt(p, "a postings block");
    pC += m;
    if( (d>>1)>((uint64_t)1<<40) - base
     || (i>0 && base + (d>>1)<=iKey) ){       /* keys strictly increase */
      return siCorrupt(p, "a postings block");
    }
    iKey = base + (d>>1);
    if( d & 1 ){
      m = siGetVarint(pC, pEnd, &nCnt);
      if( m==0 || nCnt>(uint64_t)n ) return siCorrupt(p, "a postings block");
      pC += m;
      nCnt += 2;
    }
    if( nPair + (sqlite3_int64)nCnt>p->nBlockPairAlloc ){
      rc = dpGrow((void**)&p->aBlockPair, &p->nBlockPairAlloc,
                  nPair + (int)nCnt, sizeof(SiPair));
      if( rc ) return rc;
    }
    val = 0;
    for(j=0; j<nCnt; j++){
      m = siGetVarint(pC, pEnd, &v);
      if( m==0 || (j>0 && v==0) || v>~val ){
        return siCorrupt(p, "a postings block");
      }
      pC += m;
      val = (j==0) ? v : val + v;
      p->aBlockPair[nPair].key = iKey;
      p->aBlockPair[nPair].val = val;
      nPair++;
    }
  }
  if( pC!=pEnd ) return siCorrupt(p, "a postings block");
  *pnPair = nPair;
  return SQLITE_OK;
}

static int siRunFenceNeed(DpSetIndex *p, SiRun *pRun, int iBlk);

/* Read and decode block iBlk of run pRun (fence and count checked). */
static int siBlockRead(DpSetIndex *p, SiRun *pRun, int iBlk,
                       int *pnPair){
  sqlite3_stmt *pStmt;
  int rc = siRunFenceNeed(p, pRun, iBlk);   /* a merge reads blocks in turn */
  if( rc==SQLITE_OK ) rc = siStmt(p, SI_BLOCK_GET, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, (pRun->iId<<24) | iBlk);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    const unsigned char *a = sqlite3_column_blob(pStmt, 0);
    int n = sqlite3_column_bytes(pStmt, 0);
    rc = siBlockDecode(p, a, n, pRun->aFence[iBlk], pnPair);
    if( rc==SQLITE_OK && (*pnPair!=(int)pRun->aCount[iBlk]
        || p->aBlockPair[0].key!=pRun->aFence[iBlk]) ){
      rc = siCorrupt(p, "a postings block");
    }
  }else{
    rc = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = siCorrupt(p, "a postings block (missing)");
  }
  sqlite3_reset(pStmt);
  return rc;
}

/* Close the read handles (see siRowBytes). */
static void siBlobClose(DpSetIndex *p){
  int i;
  for(i=0; i<SI_N_READ; i++){
    sqlite3_blob_close(p->aRead[i].pBlob);
    p->aRead[i].pBlob = 0;
  }
}

/* Point the read handle eRead at row iRow (see siRowBytes): reopened if
** open, else opened (again, if it had expired).  On error the handle is
** closed and the blob API's code returned: SQLITE_ERROR for a missing row
** (or one whose column is NULL or a number; TEXT is read as its bytes). */
static int siReadSeek(DpSetIndex *p, int eRead, sqlite3_int64 iRow){
  static const char *const azTab[SI_N_READ] = {
    "pblocks", "pfilter", "pfence", "sets"
  };
  SiReader *r = &p->aRead[eRead];
  int rc = SQLITE_ABORT;
  if( r->pBlob ){
    rc = sqlite3_blob_reopen(r->pBlob, iRow);
    if( rc ){ sqlite3_blob_close(r->pBlob); r->pBlob = 0; }
  }
  if( rc==SQLITE_ABORT ){        /* none open yet, or one expired */
    char *zTab = sqlite3_mprintf("%s_%s", p->zName, azTab[eRead]);
    rc = zTab ? sqlite3_blob_open(p->db, p->zDb, zTab,
                                  eRead==SI_READ_SET ? "h" : "data", iRow, 0,
                                  &r->pBlob)
              : SQLITE_NOMEM;
    sqlite3_free(zTab);
  }
  if( rc ){
    sqlite3_blob_close(r->pBlob);
    r->pBlob = 0;
  }
  return rc;
}

/* The bytes of row iRow of the block, filter or fence table (eRead), into
** *pa, *pn (valid until the next read of that table): through a blob
** handle kept open from row to row (sqlite3_blob_reopen) and closed by
** siBlobClose at the end of the call into this file that read (left open
** it would hold the read transaction).  A blob read costs ~1.1 us against
** ~2.0 for a statement step (warm pages, 2026-11-30), and opening the
** handle ~1.5 us more than a reopen (2,000 random filter rows of the 1M
** table: statement 3.6-4.7 us, reopen 3.0-3.6, open + read + close 4.5),
** so a handle pays from the second row.  An insert on verse mixes reads
** ~700 blocks, a new connection's first insert at 1M ~6,500 filter rows
** and ~3,500 fence groups.  A missing row (or one whose data
** is NULL or a number) is SQLITE_ERROR from the blob API: damage, named
** zWhat.
** Other errors are returned as they are: like a statement's, an
** out-of-memory or I/O error inside SQLite may have rolled the transaction
** back.  A handle on a table this connection writes expires (SQLITE_ABORT)
** and is opened again. */
static int siRowBytes(DpSetIndex *p, int eRead, sqlite3_int64 iRow,
                      const char *zWhat, const unsigned char **pa, int *pn){
  SiReader *r = &p->aRead[eRead];
  int rc = siReadSeek(p, eRead, iRow);
  if( rc==SQLITE_OK ){
    int n = sqlite3_blob_bytes(r->pBlob);
    if( n>r->nAlloc ){
      unsigned char *aNew = sqlite3_realloc64(r->a, (sqlite3_uint64)n);
      if( aNew ){ r->a = aNew; r->nAlloc = n; }
      else rc = SQLITE_NOMEM;
    }
    if( rc==SQLITE_OK ) rc = sqlite3_blob_read(r->pBlob, r->a, n, 0);
    if( rc==SQLITE_OK ){
      *pa = r->a;
      *pn = n;
      return SQLITE_OK;
    }
    sqlite3_blob_close(r->pBlob);
    r->pBlob = 0;
  }
  if( rc==SQLITE_ERROR ) return siCorrupt(p, zWhat);
  return rc;
}

/* The size of document iId's set into *pm, *pbRow = 0 if it has no set
** row: the length of its h column, which a blob handle gives from the
** row's header without reading the hashes (overflow pages).  A MATCH at
** 1.2M stored reads ~1,400 sizes: through a statement (SELECT kept, n)
** a MATCH top-10 took ~13.6 ms, through the handle ~13.0 (medians of 20
** queries repeated on one connection, 12 passes each, alternating,
** 2026-11-30); with every size in memory (an experiment) 11.0-11.5.  A
** set row read to verify (siVerify) is checked against its n column;
** one whose size already rules it out is not read.  With a set source
** (sets='body') the row is small (~20 bytes, ~200 a page): its n column
** is read through the statement. */
static int siSetSize(DpSetIndex *p, sqlite3_int64 iId, sqlite3_int64 *pm,
                     int *pbRow){
  int rc;
  *pbRow = 0;
  *pm = 0;
  if( p->xSetOf ){
    /* sets='body': the row is small (h is 8 bytes), its n column says */
    sqlite3_stmt *pStmt;
    rc = siStmt(p, SI_SET_GET, &pStmt);
    if( rc ) return rc;
    sqlite3_bind_int64(pStmt, 1, iId);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      *pm = sqlite3_column_int64(pStmt, 1);
      *pbRow = 1;
    }
    rc = sqlite3_reset(pStmt);
    return rc ? siError(p, rc, "%s", sqlite3_errmsg(p->db)) : SQLITE_OK;
  }
  rc = siReadSeek(p, SI_READ_SET, iId);
  if( rc==SQLITE_ERROR ){
    /* no such row (the document is gone), or h NULL or a number (damage) */
    sqlite3_stmt *pStmt;
    rc = siStmt(p, SI_SET_EXISTS, &pStmt);
    if( rc ) return rc;
    sqlite3_bind_int64(pStmt, 1, iId);
    {
      int bRow = sqlite3_step(pStmt)==SQLITE_ROW;
      rc = sqlite3_reset(pStmt);
      if( rc ) return siError(p, rc, "%s", sqlite3_errmsg(p->db));
      return bRow ? siCorrupt(p, "a set row") : SQLITE_OK;
    }
  }
  if( rc ) return rc;
  *pm = sqlite3_blob_bytes(p->aRead[SI_READ_SET].pBlob);
  if( *pm % 8 ) return siCorrupt(p, "a set row");
  *pm /= 8;
  *pbRow = 1;
  return SQLITE_OK;
}

/* The vals of key in block iBlk of pRun, into p->aBlockPair[0..*pnVal)
** (keys set too): the search's read of one posting list.  In a block with
** restart points it starts at the last restart whose key is <= key (a
** binary search over their keys, each one varint), else at the first key;
** it skips the vals of other keys without decoding them and stops past
** the key. */
static int siBlockFind(DpSetIndex *p, const SiRun *pRun, int iBlk,
                       uint64_t key, int *pnVal){
  const unsigned char *a = 0;
  int nA = 0;
  int rc = siRowBytes(p, SI_READ_BLOCK, (pRun->iId<<24) | iBlk,
                      "a postings block (missing)", &a, &nA);
  *pnVal = 0;
  if( rc ) return rc;
  {
    const unsigned char *pEnd = a + nA;
    const unsigned char *pC = 0;
    const uint64_t iFence = pRun->aFence[iBlk];
    uint64_t iKey = iFence, d, nCnt, v, val = 0, j;
    int m, i = 0;
    SiBlockHdr h;
    rc = siBlockHeader(p, a, pEnd, &h);
    if( rc==SQLITE_OK ){
      pC = h.aKeys;
      if( h.nRestart>1 ){
        int lo = 0, hi = h.nRestart - 1;      /* restart lo's key <= key */
        while( lo<hi ){
          int mid = (lo + hi + 1)/2;
          if( siGetVarint(h.aKeys + h.aOff[mid], pEnd, &d)==0 ){
            rc = siCorrupt(p, "a postings block");
            break;
          }
          if( iFence + (d>>1)<=key ) lo = mid; else hi = mid - 1;
        }
        pC = h.aKeys + h.aOff[lo];
        i = lo*DP_SET_RESTART_KEYS;
      }
    }
    for(; rc==SQLITE_OK && i<(int)h.nKey; i++){
      if( (m = siGetVarint(pC, pEnd, &d))==0 ){ rc = siCorrupt(p, "a postings block"); break; }
      pC += m;
      if( h.nRestart>0 && i % DP_SET_RESTART_KEYS==0 ) iKey = iFence;
      iKey += d>>1;
      nCnt = 1;
      if( d & 1 ){
        if( (m = siGetVarint(pC, pEnd, &nCnt))==0 || nCnt>(uint64_t)(pEnd - pC) ){
          rc = siCorrupt(p, "a postings block");
          break;
        }
        pC += m;
        nCnt += 2;
      }
      if( iKey>key ) break;
      if( iKey<key ){
        pC = siSkipVarints(pC, pEnd, nCnt);
        if( pC==0 ){ rc = siCorrupt(p, "a postings block"); break; }
        continue;
      }
      if( (sqlite3_int64)nCnt>p->nBlockPairAlloc ){
        rc = dpGrow((void**)&p->aBlockPair, &p->nBlockPairAlloc, (int)nCnt,
                    sizeof(SiPair));
        if( rc ) break;
      }
      for(j=0; j<nCnt; j++){
        if( (m = siGetVarint(pC, pEnd, &v))==0 ){ rc = siCorrupt(p, "a postings block"); break; }
        pC += m;
        val = (j==0) ? v : val + v;
        p->aBlockPair[j].key = key;
        p->aBlockPair[j].val = val;
      }
      if( rc==SQLITE_OK ) *pnVal = (int)nCnt;
      break;
    }
  }
  return rc;
}

/* Parse a filter row into a new SiBlk (sqlite3_free by the caller). */
static int siFilterParse(DpSetIndex *p, const unsigned char *a, int n,
                         uint64_t iFence, SiBlk **ppBlk){
  const unsigned char *pC = a, *pEnd = a ? &a[n] : 0;
  uint64_t nKey, nHeavy, k = iFence, v;
  int m, i, nWord;
  SiBlk *pBlk;
  sqlite3_int64 nByte;
  *ppBlk = 0;
  if( a==0 ) return siCorrupt(p, "a filter row");
  m = siGetVarint(pC, pEnd, &nKey);
  if( m==0 || nKey==0 || nKey>DP_SET_FILTER_WORDS_MAX*64/DP_SET_FILTER_BITS ){
    return siCorrupt(p, "a filter row");
  }
  pC += m;
  m = siGetVarint(pC, pEnd, &nHeavy);
  if( m==0 || nHeavy>nKey ) return siCorrupt(p, "a filter row");
  pC += m;
  /* the words fill the row's end: 64 in runs of 512-pair blocks, 48 in
  ** this build's (the heavy keys are parsed before it is known) */
  nWord = DP_SET_FILTER_WORDS_MAX;
  nByte = sizeof(SiBlk) + (sqlite3_int64)nWord*8 + (sqlite3_int64)nHeavy*12;
  pBlk = sqlite3_malloc64((sqlite3_uint64)nByte);
  if( pBlk==0 ) return SQLITE_NOMEM;
  pBlk->nKey = (int)nKey;
  pBlk->nWord = nWord;
  pBlk->nHeavy = (int)nHeavy;
  pBlk->aFilter = (uint64_t*)&pBlk[1];
  pBlk->aHeavyKey = &pBlk->aFilter[nWord];
  pBlk->aHeavyCnt = (uint32_t*)&pBlk->aHeavyKey[nHeavy];
  for(i=0; i<(int)nHeavy; i++){
    m = siGetVarint(pC, pEnd, &v);
    if( m==0 || (i>0 && v==0) || v>((uint64_t)1<<40) ) goto corrupt;
    pC += m;
    k += v;
    pBlk->aHeavyKey[i] = k;
    m = siGetVarint(pC, pEnd, &v);
    if( m==0 || v<2 || v>0xffffffffu ) goto corrupt;
    pC += m;
    pBlk->aHeavyCnt[i] = (uint32_t)v;
  }
  nWord = (int)((pEnd - pC)/8);
  if( (pEnd - pC)%8!=0
   || (nWord!=DP_SET_FILTER_WORDS && nWord!=DP_SET_FILTER_WORDS_MAX) ){
    goto corrupt;                  /* 64 (512-pair blocks) or 48 */
  }
  if( nKey>(uint64_t)nWord*64/DP_SET_FILTER_BITS ) goto corrupt;
  pBlk->nWord = nWord;
  for(i=0; i<nWord; i++) pBlk->aFilter[i] = siGet64(&pC[i*8]);
  *ppBlk = pBlk;
  return SQLITE_OK;
corrupt:
  sqlite3_free(pBlk);
  return siCorrupt(p, "a filter row");
}

/* Read the filter row of block iBlk of pRun into a new SiBlk
** (sqlite3_free by the caller). */
static int siFilterRead(DpSetIndex *p, const SiRun *pRun, int iBlk,
                        SiBlk **ppBlk){
  const unsigned char *a;
  int n, rc = siRowBytes(p, SI_READ_FILTER, (pRun->iId<<24) | iBlk,
                         "a filter row (missing)", &a, &n);
  *ppBlk = 0;
  if( rc ) return rc;
  return siFilterParse(p, a, n, pRun->aFence[iBlk], ppBlk);
}

static int siRunBlockOf(DpSetIndex *p, SiRun *pRun, uint64_t key, int *piBlk);

/* Is the filter of block iBlk of pRun cached? */
static inline int siBlkCached(const SiRun *pRun, int iBlk){
  return (pRun->aLoaded[iBlk/64]>>(iBlk%64)) & 1;
}

/* Is SQLite's soft heap limit (sqlite3_soft_heap_limit64, PRAGMA
** soft_heap_limit; none by default) reached?  Then no more filters are
** cached: each is read, asked and dropped (siBlkMaybeOnce).  Cached
** filters cost ~1 byte a posting once a connection has touched them all
** (a long load does; ~900 MB at 1M stored), and that is the only knob
** SQLite's users have for a connection's memory.  The filters cached
** before the limit was reached stay (a probe of them costs no read).
** sqlite3_memory_used() counts them: the index allocates through
** sqlite3_malloc. */
static int siCacheFull(void){
  const sqlite3_int64 nLimit = sqlite3_soft_heap_limit64(-1);
  return nLimit>0 && sqlite3_memory_used()>=nLimit;
}

/* Read the filter row of block iBlk of pRun into a new SiBlk (as
** siFilterRead), checked against the run's block size: the first filter
** read tells it; every block of a run has the same (a merge resumed
** continues its output's). */
static int siFilterReadSized(DpSetIndex *p, SiRun *pRun, int iBlk,
                             SiBlk **ppBlk){
  int rc = siFilterRead(p, pRun, iBlk, ppBlk);
  if( rc ) return rc;
  p->nFilterRead++;
  if( pRun->nWord==0 ){
    pRun->nWord = (*ppBlk)->nWord;
    pRun->nChunkBlk = DP_SET_CHUNK_WORDS / (*ppBlk)->nWord;
  }else if( pRun->nWord!=(*ppBlk)->nWord ){
    sqlite3_free(*ppBlk);
    *ppBlk = 0;
    return siCorrupt(p, "a filter row (size)");
  }
  return SQLITE_OK;
}

/* The heavy-key table of block pBlk into *pH (zeroed first): its keys of
** DP_SET_HEAVY_MIN or more postings, aSlot NULL when it has none. */
static int siHeavyMake(SiHeavy *pH, const SiBlk *pBlk){
  int i, nHot = 0;
  memset(pH, 0, sizeof(*pH));
  for(i=0; i<pBlk->nHeavy; i++) nHot += pBlk->aHeavyCnt[i]>=DP_SET_HEAVY_MIN;
  if( nHot>0 ){
    uint32_t nSlot = 4;
    while( nSlot*3<(uint32_t)nHot*4 ) nSlot *= 2;
    pH->aSlot = dpMallocZero(sizeof(uint64_t)*nSlot);
    if( pH->aSlot==0 ) return SQLITE_NOMEM;
    pH->mask = nSlot - 1;
    for(i=0; i<pBlk->nHeavy; i++){
      uint64_t key = pBlk->aHeavyKey[i];
      uint32_t c = pBlk->aHeavyCnt[i], j = (uint32_t)key & pH->mask;
      if( c<DP_SET_HEAVY_MIN ) continue;
      while( pH->aSlot[j] ) j = (j + 1) & pH->mask;
      pH->aSlot[j] = key<<24 | (c>DP_SET_HEAVY_CNT_MAX ? DP_SET_HEAVY_CNT_MAX : c);
    }
  }
  return SQLITE_OK;
}

/* Cache the filter (and heavy keys) of block iBlk of pRun, not cached. */
static int siBlkLoadOne(DpSetIndex *p, SiRun *pRun, int iBlk){
  SiChunk *pChunk;
  int iIn, iChunk, rc;
  SiBlk *pBlk = 0;
  rc = siFilterReadSized(p, pRun, iBlk, &pBlk);
  if( rc ) return rc;
  iChunk = siChunkOf(pRun, iBlk, &iIn);
  pChunk = pRun->apChunk[iChunk];
  if( pChunk==0 ){
    pChunk = dpMallocZero(sizeof(SiChunk));
    if( pChunk==0 ){ sqlite3_free(pBlk); return SQLITE_NOMEM; }
    pRun->apChunk[iChunk] = pChunk;
  }
  memcpy(&pChunk->aWord[iIn*pRun->nWord], pBlk->aFilter,
         sizeof(uint64_t)*(size_t)pRun->nWord);
  rc = siHeavyMake(&pChunk->aHeavy[iIn], pBlk);
  if( rc ){ sqlite3_free(pBlk); return rc; }
  sqlite3_free(pBlk);
  pChunk->mLoaded |= (uint64_t)1<<iIn;
  pRun->aLoaded[iBlk/64] |= (uint64_t)1<<(iBlk%64);
  pRun->nLoadedBlk++;
  return SQLITE_OK;
}

/* Make sure block iBlk of pRun has its filter (and heavy keys) cached.
** A probe needs one block's; but once a connection has read a run's
** filters often (a long load into a large table from a new connection,
** which in the end reads them all), it reads the rest of the chunk with
** it: its rows are next in the table, mostly on the same page, while
** reading them one at a time later found that page gone from the page
** cache more often than not (+10k documents from a new connection at 1M
** stored: filter reads 38 % of the time, pread 24 %).  A connection of
** a few statements, whose probes touch a small part of each run, reads
** only the blocks it needs (DP_SET_HOT_RUN). */
static int siBlkLoad(DpSetIndex *p, SiRun *pRun, int iBlk){
  int rc, i, iFirst;
  if( siBlkCached(pRun, iBlk) ) return SQLITE_OK;
  rc = siBlkLoadOne(p, pRun, iBlk);
  if( rc || (sqlite3_int64)pRun->nLoadedBlk*DP_SET_HOT_RUN<pRun->nBlock
   || siCacheFull() ){
    return rc;
  }
  iFirst = iBlk - iBlk % pRun->nChunkBlk;
  for(i=iFirst; rc==SQLITE_OK && i<iFirst+pRun->nChunkBlk && i<pRun->nBlock; i++){
    if( siBlkCached(pRun, i) ) continue;
    rc = siRunFenceNeed(p, pRun, i);      /* its fence: the filter's base */
    if( rc==SQLITE_OK ) rc = siBlkLoadOne(p, pRun, i);
  }
  return rc;
}

/* The postings of key in a block whose filter says maybe: its count in
** the block's heavy keys pH, else 1. */
static sqlite3_int64 siHeavyCount(const SiHeavy *pH, uint64_t key){
  uint32_t j;
  if( pH->aSlot==0 ) return 1;
  for(j=(uint32_t)key & pH->mask; pH->aSlot[j]; j=(j + 1) & pH->mask){
    if( (pH->aSlot[j]>>24)==key ) return (sqlite3_int64)(pH->aSlot[j] & DP_SET_HEAVY_CNT_MAX);
  }
  return 1;
}

/* siBlkMaybe for a block whose filter is not cached and will not be (the
** soft heap limit reached): its filter row read, asked and dropped. */
static int siBlkMaybeOnce(DpSetIndex *p, SiRun *pRun, int iBlk,
                          uint64_t key, int *pbMaybe, sqlite3_int64 *pnEst){
  SiBlk *pBlk = 0;
  int rc = siFilterReadSized(p, pRun, iBlk, &pBlk);
  if( rc ) return rc;
  *pbMaybe = siFilterTest(pBlk->aFilter, pBlk->nWord, key);
  *pnEst = 0;
  if( *pbMaybe ){
    /* counted as in a cached block: through the same table */
    SiHeavy h;
    rc = siHeavyMake(&h, pBlk);
    if( rc==SQLITE_OK ) *pnEst = siHeavyCount(&h, key);
    sqlite3_free(h.aSlot);
  }
  sqlite3_free(pBlk);
  return rc;
}

/* Does the filter of block iBlk of pRun (loaded first if need be) say
** key may be there?  *ppH: the block's heavy keys, in which to count key
** (siHeavyCount); or NULL when the filter was read and not cached
** (siCacheFull), and then *pnEst is key's count (0 when absent). */
static inline int siBlkMaybe(DpSetIndex *p, SiRun *pRun, int iBlk,
                             uint64_t key, int *pbMaybe,
                             const SiHeavy **ppH, sqlite3_int64 *pnEst){
  int iIn, rc;
  SiChunk *pChunk;
  if( !siBlkCached(pRun, iBlk) ){
    if( siCacheFull() ){
      *ppH = 0;
      return siBlkMaybeOnce(p, pRun, iBlk, key, pbMaybe, pnEst);
    }
    rc = siBlkLoad(p, pRun, iBlk);
    if( rc ) return rc;
  }
  pChunk = pRun->apChunk[siChunkOf(pRun, iBlk, &iIn)];
  *pbMaybe = siFilterTest(&pChunk->aWord[iIn*pRun->nWord], pRun->nWord, key);
  *ppH = &pChunk->aHeavy[iIn];
  return SQLITE_OK;
}

/* Does the filter of the block of pRun that may hold key (block *piBlk,
** -1 if none) say maybe? */
static int siRunProbe(DpSetIndex *p, SiRun *pRun, uint64_t key, int *piBlk,
                      int *pbMaybe){
  int iBlk, rc = siRunBlockOf(p, pRun, key, &iBlk);
  const SiHeavy *pH;
  sqlite3_int64 nEst;
  *pbMaybe = 0;
  *piBlk = iBlk;
  if( rc ) return rc;
  p->nProbe++;
  if( iBlk<0 ) return SQLITE_OK;
  return siBlkMaybe(p, pRun, iBlk, key, pbMaybe, &pH, &nEst);
}

/**************************************************************************
** Writing runs.  A writer takes pairs in (key, val) order and writes
** blocks, filter rows and fence rows; a merge writes one run over many
** calls (siWriterResume).
*/
typedef struct SiWriter SiWriter;
struct SiWriter {
  DpSetIndex *p;          /* the index */
  sqlite3_int64 iRun;     /* run written */
  int nBlock;             /* blocks written so far */
  sqlite3_int64 nPair;    /* pairs written so far */
  SiPair *aBuf;           /* pairs of the block being built */
  int nBuf, nBufAlloc;    /* pairs in aBuf, slots */
  int nBufKey;            /* keys in aBuf */
  int nBufHeavy;          /* postings of its last key */
  sqlite3_int64 nBufByte; /* the bytes they take in a block (about) */
  uint64_t *aFenceKey;    /* fences of the current fence row */
  uint32_t *aFenceCnt;    /* their counts */
  int nFence;             /* fences in the current fence row */
  int nFenceRow;          /* blocks per fence row: DP_SET_FENCE_GROUP, or
                          ** DP_SET_FENCE_CHUNK_OLD (no summary) in a merge
                          ** output begun by a build before 2026-12-01 */
  SiBuf blk;              /* scratch: block bytes */
  SiBuf flt;              /* scratch: filter row bytes */
  int nWord;              /* filter words of a block: the run's block size
                          ** (at most nWord*64/DP_SET_FILTER_BITS keys; 512
                          ** pairs, no restart points, for 64 words) */
};

static void siWriterInit(SiWriter *w, DpSetIndex *p, sqlite3_int64 iRun){
  memset(w, 0, sizeof(*w));
  w->p = p;
  w->iRun = iRun;
  w->nWord = p->nWordWrite;
  w->nFenceRow = p->nFenceRowWrite;
}

static void siWriterFree(SiWriter *w){
  sqlite3_free(w->aBuf);
  sqlite3_free(w->aFenceKey);
  sqlite3_free(w->aFenceCnt);
  siBufFree(&w->blk);
  siBufFree(&w->flt);
}

static int siPutBlob(DpSetIndex *p, int eStmt, sqlite3_int64 iId,
                     const void *a, sqlite3_int64 n){
  sqlite3_stmt *pStmt;
  int rc = siStmt(p, eStmt, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  sqlite3_bind_blob64(pStmt, 2, a, (sqlite3_uint64)n, SQLITE_STATIC);
  rc = siExec(p, pStmt);
  sqlite3_clear_bindings(pStmt);
  return rc;
}

/* Write the fence row of the current group (or old chunk). */
static int siWriterFence(SiWriter *w){
  int rc = SQLITE_OK, i;
  SiBuf b;
  memset(&b, 0, sizeof(b));
  for(i=0; i<w->nFence; i++){
    siBufVarint(&rc, &b, i==0 ? w->aFenceKey[0]
                              : w->aFenceKey[i] - w->aFenceKey[i-1]);
    siBufVarint(&rc, &b, w->aFenceCnt[i]);
  }
  if( rc==SQLITE_OK && w->nFence>0 ){
    int iRow = (w->nBlock - 1) / w->nFenceRow;
    rc = siPutBlob(w->p, SI_FENCE_PUT, (w->iRun<<24) | iRow, b.a, b.n);
  }
  siBufFree(&b);
  return rc;
}

/* Write the block in w->aBuf.  The bytes are put straight into buffers
** reserved once for the whole block (the worst case: every varint 10
** bytes), not one checked append per varint: runs are written at every
** flush and rewritten by every merge. */
static int siWriterBlock(SiWriter *w){
  int rc = SQLITE_OK;
  int i, j, nKey, nHeavy = 0, nWord = w->nWord, nRestart, nHdr, iK, bOld;
  sqlite3_int64 iId, nHdrMax;
  uint64_t prevKey, prevHeavy, aW[DP_SET_FILTER_WORDS_MAX];
  uint32_t aOff[DP_SET_RESTART_MAX];
  unsigned char *pB, *pF, *pKeys;
  unsigned char aHdr[21 + 5*DP_SET_RESTART_MAX];
  if( w->nBuf==0 ) return SQLITE_OK;
  if( w->nBlock>=(1<<24) - 1 ){
    return siError(w->p, SQLITE_FULL, "docpipe: run too large");
  }
  nKey = w->nBufKey;
  /* a run of 64-word filters (written before 2026-12, or a merge such a
  ** build began) gets blocks as that build wrote them: no restart points */
  bOld = nWord==DP_SET_FILTER_WORDS_MAX;
  nRestart = bOld ? 0 : (nKey + DP_SET_RESTART_KEYS - 1)/DP_SET_RESTART_KEYS;
  if( nRestart>DP_SET_RESTART_MAX ){        /* nKey <= 384: siWriterAdd */
    return siError(w->p, SQLITE_INTERNAL, "docpipe: a block of %d keys", nKey);
  }
  nHdrMax = 21 + 5*(sqlite3_int64)nRestart;
  w->blk.n = 0;
  w->flt.n = 0;
  siBufReserve(&rc, &w->blk, nHdrMax + (sqlite3_int64)w->nBuf*30);
  siBufReserve(&rc, &w->flt, 20 + (sqlite3_int64)w->nBuf*20 + nWord*8);
  if( rc ) return rc;
  /* the key area (after room for the header, which depends on it), and
  ** the filter of its keys; a restart point's key is coded from the
  ** fence, the others from the key before */
  memset(aW, 0, sizeof(aW));
  pKeys = pB = &w->blk.a[nHdrMax];
  prevKey = w->aBuf[0].key;
  for(i=0, iK=0; i<w->nBuf; i=j, iK++){
    int nCnt, k;
    for(j=i+1; j<w->nBuf && w->aBuf[j].key==w->aBuf[i].key; j++){}
    nCnt = j - i;
    if( !bOld && iK % DP_SET_RESTART_KEYS==0 ){
      aOff[iK/DP_SET_RESTART_KEYS] = (uint32_t)(pB - pKeys);
      prevKey = w->aBuf[0].key;
    }
    pB += siPutVarint(pB, ((w->aBuf[i].key - prevKey)<<1) | (nCnt>1));
    if( nCnt>1 ){ pB += siPutVarint(pB, (uint64_t)nCnt - 2); nHeavy++; }
    pB += siPutVarint(pB, w->aBuf[i].val);
    for(k=i+1; k<j; k++) pB += siPutVarint(pB, w->aBuf[k].val - w->aBuf[k-1].val);
    siFilterAdd(aW, nWord, w->aBuf[i].key);
    prevKey = w->aBuf[i].key;
  }
  /* the header, just before the key area: 0 (a block with restart
  ** points), nKey, nRestart, the offsets after the first as deltas */
  nHdr = 0;
  if( !bOld ){
    aHdr[nHdr++] = 0;
    nHdr += siPutVarint(&aHdr[nHdr], (uint64_t)nKey);
    nHdr += siPutVarint(&aHdr[nHdr], (uint64_t)nRestart);
    for(i=1; i<nRestart; i++){
      nHdr += siPutVarint(&aHdr[nHdr], (uint64_t)(aOff[i] - aOff[i-1]));
    }
  }else{
    nHdr += siPutVarint(&aHdr[nHdr], (uint64_t)nKey);
  }
  memcpy(pKeys - nHdr, aHdr, (size_t)nHdr);
  /* filter row */
  pF = w->flt.a;
  pF += siPutVarint(pF, (uint64_t)nKey);
  pF += siPutVarint(pF, (uint64_t)nHeavy);
  prevHeavy = w->aBuf[0].key;
  for(i=0; i<w->nBuf; i=j){
    for(j=i+1; j<w->nBuf && w->aBuf[j].key==w->aBuf[i].key; j++){}
    if( j - i>1 ){
      pF += siPutVarint(pF, w->aBuf[i].key - prevHeavy);
      pF += siPutVarint(pF, (uint64_t)(j - i));
      prevHeavy = w->aBuf[i].key;
    }
  }
  for(i=0; i<nWord; i++){ siPut64(pF, aW[i]); pF += 8; }
  w->flt.n = pF - w->flt.a;
  iId = (w->iRun<<24) | w->nBlock;
  rc = siPutBlob(w->p, SI_BLOCK_PUT, iId, pKeys - nHdr, pB - (pKeys - nHdr));
  if( rc==SQLITE_OK ) rc = siPutBlob(w->p, SI_FILTER_PUT, iId, w->flt.a, w->flt.n);
  if( rc ) return rc;
  /* fence */
  if( w->nFence==0 ){
    if( w->aFenceKey==0 ){
      w->aFenceKey = sqlite3_malloc64(sizeof(uint64_t)*(size_t)w->nFenceRow);
      w->aFenceCnt = sqlite3_malloc64(sizeof(uint32_t)*(size_t)w->nFenceRow);
      if( w->aFenceKey==0 || w->aFenceCnt==0 ) return SQLITE_NOMEM;
    }
  }
  w->aFenceKey[w->nFence] = w->aBuf[0].key;
  w->aFenceCnt[w->nFence] = (uint32_t)w->nBuf;
  w->nFence++;
  w->nBlock++;
  w->nPair += w->nBuf;
  w->nBuf = 0;
  w->nBufKey = 0;
  w->nBufByte = 0;
  if( w->nFence==w->nFenceRow ){
    rc = siWriterFence(w);
    w->nFence = 0;
  }
  return rc;
}

/* Add one pair; pairs come in increasing (key, val) order. */
static int siWriterAdd(SiWriter *w, uint64_t key, uint64_t val){
  int rc = SQLITE_OK;
  const int bNewKey = w->nBuf==0 || key!=w->aBuf[w->nBuf-1].key;
  sqlite3_int64 nAdd;
  /* the bytes this pair adds to the block (its key area; the header is
  ** counted as 3 bytes and 2 per restart point) */
  if( bNewKey ){
    uint64_t base = w->nBuf==0 ? key
                  : (w->nBufKey % DP_SET_RESTART_KEYS==0 ? w->aBuf[0].key
                                                          : w->aBuf[w->nBuf-1].key);
    nAdd = siVarintLen((key - base)<<1) + siVarintLen(val)
         + (w->nBufKey % DP_SET_RESTART_KEYS==0 ? 2 : 0);
    if( w->nBuf>0
     && (w->nWord==DP_SET_FILTER_WORDS_MAX
         ? w->nBuf>=DP_SET_FILTER_WORDS_MAX*64/DP_SET_FILTER_BITS   /* 512 */
         : (3 + w->nBufByte + nAdd>DP_SET_BLOCK_BYTES
            || w->nBufKey>=w->nWord*64/DP_SET_FILTER_BITS)) ){
      rc = siWriterBlock(w);
      if( rc ) return rc;
      nAdd = siVarintLen(0) + siVarintLen(val) + 2;  /* first */
    }
    w->nBufKey++;
    w->nBufHeavy = 1;
  }else{
    w->nBufHeavy++;
    nAdd = siVarintLen(val - w->aBuf[w->nBuf-1].val)
         + (w->nBufHeavy==2 || w->nBufHeavy==130 ? 1 : 0);   /* count - 2 */
  }
  w->nBufByte += nAdd;
  if( w->nBuf>=w->nBufAlloc ){
    rc = dpGrow((void**)&w->aBuf, &w->nBufAlloc, w->nBuf+1, sizeof(SiPair));
    if( rc ) return rc;
  }
  w->aBuf[w->nBuf].key = key;
  w->aBuf[w->nBuf].val = val;
  w->nBuf++;
  return SQLITE_OK;
}

/* Write the last (partial) block and the fence row of the last group. */
static int siWriterFinish(SiWriter *w){
  int rc = siWriterBlock(w);
  if( rc==SQLITE_OK && w->nFence>0 ) rc = siWriterFence(w);
  return rc;
}

static int siFenceRowDecode(const unsigned char *a, const unsigned char *pEnd,
                            uint64_t *aFence, uint32_t *aCount, int nMax,
                            uint64_t kPrev, int bPrev, sqlite3_int64 *pnSum);

/* Once a run of fence groups is whole (after siWriterFinish): its summary
** row, per group its first key (the first absolute, then deltas) and its
** pairs, two varints, from the group rows written (a merge output's over
** many calls).  A new connection reads this row and no group row. */
static int siWriterSummary(SiWriter *w){
  DpSetIndex *p = w->p;
  sqlite3_stmt *pStmt;
  uint64_t aKey[DP_SET_FENCE_GROUP], kPrev = 0, kLast = 0;
  uint32_t aCnt[DP_SET_FENCE_GROUP];
  int rc, g = 0;
  SiBuf b;
  if( w->nFenceRow!=DP_SET_FENCE_GROUP || w->nBlock==0 ) return SQLITE_OK;
  memset(&b, 0, sizeof(b));
  rc = siStmt(p, SI_FENCE_RANGE, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, w->iRun<<24);
  sqlite3_bind_int64(pStmt, 2, (w->iRun<<24) | (DP_SET_FENCE_SUMMARY - 1));
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const unsigned char *a = sqlite3_column_blob(pStmt, 1);
    const unsigned char *pEnd = a + sqlite3_column_bytes(pStmt, 1);
    sqlite3_int64 nSum = 0;
    int n = a ? siFenceRowDecode(a, pEnd, aKey, aCnt, DP_SET_FENCE_GROUP,
                                 kLast, g>0, &nSum) : -1;
    if( a==0 ){
      rc = siBlobMissing(p, a, "a fence row");
      break;
    }
    if( (sqlite3_column_int64(pStmt, 0) & 0xffffff)!=g
     || n!=(w->nBlock - g*DP_SET_FENCE_GROUP<DP_SET_FENCE_GROUP ?
            w->nBlock - g*DP_SET_FENCE_GROUP : DP_SET_FENCE_GROUP) ){
      rc = siCorrupt(p, "a fence row");
      break;
    }
    siBufVarint(&rc, &b, g==0 ? aKey[0] : aKey[0] - kPrev);
    siBufVarint(&rc, &b, (uint64_t)nSum);
    kPrev = aKey[0];
    kLast = aKey[n-1];
    g++;
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK && g!=(w->nBlock + DP_SET_FENCE_GROUP - 1)/DP_SET_FENCE_GROUP ){
    rc = siCorrupt(p, "a run's fence rows");
  }
  if( rc==SQLITE_OK ){
    rc = siPutBlob(p, SI_FENCE_PUT, (w->iRun<<24) | DP_SET_FENCE_SUMMARY, b.a, b.n);
  }
  siBufFree(&b);
  return rc;
}

/* A merge output of nBlock blocks so far: reload its last partial chunk. */
static int siWriterResume(SiWriter *w, int nBlock, sqlite3_int64 nPair){
  DpSetIndex *p = w->p;
  sqlite3_stmt *pStmt;
  int rc = SQLITE_OK;
  uint64_t k0 = 0;        /* fence of block 0 (heavy keys are decoded from
                          ** it; only the filter's size is used here) */
  w->nBlock = nBlock;
  w->nPair = nPair;
  if( nBlock>0 ){
    /* continue with the block size the output was begun with (a merge
    ** begun by a build that wrote 512-pair blocks) */
    SiRun run;
    SiBlk *pBlk = 0;
    memset(&run, 0, sizeof(run));
    run.iId = w->iRun;
    run.aFence = &k0;
    rc = siFilterRead(p, &run, 0, &pBlk);
    if( rc ) return rc;
    w->nWord = pBlk->nWord;
    sqlite3_free(pBlk);
  }
  /* the fence rows it was begun with: past one group's blocks, the row
  ** of the last block's group is there in groups, not in old chunks (the
  ** old rows' ids stop at (nBlock-1)/4096 < (nBlock-1)/64); up to one
  ** group the two are alike */
  if( nBlock>DP_SET_FENCE_GROUP ){
    w->nFenceRow = DP_SET_FENCE_GROUP;
    rc = siStmt(p, SI_FENCE_GET, &pStmt);
    if( rc ) return rc;
    sqlite3_bind_int64(pStmt, 1, (w->iRun<<24) | ((nBlock - 1) / DP_SET_FENCE_GROUP));
    if( sqlite3_step(pStmt)!=SQLITE_ROW ) w->nFenceRow = DP_SET_FENCE_CHUNK_OLD;
    rc = sqlite3_reset(pStmt);
    if( rc ) return rc;
  }
  if( nBlock % w->nFenceRow==0 ) return SQLITE_OK;
  w->aFenceKey = sqlite3_malloc64(sizeof(uint64_t)*(size_t)w->nFenceRow);
  w->aFenceCnt = sqlite3_malloc64(sizeof(uint32_t)*(size_t)w->nFenceRow);
  if( w->aFenceKey==0 || w->aFenceCnt==0 ) return SQLITE_NOMEM;
  {
    const unsigned char *a;
    const int nWant = nBlock % w->nFenceRow;
    sqlite3_int64 nSum = 0;
    int n;
    rc = siRowBytes(p, SI_READ_FENCE, (w->iRun<<24) | (nBlock / w->nFenceRow),
                    "a fence row (missing)", &a, &n);
    if( rc ) return rc;
    if( siFenceRowDecode(a, a + n, w->aFenceKey, w->aFenceCnt, nWant,
                         0, 0, &nSum)!=nWant ){
      return siCorrupt(p, "a fence row");
    }
    w->nFence = nWant;
  }
  return SQLITE_OK;
}

/**************************************************************************
** Run summaries.
*/
/* Drop every cached filter of pRun (its chunks and their heavy keys). */
static void siRunFiltersDrop(SiRun *pRun){
  int i;
  for(i=0; pRun->apChunk && i<pRun->nChunk; i++){
    SiChunk *pChunk = pRun->apChunk[i];
    if( pChunk ){
      int j;
      for(j=0; j<DP_SET_CHUNK_BLOCKS; j++) sqlite3_free(pChunk->aHeavy[j].aSlot);
      sqlite3_free(pChunk);
      pRun->apChunk[i] = 0;
    }
  }
  if( pRun->aLoaded ){
    memset(pRun->aLoaded, 0, sizeof(uint64_t)*(size_t)(pRun->nBlock/64 + 1));
  }
  pRun->nLoadedBlk = 0;
}

static void siRunFree(SiRun *pRun){
  if( pRun==0 ) return;
  siRunFiltersDrop(pRun);
  sqlite3_free(pRun->apChunk);
  sqlite3_free(pRun->aLoaded);
  sqlite3_free(pRun->aDir);
  sqlite3_free(pRun->aFence);
  sqlite3_free(pRun->aCount);
  sqlite3_free(pRun->aGroupKey);
  sqlite3_free(pRun->aGroupPair);
  sqlite3_free(pRun->aGroupRead);
  sqlite3_free(pRun->aGroupDir);
  sqlite3_free(pRun);
}

/* Give back the arrays of a MATCH's candidates. */
static void siCollFree(DpSetIndex *p){
  sqlite3_free(p->aColl);
  sqlite3_free(p->aCollTmp);
  sqlite3_free(p->aCand);
  p->aColl = p->aCollTmp = 0;
  p->aCand = 0;
  p->nColl = p->nCollAlloc = p->nCandAlloc = 0;
}

/* Well past the soft heap limit (a quarter over it: the limit set or
** lowered after this connection cached its filters, or other memory grown
** since), drop every filter this connection caches, so that it comes back
** under the limit and caches again up to it (siCacheFull).  The margin
** keeps a connection that stopped caching at the limit from dropping them
** and reading them again at each search.  Called as a search starts, when
** no estimate holds a filter. */
static void siCacheTrim(DpSetIndex *p){
  const sqlite3_int64 nLimit = sqlite3_soft_heap_limit64(-1);
  int i;
  if( nLimit<=0 || sqlite3_memory_used()<=nLimit + nLimit/4 ) return;
  for(i=0; i<p->nRun; i++){
    if( p->apRun[i]->nLoadedBlk>0 ) siRunFiltersDrop(p->apRun[i]);
  }
  siCollFree(p);
}

/* Decode one %_pfence row, a..pEnd, into aFence[] and aCount[] (at most
** nMax blocks): per block its first key (the row's first absolute, then
** deltas) and its pair count, two varints.  kPrev is the fence of the
** block before the row, if bPrev.  Returns the blocks decoded, or -1 when
** the row is damaged (too long, keys not increasing or past 40 bits,
** counts 0 or past 2^31-1).  A run of old fence rows is decoded whole
** when first used (1.7M fences at 1M documents before fence groups): the
** checks of a block are gathered into one flag without a branch each,
** tested once at the end of the row.  Every value is checked below
** 2^40, the first too, so that no sum can wrap around 2^64 back into
** range (a wrapped first fence would index the run's directory far past
** its end). */
static int siFenceRowDecode(const unsigned char *a, const unsigned char *pEnd,
                            uint64_t *aFence, uint32_t *aCount, int nMax,
                            uint64_t kPrev, int bPrev, sqlite3_int64 *pnSum){
  uint64_t k = 0, d, c;
  sqlite3_int64 nSum = 0;
  int i = 0, m1, m2, bBad = 0;
  while( a<pEnd ){
    if( i>=nMax ) return -1;
    m1 = siGetVarint(a, pEnd, &d);
    m2 = m1 ? siGetVarint(a + m1, pEnd, &c) : 0;
    if( m2==0 ) return -1;
    a += m1 + m2;
    bBad |= d>=((uint64_t)1<<40);
    if( i==0 ){
      k = d;
      bBad |= bPrev && k<=kPrev;
    }else{
      bBad |= d==0;
      k += d;
    }
    bBad |= c==0 || c>0x7fffffff;
    aFence[i] = k;
    aCount[i] = (uint32_t)c;
    nSum += (sqlite3_int64)(uint32_t)c;   /* (a bad c is refused below) */
    i++;
  }
  /* with every value below 2^40, at most 4,096 of them, no sum wraps:
  ** the last key is the largest */
  if( bBad || k>=((uint64_t)1<<40) ) return -1;
  *pnSum += nSum;
  return i;
}

/* A directory over the increasing 40-bit keys aKey[0..n), about nPer of
** them an entry (into *pnBits bits of key): keys are uniform hashes, so
** the top bits of a key point next to its place.  aDir[d] is the first
** index whose key has top bits >= d (2^bits + 1 entries): each key fills
** the entries up to its own.  NULL when out of memory. */
static uint32_t *siDirMake(const uint64_t *aKey, int n, int nPer, int *pnBits){
  uint32_t *aDir;
  int nBits = 0, nDir, sh, d = 0, i;
  while( nBits<20 && ((sqlite3_int64)nPer<<nBits)<n ) nBits++;
  nDir = 1<<nBits;
  sh = 40 - nBits;
  aDir = sqlite3_malloc64(sizeof(uint32_t)*((sqlite3_uint64)nDir + 1));
  if( aDir==0 ) return 0;
  for(i=0; i<n; i++){
    const uint64_t dTop = aKey[i]>>sh;  /* < 2^nBits: keys < 2^40 */
    while( d<=nDir && (uint64_t)d<=dTop ) aDir[d++] = (uint32_t)i;
  }
  while( d<=nDir ) aDir[d++] = (uint32_t)n;
  *pnBits = nBits;
  return aDir;
}

/* Build pRun's directory over its blocks (every fence read): about four
** blocks an entry, whose fences share a cache line, so the search between
** two entries costs no further miss, and a new connection builds (and
** faults in) a quarter of the directory it did with one block an entry. */
static int siRunDirBuild(SiRun *pRun){
  pRun->aDir = siDirMake(pRun->aFence, pRun->nBlock, 4, &pRun->nDirBits);
  return pRun->aDir ? SQLITE_OK : SQLITE_NOMEM;
}

/* Read every fence row of pRun at once: a run without a group summary
** (written before 2026-12-01 in rows of DP_SET_FENCE_CHUNK_OLD blocks, or
** a merge output not finished, in groups).  The first row tells which. */
static int siRunReadAll(DpSetIndex *p, SiRun *pRun){
  sqlite3_stmt *pStmt;
  const int nBlock = pRun->nBlock;
  int rc, iBlk = 0, nRowBlk = 0;
  sqlite3_int64 nSum = 0;
  rc = siStmt(p, SI_FENCE_RANGE, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, pRun->iId<<24);
  sqlite3_bind_int64(pStmt, 2, (pRun->iId<<24) | (DP_SET_FENCE_SUMMARY - 1));
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iRow = sqlite3_column_int64(pStmt, 0);
    const unsigned char *a = sqlite3_column_blob(pStmt, 1);
    const unsigned char *pEnd = a + sqlite3_column_bytes(pStmt, 1);
    int nRow, nMax = nRowBlk ? nRowBlk : DP_SET_FENCE_CHUNK_OLD;
    if( nBlock - iBlk<nMax ) nMax = nBlock - iBlk;
    if( nRowBlk && ((iRow & 0xffffff)!=iBlk / nRowBlk || iBlk % nRowBlk) ){
      rc = siCorrupt(p, "a fence row");
      break;
    }
    nRow = a ? siFenceRowDecode(a, pEnd, &pRun->aFence[iBlk],
                                &pRun->aCount[iBlk], nMax,
                                iBlk>0 ? pRun->aFence[iBlk-1] : 0, iBlk>0,
                                &nSum) : 0;
    if( a==0 ){
      rc = siBlobMissing(p, a, "a fence row");
      break;
    }
    if( nRow<0 || (iBlk==0 && (iRow & 0xffffff)!=0) ){
      rc = siCorrupt(p, "a fence row");
      break;
    }
    if( iBlk==0 ){
      /* a first row of one group's blocks, more to come: rows in groups */
      nRowBlk = nRow==DP_SET_FENCE_GROUP && nBlock>DP_SET_FENCE_GROUP ?
                DP_SET_FENCE_GROUP : DP_SET_FENCE_CHUNK_OLD;
    }
    iBlk += nRow;
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK && (iBlk!=nBlock || nSum!=pRun->nPair) ){
    rc = siCorrupt(p, "a run's fence rows");
  }
  if( rc==SQLITE_OK ){
    pRun->bOldFences = nRowBlk==DP_SET_FENCE_CHUNK_OLD && nBlock>DP_SET_FENCE_GROUP;
    rc = siRunDirBuild(pRun);
  }
  return rc;
}

/* Read pRun's group summary, if it has one (*pbFound): the first key and
** pairs of each group, and a directory over them as over blocks. */
static int siRunSummaryRead(DpSetIndex *p, SiRun *pRun, int *pbFound){
  sqlite3_stmt *pStmt;
  const int nGroup = (pRun->nBlock + DP_SET_FENCE_GROUP - 1)/DP_SET_FENCE_GROUP;
  int rc = siStmt(p, SI_FENCE_GET, &pStmt);
  *pbFound = 0;
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, (pRun->iId<<24) | DP_SET_FENCE_SUMMARY);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    const unsigned char *a = sqlite3_column_blob(pStmt, 0);
    const unsigned char *pEnd = a + sqlite3_column_bytes(pStmt, 0);
    sqlite3_int64 nSum = 0;
    uint64_t k = 0, d, c;
    int g, m1, m2, bBad = 0;
    *pbFound = 1;
    rc = siBlobMissing(p, a, "a fence row (run summary)");
    pRun->nGroup = nGroup;
    pRun->aGroupKey = sqlite3_malloc64(sizeof(uint64_t)*(sqlite3_uint64)nGroup);
    pRun->aGroupPair = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_uint64)nGroup);
    pRun->aGroupRead = dpMallocZero(sizeof(uint64_t)*(sqlite3_uint64)(nGroup/64 + 1));
    if( rc==SQLITE_OK && (pRun->aGroupKey==0 || pRun->aGroupPair==0
                          || pRun->aGroupRead==0) ){
      rc = SQLITE_NOMEM;
    }
    for(g=0; rc==SQLITE_OK && g<nGroup; g++){
      const int nBlk = pRun->nBlock - g*DP_SET_FENCE_GROUP<DP_SET_FENCE_GROUP ?
                       pRun->nBlock - g*DP_SET_FENCE_GROUP : DP_SET_FENCE_GROUP;
      m1 = a ? siGetVarint(a, pEnd, &d) : 0;
      m2 = m1 ? siGetVarint(a + m1, pEnd, &c) : 0;
      if( m2==0 ){ bBad = 1; break; }
      a += m1 + m2;
      /* keys increasing below 2^40 (every value checked: no sum wraps);
      ** at least a pair a block, at most 2^31-1 */
      if( d>=((uint64_t)1<<40) || (g>0 && d==0)
       || c<(uint64_t)nBlk || c>(uint64_t)nBlk*0x7fffffff ){
        bBad = 1;
        break;
      }
      k += d;
      pRun->aGroupKey[g] = k;
      pRun->aGroupPair[g] = (sqlite3_int64)c;
      nSum += (sqlite3_int64)c;
    }
    if( rc==SQLITE_OK && (bBad || a!=pEnd || k>=((uint64_t)1<<40)
                          || nSum!=pRun->nPair) ){
      rc = siCorrupt(p, "a fence row (run summary)");
    }
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK && *pbFound ){
    /* the directory over groups: about one group an entry */
    pRun->aGroupDir = siDirMake(pRun->aGroupKey, nGroup, 1, &pRun->nGroupDirBits);
    if( pRun->aGroupDir==0 ) rc = SQLITE_NOMEM;
  }
  return rc;
}

/* Read the fences of group g of pRun (a run with a summary): checked
** against the summary, so that the groups read so far agree with each
** other as rows read at once would. */
static int siRunGroupRead(DpSetIndex *p, SiRun *pRun, int g){
  const int iBlk = g*DP_SET_FENCE_GROUP;
  const int nWant = pRun->nBlock - iBlk<DP_SET_FENCE_GROUP ?
                    pRun->nBlock - iBlk : DP_SET_FENCE_GROUP;
  const unsigned char *a;
  sqlite3_int64 nSum = 0;
  int nA, n, rc = siRowBytes(p, SI_READ_FENCE, (pRun->iId<<24) | g,
                             "a fence row (missing)", &a, &nA);
  if( rc ) return rc;
  n = siFenceRowDecode(a, a + nA, &pRun->aFence[iBlk], &pRun->aCount[iBlk],
                       nWant, 0, 0, &nSum);
  if( n!=nWant || pRun->aFence[iBlk]!=pRun->aGroupKey[g]
   || nSum!=pRun->aGroupPair[g]
   || (g+1<pRun->nGroup && pRun->aFence[iBlk+n-1]>=pRun->aGroupKey[g+1]) ){
    return siCorrupt(p, "a fence row");
  }
  pRun->aGroupRead[g/64] |= (uint64_t)1<<(g%64);
  pRun->nGroupRead++;
  /* every group read: the directory over blocks, and the probes' path
  ** of runs read whole */
  if( pRun->nGroupRead==pRun->nGroup ) rc = siRunDirBuild(pRun);
  return rc;
}

/* Make sure group g of pRun (a run with a summary) is read; once half
** its groups are, read the rest, so that the probes of a connection that
** lives on take the directory over blocks and its prefetches (reading a
** group at a time, the last few of a run of hundreds wait for hundreds of
** queries: MATCH top-10 at 10k-20k stored took 18-26 % longer than with
** fences read whole). */
static int siRunGroupNeed(DpSetIndex *p, SiRun *pRun, int g){
  int rc = SQLITE_OK, i;
  if( pRun->aGroupRead[g/64]>>(g%64) & 1 ) return SQLITE_OK;
  rc = siRunGroupRead(p, pRun, g);
  for(i=0; rc==SQLITE_OK && pRun->nGroupRead*2>=pRun->nGroup
           && pRun->aDir==0 && i<pRun->nGroup; i++){
    if( (pRun->aGroupRead[i/64]>>(i%64) & 1)==0 ) rc = siRunGroupRead(p, pRun, i);
  }
  return rc;
}

/* Make sure the fence of block iBlk of pRun is read. */
static int siRunFenceNeed(DpSetIndex *p, SiRun *pRun, int iBlk){
  return pRun->aDir ? SQLITE_OK : siRunGroupNeed(p, pRun, iBlk/DP_SET_FENCE_GROUP);
}

/* Read run iId (nBlock blocks, nPair pairs) into a new SiRun
** (siRunFree): its group summary, or without one every fence row. */
static int siRunLoad(DpSetIndex *p, sqlite3_int64 iId, int iLevel,
                     sqlite3_int64 iLo, sqlite3_int64 iHi, sqlite3_int64 nPair,
                     sqlite3_int64 nBlock, SiRun **ppRun){
  SiRun *pRun;
  int rc, bSummary = 0;
  *ppRun = 0;
  if( nBlock<=0 || nBlock>=(1<<24) || nPair<nBlock || iId<=0
   || iId>=((sqlite3_int64)1<<38) ){
    return siCorrupt(p, "a run row");
  }
  pRun = dpMallocZero(sizeof(SiRun));
  if( pRun==0 ) return SQLITE_NOMEM;
  pRun->iId = iId;
  pRun->iLevel = iLevel;
  pRun->iLo = iLo;
  pRun->iHi = iHi;
  pRun->nPair = nPair;
  pRun->nBlock = (int)nBlock;
  /* (with a summary, pages of these two are touched as groups are read) */
  pRun->aFence = sqlite3_malloc64(sizeof(uint64_t)*(sqlite3_uint64)nBlock);
  pRun->aCount = sqlite3_malloc64(sizeof(uint32_t)*(sqlite3_uint64)nBlock);
  pRun->nChunk = (int)((nBlock + DP_SET_CHUNK_BLOCKS_MIN - 1)
                       / DP_SET_CHUNK_BLOCKS_MIN);
  pRun->apChunk = dpMallocZero(sizeof(SiChunk*)*(sqlite3_uint64)pRun->nChunk);
  pRun->aLoaded = dpMallocZero(sizeof(uint64_t)*(sqlite3_uint64)(nBlock/64 + 1));
  if( pRun->aFence==0 || pRun->aCount==0 || pRun->apChunk==0
   || pRun->aLoaded==0 ){
    siRunFree(pRun);
    return SQLITE_NOMEM;
  }
  rc = siRunSummaryRead(p, pRun, &bSummary);
  if( rc==SQLITE_OK && !bSummary ) rc = siRunReadAll(p, pRun);
  if( rc ){
    siRunFree(pRun);
    return rc;
  }
  *ppRun = pRun;
  return SQLITE_OK;
}

/* The first of blocks lo..hi-1 whose fence is above key (hi if none):
** halving without a branch on the comparison (a few steps between two
** directory entries, each a coin toss for a branch predictor). */
static inline int siFenceAbove(const uint64_t *aFence, int lo, int hi,
                               uint64_t key){
  int n = hi - lo;
  if( n<=0 ) return lo;
  while( n>1 ){
    const int half = n/2;
    lo = aFence[lo + half]<=key ? lo + half : lo;
    n -= half;
  }
  return lo + (aFence[lo]<=key);
}

/* The last of aKey[] at or below key (-1 if none), through its directory
** aDir of nBits bits (siDirMake): the first key above lies in
** [aDir[d], aDir[d+1]]. */
static int siDirFind(const uint64_t *aKey, const uint32_t *aDir, int nBits,
                     uint64_t key){
  uint64_t d = key >> (40 - nBits);
  if( d>=((uint64_t)1<<nBits) ) d = ((uint64_t)1<<nBits) - 1;
  return siFenceAbove(aKey, (int)aDir[d], (int)aDir[d+1], key) - 1;
}

/* Block of pRun that may hold key (-1 if none) into *piBlk; in a run not
** read whole, the group the key falls in is read first if need be. */
static int siRunBlockOf(DpSetIndex *p, SiRun *pRun, uint64_t key, int *piBlk){
  int g, lo, hi, rc;
  if( pRun->aDir ){
    *piBlk = siDirFind(pRun->aFence, pRun->aDir, pRun->nDirBits, key);
    return SQLITE_OK;
  }
  g = siDirFind(pRun->aGroupKey, pRun->aGroupDir, pRun->nGroupDirBits, key);
  *piBlk = -1;
  if( g<0 ) return SQLITE_OK;
  rc = siRunGroupNeed(p, pRun, g);
  if( rc ) return rc;
  lo = g*DP_SET_FENCE_GROUP;
  hi = pRun->nBlock - lo<DP_SET_FENCE_GROUP ? pRun->nBlock : lo + DP_SET_FENCE_GROUP;
  /* aFence[lo] is the group's first key, <= key: the block is in it */
  *piBlk = siFenceAbove(pRun->aFence, lo, hi, key) - 1;
  if( *piBlk==hi-1 && g+1<pRun->nGroup ){
    /* the group was chosen by the summary's first key of the next: read
    ** that group too, whose first fence must be that key, so that a
    ** summary damaged to name a later key (the keys between sent to the
    ** wrong block, found absent) is refused, not answered */
    rc = siRunGroupNeed(p, pRun, g+1);
  }
  return rc;
}

static SiRun *siFindRun(DpSetIndex *p, sqlite3_int64 iId, int *piPos){
  int i;
  for(i=0; i<p->nRun; i++){
    if( p->apRun[i] && p->apRun[i]->iId==iId ){
      if( piPos ) *piPos = i;
      return p->apRun[i];
    }
  }
  return 0;
}

/* Drop the cached runs that a rollback since the last call may have
** undone (their iTag above the savepoint rolled back to). */
static void siDropUndone(DpSetIndex *p){
  int i, n;
  if( p->iDropAbove==INT_MAX ) return;
  for(i=n=0; i<p->nRun; i++){
    if( p->apRun[i]->iTag>p->iDropAbove ) siRunFree(p->apRun[i]);
    else p->apRun[n++] = p->apRun[i];
  }
  p->nRun = n;
  p->iDropAbove = INT_MAX;
}

/* Re-read the run list when stale or when another connection committed:
** runs still listed keep their cached summaries. */
static int siRefresh(DpSetIndex *p){
  unsigned int iVersion = 0;
  sqlite3_stmt *pStmt;
  SiRun **apNew = 0;
  int nNew = 0, nNewAlloc = 0, rc, i;
  sqlite3_int64 iMaxSeq = 0;
  if( sqlite3_txn_state(p->db, p->zDb)==SQLITE_TXN_NONE
   || sqlite3_file_control(p->db, p->zDb, SQLITE_FCNTL_DATA_VERSION,
                           &iVersion)!=SQLITE_OK ){
    /* outside a transaction the pager's version is not current yet (the
    ** table always calls inside a statement): read the list every time */
    p->bStale = 1;
  }
  siDropUndone(p);
  if( !p->bStale && iVersion==p->iDataVersion ) return SQLITE_OK;
  rc = siStmt(p, SI_RUN_LIST, &pStmt);
  if( rc ) return rc;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
    sqlite3_int64 iHi = sqlite3_column_int64(pStmt, 3);
    SiRun *pRun;
    int iPos;
    if( iHi>iMaxSeq ) iMaxSeq = iHi;
    if( sqlite3_column_type(pStmt, 7)!=SQLITE_NULL ) continue;  /* merge output */
    if( sqlite3_column_int(pStmt, 1)<0 ) continue;        /* retired: no run */
    pRun = siFindRun(p, iId, &iPos);
    if( pRun && (pRun->iLevel!=sqlite3_column_int(pStmt, 1)
              || pRun->iLo!=sqlite3_column_int64(pStmt, 2) || pRun->iHi!=iHi
              || pRun->nPair!=sqlite3_column_int64(pStmt, 4)
              || pRun->nBlock!=sqlite3_column_int64(pStmt, 5)) ){
      /* not the run cached under this id (ids only grow, so only damage
      ** or a bug gets here): read it again */
      siRunFree(pRun);
      p->apRun[iPos] = 0;
      pRun = 0;
    }
    if( pRun ){
      p->apRun[iPos] = 0;
    }else{
      rc = siRunLoad(p, iId, sqlite3_column_int(pStmt, 1),
                     sqlite3_column_int64(pStmt, 2), iHi,
                     sqlite3_column_int64(pStmt, 4),
                     sqlite3_column_int64(pStmt, 5), &pRun);
      if( rc ) break;
      /* read inside this connection's write transaction, it may be a run
      ** of that transaction (read again after a statement's rollback):
      ** as one it wrote, a rollback must drop it */
      pRun->iTag = sqlite3_txn_state(p->db, p->zDb)==SQLITE_TXN_WRITE
                   ? p->nDepth : -1;
    }
    if( nNew>=nNewAlloc ){
      rc = dpGrow((void**)&apNew, &nNewAlloc, nNew+1, sizeof(SiRun*));
      if( rc ){ siRunFree(pRun); break; }
    }
    apNew[nNew++] = pRun;
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK ){
    rc = siStmt(p, SI_TOMB_MAX, &pStmt);
    if( rc==SQLITE_OK ){
      if( sqlite3_step(pStmt)==SQLITE_ROW ){
        sqlite3_int64 s = sqlite3_column_int64(pStmt, 0);
        if( s>iMaxSeq ) iMaxSeq = s;
      }
      rc = sqlite3_reset(pStmt);
    }
  }
  if( rc ){
    /* keep what is left cached; the list stays stale */
    for(i=0; i<nNew; i++) siRunFree(apNew[i]);
    sqlite3_free(apNew);
    for(i=0; i<p->nRun; i++) siRunFree(p->apRun[i]);
    p->nRun = 0;
    p->bStale = 1;
    return rc;
  }
  for(i=0; i<p->nRun; i++) siRunFree(p->apRun[i]);
  sqlite3_free(p->apRun);
  p->apRun = apNew;
  p->nRun = nNew;
  p->nRunAlloc = nNewAlloc;
  p->iNextSeq = iMaxSeq + 1;
  p->iDataVersion = iVersion;
  p->bStale = 0;
  return SQLITE_OK;
}

/**************************************************************************
** Opening and closing.
*/
/* bOld: the runs written from now on have blocks as builds before
** 2026-12 wrote them (512 pairs, no restart points, 64 filter words),
** for the tests of such tables; else as this build writes them. */
void dpSetIndexSetOldBlocks(DpSetIndex *p, int bOld){
  p->nWordWrite = bOld ? DP_SET_FILTER_WORDS_MAX : DP_SET_FILTER_WORDS;
}

/* bOld: the runs written from now on have fence rows as builds before
** 2026-12-01 wrote them (DP_SET_FENCE_CHUNK_OLD blocks a row, no group
** summary), for the tests of such tables; else in groups. */
void dpSetIndexSetOldFences(DpSetIndex *p, int bOld){
  p->nFenceRowWrite = bOld ? DP_SET_FENCE_CHUNK_OLD : DP_SET_FENCE_GROUP;
}

/* The least merge work of a sync (DP_SET_MERGE_MIN): tests lower it to
** leave merges in progress with few pairs. */
void dpSetIndexSetMergeMin(DpSetIndex *p, sqlite3_int64 nWork){
  p->nMergeMin = nWork;
}

/* Runs whose filter answers a probe's estimate keeps (at most and by
** default 64: a probe asks the filters of later runs again); tests lower
** it to reach that path, which tables of fewer than 65 runs never take. */
void dpSetIndexSetMaybeRuns(DpSetIndex *p, int nRun){
  p->nRunMaybe = nRun<0 ? 0 : nRun>64 ? 64 : nRun;
}

/* Runs of more blocks than nBlock have their uncached filters left unread
** by a MATCH (default DP_SET_MATCH_FILTER_BLOCKS; see siEstimateBatch);
** tests lower it to take that path with small runs. */
void dpSetIndexSetListBlocks(DpSetIndex *p, int nBlock){
  p->nListBlocks = nBlock<0 ? 0 : nBlock;
}

void dpSetIndexSetSource(DpSetIndex *p,
                         int (*xSetOf)(void*, sqlite3_int64, const uint64_t**,
                                       int*, char**),
                         void *pCtx){
  p->xSetOf = xSetOf;
  p->pSetOfCtx = pCtx;
}

void dpSetIndexSetBulkSource(DpSetIndex *p,
                             int (*xSetsOf)(void*, int, const sqlite3_int64*,
                                            const sqlite3_int64*, uint64_t*,
                                            sqlite3_int64*, char**)){
  p->xSetsOf = xSetsOf;
}

int dpSetIndexOpen(sqlite3 *db, const char *zDb, const char *zName,
                   int bCreate, DpSetIndex **pp, char **pzErr){
  DpSetIndex *p;
  int rc = SQLITE_OK;
  *pp = 0;
  p = dpMallocZero(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  p->db = db;
  p->zDb = sqlite3_mprintf("%s", zDb);
  p->zName = sqlite3_mprintf("%s", zName);
  p->bStale = 1;
  p->iDropAbove = INT_MAX;
  p->nWordWrite = DP_SET_FILTER_WORDS;
  p->nFenceRowWrite = DP_SET_FENCE_GROUP;
  p->nMergeMin = DP_SET_MERGE_MIN;
  p->nRunMaybe = 64;
  p->nListBlocks = DP_SET_MATCH_FILTER_BLOCKS;
  if( p->zDb==0 || p->zName==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK && bCreate ) rc = siCreateTables(db, zDb, zName, pzErr);
  if( rc==SQLITE_OK ){
    rc = siRefresh(p);
    if( rc && pzErr && *pzErr==0 && p->zErr ){
      *pzErr = sqlite3_mprintf("%s", p->zErr);
    }
  }
  if( rc ){
    dpSetIndexClose(p);
    return rc;
  }
  *pp = p;
  return SQLITE_OK;
}

static void siPendingClear(DpSetIndex *p){
  p->nPend = 0;
  if( p->nSlotUsed ){
    memset(p->aSlot, 0, sizeof(SiSlot)*(size_t)p->nSlot);
    memset(p->aPendFilter, 0, sizeof(uint64_t)*(size_t)(p->nSlot/16));
  }
  p->nSlotUsed = 0;
  siMapClear(&p->pendRemoved);
}

void dpSetIndexClose(DpSetIndex *p){
  int i;
  if( p==0 ) return;
  for(i=0; i<SI_N_STMT; i++) sqlite3_finalize(p->aStmt[i]);
  for(i=0; i<p->nRun; i++) siRunFree(p->apRun[i]);
  sqlite3_free(p->apRun);
  sqlite3_free(p->aPend);
  sqlite3_free(p->aSlot);
  sqlite3_free(p->aPendFilter);
  siMapFree(&p->pendRemoved);
  siMapFree(&p->seen);
  siCollFree(p);
  sqlite3_free(p->aSetBuf);
  sqlite3_free(p->aKey);
  sqlite3_free(p->aMult);
  sqlite3_free(p->aEst);
  sqlite3_free(p->aMaybe);
  sqlite3_free(p->aAsked);
  sqlite3_free(p->aBlockPair);
  siBlobClose(p);
  for(i=0; i<SI_N_READ; i++) sqlite3_free(p->aRead[i].a);
  sqlite3_free(p->zErr);
  sqlite3_free(p->zDb);
  sqlite3_free(p->zName);
  sqlite3_free(p);
}

const char *dpSetIndexErrmsg(DpSetIndex *p){
  return (p && p->zErr) ? p->zErr : "";
}

/* Shared cache with read_uncommitted: this connection may have read a
** run of another connection's open transaction, which a rollback there
** undoes and a later run takes the id of; nothing tells this connection.
** So it keeps nothing: every cached run is dropped at the next call (as
** the vector kind reloads its index per statement in that mode). */
void dpSetIndexInvalidate(DpSetIndex *p){
  p->bStale = 1;
  p->iDropAbove = -2;     /* below every tag: all */
}

/**************************************************************************
** Writes.
*/

/* Is a[0..n) strictly increasing? */
static int siIsSet(const uint64_t *a, int n){
  int i;
  for(i=1; i<n; i++){ if( a[i]<=a[i-1] ) return 0; }
  return 1;
}

/* sets='body': what a set row keeps of its set instead of the hashes, so
** that a body changed behind the table's back (to other words of the same
** count) is seen by the first verify that makes its set again: a sum of
** the hashes, each mixed (no two sets of random hashes collide but with
** probability ~2^-64). */
static uint64_t siSetCheck(const uint64_t *a, sqlite3_int64 n){
  uint64_t sum = 0;
  sqlite3_int64 i;
  for(i=0; i<n; i++){
    uint64_t x = a[i] * 0x9E3779B97F4A7C15ull;
    sum += x ^ (x >> 29);
  }
  return sum;
}

static unsigned siSlotHash(uint64_t key){
  return (unsigned)((key * 0x9E3779B97F4A7C15ull) >> 32);
}

/* The pending slot of key, or NULL. */
static SiSlot *siPendFind(const DpSetIndex *p, uint64_t key){
  unsigned h;
  if( p->nSlotUsed==0 ) return 0;
  if( !siFilterTest(p->aPendFilter, p->nSlot/16, key) ) return 0;
  h = siSlotHash(key) & (unsigned)(p->nSlot-1);
  while( p->aSlot[h].nCnt ){
    if( p->aSlot[h].key==key ) return &p->aSlot[h];
    h = (h+1) & (unsigned)(p->nSlot-1);
  }
  return 0;
}

/* The slot of key, a new empty one if absent (room must exist). */
static SiSlot *siSlotFor(SiSlot *aSlot, int nSlot, uint64_t key){
  unsigned h = siSlotHash(key) & (unsigned)(nSlot-1);
  while( aSlot[h].nCnt && aSlot[h].key!=key ) h = (h+1) & (unsigned)(nSlot-1);
  return &aSlot[h];
}

static int siPendPut(DpSetIndex *p, uint64_t key, uint64_t val){
  SiSlot *pSlot;
  if( p->nPend>=p->nPendAlloc ){
    int rc = dpGrow((void**)&p->aPend, &p->nPendAlloc, p->nPend+1,
                    sizeof(SiPend));
    if( rc ) return rc;
  }
  if( (p->nSlotUsed+1)*2>p->nSlot ){
    int nNew = p->nSlot ? p->nSlot*2 : 4096, i;
    SiSlot *aNew;
    uint64_t *aFilter;
    if( nNew>(1<<29) ) return SQLITE_NOMEM;
    aNew = dpMallocZero(sizeof(SiSlot)*(sqlite3_uint64)nNew);
    aFilter = dpMallocZero(sizeof(uint64_t)*(sqlite3_uint64)(nNew/16));
    if( aNew==0 || aFilter==0 ){
      sqlite3_free(aNew);
      sqlite3_free(aFilter);
      return SQLITE_NOMEM;
    }
    for(i=0; i<p->nSlot; i++){
      if( p->aSlot[i].nCnt ){
        *siSlotFor(aNew, nNew, p->aSlot[i].key) = p->aSlot[i];
        siFilterAdd(aFilter, nNew/16, p->aSlot[i].key);
      }
    }
    sqlite3_free(p->aSlot);
    sqlite3_free(p->aPendFilter);
    p->aSlot = aNew;
    p->aPendFilter = aFilter;
    p->nSlot = nNew;
  }
  pSlot = siSlotFor(p->aSlot, p->nSlot, key);
  if( pSlot->nCnt==0 ){
    pSlot->key = key;
    pSlot->iHead = -1;
    p->nSlotUsed++;
    siFilterAdd(p->aPendFilter, p->nSlot/16, key);
  }
  p->aPend[p->nPend].key = key;
  p->aPend[p->nPend].val = val;
  p->aPend[p->nPend].iNext = pSlot->iHead;
  pSlot->iHead = p->nPend;
  pSlot->nCnt++;
  p->nPend++;
  return SQLITE_OK;
}

int dpSetIndexCheckId(DpSetIndex *p, sqlite3_int64 iId){
  siErrReset(p);
  if( iId<=-DP_SET_ID_MAX || iId>=DP_SET_ID_MAX ){
    return siError(p, SQLITE_RANGE, "docpipe: document id %lld out of range:"
                   " a measure='jaccard' or 'cosine' table takes rowids"
                   " strictly between -2^62 and 2^62 (measure='vector': any)",
                   iId);
  }
  return SQLITE_OK;
}

int dpSetIndexAdd(DpSetIndex *p, sqlite3_int64 iId, const uint64_t *aHash,
                  int nHash, int bKept){
  sqlite3_stmt *pStmt;
  int rc, i, nOld;
  unsigned char *aBlob = 0;
  unsigned char aCheck[8];
  rc = dpSetIndexCheckId(p, iId);
  if( rc ) return rc;
  if( nHash<0 || nHash>DP_SET_N_MAX || !siIsSet(aHash, nHash) ){
    return siError(p, SQLITE_MISUSE,
                   "docpipe: a document's hashes must be sorted and distinct");
  }
  rc = siRefresh(p);
  if( rc ) return rc;
  if( p->xSetOf ){
    siPut64(aCheck, siSetCheck(aHash, nHash));
  }else if( nHash>0 ){
    aBlob = sqlite3_malloc64((sqlite3_uint64)nHash*8);
    if( aBlob==0 ) return SQLITE_NOMEM;
    for(i=0; i<nHash; i++) siPut64(&aBlob[i*8], aHash[i]);
  }
  rc = siStmt(p, SI_SET_INSERT, &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iId);
    sqlite3_bind_int(pStmt, 2, bKept ? 1 : 0);
    sqlite3_bind_int(pStmt, 3, nHash);
    if( p->xSetOf ){
      /* sets='body': the set is made again from the body; its check */
      sqlite3_bind_blob(pStmt, 4, aCheck, 8, SQLITE_STATIC);
    }else{
      sqlite3_bind_blob64(pStmt, 4, aBlob ? (const void*)aBlob : (const void*)"",
                          (sqlite3_uint64)nHash*8, SQLITE_STATIC);
    }
    rc = siExec(p, pStmt);
    sqlite3_clear_bindings(pStmt);
  }
  sqlite3_free(aBlob);
  if( rc ) return rc;
  nOld = p->nPend;
  for(i=0; rc==SQLITE_OK && i<nHash; i++){
    uint64_t key = DP_SET_KEY(aHash[i]);
    if( i+8<nHash && p->nSlot ){
      /* the slot of a later key, so that its cache miss overlaps */
      __builtin_prefetch(&p->aSlot[siSlotHash(DP_SET_KEY(aHash[i+8]))
                                   & (unsigned)(p->nSlot-1)], 1);
    }
    if( i>0 && key==DP_SET_KEY(aHash[i-1]) ) continue;
    rc = siPendPut(p, key, ((uint64_t)iId<<1) | (bKept ? 1 : 0));
  }
  if( rc ){
    /* the set row is written; the caller's statement fails and SQLite
    ** undoes it, so drop this document's pending pairs too */
    int nKeep = nOld;
    p->bStale = 1;
    p->nPend = 0;
    if( p->nSlotUsed ){
      memset(p->aSlot, 0, sizeof(SiSlot)*(size_t)p->nSlot);
      memset(p->aPendFilter, 0, sizeof(uint64_t)*(size_t)(p->nSlot/16));
    }
    p->nSlotUsed = 0;
    for(i=0; i<nKeep; i++){
      siPendPut(p, p->aPend[i].key, p->aPend[i].val);   /* room exists */
    }
    return rc;
  }
  if( p->nPend>=DP_SET_PENDING_MAX ) rc = dpSetIndexSync(p);
  return rc;
}

int dpSetIndexRemove(DpSetIndex *p, sqlite3_int64 iId, int *pbFound){
  sqlite3_stmt *pStmt;
  int rc, bFound = 0;
  siErrReset(p);
  rc = siRefresh(p);
  if( pbFound ) *pbFound = 0;
  if( rc ) return rc;
  rc = siStmt(p, SI_SET_DELETE, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  rc = siExec(p, pStmt);
  if( rc ) return rc;
  /* Without a set row (never stored, or a damaged table being rebuilt)
  ** the tombstone is still written: postings of iId, if any, die. */
  bFound = sqlite3_changes(p->db)>0;
  if( pbFound ) *pbFound = bFound;
  if( p->nPend>0 ){
    int iSlot = siMapInsert(&p->pendRemoved, iId, 0);
    if( iSlot<0 ) return SQLITE_NOMEM;
    p->pendRemoved.aV1[iSlot] = p->nPend;
  }
  rc = siStmt(p, SI_TOMB_PUT, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  sqlite3_bind_int64(pStmt, 2, p->iNextSeq);
  return siExec(p, pStmt);
}

static int siPairCmp(const void *a, const void *b){
  const SiPair *x = a, *y = b;
  if( x->key!=y->key ) return (x->key>y->key) - (x->key<y->key);
  return (x->val>y->val) - (x->val<y->val);
}

/* Sort a[0..n) by key - base, a number below 2^nKeyBits, in stable radix
** passes (aTmp: n more slots): of 14 bits for many pairs (each pass moves
** every pair once, and 2^14 counters still fit in L2), of 8 for few
** (whose cost would be clearing the counters). */
static int siRadixSort(SiPair *a, SiPair *aTmp, int n, uint64_t base,
                       int nKeyBits){
  SiPair *src = a, *dst;
  int *aCnt;
  int sh, i;
  const int nBits = n<(1<<14) ? 8 : 14;
  const int nBucket = 1<<nBits;
  if( n<2 ) return SQLITE_OK;
  aCnt = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)(nBucket+1));
  if( aCnt==0 ) return SQLITE_NOMEM;
  dst = aTmp;
  for(sh=0; sh<nKeyBits; sh+=nBits){
    const uint64_t mask = (uint64_t)(nBucket-1);
    memset(aCnt, 0, sizeof(int)*(size_t)(nBucket+1));
    for(i=0; i<n; i++) aCnt[(((src[i].key-base)>>sh) & mask) + 1]++;
    for(i=0; i<nBucket; i++) aCnt[i+1] += aCnt[i];
    for(i=0; i<n; i++) dst[aCnt[((src[i].key-base)>>sh) & mask]++] = src[i];
    { SiPair *t = src; src = dst; dst = t; }
  }
  if( src!=a ) memcpy(a, src, sizeof(SiPair)*(size_t)n);
  sqlite3_free(aCnt);
  return SQLITE_OK;
}

/* Is pending pair i still live (its document not removed after it was
** added)? */
static int siPendLive(const DpSetIndex *p, int i){
  int iSlot;
  if( p->pendRemoved.nUsed==0 ) return 1;
  iSlot = siMapFind(&p->pendRemoved, (sqlite3_int64)p->aPend[i].val>>1);
  return iSlot<0 || i>=p->pendRemoved.aV1[iSlot];
}

/* Sort a[0..n) by (key, val) with insertion sort: n is small (a bucket of
** siPendSorted). */
static void siInsertionSort(SiPair *a, int n){
  int i, j;
  for(i=1; i<n; i++){
    SiPair x = a[i];
    for(j=i; j>0 && (a[j-1].key>x.key
                     || (a[j-1].key==x.key && a[j-1].val>x.val)); j--){
      a[j] = a[j-1];
    }
    a[j] = x;
  }
}

/* The live pending pairs into a[] (room for p->nPend), sorted by (key,
** val); *pn their number.  One pass counts them by the top bits of the
** key, one places them (keys are uniform hashes: 2-4 to a bucket), and each
** bucket is finished while in cache, by insertion sort, or by qsort when
** large (only a skew of the keys makes one).  A flush of 1,000 documents
** sorts ~500,000 pairs: three passes of a 14-bit radix sort with a copy
** before and after took ~9 % of an insert at 10k stored. */
static int siPendSorted(DpSetIndex *p, SiPair *a, int *pn){
  int nBits = 8, nBucket, i, n = 0;
  int *aPos;
  while( nBits<20 && (1<<(nBits+2))<p->nPend ) nBits++;
  nBucket = 1<<nBits;
  aPos = dpMallocZero(sizeof(int)*(sqlite3_uint64)(nBucket+1));
  if( aPos==0 ) return SQLITE_NOMEM;
  for(i=0; i<p->nPend; i++){
    if( siPendLive(p, i) ) aPos[(p->aPend[i].key >> (40-nBits)) + 1]++;
  }
  for(i=0; i<nBucket; i++) aPos[i+1] += aPos[i];
  for(i=0; i<p->nPend; i++){
    if( siPendLive(p, i) ){
      SiPair *pDst = &a[aPos[p->aPend[i].key >> (40-nBits)]++];
      pDst->key = p->aPend[i].key;
      pDst->val = p->aPend[i].val;
      n++;
    }
  }
  /* aPos[b] is now the end of bucket b, the start of bucket b+1 */
  for(i=0; i<nBucket; i++){
    int iFirst = i ? aPos[i-1] : 0, nIn = aPos[i] - iFirst;
    if( nIn<=32 ){
      siInsertionSort(&a[iFirst], nIn);
    }else{
      qsort(&a[iFirst], (size_t)nIn, sizeof(SiPair), siPairCmp);
    }
  }
  sqlite3_free(aPos);
  *pn = n;
  return SQLITE_OK;
}

static int siRunRow(DpSetIndex *p, sqlite3_int64 iId, int iLevel,
                    sqlite3_int64 iLo, sqlite3_int64 iHi, sqlite3_int64 nPair,
                    int nBlock, sqlite3_int64 iDest, sqlite3_int64 iResume){
  sqlite3_stmt *pStmt;
  int rc = siStmt(p, SI_RUN_PUT, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  sqlite3_bind_int(pStmt, 2, iLevel);
  sqlite3_bind_int64(pStmt, 3, iLo);
  sqlite3_bind_int64(pStmt, 4, iHi);
  sqlite3_bind_int64(pStmt, 5, nPair);
  sqlite3_bind_int(pStmt, 6, nBlock);
  if( iDest>0 ) sqlite3_bind_int64(pStmt, 7, iDest); else sqlite3_bind_null(pStmt, 7);
  if( iResume>=0 ) sqlite3_bind_int64(pStmt, 8, iResume); else sqlite3_bind_null(pStmt, 8);
  return siExec(p, pStmt);
}

static int siNewRunId(DpSetIndex *p, sqlite3_int64 *piId){
  sqlite3_stmt *pStmt;
  int rc = siStmt(p, SI_RUN_MAX, &pStmt);
  if( rc ) return rc;
  *piId = 1;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *piId = sqlite3_column_int64(pStmt, 0) + 1;
  rc = sqlite3_reset(pStmt);
  if( rc==SQLITE_OK && (*piId<=0 || *piId>=((sqlite3_int64)1<<38)) ){
    rc = siCorrupt(p, "the run list");
  }
  return rc;
}

/* Insert pRun, a run this connection has just written, into p->apRun
** keeping the order by lo. */
static int siRunInsert(DpSetIndex *p, SiRun *pRun){
  int rc = dpGrow((void**)&p->apRun, &p->nRunAlloc, p->nRun+1, sizeof(SiRun*));
  int i;
  if( rc ) return rc;
  pRun->iTag = p->nDepth;
  for(i=p->nRun; i>0 && p->apRun[i-1]->iLo>pRun->iLo; i--){
    p->apRun[i] = p->apRun[i-1];
  }
  p->apRun[i] = pRun;
  p->nRun++;
  return SQLITE_OK;
}

static int siFlush(DpSetIndex *p, sqlite3_int64 *pnFlushed){
  SiPair *a;
  int n = 0, i, rc = SQLITE_OK;
  sqlite3_int64 iRun = 0, iSeq;
  SiWriter w;
  SiRun *pRun = 0;
  *pnFlushed = 0;
  if( p->nPend==0 ) return SQLITE_OK;
  a = sqlite3_malloc64(sizeof(SiPair)*(sqlite3_uint64)p->nPend);
  if( a==0 ) return SQLITE_NOMEM;
  rc = siPendSorted(p, a, &n);
  siWriterInit(&w, p, 0);
  if( rc==SQLITE_OK && n>0 ) rc = siNewRunId(p, &iRun);
  if( rc==SQLITE_OK && n>0 ){
    w.iRun = iRun;
    for(i=0; rc==SQLITE_OK && i<n; i++){
      if( i>0 && a[i].key==a[i-1].key && a[i].val==a[i-1].val ) continue;
      rc = siWriterAdd(&w, a[i].key, a[i].val);
    }
    if( rc==SQLITE_OK ) rc = siWriterFinish(&w);
    if( rc==SQLITE_OK ) rc = siWriterSummary(&w);
    iSeq = p->iNextSeq;
    if( rc==SQLITE_OK ){
      rc = siRunRow(p, iRun, 0, iSeq, iSeq, w.nPair, w.nBlock, 0, -1);
    }
    if( rc==SQLITE_OK ){
      rc = siRunLoad(p, iRun, 0, iSeq, iSeq, w.nPair, w.nBlock, &pRun);
    }
    if( rc==SQLITE_OK ){
      rc = siRunInsert(p, pRun);
      if( rc ) siRunFree(pRun);
    }
    if( rc==SQLITE_OK ){
      p->iNextSeq++;
      *pnFlushed = w.nPair;
    }
  }
  siWriterFree(&w);
  sqlite3_free(a);
  if( rc==SQLITE_OK ){
    siPendingClear(p);
  }else{
    p->bStale = 1;
  }
  return rc;
}

/**************************************************************************
** Merges.
*/

/* A cursor over the pairs of one run, from a key on. */
typedef struct SiCursor SiCursor;
struct SiCursor {
  SiRun *pRun;            /* run read */
  int iBlk;               /* block loaded */
  SiPair *aPair;          /* its pairs */
  int nPair;              /* pairs in aPair */
  int nPairAlloc;         /* slots of aPair */
  int iPair;              /* current pair (nPair: past the end of the run) */
  int bEof;               /* no more pairs */
};

static int siCursorLoad(DpSetIndex *p, SiCursor *c){
  int n, rc;
  rc = siBlockRead(p, c->pRun, c->iBlk, &n);
  if( rc ) return rc;
  if( n>c->nPairAlloc ){
    rc = dpGrow((void**)&c->aPair, &c->nPairAlloc, n, sizeof(SiPair));
    if( rc ) return rc;
  }
  memcpy(c->aPair, p->aBlockPair, sizeof(SiPair)*(size_t)n);
  c->nPair = n;
  c->iPair = 0;
  return SQLITE_OK;
}

/* *pHead = the current pair of c, or key UINT64_MAX once c is at its end
** (no key has more than 40 bits). */
static void siCursorHead(const SiCursor *c, SiPair *pHead){
  if( c->bEof ){
    pHead->key = UINT64_MAX;
    pHead->val = 0;
  }else{
    *pHead = c->aPair[c->iPair];
  }
}
static int siCursorNext(DpSetIndex *p, SiCursor *c){
  c->iPair++;
  while( c->iPair>=c->nPair ){
    if( c->iBlk+1>=c->pRun->nBlock ){ c->bEof = 1; return SQLITE_OK; }
    c->iBlk++;
    {
      int rc = siCursorLoad(p, c);
      if( rc ) return rc;
    }
  }
  return SQLITE_OK;
}

static int siCursorSeek(DpSetIndex *p, SiCursor *c, uint64_t key){
  int iBlk, rc = siRunBlockOf(p, c->pRun, key, &iBlk);
  if( rc ) return rc;
  c->iBlk = iBlk<0 ? 0 : iBlk;
  c->bEof = 0;
  rc = siCursorLoad(p, c);
  while( rc==SQLITE_OK && !c->bEof && c->aPair[c->iPair].key<key ){
    c->iPair++;
    if( c->iPair>=c->nPair ){ c->iPair--; rc = siCursorNext(p, c); }
  }
  return rc;
}

static int siLoadTombs(DpSetIndex *p, SiMap *pMap){
  sqlite3_stmt *pStmt;
  int rc = siStmt(p, SI_TOMB_ALL, &pStmt);
  if( rc ) return rc;
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    int iSlot = siMapInsert(pMap, sqlite3_column_int64(pStmt, 0), 0);
    if( iSlot<0 ){ rc = SQLITE_NOMEM; break; }
    pMap->aV1[iSlot] = sqlite3_column_int64(pStmt, 1);
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  return rc;
}

/* Is pair val of a run whose hi is iHi dead under the tombstones? */
static int siDead(const SiMap *pTomb, uint64_t val, sqlite3_int64 iHi){
  int iSlot;
  if( pTomb->nUsed==0 ) return 0;
  iSlot = siMapFind(pTomb, (sqlite3_int64)val>>1);
  return iSlot>=0 && iHi<pTomb->aV1[iSlot];
}

typedef struct SiRunRowInfo SiRunRowInfo;
struct SiRunRowInfo {
  sqlite3_int64 iId, iLo, iHi, nPair, iDest, iResume;
  int iLevel, nBlock, bResume;
};

static int siRunRows(DpSetIndex *p, SiRunRowInfo **paRow, int *pnRow){
  sqlite3_stmt *pStmt;
  SiRunRowInfo *a = 0;
  int n = 0, nAlloc = 0;
  int rc = siStmt(p, SI_RUN_LIST, &pStmt);
  *paRow = 0;
  *pnRow = 0;
  if( rc ) return rc;
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    SiRunRowInfo *r;
    if( sqlite3_column_int(pStmt, 1)<0 ) continue;   /* retired: no run */
    rc = dpGrow((void**)&a, &nAlloc, n+1, sizeof(SiRunRowInfo));
    if( rc ) break;
    r = &a[n++];
    r->iId = sqlite3_column_int64(pStmt, 0);
    r->iLevel = sqlite3_column_int(pStmt, 1);
    r->iLo = sqlite3_column_int64(pStmt, 2);
    r->iHi = sqlite3_column_int64(pStmt, 3);
    r->nPair = sqlite3_column_int64(pStmt, 4);
    r->nBlock = sqlite3_column_int(pStmt, 5);
    r->iDest = sqlite3_column_int64(pStmt, 6);
    r->bResume = sqlite3_column_type(pStmt, 7)!=SQLITE_NULL;
    r->iResume = sqlite3_column_int64(pStmt, 7);
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc ){ sqlite3_free(a); return rc; }
  *paRow = a;
  *pnRow = n;
  return SQLITE_OK;
}

static int siDeleteRange(DpSetIndex *p, int eStmt, sqlite3_int64 iRun){
  sqlite3_stmt *pStmt;
  int rc = siStmt(p, eStmt, &pStmt);
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iRun<<24);
  sqlite3_bind_int64(pStmt, 2, (iRun<<24) | 0xffffff);
  return siExec(p, pStmt);
}

/* One step of the merge writing run pOut: up to about *pnWork pairs. */
static int siMergeStep(DpSetIndex *p, SiRunRowInfo *pOut, SiRunRowInfo *aRow,
                       int nRow, sqlite3_int64 *pnWork){
  SiCursor *aCur = 0;
  SiPair *aHead = 0;          /* aHead[i]: the current pair of aCur[i] */
  int nCur = 0, i, rc = SQLITE_OK, bDone = 0;
  SiMap tomb;
  SiWriter w;
  sqlite3_int64 nRead = 0;
  uint64_t nextKey = 0;
  memset(&tomb, 0, sizeof(tomb));
  siWriterInit(&w, p, pOut->iId);
  aCur = dpMallocZero(sizeof(SiCursor)*(sqlite3_uint64)(nRow>0 ? nRow : 1));
  if( aCur==0 ) return SQLITE_NOMEM;
  for(i=0; rc==SQLITE_OK && i<nRow; i++){
    SiRun *pRun;
    if( aRow[i].iDest!=pOut->iId || aRow[i].bResume ) continue;
    pRun = siFindRun(p, aRow[i].iId, 0);
    if( pRun==0 ){ rc = siCorrupt(p, "the run list"); break; }
    aCur[nCur].pRun = pRun;
    rc = siCursorSeek(p, &aCur[nCur], (uint64_t)pOut->iResume);
    nCur++;
  }
  if( rc==SQLITE_OK && nCur==0 ) rc = siCorrupt(p, "the run list (merge without input)");
  if( rc==SQLITE_OK ) rc = siLoadTombs(p, &tomb);
  if( rc==SQLITE_OK ) rc = siWriterResume(&w, pOut->nBlock, pOut->nPair);
  /* each cursor's current pair, side by side (keys are 40 bits: a
  ** finished cursor's key is UINT64_MAX), so that finding the least one
  ** reads no cursor: that search was half of the merge's own time */
  if( rc==SQLITE_OK ){
    aHead = sqlite3_malloc64(sizeof(SiPair)*(sqlite3_uint64)nCur);
    if( aHead==0 ) rc = SQLITE_NOMEM;
    for(i=0; rc==SQLITE_OK && i<nCur; i++) siCursorHead(&aCur[i], &aHead[i]);
  }
  while( rc==SQLITE_OK ){
    int iMin = 0;
    SiPair pr;
    for(i=1; i<nCur; i++){
      if( aHead[i].key<aHead[iMin].key
       || (aHead[i].key==aHead[iMin].key && aHead[i].val<aHead[iMin].val) ){
        iMin = i;
      }
    }
    if( aHead[iMin].key==UINT64_MAX ){ bDone = 1; break; }
    pr = aHead[iMin];
    if( nRead>=*pnWork && w.nBuf>0 && pr.key!=w.aBuf[w.nBuf-1].key ){
      nextKey = pr.key;
      break;
    }
    if( !siDead(&tomb, pr.val, aCur[iMin].pRun->iHi) ){
      if( w.nBuf==0 || pr.key!=w.aBuf[w.nBuf-1].key || pr.val!=w.aBuf[w.nBuf-1].val ){
        rc = siWriterAdd(&w, pr.key, pr.val);
      }
    }
    nRead++;
    if( rc==SQLITE_OK ) rc = siCursorNext(p, &aCur[iMin]);
    if( rc==SQLITE_OK ) siCursorHead(&aCur[iMin], &aHead[iMin]);
  }
  if( rc==SQLITE_OK && bDone && w.nPair + w.nBuf==0 ){
    /* everything was dead: no output run */
    rc = siDeleteRange(p, SI_BLOCK_DELETE, pOut->iId);
    if( rc==SQLITE_OK ) rc = siDeleteRange(p, SI_FILTER_DELETE, pOut->iId);
    if( rc==SQLITE_OK ) rc = siDeleteRange(p, SI_FENCE_DELETE, pOut->iId);
    if( rc==SQLITE_OK ){
      /* its row stays, retired (level -1, nothing in it), so that run ids
      ** and flush numbers keep growing when no run is left: another
      ** connection's cached summary of an id must never be of another run */
      sqlite3_stmt *pStmt;
      rc = siRunRow(p, pOut->iId, -1, pOut->iLo, pOut->iHi, 0, 0, 0, -1);
      if( rc==SQLITE_OK ) rc = siStmt(p, SI_RUN_RETIRED_TRIM, &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int64(pStmt, 1, pOut->iId);
        rc = siExec(p, pStmt);
      }
    }
  }else{
    if( rc==SQLITE_OK ) rc = siWriterFinish(&w);
    if( rc==SQLITE_OK && bDone ) rc = siWriterSummary(&w);
    if( rc==SQLITE_OK ){
      rc = siRunRow(p, pOut->iId, pOut->iLevel, pOut->iLo, pOut->iHi, w.nPair,
                    w.nBlock, 0, bDone ? -1 : (sqlite3_int64)nextKey);
    }
  }
  /* finished: drop the inputs, show the output */
  for(i=0; rc==SQLITE_OK && bDone && i<nCur; i++){
    sqlite3_int64 iIn = aCur[i].pRun->iId;
    sqlite3_stmt *pStmt;
    int iPos;
    rc = siDeleteRange(p, SI_BLOCK_DELETE, iIn);
    if( rc==SQLITE_OK ) rc = siDeleteRange(p, SI_FILTER_DELETE, iIn);
    if( rc==SQLITE_OK ) rc = siDeleteRange(p, SI_FENCE_DELETE, iIn);
    if( rc==SQLITE_OK ) rc = siStmt(p, SI_RUN_DELETE, &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, iIn);
      rc = siExec(p, pStmt);
    }
    if( rc==SQLITE_OK && siFindRun(p, iIn, &iPos) ){
      siRunFree(p->apRun[iPos]);
      memmove(&p->apRun[iPos], &p->apRun[iPos+1],
              sizeof(SiRun*)*(size_t)(p->nRun - iPos - 1));
      p->nRun--;
    }
    aCur[i].pRun = 0;
  }
  if( rc==SQLITE_OK && bDone && w.nPair>0 ){
    SiRun *pRun = 0;
    rc = siRunLoad(p, pOut->iId, pOut->iLevel, pOut->iLo, pOut->iHi, w.nPair,
                   w.nBlock, &pRun);
    if( rc==SQLITE_OK ){
      rc = siRunInsert(p, pRun);
      if( rc ) siRunFree(pRun);
    }
  }
  if( rc==SQLITE_OK && bDone ){
    /* tombstones that kill nothing any more: seq <= every run's hi */
    sqlite3_int64 iMinHi = p->iNextSeq;
    sqlite3_stmt *pStmt;
    for(i=0; i<p->nRun; i++){
      if( p->apRun[i]->iHi<iMinHi ) iMinHi = p->apRun[i]->iHi;
    }
    rc = siStmt(p, SI_TOMB_TRIM, &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, iMinHi);
      rc = siExec(p, pStmt);
    }
  }
  for(i=0; i<nCur; i++) sqlite3_free(aCur[i].aPair);
  sqlite3_free(aCur);
  sqlite3_free(aHead);
  siMapFree(&tomb);
  siWriterFree(&w);
  *pnWork -= nRead;
  if( rc ) p->bStale = 1;
  return rc;
}

/* Start a merge into a new run *pOut of level iOutLevel: the nMax oldest
** finished runs not being merged, of level iLevel (any level if < 0). */
static int siStartMerge(DpSetIndex *p, SiRunRowInfo *aRow, int nRow,
                        int iLevel, int nMax, int iOutLevel,
                        SiRunRowInfo *pOut){
  int i, nTake = 0, rc;
  memset(pOut, 0, sizeof(*pOut));
  rc = siNewRunId(p, &pOut->iId);
  pOut->iLevel = iOutLevel;
  pOut->iLo = -1;
  for(i=0; rc==SQLITE_OK && i<nRow && nTake<nMax; i++){
    sqlite3_stmt *pStmt;
    if( (iLevel>=0 && aRow[i].iLevel!=iLevel) || aRow[i].bResume
     || aRow[i].iDest ){
      continue;
    }
    if( pOut->iLo<0 || aRow[i].iLo<pOut->iLo ) pOut->iLo = aRow[i].iLo;
    if( aRow[i].iHi>pOut->iHi ) pOut->iHi = aRow[i].iHi;
    aRow[i].iDest = pOut->iId;
    rc = siStmt(p, SI_RUN_DEST, &pStmt);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, aRow[i].iId);
      sqlite3_bind_int64(pStmt, 2, pOut->iId);
      rc = siExec(p, pStmt);
    }
    nTake++;
  }
  pOut->bResume = 1;
  pOut->iResume = 0;
  if( rc==SQLITE_OK ){
    rc = siRunRow(p, pOut->iId, pOut->iLevel, pOut->iLo, pOut->iHi, 0, 0, 0, 0);
  }
  return rc;
}

static int siOptimize(DpSetIndex *p){
  /* as at dpSetIndexSync: a run row written here is not the application's
  ** last insert */
  const sqlite3_int64 iLastRowid = sqlite3_last_insert_rowid(p->db);
  sqlite3_int64 nFlushed = 0, nWork = (sqlite3_int64)1<<62;
  int rc = siRefresh(p), bDone = 0;
  /* the open transaction's postings as a run */
  if( rc==SQLITE_OK ) rc = siFlush(p, &nFlushed);
  while( rc==SQLITE_OK && !bDone ){
    SiRunRowInfo *aRow = 0, out;
    int nRow = 0, i, nFinished = 0, iTop = 0, iJob = -1;
    sqlite3_int64 iMinHi = -1, iMaxTomb = 0;
    rc = siRunRows(p, &aRow, &nRow);
    for(i=0; rc==SQLITE_OK && i<nRow; i++){
      if( aRow[i].bResume ) iJob = i;
      if( !aRow[i].bResume && !aRow[i].iDest ){
        nFinished++;
        if( iMinHi<0 || aRow[i].iHi<iMinHi ) iMinHi = aRow[i].iHi;
      }
      if( aRow[i].iLevel>iTop ) iTop = aRow[i].iLevel;
    }
    if( rc==SQLITE_OK && nFinished==1 ){
      /* one run: rewritten only if tombstones still kill pairs in it */
      sqlite3_stmt *pStmt;
      rc = siStmt(p, SI_TOMB_MAX, &pStmt);
      if( rc==SQLITE_OK ){
        if( sqlite3_step(pStmt)==SQLITE_ROW ) iMaxTomb = sqlite3_column_int64(pStmt, 0);
        rc = sqlite3_reset(pStmt);
      }
    }
    if( rc==SQLITE_OK && iJob>=0 ){
      /* a merge in progress: finish it first (in one step), then look again */
      out = aRow[iJob];
      rc = siMergeStep(p, &out, aRow, nRow, &nWork);
    }else if( rc==SQLITE_OK ){
      if( nFinished>1 || (nFinished==1 && iMaxTomb>iMinHi) ){
        /* every finished run into one, in one step */
        rc = siStartMerge(p, aRow, nRow, -1, nFinished, iTop + 1, &out);
        if( rc==SQLITE_OK ) rc = siMergeStep(p, &out, aRow, nRow, &nWork);
      }
      bDone = 1;
    }
    sqlite3_free(aRow);
  }
  siBlobClose(p);
  if( rc ) p->bStale = 1;
  sqlite3_set_last_insert_rowid(p->db, iLastRowid);
  return rc;
}

int dpSetIndexOptimize(DpSetIndex *p){
  int rc, bWriting = p->bWriting;
  siErrReset(p);
  p->bWriting = 1;
  rc = siOptimize(p);
  p->bWriting = bWriting;
  return rc;
}

/* Rewrite the fence rows of one run written before 2026-12-01 (rows of
** DP_SET_FENCE_CHUNK_OLD blocks, no summary) in groups with a summary,
** the run of fewest blocks first; *pbDid says if one was.  Its fences are
** in memory (such runs are read whole), so this writes ~6 bytes a block
** and reads back only those rows (for the summary); its blocks and
** filters stay as they are.  A rollback makes this connection read the
** run again (dpSetIndexRollback): the file may hold its old rows again.
** A run that a merge under way reads is left: it goes when the merge
** ends. */
static int siConvertFences(DpSetIndex *p, int *pbDid){
  SiRunRowInfo *aRow = 0;
  SiRun *pRun = 0;
  SiWriter w;
  int nRow = 0, i, g, rc;
  *pbDid = 0;
  if( p->nFenceRowWrite!=DP_SET_FENCE_GROUP ) return SQLITE_OK;  /* tests */
  for(i=0; i<p->nRun && !p->apRun[i]->bOldFences; i++){}
  if( i==p->nRun ) return SQLITE_OK;
  rc = siRunRows(p, &aRow, &nRow);
  for(i=0; rc==SQLITE_OK && i<nRow; i++){
    SiRun *pIdle = aRow[i].iDest || aRow[i].bResume ? 0 : siFindRun(p, aRow[i].iId, 0);
    if( pIdle && pIdle->bOldFences && (pRun==0 || pIdle->nBlock<pRun->nBlock) ){
      pRun = pIdle;
    }
  }
  sqlite3_free(aRow);
  if( rc || pRun==0 ) return rc;
  rc = siDeleteRange(p, SI_FENCE_DELETE, pRun->iId);
  siWriterInit(&w, p, pRun->iId);
  w.nFenceRow = DP_SET_FENCE_GROUP;
  for(g=0; rc==SQLITE_OK && g*DP_SET_FENCE_GROUP<pRun->nBlock; g++){
    const int iBlk = g*DP_SET_FENCE_GROUP;
    w.nFence = pRun->nBlock - iBlk<DP_SET_FENCE_GROUP ? pRun->nBlock - iBlk
                                                       : DP_SET_FENCE_GROUP;
    w.aFenceKey = &pRun->aFence[iBlk];   /* the writer's row: the group */
    w.aFenceCnt = &pRun->aCount[iBlk];
    w.nBlock = iBlk + w.nFence;
    rc = siWriterFence(&w);
  }
  if( rc==SQLITE_OK ) rc = siWriterSummary(&w);
  w.aFenceKey = 0;               /* not the writer's to free */
  w.aFenceCnt = 0;
  siWriterFree(&w);
  if( rc==SQLITE_OK ){
    pRun->bOldFences = 0;
    pRun->iTag = p->nDepth;
    *pbDid = 1;
  }
  return rc;
}

/* Runs of level iLevel merged into one of the next.  Each level a pair
** climbs writes it once more, and the runs of the lowest levels are small
** (their filters sit in the CPU cache, a probe of them costs little), so
** those levels take DP_SET_FANIN_LOW runs: one level fewer below 64
** flushes.  The large runs, whose probes miss the cache and whose count a
** MATCH pays for in posting lists, keep DP_SET_FANIN.  At 100k stored
** (2026-12-01, AMD EPYC, whole builds alternating): 3,314-3,574 docs/s
** over the last 10 batches against 2,861-2,884 with fan-in 4 everywhere,
** 14 runs against 9, a new connection's first INSERT 14-15 against 11 ms,
** MATCH top-10 the same. */
static int siFanIn(int iLevel){
  return iLevel<DP_SET_LOW_LEVELS ? DP_SET_FANIN_LOW : DP_SET_FANIN;
}

static int siMerge(DpSetIndex *p, sqlite3_int64 nWork, int *pbIdle){
  int rc = siRefresh(p);
  if( pbIdle ) *pbIdle = 0;
  while( rc==SQLITE_OK && nWork>0 ){
    SiRunRowInfo *aRow = 0;
    int nRow = 0, i, iJob = -1, iLevel = -1, nAt;
    sqlite3_int64 nLeast = -1;
    rc = siRunRows(p, &aRow, &nRow);
    if( rc ) break;
    /* the job of least work (the pairs of its inputs; ties to the lower
    ** level, then to a merge under way): a merge under way into level
    ** L+1, or the siFanIn(L) oldest finished runs of a level L that has
    ** that many not being merged (those siStartMerge takes).  Least work
    ** first, not lowest level first: a merge of large runs (a few bulk
    ** loads' runs) takes ~20-100 syncs of DP_SET_MERGE_MIN, and while the
    ** lowest level waited for it, every one-document commit left a run
    ** that no merge took (35 runs instead of 16 on a copy of the 1M table,
    ** 21 one-document runs after 60 single inserts at 24k).  Small merges
    ** now finish first, and the large one gets the rest of each sync. */
    for(i=0; i<nRow; i++){
      int L, j;
      sqlite3_int64 nJob = 0;
      if( aRow[i].bResume ){             /* a merge under way */
        L = aRow[i].iLevel - 1;
        for(j=0; j<nRow; j++){
          if( aRow[j].iDest==aRow[i].iId && !aRow[j].bResume ) nJob += aRow[j].nPair;
        }
      }else{                             /* the first idle run of level L */
        L = aRow[i].iLevel;
        if( aRow[i].iDest ) continue;
        for(nAt=0, j=0; j<nRow; j++){
          if( aRow[j].iLevel!=L || aRow[j].bResume || aRow[j].iDest ) continue;
          if( j<i ) break;               /* not the level's first */
          if( nAt<siFanIn(L) ) nJob += aRow[j].nPair;
          nAt++;
        }
        if( j<i || nAt<siFanIn(L) ) continue;
      }
      if( nLeast<0 || nJob<nLeast || (nJob==nLeast && (L<iLevel
           || (L==iLevel && aRow[i].bResume && iJob<0))) ){
        nLeast = nJob;
        iLevel = L;
        iJob = aRow[i].bResume ? i : -1;
      }
    }
    if( iLevel<0 ){
      sqlite3_free(aRow);
      if( pbIdle ) *pbIdle = 1;
      break;
    }
    if( iJob<0 ){
      /* start a merge of the siFanIn(iLevel) oldest runs of level iLevel */
      SiRunRowInfo out;
      rc = siStartMerge(p, aRow, nRow, iLevel, siFanIn(iLevel), iLevel + 1,
                        &out);
      if( rc==SQLITE_OK ) rc = siMergeStep(p, &out, aRow, nRow, &nWork);
    }else{
      SiRunRowInfo out = aRow[iJob];
      rc = siMergeStep(p, &out, aRow, nRow, &nWork);
    }
    sqlite3_free(aRow);
  }
  if( rc==SQLITE_OK ){
    /* runs of old fence rows, one a call: a new connection reads every
    ** fence of such a run (~55 ms for 1.7M at 1M stored) */
    int bDid = 0;
    rc = siConvertFences(p, &bDid);
    if( bDid && pbIdle ) *pbIdle = 0;
  }
  siBlobClose(p);
  if( rc ) p->bStale = 1;
  return rc;
}

int dpSetIndexMerge(DpSetIndex *p, sqlite3_int64 nWork, int *pbIdle){
  int rc, bWriting = p->bWriting;
  siErrReset(p);
  p->bWriting = 1;
  rc = siMerge(p, nWork, pbIdle);
  p->bWriting = bWriting;
  return rc;
}

int dpSetIndexSync(DpSetIndex *p){
  /* called at xSync and xSavepoint, after the application's INSERT: its
  ** last_insert_rowid() must not become the id of a run written here */
  const sqlite3_int64 iLastRowid = sqlite3_last_insert_rowid(p->db);
  sqlite3_int64 nFlushed = 0;
  int rc;
  /* A statement of ours that needs a statement journal (a user's index
  ** on a shadow table gives it one) makes SQLite call xSavepoint again,
  ** from inside this flush: the pending postings are being written
  ** already, so that call has nothing to do (flushing them again
  ** recursed without end; a merge started there would run inside the
  ** merge or optimize that wrote) */
  if( p->bWriting ) return SQLITE_OK;
  siErrReset(p);
  p->bWriting = 1;
  rc = siRefresh(p);
  if( rc==SQLITE_OK ) rc = siFlush(p, &nFlushed);
  if( rc==SQLITE_OK && nFlushed>0 ){
    sqlite3_int64 nWork = nFlushed * DP_SET_MERGE_FACTOR;
    if( nWork<p->nMergeMin ) nWork = p->nMergeMin;
    rc = siMerge(p, nWork, 0);
  }
  p->bWriting = 0;
  sqlite3_set_last_insert_rowid(p->db, iLastRowid);
  return rc;
}

/* Savepoints.  SQLite calls xSavepoint(i) before it opens savepoint i (a
** user's, or a statement's): the pending postings are written outside it
** (so ROLLBACK TO drops exactly the pending ones), then i + 1 are open. */
int dpSetIndexSavepoint(DpSetIndex *p, int iSavepoint){
  int rc = dpSetIndexSync(p);
  p->nDepth = iSavepoint + 1;
  return rc;
}

/* Savepoint i and those inside it are released: what they cached belongs
** to the enclosing one now.  Runs a rollback marked to drop keep their
** tag: SQLite releases a failed statement's savepoint right after rolling
** it back, before the next call drops them (a run rewritten in place keeps
** its id and size, and would otherwise stay cached as rewritten). */
void dpSetIndexRelease(DpSetIndex *p, int iSavepoint){
  int i;
  for(i=0; i<p->nRun; i++){
    SiRun *pRun = p->apRun[i];
    if( pRun && pRun->iTag>iSavepoint && pRun->iTag<=p->iDropAbove ){
      pRun->iTag = iSavepoint;
    }
  }
  p->nDepth = iSavepoint;
}

/* The rollbacks.  SQLite calls them inside a statement of ours too: a
** nested statement that runs out of memory rolls the transaction (or its
** statement savepoint) back before its step returns (sqlite3VdbeHalt).
** So nothing a caller up the stack may hold is freed here: the pending
** postings are emptied (not freed) and the run list is only marked;
** siRefresh, at the start of every call, drops the runs that the rollback
** may have undone (siDropUndone). */
static void siRollbackAbove(DpSetIndex *p, int iAbove){
  siPendingClear(p);
  p->bStale = 1;
  if( iAbove<p->iDropAbove ) p->iDropAbove = iAbove;
}
void dpSetIndexRollbackTo(DpSetIndex *p, int iSavepoint){
  siRollbackAbove(p, iSavepoint);
  p->nDepth = iSavepoint + 1;
}
void dpSetIndexRollback(DpSetIndex *p){
  siRollbackAbove(p, -1);
  p->nDepth = 0;
}

void dpSetIndexCommit(DpSetIndex *p){
  int i;
  siDropUndone(p);    /* a statement rolled back since the last refresh */
  for(i=0; i<p->nRun; i++) p->apRun[i]->iTag = -1;
  p->nDepth = 0;
}

/**************************************************************************
** Searches.
*/

/* The smallest |A n B| with which the similarity (as a double) of a set
** of n hashes can reach tau: see "PROBES" in the manual.  At least 1. */
static sqlite3_int64 siMinOverlap(int eMeasure, double tau, int n){
  double v;
  sqlite3_int64 o;
  if( !(tau>0.0) ) return 1;
  if( tau>2.0 ) tau = 2.0;
  v = (eMeasure==DP_SET_COSINE ? tau*tau : tau) * (double)n * (1.0 - 1e-9);
  o = (sqlite3_int64)ceil(v);
  return o<1 ? 1 : o;
}

double dpSetSimilarity(int eMeasure, sqlite3_int64 nInter, sqlite3_int64 nA,
                       sqlite3_int64 nB){
  if( nInter<=0 ) return 0.0;
  if( eMeasure==DP_SET_COSINE ){
    return (double)nInter / sqrt((double)nA * (double)nB);
  }
  return (double)nInter / (double)(nA + nB - nInter);
}

/* Is hit a better than hit b (higher similarity, then lower id)? */
static int siBetter(const DpSetHit *a, const DpSetHit *b){
  return a->rSim>b->rSim || (a->rSim==b->rSim && a->iId<b->iId);
}
/* qsort order of hits: best first. */
static int siHitCmp(const void *a, const void *b){
  return siBetter(a, b) ? -1 : siBetter(b, a) ? 1 : 0;
}

/* The set of document iId, whose set row says n = m and holds column h
** (iCol of pStmt's row): decoded
** from h into p->aSetBuf (strictly increasing, m hashes: else damage), or
** with sets='body' made again from the body by xSetOf (h must be the
** set's check, and the set must have m hashes: a body changed behind the
** table's back is damage).  *paB is valid until the next call. */
static int siSetOf(DpSetIndex *p, sqlite3_int64 iId, sqlite3_int64 m,
                   sqlite3_stmt *pStmt, int iCol, const uint64_t **paB){
  int eType = sqlite3_column_type(pStmt, iCol);
  *paB = 0;
  if( m<0 || m>DP_SET_N_MAX ) return siCorrupt(p, "a set row");
  if( p->xSetOf ){
    int nB = 0, rc;
    char *zErr = 0;
    const unsigned char *aH = sqlite3_column_blob(pStmt, iCol);
    if( eType!=SQLITE_BLOB || sqlite3_column_bytes(pStmt, iCol)!=8 || aH==0 ){
      return siCorrupt(p, "a set row (its check of a set made from the body)");
    }
    rc = p->xSetOf(p->pSetOfCtx, iId, paB, &nB, &zErr);
    if( zErr ){
      siError(p, rc, "docpipe: %s", zErr);
      sqlite3_free(zErr);
    }else if( rc==SQLITE_OK && nB!=m ){
      rc = siError(p, SQLITE_CORRUPT_VTAB, "docpipe: the body of document"
                   " %lld of %s makes %d shingles, its set row says %lld",
                   iId, p->zName, nB, m);
    }else if( rc==SQLITE_OK && siSetCheck(*paB, m)!=siGet64(aH) ){
      rc = siError(p, SQLITE_CORRUPT_VTAB, "docpipe: the body of document"
                   " %lld of %s no longer makes the set its postings were"
                   " made from (changed in %s_docs? 'rebuild' indexes it"
                   " again)", iId, p->zName, p->zName);
    }
    return rc;
  }else{
    const unsigned char *aH = sqlite3_column_blob(pStmt, iCol);
    sqlite3_int64 j;
    int bBad = 0;
    if( (eType!=SQLITE_BLOB && !(eType==SQLITE_NULL && m==0))
     || (sqlite3_int64)sqlite3_column_bytes(pStmt, iCol)!=m*8
     || (aH==0 && m>0) ){
      return siCorrupt(p, "a set row");
    }
    if( m>0 && dpGrow((void**)&p->aSetBuf, &p->nSetBufAlloc, (int)m,
                      sizeof(uint64_t)) ){
      return SQLITE_NOMEM;
    }
    for(j=0; j<m; j++) p->aSetBuf[j] = siGet64(&aH[j*8]);
    /* strictly increasing, checked in a pass of its own without a branch
    ** per hash */
    for(j=1; j<m; j++) bBad |= p->aSetBuf[j]<=p->aSetBuf[j-1];
    if( bBad ) return siCorrupt(p, "a set row (order)");
    *paB = p->aSetBuf;
    return SQLITE_OK;
  }
}

/* Verify candidate iId: *pbHit and *pHit when it is a hit. */
static int siVerify(DpSetIndex *p, const uint64_t *aA, int n, int eMeasure,
                    double tau, int bKeptOnly, sqlite3_int64 iId,
                    DpSetHit *pHit, int *pbHit){
  sqlite3_stmt *pStmt;
  int rc = siStmt(p, SI_SET_GET, &pStmt);
  *pbHit = 0;
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    int bKept = sqlite3_column_int(pStmt, 0);
    sqlite3_int64 m = sqlite3_column_int64(pStmt, 1);
    if( m<0 || m>DP_SET_N_MAX ){
      rc = siCorrupt(p, "a set row");
    }else if( m>0 && (bKept || !bKeptOnly) ){
      double lo = (double)(m<n ? m : n), hi = (double)(m<n ? n : m);
      double ub = eMeasure==DP_SET_COSINE ? sqrt(lo/hi) : lo/hi;
      if( ub>=tau*(1.0 - 1e-9) ){
        const uint64_t *aB = 0;
        rc = siSetOf(p, iId, m, pStmt, 2, &aB);
        if( rc==SQLITE_OK ){
          sqlite3_int64 i = 0, j = 0, nInter = 0;
          /* merged without a branch per step: a branchy merge
          ** mispredicted about every other step (12 % of the time of
          ** verse-mix inserts, which read many sets) */
          while( i<n && j<m ){
            uint64_t a = aA[i], b = aB[j];
            nInter += (a==b);
            i += (a<=b);
            j += (b<=a);
          }
          if( nInter>0 ){
            pHit->iId = iId;
            pHit->nInter = nInter;
            pHit->nSize = m;
            pHit->rSim = dpSetSimilarity(eMeasure, nInter, n, m);
            *pbHit = 1;
          }
        }
      }
    }
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  return rc;
}

int dpSetIndexMatchRow(DpSetIndex *p, sqlite3_int64 iId, const uint64_t *aHash,
                       int nHash, int *pbSame, int *pbKept){
  sqlite3_stmt *pStmt;
  int rc, rc2;
  siErrReset(p);
  rc = siStmt(p, SI_SET_GET, &pStmt);
  *pbSame = 0;
  *pbKept = 0;
  if( rc ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  rc = sqlite3_step(pStmt);
  if( rc==SQLITE_ROW ){
    sqlite3_int64 m = sqlite3_column_int64(pStmt, 1);
    *pbKept = sqlite3_column_int(pStmt, 0);
    if( m<0 || m>DP_SET_N_MAX ){
      rc = siCorrupt(p, "a set row");
    }else if( p->xSetOf ){
      /* sets='body': the row's size and check, not the set made again
      ** (integrity-check has made it from the body already) */
      const unsigned char *aH = sqlite3_column_blob(pStmt, 2);
      if( sqlite3_column_type(pStmt, 2)!=SQLITE_BLOB
       || sqlite3_column_bytes(pStmt, 2)!=8 || aH==0 ){
        rc = siCorrupt(p, "a set row (its check of a set made from the body)");
      }else{
        *pbSame = m==nHash && siGet64(aH)==siSetCheck(aHash, m);
      }
    }else{
      const uint64_t *aB = 0;
      int rc3 = siSetOf(p, iId, m, pStmt, 2, &aB);
      if( rc3 ){
        rc = rc3;
      }else{
        *pbSame = m==nHash
               && (m==0 || memcmp(aB, aHash, sizeof(uint64_t)*(size_t)m)==0);
      }
    }
  }
  rc2 = sqlite3_reset(pStmt);
  if( rc==SQLITE_DONE && rc2!=SQLITE_OK ) rc = rc2;
  return rc;
}

int dpSetIndexCount(DpSetIndex *p, sqlite3_int64 *pnSet){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT count(*) FROM \"%w\".\"%w_sets\"",
                               p->zDb, p->zName);
  int rc = zSql ? sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0) : SQLITE_NOMEM;
  siErrReset(p);
  sqlite3_free(zSql);
  *pnSet = 0;
  if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    *pnSet = sqlite3_column_int64(pStmt, 0);
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
  if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ){
    siError(p, rc, "%s", sqlite3_errmsg(p->db));
  }
  return rc;
}

void dpSetAllFree(DpSetAll *pAll){
  sqlite3_free(pAll->aId);
  sqlite3_free(pAll->aOff);
  dpLargeFree(pAll->aHash, (sqlite3_uint64)pAll->nHashAlloc*8);
  memset(pAll, 0, sizeof(*pAll));
}

/* dpSetIndexLoadAll with a bulk source: every set of pAll (ids, offsets
** from the rows' n) made from the bodies at once (xSetsOf: in threads),
** then each checked against its row as siSetOf checks one: its size, its
** check (aCheck[i]). */
static int siSetsOfBodies(DpSetIndex *p, DpSetAll *pAll, const uint64_t *aCheck){
  sqlite3_int64 *anMade, i;
  char *zErr = 0;
  int rc;
  anMade = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_uint64)(pAll->n+1));
  if( anMade==0 ) return SQLITE_NOMEM;
  rc = p->xSetsOf(p->pSetOfCtx, pAll->n, pAll->aId, pAll->aOff, pAll->aHash,
                  anMade, &zErr);
  if( zErr ){
    siError(p, rc, "docpipe: %s", zErr);
    sqlite3_free(zErr);
  }
  for(i=0; rc==SQLITE_OK && i<pAll->n; i++){
    sqlite3_int64 m = pAll->aOff[i+1] - pAll->aOff[i];
    if( anMade[i]!=m ){
      rc = siError(p, SQLITE_CORRUPT_VTAB, "docpipe: the body of document"
                   " %lld of %s makes %lld shingles, its set row says %lld",
                   pAll->aId[i], p->zName, anMade[i], m);
    }else if( siSetCheck(&pAll->aHash[pAll->aOff[i]], m)!=aCheck[i] ){
      rc = siError(p, SQLITE_CORRUPT_VTAB, "docpipe: the body of document"
                   " %lld of %s no longer makes the set its postings were"
                   " made from (changed in %s_docs? 'rebuild' indexes it"
                   " again)", pAll->aId[i], p->zName, p->zName);
    }
  }
  sqlite3_free(anMade);
  return rc;
}

int dpSetIndexLoadAll(DpSetIndex *p, DpSetAll *pAll){
  sqlite3_stmt *pStmt = 0;
  int rc, rc2;
  sqlite3_int64 nSet = 0, nHash = 0;
  uint64_t *aCheck = 0;   /* bulk source: each row's check of its set */
  siErrReset(p);
  memset(pAll, 0, sizeof(*pAll));
  /* sized first: the arrays are allocated once, at their size (a million
  ** sets hold ~600M hashes; growing would hold old and new at once) */
  {
    char *zSql = sqlite3_mprintf("SELECT count(*), sum(max(n, 0))"
                                 " FROM \"%w\".\"%w_sets\"", p->zDb, p->zName);
    rc = zSql ? sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      nSet = sqlite3_column_int64(pStmt, 0);
      nHash = sqlite3_column_int64(pStmt, 1);
    }
    if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
    if( rc!=SQLITE_OK ){
      return rc==SQLITE_NOMEM ? rc : siError(p, rc, "%s", sqlite3_errmsg(p->db));
    }
  }
  if( nSet>0x7ffffffe || nHash<0 ) return siCorrupt(p, "a set row (size)");
  {
    /* The join holds at least every hash (8 bytes) and an estimate of it
    ** (1 byte), with more besides (setjoin.c, "Memory"), in arrays of
    ** more than 1 GB that come from malloc(), unseen by SQLite's hard
    ** heap limit (dpLargeMalloc): refused here past that limit, as
    ** SQLite's own allocations would be, before any is made. */
    const sqlite3_int64 nHard = sqlite3_hard_heap_limit64(-1);
    const sqlite3_int64 nNeed = nHash*9 + nSet*16;
    if( nHard>0 && sqlite3_memory_used() + nNeed>nHard ){
      return siError(p, SQLITE_ERROR, "the %lld stored shingles of %s need at"
                     " least %lld MB in memory, past SQLite's hard heap limit"
                     " (%lld MB)", nHash, p->zName,
                     (nNeed + (1<<20) - 1) >> 20, nHard >> 20);
    }
  }
  pAll->aId = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_uint64)(nSet+1));
  pAll->aOff = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_uint64)(nSet+1));
  pAll->aHash = dpLargeMalloc((sqlite3_uint64)(nHash+1)*8);
  dpHugePages(pAll->aHash, (sqlite3_uint64)(nHash+1)*8);
  if( pAll->aHash ) pAll->nHashAlloc = nHash+1;
  if( p->xSetsOf ){
    aCheck = sqlite3_malloc64(sizeof(uint64_t)*(sqlite3_uint64)(nSet+1));
  }
  if( !pAll->aId || !pAll->aOff || !pAll->aHash || (p->xSetsOf && !aCheck) ){
    dpSetAllFree(pAll);
    sqlite3_free(aCheck);
    return SQLITE_NOMEM;
  }
  nHash = 0;
  rc = siStmt(p, SI_SET_SCAN, &pStmt);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 m = sqlite3_column_int64(pStmt, 2);
    sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
    const uint64_t *aB = 0;
    if( m<0 || m>DP_SET_N_MAX || pAll->n>=nSet || nHash+m>=pAll->nHashAlloc ){
      rc = siCorrupt(p, "a set row");
      break;
    }
    if( pAll->n>0 && iId<=pAll->aId[pAll->n-1] ){
      rc = siCorrupt(p, "the set rows (id order)");
      break;
    }
    if( p->xSetsOf ){
      /* sets='body' in bulk: the row's check now, the sets below */
      const unsigned char *aH = sqlite3_column_blob(pStmt, 3);
      if( sqlite3_column_type(pStmt, 3)!=SQLITE_BLOB
       || sqlite3_column_bytes(pStmt, 3)!=8 || aH==0 ){
        rc = siCorrupt(p, "a set row (its check of a set made from the body)");
        break;
      }
      aCheck[pAll->n] = siGet64(aH);
    }else{
      rc = siSetOf(p, iId, m, pStmt, 3, &aB);
      if( rc ) break;
      if( m>0 ) memcpy(&pAll->aHash[nHash], aB, sizeof(uint64_t)*(size_t)m);
    }
    pAll->aId[pAll->n] = iId;
    pAll->aOff[pAll->n] = nHash;
    pAll->n++;
    nHash += m;
  }
  if( pStmt ){
    rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc==SQLITE_OK ) pAll->aOff[pAll->n] = nHash;
  if( rc==SQLITE_OK && p->xSetsOf ) rc = siSetsOfBodies(p, pAll, aCheck);
  sqlite3_free(aCheck);
  if( rc!=SQLITE_OK ){
    if( rc!=SQLITE_NOMEM && rc!=SQLITE_CORRUPT_VTAB && p->zErr==0 ){
      siError(p, rc, "%s", sqlite3_errmsg(p->db));
    }
    dpSetAllFree(pAll);
  }
  return rc;
}

static int siGrowScratch(DpSetIndex *p, int n){
  if( n<=p->nKeyAlloc ) return SQLITE_OK;
  sqlite3_free(p->aKey);
  sqlite3_free(p->aMult);
  sqlite3_free(p->aEst);
  sqlite3_free(p->aMaybe);
  sqlite3_free(p->aAsked);
  p->aKey = sqlite3_malloc64(sizeof(uint64_t)*(sqlite3_uint64)n);
  p->aMult = sqlite3_malloc64(sizeof(int)*(sqlite3_uint64)n);
  p->aEst = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_uint64)n);
  p->aMaybe = sqlite3_malloc64(sizeof(uint64_t)*(sqlite3_uint64)n);
  p->aAsked = sqlite3_malloc64(sizeof(uint64_t)*(sqlite3_uint64)n);
  if( !p->aKey || !p->aMult || !p->aEst || !p->aMaybe || !p->aAsked ){
    p->nKeyAlloc = 0;
    return SQLITE_NOMEM;
  }
  p->nKeyAlloc = n;
  return SQLITE_OK;
}

/* Estimated postings of each key of aKey[0..nKey) into aEst (nKey <=
** DP_SET_PROBE_BATCH): its pending pairs, plus for each run whose filter
** says maybe, the heavy count or 1; and into aMaybe which of the first
** p->nRunMaybe (64) runs said maybe (bit j: run j), so that the probe
** asks those filters no second time; aAsked: which runs answered;
** aInPend: whether the key has pending pairs.  Runs j < 64 of bit j in
** mOut are not asked (siNearest has ruled them out).
**
** bCold (a search of k = 1: an insert's decision, or a MATCH of one): a
** key already found maybe (in the pending pairs or an earlier run) is not
** asked of a run whose answer would cost a row read (the run's fence
** groups not all read yet, or the block's filter not cached); its
** estimate then counts the places found so far.  What ends an insert's
** search early is the keys absent from every run, which are asked
** everywhere as before, and most keys found maybe are never read: the
** probe ends on the bound after the rarest few, and asks the runs left
** out only for the keys it reads.  A connection whose fence groups and
** filters are all cached asks every run, as before.  Measured 2026-11-30
** (alternating with the build before): open + INSERT rolled back 14.6-16.3
** against 23.8-23.9 ms at 1.2M stored, 7.3-7.5 against 9.7-10.1 at 100k;
** a long load does the same work.  (Leaving out every run after a key's
** first maybe, cached or not, cut the estimate's filter probes by 24 %
** at 100k and 30-40 % at 1.1M, but the partial estimates ordered the
** probe worse: 24-63 % more posting lists read, no faster at 1.1M.)
**
** bList (k > 1 and omin(rMin) <= 1: a MATCH without a score bound,
** whose probe reads the list of every key in every run): a block whose
** filter is not cached is counted maybe without reading its filter row
** when the run has more than DP_SET_MATCH_FILTER_BLOCKS blocks, or no
** filter is cached any more (siCacheFull); the probe reads the block.
** Either read is a row.  For a key present in the run (the query's own
** document, the phrases it shares) the filter is a read more; for an
** absent one it saves the block's read, and every later one once cached.
** With c of a run's filters cached and a share p of the query's keys
** present in it, reading filters costs (1-c)(1+p) + cp reads a key
** against 1 - c + cp: it pays once the filters stay, which a run of
** more than ~100 MB of them (a query's ~500 keys land in ~500 of the
** 1.7M blocks of a 1M table's single run) is not meant to.  A smaller
** run's filters are read and cached as before: at 100k stored (a run of
** 110k blocks, half the pairs) reading its blocks instead made a new
** connection's MATCH 1.5 ms faster and one kept open 0.3 ms slower
** (3.8-4.6 against 3.6-4.0 ms, its filters no longer cached).
**
** Run by run, in stages over all the keys, so that the cache misses of
** different keys (directory, fence, filter word and heavy keys, heavy
** slot) overlap instead of following each other. */
#define SI_BLK_LEFT_OUT (-2)    /* aBlk: the run is not asked for this key */

/* Is run i ruled out in mOut (bit i; runs past 63 never are)? */
static inline int siRunOut(uint64_t mOut, int i){
  return i<64 && (mOut>>i & 1);
}
static int siEstimateBatch(DpSetIndex *p, const uint64_t *aKey, int nKey,
                           int bCold, int bList, uint64_t mOut,
                           sqlite3_int64 *aEst, uint64_t *aMaybe,
                           uint64_t *aAsked, unsigned char *aInPend){
  int aLo[DP_SET_PROBE_BATCH], aBlk[DP_SET_PROBE_BATCH];
  const SiHeavy *apH[DP_SET_PROBE_BATCH];   /* heavy keys to look in */
  int i, j, rc = SQLITE_OK;
  for(j=0; j<nKey; j++){
    SiSlot *pSlot = p->nPend ? siPendFind(p, aKey[j]) : 0;
    aEst[j] = pSlot ? pSlot->nCnt : 0;
    aInPend[j] = pSlot!=0;
    aMaybe[j] = 0;
    aAsked[j] = 0;
  }
  for(i=0; i<p->nRun; i++){
    SiRun *pRun = p->apRun[i];
    const int bListRun = bList && i<p->nRunMaybe
                      && (pRun->nBlock>p->nListBlocks || siCacheFull());
    if( siRunOut(mOut, i) ) continue;       /* ruled out (siNearest) */
    if( pRun->aDir==0 ){
      /* fence groups not all read: a key at a time, reading its group
      ** if need be (a new connection's first probes) */
      for(j=0; j<nKey; j++){
        if( bCold && aEst[j]>0 ){ aBlk[j] = SI_BLK_LEFT_OUT; continue; }
        rc = siRunBlockOf(p, pRun, aKey[j], &aBlk[j]);
        if( rc ) return rc;
      }
    }else{
      const int sh = 40 - pRun->nDirBits;
      const uint64_t dMax = ((uint64_t)1<<pRun->nDirBits) - 1;
      for(j=0; j<nKey; j++){
        uint64_t d = aKey[j]>>sh;
        __builtin_prefetch(&pRun->aDir[d>dMax ? dMax : d]);
      }
      for(j=0; j<nKey; j++){
        uint64_t d = aKey[j]>>sh;
        if( d>dMax ) d = dMax;
        aLo[j] = (int)pRun->aDir[d];
        aBlk[j] = (int)pRun->aDir[d+1];   /* hi for now */
        __builtin_prefetch(&pRun->aFence[aLo[j]]);
        /* the block is at or next to aLo: its loaded bit and chunk pointer
        ** (at 1M stored, arrays of 60 KB and 800 KB a run, whose misses
        ** were 40 % of the estimate's time before these prefetches) */
        __builtin_prefetch(&pRun->aLoaded[aLo[j]/64]);
        if( pRun->nChunkBlk ){     /* 0 until the run's first filter read */
          int iIn;
          __builtin_prefetch(&pRun->apChunk[siChunkOf(pRun, aLo[j], &iIn)]);
        }
      }
      for(j=0; j<nKey; j++){
        const int lo = siFenceAbove(pRun->aFence, aLo[j], aBlk[j], aKey[j]);
        aBlk[j] = lo - 1;
        if( lo>0 && siBlkCached(pRun, lo-1) ){
          int iWord, iIn;
          SiChunk *pChunk = pRun->apChunk[siChunkOf(pRun, lo-1, &iIn)];
          uint64_t m;
          siFilterPos(aKey[j], pRun->nWord, &iWord, &m);
          __builtin_prefetch(&pChunk->aWord[iIn*pRun->nWord + iWord]);
          __builtin_prefetch(&pChunk->aHeavy[iIn]);
        }else if( lo>0 && bCold && aEst[j]>0 ){
          aBlk[j] = SI_BLK_LEFT_OUT;      /* its filter is not cached */
        }
      }
    }
    for(j=0; j<nKey; j++){
      int bMaybe;
      const SiHeavy *pH;
      sqlite3_int64 nEst;
      apH[j] = 0;
      if( aBlk[j]==SI_BLK_LEFT_OUT ) continue;
      if( i<p->nRunMaybe ) aAsked[j] |= (uint64_t)1<<i;
      if( aBlk[j]<0 ) continue;           /* below the run's first key */
      if( bListRun && !siBlkCached(pRun, aBlk[j]) ){
        aMaybe[j] |= (uint64_t)1<<i;      /* the probe reads the block */
        aEst[j]++;
        continue;
      }
      p->nProbe++;
      rc = siBlkMaybe(p, pRun, aBlk[j], aKey[j], &bMaybe, &pH, &nEst);
      if( rc ) return rc;
      if( bMaybe ){
        if( i<p->nRunMaybe ) aMaybe[j] |= (uint64_t)1<<i;
        if( pH==0 ){         /* a filter not cached: counted already */
          aEst[j] += nEst;
        }else if( pH->aSlot ){     /* counted in the next stage */
          apH[j] = pH;
          __builtin_prefetch(&pH->aSlot[(uint32_t)aKey[j] & pH->mask]);
        }else{
          aEst[j]++;
        }
      }
    }
    for(j=0; j<nKey; j++){
      if( apH[j] ) aEst[j] += siHeavyCount(apH[j], aKey[j]);
    }
  }
  return rc;
}

typedef struct SiOrd SiOrd;
struct SiOrd { sqlite3_int64 nEst; int iKey; };
static int siOrdCmp(const void *a, const void *b){
  const SiOrd *x = a, *y = b;
  if( x->nEst!=y->nEst ) return (x->nEst>y->nEst) - (x->nEst<y->nEst);
  return (x->iKey>y->iKey) - (x->iKey<y->iKey);
}

/* Keep hit among the k best in aHit[0..*pnHit) (best first once k are
** held); *pTau becomes the k-th best similarity once k are held. */
static void siKeep(const DpSetHit *pHit, int k, DpSetHit *aHit, int *pnHit,
                   double *pTau){
  int i;
  if( *pnHit<k ){
    /* appended until k are held, then sorted once (a whole ranking, k =
    ** every document, is sorted only at the end: no quadratic insertion) */
    aHit[(*pnHit)++] = *pHit;
    if( *pnHit==k ){
      qsort(aHit, (size_t)k, sizeof(DpSetHit), siHitCmp);
      if( aHit[k-1].rSim>*pTau ) *pTau = aHit[k-1].rSim;
    }
    return;
  }
  if( !siBetter(pHit, &aHit[k-1]) ) return;
  i = k-1;
  while( i>0 && siBetter(pHit, &aHit[i-1]) ){ aHit[i] = aHit[i-1]; i--; }
  aHit[i] = *pHit;
  if( aHit[k-1].rSim>*pTau ) *pTau = aHit[k-1].rSim;
}

/* Is candidate id to be left out (not kept when only kept ones count, or
** in aSkip)? */
static int siSkipped(uint64_t val, int bKeptOnly, const sqlite3_int64 *aSkip,
                     int nSkip){
  sqlite3_int64 iId = (sqlite3_int64)val >> 1;   /* ids may be negative */
  int i;
  if( bKeptOnly && (val & 1)==0 ) return 1;
  for(i=0; i<nSkip; i++){ if( aSkip[i]==iId ) return 1; }
  return 0;
}

/* The count at which an insert's probe verifies a candidate, for a query
** of n features: 16, or an eighth of n up to 48 (see "Which candidates
** are read" in the manual). */
static int siEagerCount(int n){
  const int e = n/DP_SET_EAGER_SHARE;
  return e<DP_SET_EAGER_MIN ? DP_SET_EAGER_MIN
       : e>DP_SET_EAGER_MAX ? DP_SET_EAGER_MAX : e;
}

/* Tally candidate val (k = 1): nMult more features of the query whose key
** it has.  It is verified once that count reaches nEager, siEagerCount(n)
** of the search (a near-copy shares nearly every probed key, so it is
** read early and raises tau); below that it stays counted in aUnv[count]
** (candidates not verified, by count), whose highest non-empty slot tells
** the probe when none of them can still qualify. */
static int siTally(DpSetIndex *p, const uint64_t *aA, int n, int eMeasure,
                   double rMin, int bKeptOnly, const sqlite3_int64 *aSkip,
                   int nSkip, uint64_t val, int nMult, DpSetHit *aHit,
                   int *pnHit, double *pTau, int *aUnv, int nEager){
  sqlite3_int64 iId = (sqlite3_int64)val >> 1, nOld, nCnt;
  DpSetHit hit;
  int iSlot, bHit = 0, rc;
  if( siSkipped(val, bKeptOnly, aSkip, nSkip) ) return SQLITE_OK;
  iSlot = siMapInsert(&p->seen, iId, 0);
  if( iSlot<0 ) return SQLITE_NOMEM;
  if( p->seen.aV2[iSlot] ) return SQLITE_OK;        /* verified already */
  nOld = p->seen.aV1[iSlot];
  nCnt = (p->seen.aV1[iSlot] += nMult);
  if( nOld>0 ) aUnv[nOld]--;
  if( nCnt<nEager ){
    aUnv[nCnt]++;
    return SQLITE_OK;
  }
  p->seen.aV2[iSlot] = 1;
  p->nVerify++;
  rc = siVerify(p, aA, n, eMeasure, *pTau, bKeptOnly, iId, &hit, &bHit);
  if( rc || !bHit ) return rc;
  if( !(hit.rSim>=rMin) ) return SQLITE_OK;
  siKeep(&hit, 1, aHit, pnHit, pTau);
  return SQLITE_OK;
}

/* A candidate id as the key of aColl: ids may be negative, and flipping
** the sign bit orders them as unsigned numbers. */
#define SI_COLL_SIGN ((uint64_t)1<<63)

/* Slots of the candidate arrays kept from one search to the next: 4 MB
** each at most. */
#define SI_COLL_KEEP (1<<18)
static uint64_t siCollKey(sqlite3_int64 iId){
  return (uint64_t)iId ^ SI_COLL_SIGN;
}
static sqlite3_int64 siCollId(uint64_t key){
  return (sqlite3_int64)(key ^ SI_COLL_SIGN);
}

/* Sum aColl per candidate: sorted by candidate, one pair each after. */
static int siCollectSum(DpSetIndex *p){
  uint64_t lo, hi;
  int i, j, nBits = 0, rc;
  if( p->nColl<2 ) return SQLITE_OK;
  lo = hi = p->aColl[0].key;
  for(i=1; i<p->nColl; i++){
    if( p->aColl[i].key<lo ) lo = p->aColl[i].key;
    if( p->aColl[i].key>hi ) hi = p->aColl[i].key;
  }
  while( nBits<64 && (hi - lo)>>nBits ) nBits++;
  rc = siRadixSort(p->aColl, p->aCollTmp, p->nColl, lo, nBits);
  if( rc ) return rc;
  for(i=1, j=0; i<p->nColl; i++){
    if( p->aColl[i].key==p->aColl[j].key ){
      p->aColl[j].val += p->aColl[i].val;
    }else{
      p->aColl[++j] = p->aColl[i];
    }
  }
  p->nColl = j+1;
  return SQLITE_OK;
}

/* Collect candidate val (k > 1): nMult more features of the query whose
** key it has, unless skipped.  Appended, not counted in a map: a MATCH at
** 1M documents meets ~10^5 candidates, and a map's slot missed the cache
** at every posting; the pairs are summed (radix sorted) when aColl is full
** and at the end. */
static int siCollect(DpSetIndex *p, int bKeptOnly, const sqlite3_int64 *aSkip,
                     int nSkip, uint64_t val, int nMult){
  if( siSkipped(val, bKeptOnly, aSkip, nSkip) ) return SQLITE_OK;
  if( p->nColl==p->nCollAlloc ){
    int rc = siCollectSum(p);
    if( rc ) return rc;
    if( p->nColl*2>=p->nCollAlloc ){  /* half or less freed: grow */
      int nNew = p->nCollAlloc ? p->nCollAlloc*2 : 4096;
      SiPair *aNew;
      if( nNew>(1<<28) ) return SQLITE_NOMEM;
      aNew = sqlite3_realloc64(p->aColl, sizeof(SiPair)*(sqlite3_uint64)nNew);
      if( aNew==0 ) return SQLITE_NOMEM;
      p->aColl = aNew;
      sqlite3_free(p->aCollTmp);       /* scratch: nothing to keep */
      p->aCollTmp = sqlite3_malloc64(sizeof(SiPair)*(sqlite3_uint64)nNew);
      if( p->aCollTmp==0 ){            /* the search fails: keep nothing */
        siCollFree(p);
        return SQLITE_NOMEM;
      }
      p->nCollAlloc = nNew;
    }
  }
  p->aColl[p->nColl].key = siCollKey((sqlite3_int64)val >> 1);
  p->aColl[p->nColl].val = (uint64_t)nMult;
  p->nColl++;
  return SQLITE_OK;
}

/* The similarity bound of a candidate sharing at most nInter (i) of the
** query's n features, with m of its own (m = 0: not known, only m >= i).
** jaccard i/(n+m-i) <= i/n and cosine i/sqrt(nm) <= sqrt(i/n) when
** m >= i. */
static double siBound(int eMeasure, sqlite3_int64 nInter, sqlite3_int64 n,
                      sqlite3_int64 m){
  if( m>0 && nInter>m ) nInter = m;
  if( m<=0 ){
    return eMeasure==DP_SET_COSINE ? sqrt((double)nInter/(double)n)
                                   : (double)nInter/(double)n;
  }
  return dpSetSimilarity(eMeasure, nInter, n, m);
}

typedef struct SiCand SiCand;
struct SiCand { sqlite3_int64 iId; sqlite3_int64 nUb; };
static int siCandCmp(const void *a, const void *b){
  const SiCand *x = a, *y = b;
  if( x->nUb!=y->nUb ) return (x->nUb<y->nUb) - (x->nUb>y->nUb);
  return (x->iId>y->iId) - (x->iId<y->iId);
}

/* After the counting pass (every k > 1; k = 1 when the keys ran out before
** the bound ended the probe): each counted candidate not verified yet
** (aV2 = 0) shares at most its count plus nRest (the features not probed)
** with the query; a
** document never counted shares fewer than the smallest overlap that can
** reach rMin.  Candidates are taken by decreasing bound; one is read
** (its size, then its set) only while its bound can still reach rMin and
** beat the k-th hit held (with the margin of "PROBES" for doubles). */
static int siRankCands(DpSetIndex *p, const SiCand *aCand, int nCand,
                       const uint64_t *aA, int n, int eMeasure, int k,
                       double rMin, int bKeptOnly, DpSetHit *aHit,
                       int *pnHit, double *pTau){
  int i, rc = SQLITE_OK;
  const double rSlack = 1.0 + 1e-9;
  for(i=0; rc==SQLITE_OK && i<nCand; i++){
    double r = siBound(eMeasure, aCand[i].nUb, n, 0);
    sqlite3_int64 m = 0;
    int bRow = 0, bHit = 0;
    DpSetHit hit;
    /* sorted by bound: none after can qualify or beat the k-th either */
    if( r*rSlack<rMin ) break;
    if( *pnHit==k && r*rSlack<aHit[k-1].rSim ) break;
    /* its size (its kept flag is checked on its set row, read to verify) */
    rc = siSetSize(p, aCand[i].iId, &m, &bRow);
    if( rc ) break;
    if( bRow && (m<0 || m>DP_SET_N_MAX) ){ rc = siCorrupt(p, "a set row"); break; }
    if( !bRow ) continue;                           /* gone */
    /* m = 0: an empty set (its postings are another document's of the
    ** same id, dead) or an h emptied, which siVerify tells from n; the
    ** bound is then the one without a size */
    r = siBound(eMeasure, aCand[i].nUb, n, m);
    if( r*rSlack<rMin ) continue;
    if( *pnHit==k && r*rSlack<aHit[k-1].rSim ) continue;
    p->nVerify++;
    rc = siVerify(p, aA, n, eMeasure, rMin, bKeptOnly, aCand[i].iId, &hit,
                  &bHit);
    if( rc==SQLITE_OK && bHit && hit.rSim>=rMin ){
      siKeep(&hit, k, aHit, pnHit, pTau);
    }
  }
  return rc;
}

/* k = 1: the candidates counted in p->seen and not verified, ranked. */
static int siRankSeen(DpSetIndex *p, const uint64_t *aA, int n,
                      int eMeasure, double rMin, int bKeptOnly,
                      sqlite3_int64 nRest, DpSetHit *aHit, int *pnHit,
                      double *pTau){
  SiCand *aCand;
  int nCand = 0, i, rc;
  if( p->seen.nUsed==0 ) return SQLITE_OK;
  aCand = sqlite3_malloc64(sizeof(SiCand)*(sqlite3_uint64)p->seen.nUsed);
  if( aCand==0 ) return SQLITE_NOMEM;
  for(i=0; i<p->seen.nSlot; i++){
    if( p->seen.aUsed[i] && p->seen.aV2[i]==0 ){   /* not verified yet */
      sqlite3_int64 nUb = p->seen.aV1[i] + nRest;
      aCand[nCand].iId = p->seen.aKey[i];
      aCand[nCand].nUb = nUb<n ? nUb : n;
      nCand++;
    }
  }
  qsort(aCand, (size_t)nCand, sizeof(SiCand), siCandCmp);
  rc = siRankCands(p, aCand, nCand, aA, n, eMeasure, 1, rMin, bKeptOnly,
                   aHit, pnHit, pTau);
  sqlite3_free(aCand);
  return rc;
}

/* k > 1: the candidates collected in p->aColl, ranked.  Summed, they are
** in order of id; a counting sort by bound (at most n) keeps that order
** within a bound, the order siCandCmp gives, in time linear in their
** number (qsort of 10^5 candidates was a third of a MATCH at 1M). */
static int siRankColl(DpSetIndex *p, const uint64_t *aA, int n,
                      int eMeasure, int k, double rMin, int bKeptOnly,
                      sqlite3_int64 nRest, DpSetHit *aHit, int *pnHit,
                      double *pTau){
  SiCand *aCand;
  int *aPos;
  int i, rc;
  rc = siCollectSum(p);
  if( rc || p->nColl==0 ) return rc;
  if( p->nColl>p->nCandAlloc ){        /* as many as aColl can hold */
    sqlite3_free(p->aCand);
    p->aCand = sqlite3_malloc64(sizeof(SiCand)*(sqlite3_uint64)p->nCollAlloc);
    p->nCandAlloc = p->aCand ? p->nCollAlloc : 0;
    if( p->aCand==0 ) return SQLITE_NOMEM;
  }
  aCand = p->aCand;
  aPos = dpMallocZero(sizeof(int)*((sqlite3_uint64)n + 2));
  if( aPos==0 ) return SQLITE_NOMEM;
  /* aPos[n - nUb + 1]: candidates of bound nUb, then where each bound's
  ** first goes (highest bound first) */
  for(i=0; i<p->nColl; i++){
    sqlite3_int64 nUb = (sqlite3_int64)p->aColl[i].val + nRest;
    p->aColl[i].val = (uint64_t)(nUb<n ? nUb : n);
    aPos[n - p->aColl[i].val + 1]++;
  }
  for(i=0; i<=n; i++) aPos[i+1] += aPos[i];
  for(i=0; i<p->nColl; i++){
    SiCand *pCand = &aCand[aPos[n - p->aColl[i].val]++];
    pCand->iId = siCollId(p->aColl[i].key);
    pCand->nUb = (sqlite3_int64)p->aColl[i].val;
  }
  sqlite3_free(aPos);
  return siRankCands(p, aCand, p->nColl, aA, n, eMeasure, k, rMin,
                     bKeptOnly, aHit, pnHit, pTau);
}

static int siNearest(DpSetIndex *p, const uint64_t *aHash, int nHash,
                     int eMeasure, int k, double rMin, int bKeptOnly,
                     const sqlite3_int64 *aSkip, int nSkip,
                     DpSetHit *aHit, int *pnHit){
  int rc, nKey = 0, i, iPos, nCovered = 0, nAbsent = 0;
  uint64_t mOut = 0;            /* runs ruled out (bit r: run r < 64) */
  double tau = rMin;
  /* Candidates are counted (the query's features whose key each has) and
  ** only those whose count can still place them are read: at the end by
  ** decreasing bound (siRankSeen, siRankColl), and with k = 1 (an insert's
  ** decision) also as soon as one shares siEagerCount(nHash) keys, so that
  ** a near-copy raises tau and ends the probe early (siTally).
  ** k > 1 (MATCH): the k-th best is usually far below the best, so nearly
  ** every feature is probed and nothing is read before the end. */
  const int bCount = k>1;
  int aUnv[DP_SET_EAGER_MAX]; /* k = 1: candidates not verified, by count */
  const int nEager = siEagerCount(nHash);  /* k = 1: verified from it */
  int bBound = 0;               /* the probe ended on the bound */
  SiOrd *aOrd = 0;
  *pnHit = 0;
  memset(aUnv, 0, sizeof(aUnv));
  if( eMeasure!=DP_SET_JACCARD && eMeasure!=DP_SET_COSINE ){
    return siError(p, SQLITE_MISUSE, "docpipe: unknown set measure %d", eMeasure);
  }
  if( nHash<0 || nHash>DP_SET_N_MAX || !siIsSet(aHash, nHash) ){
    return siError(p, SQLITE_MISUSE,
                   "docpipe: a document's hashes must be sorted and distinct");
  }
  if( k<=0 || nHash==0 || rMin>1.0 ) return SQLITE_OK;
  rc = siRefresh(p);
  if( rc ) return rc;
  siCacheTrim(p);
  rc = siGrowScratch(p, nHash);
  if( rc ) return rc;
  siMapClear(&p->seen);
  p->nColl = 0;
  for(i=0; i<nHash; i++){
    uint64_t key = DP_SET_KEY(aHash[i]);
    if( nKey>0 && p->aKey[nKey-1]==key ){ p->aMult[nKey-1]++; continue; }
    p->aKey[nKey] = key;
    p->aMult[nKey] = 1;
    nKey++;
  }
  /* estimates, in key order; stop early when enough features are known
  ** absent that nothing can qualify: absent everywhere (nAbsent), or
  ** absent from each run and from the pending pairs separately (a
  ** document's pairs are all in one place, see "ONE RUN A DOCUMENT");
  ** a run ruled out is asked nothing more, in the estimate or the probe */
  {
    int aAbsRun[64];            /* features known absent from run r */
    int nAbsPend = 0;           /* ... from the pending pairs */
    const int bPerRun = p->nRun<=p->nRunMaybe;  /* every run's answers kept */
    /* k > 1 with no threshold to speak of (a MATCH without a score
    ** bound): a key known absent ends nothing unless every key is, so a
    ** large run's uncached filters are not read (siEstimateBatch) */
    const int bList = k>1 && siMinOverlap(eMeasure, rMin, nHash)<=1;
    unsigned char aInPend[DP_SET_PROBE_BATCH];
    memset(aAbsRun, 0, sizeof(aAbsRun));
    for(i=0; rc==SQLITE_OK && i<nKey; i+=DP_SET_PROBE_BATCH){
      int nBatch = nKey - i<DP_SET_PROBE_BATCH ? nKey - i : DP_SET_PROBE_BATCH, j;
      sqlite3_int64 nMin;
      rc = siEstimateBatch(p, &p->aKey[i], nBatch, k==1, bList, mOut,
                           &p->aEst[i], &p->aMaybe[i], &p->aAsked[i],
                           aInPend);
      for(j=0; rc==SQLITE_OK && j<nBatch; j++){
        const int nMult = p->aMult[i+j];
        if( p->aEst[i+j]==0 ) nAbsent += nMult;
        if( bPerRun ){
          uint64_t m = p->aAsked[i+j] & ~p->aMaybe[i+j];
          if( !aInPend[j] ) nAbsPend += nMult;
          while( m ){
            aAbsRun[__builtin_ctzll(m)] += nMult;
            m &= m - 1;
          }
        }
      }
      if( rc ) break;
      nMin = siMinOverlap(eMeasure, tau, nHash);
      if( nHash - nAbsent<nMin ) return SQLITE_OK;
      if( bPerRun ){
        int r, bAllOut = nHash - nAbsPend<nMin;
        for(r=0; r<p->nRun; r++){
          if( nHash - aAbsRun[r]<nMin ) mOut |= (uint64_t)1<<r;
          else bAllOut = 0;
        }
        if( bAllOut ) return SQLITE_OK;
      }
    }
  }
  if( rc ) return rc;
  aOrd = sqlite3_malloc64(sizeof(SiOrd)*(sqlite3_uint64)nKey);
  if( aOrd==0 ) return SQLITE_NOMEM;
  for(i=0; i<nKey; i++){ aOrd[i].nEst = p->aEst[i]; aOrd[i].iKey = i; }
  qsort(aOrd, (size_t)nKey, sizeof(SiOrd), siOrdCmp);
  for(iPos=0; rc==SQLITE_OK && iPos<nKey; iPos++){
    int iKey = aOrd[iPos].iKey, j;
    uint64_t key = p->aKey[iKey];
    sqlite3_int64 nRest = nHash - nCovered, nMin;
    nMin = siMinOverlap(eMeasure, tau, nHash);
    /* an unseen document shares at most nRest features, a counted one
    ** not verified at most its count more: stop when neither can reach
    ** tau (for k > 1 the counted ones are ranked afterwards) */
    if( nRest<nMin ){
      if( bCount ) break;
      int nMaxUnv = nEager - 1;        /* highest count not verified */
      while( nMaxUnv>0 && aUnv[nMaxUnv]==0 ) nMaxUnv--;
      if( nMaxUnv + nRest<nMin ){ bBound = 1; break; }
    }
    nCovered += p->aMult[iKey];
    if( aOrd[iPos].nEst==0 ) continue;
    /* pending pairs */
    if( p->nPend ){
      SiSlot *pSlot = siPendFind(p, key);
      for(j=pSlot ? pSlot->iHead : -1; rc==SQLITE_OK && j>=0; j=p->aPend[j].iNext){
        rc = bCount ? siCollect(p, bKeptOnly, aSkip, nSkip, p->aPend[j].val,
                                p->aMult[iKey])
             : siTally(p, aHash, nHash, eMeasure, rMin, bKeptOnly, aSkip,
                       nSkip, p->aPend[j].val, p->aMult[iKey], aHit, pnHit,
                       &tau, aUnv, nEager);
      }
    }
    /* runs */
    for(j=0; rc==SQLITE_OK && j<p->nRun; j++){
      SiRun *pRun = p->apRun[j];
      int iBlk, nPair, a, bMaybe;
      SiPair *aVal = 0;
      int nVal = 0;
      if( siRunOut(mOut, j) ) continue;         /* no document can qualify */
      if( j<p->nRunMaybe && (p->aAsked[iKey]>>j & 1) ){
        /* the estimate asked its filter */
        if( (p->aMaybe[iKey]>>j & 1)==0 ) continue;
        rc = siRunBlockOf(p, pRun, key, &iBlk);
        if( rc ) break;
      }else{
        rc = siRunProbe(p, pRun, key, &iBlk, &bMaybe);
        if( rc ) break;
        if( !bMaybe ) continue;
      }
      rc = siBlockFind(p, pRun, iBlk, key, &nPair);
      if( rc ) break;
      p->nListRead++;
      /* the pairs of key, copied: siTally may read other blocks later */
      if( nPair>0 ){
        nVal = nPair;
        aVal = sqlite3_malloc64(sizeof(SiPair)*(sqlite3_uint64)nVal);
        if( aVal==0 ){ rc = SQLITE_NOMEM; break; }
        memcpy(aVal, p->aBlockPair, sizeof(SiPair)*(size_t)nVal);
      }
      for(a=0; rc==SQLITE_OK && a<nVal; a++){
        rc = bCount ? siCollect(p, bKeptOnly, aSkip, nSkip, aVal[a].val,
                                p->aMult[iKey])
             : siTally(p, aHash, nHash, eMeasure, rMin, bKeptOnly, aSkip,
                       nSkip, aVal[a].val, p->aMult[iKey], aHit, pnHit,
                       &tau, aUnv, nEager);
      }
      sqlite3_free(aVal);
    }
  }
  sqlite3_free(aOrd);
  if( rc==SQLITE_OK && !bBound ){     /* on the bound none can qualify */
    rc = bCount ? siRankColl(p, aHash, nHash, eMeasure, k, rMin, bKeptOnly,
                             nHash - nCovered, aHit, pnHit, &tau)
                : siRankSeen(p, aHash, nHash, eMeasure, rMin, bKeptOnly,
                             nHash - nCovered, aHit, pnHit, &tau);
  }
  /* a whole-table ranking can leave a map of millions of slots, which
  ** every later search would clear, or millions of collected pairs: give
  ** them back.  Arrays of a MATCH's size are kept for the next one (one
  ** at 1M stored collects up to ~2.6*10^5 pairs, 4 MB in each array):
  ** freed, each was mapped and its pages zeroed again by the next, ~10 %
  ** of a MATCH on a connection kept open (perf, 2026-12-01).  Not past
  ** the soft heap limit: they count towards it, and filters are what it
  ** is for. */
  if( p->seen.nSlot>(1<<16) ) siMapFree(&p->seen);
  if( p->nCollAlloc>SI_COLL_KEEP || p->nCandAlloc>SI_COLL_KEEP
   || siCacheFull() ){
    siCollFree(p);
  }
  if( rc ){
    *pnHit = 0;
  }else if( *pnHit<k && *pnHit>1 ){
    qsort(aHit, (size_t)*pnHit, sizeof(DpSetHit), siHitCmp);
  }
  return rc;
}

int dpSetIndexNearest(DpSetIndex *p, const uint64_t *aHash, int nHash,
                      int eMeasure, int k, double rMin, int bKeptOnly,
                      const sqlite3_int64 *aSkip, int nSkip,
                      DpSetHit *aHit, int *pnHit){
  int rc;
  siErrReset(p);
  rc = siNearest(p, aHash, nHash, eMeasure, k, rMin, bKeptOnly, aSkip, nSkip,
                 aHit, pnHit);
  siBlobClose(p);     /* the read handles: none left open between calls */
  return rc;
}

int dpSetIndexBest(DpSetIndex *p, const uint64_t *aHash, int nHash,
                   int eMeasure, double rThreshold,
                   const sqlite3_int64 *aSkip, int nSkip,
                   DpSetHit *pHit, int *pbFound){
  int nHit = 0;
  int rc = dpSetIndexNearest(p, aHash, nHash, eMeasure, 1, rThreshold, 1,
                             aSkip, nSkip, pHit, &nHit);
  *pbFound = (rc==SQLITE_OK && nHit>0);
  return rc;
}

/**************************************************************************
** Integrity check.
*/
static uint64_t siMix(uint64_t key, uint64_t val){
  uint64_t x = (key ^ (val * 0xC2B2AE3D27D4EB4Full)) * 0x9E3779B97F4A7C15ull;
  return x ^ (x >> 29);
}

int dpSetIndexIntegrity(DpSetIndex *p){
  SiMap acc;             /* id -> (alive pairs, checksum) */
  SiMap home;            /* id -> the run of its alive pairs (searches
                         ** rely on one run a document: the manual) */
  SiMap tomb;
  SiRunRowInfo *aRow = 0;
  int nRow = 0, i, rc;
  sqlite3_stmt *pStmt;
  siErrReset(p);
  memset(&acc, 0, sizeof(acc));
  memset(&home, 0, sizeof(home));
  memset(&tomb, 0, sizeof(tomb));
  rc = siRefresh(p);
  if( rc==SQLITE_OK ){
    /* as in dpSetIndexSync: a nested xSavepoint must not flush again */
    sqlite3_int64 n;
    int bWriting = p->bWriting;
    p->bWriting = 1;
    rc = siFlush(p, &n);
    p->bWriting = bWriting;
  }
  if( rc==SQLITE_OK ) rc = siLoadTombs(p, &tomb);
  if( rc==SQLITE_OK ) rc = siRunRows(p, &aRow, &nRow);
  for(i=0; rc==SQLITE_OK && i<nRow; i++){
    SiRun *pRun = 0;
    int iBlk, nWord0 = 0;
    uint64_t lastKey = 0;
    if( aRow[i].bResume && aRow[i].nBlock==0 ) continue;
    if( !aRow[i].bResume && siFindRun(p, aRow[i].iId, 0)==0 ){
      rc = siCorrupt(p, "the run list");
      break;
    }
    /* read from the file, not the cached summary (a merge output in
    ** progress: only its blocks so far must read) */
    rc = siRunLoad(p, aRow[i].iId, aRow[i].iLevel, aRow[i].iLo, aRow[i].iHi,
                   aRow[i].nPair, aRow[i].nBlock, &pRun);
    if( rc ) break;
    if( !aRow[i].bResume && pRun->nGroup==0 && !pRun->bOldFences
     && pRun->nBlock>DP_SET_FENCE_GROUP ){
      /* rows in groups, finished, but no summary */
      rc = siCorrupt(p, "a fence row (run summary missing)");
    }
    if( rc==SQLITE_OK && pRun->nGroup>0 ){
      /* a row for each group and none past them (searches read no other) */
      rc = siStmt(p, SI_FENCE_COUNT, &pStmt);
      if( rc==SQLITE_OK ){
        sqlite3_bind_int64(pStmt, 1, pRun->iId<<24);
        sqlite3_bind_int64(pStmt, 2, (pRun->iId<<24) | (DP_SET_FENCE_SUMMARY - 1));
        if( sqlite3_step(pStmt)==SQLITE_ROW
         && sqlite3_column_int64(pStmt, 0)!=pRun->nGroup ){
          rc = SQLITE_CORRUPT_VTAB;
        }
        {
          int rc2 = sqlite3_reset(pStmt);
          if( rc==SQLITE_OK ) rc = rc2;
        }
        if( rc==SQLITE_CORRUPT_VTAB ) rc = siCorrupt(p, "a run's fence rows (count)");
      }
    }
    for(iBlk=0; rc==SQLITE_OK && iBlk<pRun->nBlock; iBlk++){
      int nPair, j, nKey = 0, nHeavy = 0;
      SiBlk *pBlk = 0;
      rc = siBlockRead(p, pRun, iBlk, &nPair);
      if( rc ) break;
      if( iBlk>0 && p->aBlockPair[0].key<=lastKey ){
        rc = siCorrupt(p, "a postings block (order)");
        break;
      }
      lastKey = p->aBlockPair[nPair-1].key;
      rc = siFilterRead(p, pRun, iBlk, &pBlk);
      if( rc ) break;
      if( iBlk==0 ) nWord0 = pBlk->nWord;
      if( pBlk->nWord!=nWord0 ){     /* one block size in a run */
        sqlite3_free(pBlk);
        rc = siCorrupt(p, "a filter row (size)");
        break;
      }
      for(j=0; j<nPair; j++){
        const SiPair *pr = &p->aBlockPair[j];
        if( j==0 || pr->key!=pr[-1].key ){
          int c = 1;
          nKey++;
          while( j+c<nPair && pr[c].key==pr->key ) c++;
          if( !siFilterTest(pBlk->aFilter, pBlk->nWord, pr->key) ){
            rc = siCorrupt(p, "a filter row (key missing)");
            break;
          }
          if( c>1 ){
            if( nHeavy>=pBlk->nHeavy || pBlk->aHeavyKey[nHeavy]!=pr->key
             || pBlk->aHeavyCnt[nHeavy]!=(uint32_t)c ){
              rc = siCorrupt(p, "a filter row (heavy keys)");
              break;
            }
            nHeavy++;
          }
        }
        if( !aRow[i].bResume && !siDead(&tomb, pr->val, pRun->iHi) ){
          int iSlot = siMapInsert(&acc, (sqlite3_int64)pr->val>>1, 0);
          if( iSlot<0 ){ rc = SQLITE_NOMEM; break; }
          acc.aV1[iSlot]++;
          acc.aV2[iSlot] = (sqlite3_int64)((uint64_t)acc.aV2[iSlot]
                                           + siMix(pr->key, pr->val & 1));
          {
            int bNew = 0;
            iSlot = siMapInsert(&home, (sqlite3_int64)pr->val>>1, &bNew);
            if( iSlot<0 ){ rc = SQLITE_NOMEM; break; }
            if( bNew ){
              home.aV1[iSlot] = pRun->iId;
            }else if( home.aV1[iSlot]!=pRun->iId ){
              rc = siError(p, SQLITE_CORRUPT_VTAB, "docpipe: postings of"
                           " document %lld of %s are in two runs",
                           (sqlite3_int64)(pr->val>>1), p->zName);
              break;
            }
          }
        }
      }
      if( rc==SQLITE_OK && (nKey!=pBlk->nKey || nHeavy!=pBlk->nHeavy) ){
        rc = siCorrupt(p, "a filter row (counts)");
      }
      sqlite3_free(pBlk);
    }
    siRunFree(pRun);
  }
  sqlite3_free(aRow);
  /* every set against its postings */
  if( rc==SQLITE_OK ) rc = siStmt(p, SI_SET_SCAN, &pStmt);
  if( rc==SQLITE_OK ){
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
      int bKept = sqlite3_column_int(pStmt, 1);
      sqlite3_int64 m = sqlite3_column_int64(pStmt, 2), j, nKey = 0;
      const uint64_t *aB = 0;
      int iSlot;
      uint64_t sum = 0, prevKey = 0;
      if( (bKept!=0 && bKept!=1)
       || (p->xSetOf==0 && sqlite3_column_type(pStmt, 3)==SQLITE_NULL) ){
        rc = siCorrupt(p, "a set row");
        break;
      }
      rc = siSetOf(p, iId, m, pStmt, 3, &aB);
      if( rc ) break;
      for(j=0; j<m; j++){
        if( j==0 || DP_SET_KEY(aB[j])!=prevKey ){
          nKey++;
          sum += siMix(DP_SET_KEY(aB[j]), (uint64_t)bKept);
        }
        prevKey = DP_SET_KEY(aB[j]);
      }
      /* an empty set has no live posting either (one whose h was emptied
      ** while its postings stayed is damage) */
      iSlot = siMapFind(&acc, iId);
      if( iSlot<0 ? nKey>0 : (acc.aV1[iSlot]!=nKey
                              || (uint64_t)acc.aV2[iSlot]!=sum) ){
        rc = siError(p, SQLITE_CORRUPT_VTAB,
                     "docpipe: postings of document %lld of %s do not match its set",
                     iId, p->zName);
        break;
      }
      if( iSlot>=0 ) acc.aV1[iSlot] = -1;
    }
    {
      int rc2 = sqlite3_reset(pStmt);
      if( rc==SQLITE_OK ) rc = rc2;
    }
  }
  if( rc==SQLITE_OK ){
    for(i=0; i<acc.nSlot; i++){
      if( acc.aUsed[i] && acc.aV1[i]>0 ){
        rc = siError(p, SQLITE_CORRUPT_VTAB,
                     "docpipe: postings of %s name document %lld, which has no set",
                     p->zName, acc.aKey[i]);
        break;
      }
    }
  }
  siBlobClose(p);
  siMapFree(&acc);
  siMapFree(&home);
  siMapFree(&tomb);
  return rc;
}

/**************************************************************************
** Statistics, for benchmarks and tests.
*/
void dpSetIndexInfo(DpSetIndex *p, DpSetIndexStat *pStat){
  int i, j, b;
  memset(pStat, 0, sizeof(*pStat));
  pStat->nRun = p->nRun;
  pStat->nPending = p->nPend;
  pStat->nFilterRead = p->nFilterRead;
  pStat->nListRead = p->nListRead;
  pStat->nVerify = p->nVerify;
  pStat->nProbe = p->nProbe;
  pStat->nMemBytes = (sqlite3_int64)p->nPendAlloc*sizeof(SiPend)
                   + (sqlite3_int64)p->nSlot*sizeof(SiSlot);
  for(i=0; i<p->nRun; i++){
    SiRun *pRun = p->apRun[i];
    pStat->nPair += pRun->nPair;
    pStat->nBlock += pRun->nBlock;
    pStat->nGroup += pRun->nGroup;
    pStat->nGroupRead += pRun->nGroupRead;
    pStat->nRunOldFences += pRun->bOldFences;
    pStat->nMemBytes += (sqlite3_int64)pRun->nBlock * (8 + 4)
                      + (sqlite3_int64)pRun->nChunk * 8
                      + ((sqlite3_int64)pRun->nBlock/64 + 1) * 8      /* aLoaded */
                      + (pRun->aDir ? (((sqlite3_int64)1<<pRun->nDirBits) + 1) * 4 : 0)
                      + (sqlite3_int64)pRun->nGroup * (8 + 8)         /* summary */
                      + (pRun->nGroup ? ((sqlite3_int64)pRun->nGroup/64 + 1) * 8
                           + (((sqlite3_int64)1<<pRun->nGroupDirBits) + 1) * 4 : 0);
    for(j=0; j<pRun->nChunk; j++){
      SiChunk *pChunk = pRun->apChunk[j];
      if( pChunk==0 ) continue;
      pStat->nMemBytes += sizeof(SiChunk);
      for(b=0; b<DP_SET_CHUNK_BLOCKS; b++){
        if( pChunk->mLoaded & ((uint64_t)1<<b) ) pStat->nBlockCached++;
        pStat->nMemBytes += (sqlite3_int64)(pChunk->aHeavy[b].aSlot ? pChunk->aHeavy[b].mask + 1 : 0)*8;
      }
    }
  }
}
