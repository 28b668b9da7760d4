/*
** docpipe.h — the one internal header of docpipe.
**
** Every dependency between the files in ext/ is declared here, one section
** per file ("Interface to code in X.c"), so the whole shape of the extension
** can be read in one place.  Nothing here is exported from docpipe.so: the
** build uses -fvisibility=hidden and only sqlite3_docpipe_init is public.
*/
#ifndef DOCPIPE_H
#define DOCPIPE_H

#include <sqlite3ext.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Every file that calls sqlite3_* goes through the routine table that the
** loader hands to sqlite3_docpipe_init (see docpipe.c). */
SQLITE_EXTENSION_INIT3

#define DOCPIPE_VERSION "0.1.0"

/* The entry point (docpipe.c), for programs that link docpipe statically
** and register it with sqlite3_auto_extension(). */
int sqlite3_docpipe_init(sqlite3 *db, char **pzErrMsg,
                         const sqlite3_api_routines *pApi);

#define DP_DIM_MIN      8
#define DP_DIM_MAX      8192
#define DP_DIM_DEFAULT  1024
#define DP_SHINGLE_MAX  16
#define DP_SHINGLE_DEFAULT 5
#define DP_THRESHOLD_DEFAULT 0.7
#define DP_STATS_KEEP_DEFAULT 10000

/**************************************************************************
** Interface to code in config.c — the key=value option syntax shared by
** embed(), tokenize() and CREATE VIRTUAL TABLE ... USING docpipe(...).
*/
typedef enum DpHashing { DP_HASH_SIGNED = 0, DP_HASH_SEED = 1 } DpHashing;
typedef enum DpOnDup {
  DP_ONDUP_KEEP = 0,      /* store the row and flag it */
  DP_ONDUP_IGNORE = 1,    /* skip the row, the statement goes on */
  DP_ONDUP_ABORT = 2      /* SQLITE_CONSTRAINT naming the earlier document */
} DpOnDup;

typedef struct DpOptions DpOptions;
struct DpOptions {
  int nDim;               /* buckets of the embedding, DP_DIM_MIN..DP_DIM_MAX */
  int nShingle;           /* tokens per feature: 1 = 'words', else 'shingle N' */
  DpHashing eHashing;     /* 'signed' (xxh3, default) or 'seed' (prototype) */
  double rThreshold;      /* cosine at or above which a document is a duplicate */
  DpOnDup eOnDup;         /* what INSERT does with a duplicate */
  int bStats;             /* keep per-statement records in %_stats */
  int nStatsKeep;         /* how many statements %_stats keeps */
};

/* Option groups: which keys a caller accepts. */
#define DP_OPT_EMBED  0x01   /* dim, tokenize, hashing */
#define DP_OPT_TABLE  0x02   /* threshold, on_duplicate */

void dpOptionsDefault(DpOptions *p);
/* Apply one "key=value" (or key='value') word. Returns SQLITE_OK, SQLITE_EMPTY
** when the word is not an option (no '=' and not a known key: the vtab reads
** it as a column declaration), or SQLITE_ERROR with *pzErr set (sqlite3_free). */
int dpOptionsApply(DpOptions *p, int mGroups, const char *zWord, char **pzErr);
/* Parse a whole comma- or space-separated option string, as given to embed(). */
int dpOptionsParse(DpOptions *p, int mGroups, const char *zList, char **pzErr);
/* Canonical "key=value" text of one option, for the _config table. */
char *dpOptionsTokenizeText(const DpOptions *p);   /* 'words' / 'shingle N' */
const char *dpOptionsHashingText(const DpOptions *p);
const char *dpOptionsOnDupText(const DpOptions *p);

/**************************************************************************
** Interface to code in tokenize.c — Unicode tokens of a text.
*/
typedef struct DpToken DpToken;
struct DpToken {
  int iOut;               /* first byte of the lowercased token in DpTokens.zOut */
  int nOut;               /* bytes of the lowercased token */
  int iStart;             /* first byte of the token in the input text */
  int iEnd;               /* one past its last byte in the input text */
};

typedef struct DpTokens DpTokens;
struct DpTokens {
  DpToken *aTok;          /* tokens in text order */
  int nTok;               /* number of tokens in aTok */
  int nTokAlloc;          /* allocated slots of aTok */
  char *zOut;             /* lowercased UTF-8 bytes of every token, concatenated */
  int nOut;               /* bytes used in zOut */
  int nOutAlloc;          /* bytes allocated for zOut */
  uint64_t *aHash;        /* per-token hash scratch for embed.c, nTokAlloc slots */
};

void dpTokensInit(DpTokens *p);
void dpTokensFree(DpTokens *p);
/* Split z[0..n) into lowercased letter runs. bSplitWide: each letter of a
** script written without spaces is a token of its own. SQLITE_OK or NOMEM. */
int dpTokenize(DpTokens *p, const unsigned char *z, int n, int bSplitWide);

/**************************************************************************
** Interface to code in embed.c — features, feature hashing, normalisation.
*/
/* Number of features (shingles) nTok tokens give with shingle size nShingle. */
int dpFeatureCount(int nTok, int nShingle);
/* Text of feature iFeat (tokens joined by one space), into a new string the
** caller frees with sqlite3_free; NULL on OOM. */
char *dpFeatureText(const DpTokens *pTok, int nShingle, int iFeat);
/* Fill pTok->aHash with per-token hashes (no-op for hashing='seed'). */
void dpHashTokens(const DpOptions *pOpt, DpTokens *pTok);
/* Bucket and sign (+1/-1) of feature iFeat; needs dpHashTokens() first. */
void dpFeatureBucket(const DpOptions *pOpt, const DpTokens *pTok, int iFeat,
                     int *piBucket, int *piSign);
/* Embed tokens into aOut[0..nDim) (L2-normalised; all zero when no token).
** Writes per-token hashes into pTok->aHash. */
void dpEmbedTokens(const DpOptions *pOpt, DpTokens *pTok, float *aOut);
/* Tokenize and embed in one call, reusing the tokens buffer. */
int dpEmbedText(const DpOptions *pOpt, DpTokens *pTok,
                const unsigned char *z, int n, float *aOut);

/**************************************************************************
** Interface to code in query.c — MATCH queries shorter than the shingle
** size, scored by the fraction of their word runs found in a document.
*/
typedef struct DpShortQuery DpShortQuery;
/* *pp = the query's runs when its tokens pTok (dpTokenize() with the
** table's mode) are fewer than the shingle size (and at least one), else
** NULL. */
int dpShortQueryNew(const DpOptions *pOpt, const DpTokens *pTok,
                    DpShortQuery **pp);
/* *prScore = fraction of the query's runs that occur in z[0..n), in [0, 1]. */
int dpShortQueryScore(DpShortQuery *p, DpTokens *pTok,
                      const unsigned char *z, int n, double *prScore);
void dpShortQueryFree(DpShortQuery *p);

/**************************************************************************
** Interface to code in simd.c — the kernel dispatch table.
*/
/* Query side of the sketch bound of index.c: the query's negative buckets
** and its non-zero buckets split into DP_LEVELS magnitude levels, with the
** largest q_i^2/|q|^2 of each level. */
#define DP_LEVELS 4
typedef struct DpQuerySketch DpQuerySketch;
struct DpQuerySketch {
  uint64_t *aNeg;           /* nWord words: q_i < 0 */
  uint64_t *aLevel;         /* DP_LEVELS * nWord words: buckets per level */
  double aHi[DP_LEVELS];    /* largest q_i^2/|q|^2 in each level */
};

typedef struct DpKernels DpKernels;
struct DpKernels {
  const char *zName;      /* "scalar", "avx2", "avx512" */
  /* dot product of two f32 vectors of n elements, any alignment */
  float (*xDot)(const float *a, const float *b, int n);
  /* dot, |a|^2 and |b|^2 in one pass (for cosine of unnormalised vectors) */
  void (*xDot3)(const float *a, const float *b, int n,
                float *pDot, float *pNormA, float *pNormB);
  /* dot and |a|^2, when |b| is already known (a constant query vector) */
  void (*xDot2)(const float *a, const float *b, int n,
                float *pDot, float *pNormA);
  /* sketch filter of index.c: positions of the entries whose bound may
  ** reach the threshold (simd_sketch.h) */
  int (*xSketchFilter)(const uint64_t *aSketch, const unsigned char *aFlag,
                       int nEntry, int nWord, unsigned char mFlag,
                       const DpQuerySketch *pQ, double rMin2, int *aOut);
  /* many-vs-many: C[i*nB + j] = dot(A row i, B row j), rows of n floats
  ** stored contiguously; the blocked kernel of dedup_index() */
  void (*xDotBlock)(const float *A, int nA, const float *B, int nB, int n,
                    float *C);
  /* dot of f32 q with int8 c (the count copy of index.c) */
  float (*xDotI8)(const float *q, const signed char *c, int n);
};

/* The row chosen at load (CPU features, or DOCPIPE_SIMD). Never NULL after
** dpSimdInit() succeeded. */
extern const DpKernels *dpKernels;
/* Choose the row. SQLITE_ERROR with *pzErr when DOCPIPE_SIMD names a path
** this CPU cannot run or that does not exist. */
int dpSimdInit(char **pzErr);
/* Every row this CPU can run, scalar first; for tests and benchmarks. */
int dpSimdAvailable(const DpKernels **aOut, int nMax);
/* Cosine of two vectors through the chosen kernel; returns 0 and sets
** *pbZero when either vector is all zeros. */
double dpCosine(const float *a, const float *b, int n, int *pbZero);

/* Rows built in simd_*.c (each compiled for its own ISA with target attributes). */
extern const DpKernels dpKernelsScalar;
#if defined(__x86_64__) || defined(__i386__)
extern const DpKernels dpKernelsAvx2;
extern const DpKernels dpKernelsAvx512;
/* the AVX2 int8 dot, shared with the AVX-512 row (every such CPU has AVX2) */
float dpAvx2DotI8(const float *q, const signed char *c, int n);
#endif

/**************************************************************************
** Interface to code in index.c — the in-memory search structure.
*/
#define DP_ENTRY_INDEXED 0x01   /* takes part in near-duplicate decisions */
#define DP_ENTRY_COUNTS  0x02   /* aCount/aScale hold the vector exactly */

typedef struct DpIndex DpIndex;
struct DpIndex {
  int nDim;               /* floats per vector */
  int nWord;              /* 64-bit words per half sketch */
  int nEntry;             /* entries in use */
  int nAlloc;             /* entries allocated */
  sqlite3_int64 *aId;     /* rowid of each entry */
  unsigned char *aFlag;   /* DP_ENTRY_* of each entry */
  float *aVec;            /* nEntry * nDim floats, as stored */
  uint64_t *aSketch;      /* per entry: nWord words non-zero, nWord words negative */
  signed char *aCount;    /* per entry nDim small integers c with v = c * m */
  float *aScale;          /* per entry m / |v|: cos(q, v) = (q/|q|).c * aScale */
};

typedef struct DpHit DpHit;
struct DpHit {
  sqlite3_int64 iId;      /* rowid */
  double rScore;          /* cosine with the query */
};

void dpIndexInit(DpIndex *p, int nDim);
void dpIndexClear(DpIndex *p);           /* drop entries, keep memory */
void dpIndexFree(DpIndex *p);
int dpIndexAdd(DpIndex *p, sqlite3_int64 iId, const float *aVec, int bIndexed);
int dpIndexFind(const DpIndex *p, sqlite3_int64 iId);   /* position or -1 */
int dpIndexRemove(DpIndex *p, sqlite3_int64 iId);       /* 1 if it was there */
/* The cosine used for every decision: exactly what cosine() returns. */
double dpScore(const float *a, const float *b, int n, int *pbZero);
/* Best indexed entry with score >= rThreshold (ties: lowest rowid).
** SQLITE_ROW with *piId and *prScore set, SQLITE_DONE when none, or an error. */
int dpIndexBest(DpIndex *p, const float *q, double rThreshold,
                sqlite3_int64 *piId, double *prScore);
/* The k best entries (all entries, indexed or not) with score >= rMin that
** xAccept (if not NULL) accepts, best first.  *paHit is sqlite3_malloc'd. */
int dpIndexNearest(DpIndex *p, const float *q, int k, double rMin,
                   int (*xAccept)(void*, sqlite3_int64), void *pAcceptCtx,
                   DpHit **paHit, int *pnHit);

/**************************************************************************
** Interface to code in setindex.c — the set kind's index: each document's
** exact set of 64-bit hashes (%_sets) and log-structured postings over
** them (%_pruns, %_pblocks, %_pfilter, %_pfence, %_ptomb), searched
** exactly for jaccard or cosine.  Calls the table makes, and when:
**   xCreate     dpSetIndexOpen(bCreate=1)   xConnect  dpSetIndexOpen(0)
**   xDisconnect dpSetIndexClose             xDestroy  Close, then Drop
**   xRename     dpSetIndexRename            xShadowName dpSetIndexShadowName
**   INSERT      dpSetIndexBest, then dpSetIndexAdd (kept = not a duplicate)
**   DELETE      dpSetIndexRemove;  UPDATE  Remove, Best (skip own id), Add
**   MATCH       dpSetIndexNearest
**   xSync, xSavepoint            dpSetIndexSync (writes pending postings;
**                                SQLite calls xSavepoint before it opens the
**                                savepoint, so these writes stay outside it)
**   xRollback, xRollbackTo, an error inside xUpdate  dpSetIndexRollback
**   'integrity-check'            dpSetIndexIntegrity
**   'merge' / 'optimize'         dpSetIndexMerge
** Errors: the return code, and dpSetIndexErrmsg() for the text.
** Every call is made inside a statement or transaction (the pager's
** data_version is current only then; outside one, the run list is re-read
** on every call).
*/
#define DP_SET_JACCARD 0
#define DP_SET_COSINE  1

typedef struct DpSetIndex DpSetIndex;
typedef struct DpSetHit DpSetHit;
struct DpSetHit {
  sqlite3_int64 iId;      /* document id */
  double rSim;            /* similarity, dpSetSimilarity() */
  sqlite3_int64 nInter;   /* |A n B| */
  sqlite3_int64 nSize;    /* |B| */
};
typedef struct DpSetIndexStat DpSetIndexStat;
struct DpSetIndexStat {
  int nRun;               /* finished runs */
  int nPending;           /* pairs not yet written */
  sqlite3_int64 nPair;    /* pairs in finished runs */
  sqlite3_int64 nBlock;   /* blocks in finished runs */
  sqlite3_int64 nBlockCached; /* blocks whose filter is in memory */
  sqlite3_int64 nMemBytes;    /* bytes of run summaries and filters */
  sqlite3_int64 nFilterRead;  /* since open: filter rows read */
  sqlite3_int64 nListRead;    /* since open: posting lists read */
  sqlite3_int64 nVerify;      /* since open: candidate sets read */
  sqlite3_int64 nProbe;       /* since open: (key, run) filter probes */
};

/* The reference similarity: inter/(nA+nB-inter) or inter/sqrt(nA*nB) in
** doubles; 0.0 when inter is 0.  The SQL reference function must compute
** exactly this. */
double dpSetSimilarity(int eMeasure, sqlite3_int64 nInter, sqlite3_int64 nA,
                       sqlite3_int64 nB);
/* Open the index of table zDb.zName (bCreate: create its shadow tables
** first).  *pp is freed with dpSetIndexClose; on error *pp is NULL and
** *pzErr may hold a message (sqlite3_free). */
int dpSetIndexOpen(sqlite3 *db, const char *zDb, const char *zName,
                   int bCreate, DpSetIndex **pp, char **pzErr);
void dpSetIndexClose(DpSetIndex *p);
/* Drop the shadow tables (the index need not be open). */
int dpSetIndexDrop(sqlite3 *db, const char *zDb, const char *zName,
                   char **pzErr);
int dpSetIndexRename(DpSetIndex *p, const char *zNew, char **pzErr);
/* 1 when zSuffix (after "name_") is one of this file's shadow tables. */
int dpSetIndexShadowName(const char *zSuffix);
/* Message of the last error, owned by p ("" if none). */
const char *dpSetIndexErrmsg(DpSetIndex *p);
/* Store document iId's set aHash[0..nHash) (sorted, distinct; an id not
** yet stored); bKept: it takes part in dpSetIndexBest.  */
int dpSetIndexAdd(DpSetIndex *p, sqlite3_int64 iId, const uint64_t *aHash,
                  int nHash, int bKept);
/* Forget document iId (*pbFound: it was there; may be NULL). */
int dpSetIndexRemove(DpSetIndex *p, sqlite3_int64 iId, int *pbFound);
/* The kept document of highest similarity >= rThreshold with the set
** aHash (ties: lowest id), ids in aSkip excluded: *pbFound and *pHit. */
int dpSetIndexBest(DpSetIndex *p, const uint64_t *aHash, int nHash,
                   int eMeasure, double rThreshold,
                   const sqlite3_int64 *aSkip, int nSkip,
                   DpSetHit *pHit, int *pbFound);
/* The k documents (kept ones only if bKeptOnly) of highest similarity
** >= rMin sharing at least one hash with aHash, best first (ties: lowest
** id), into aHit[0..k) (the caller's array); *pnHit of them. */
int dpSetIndexNearest(DpSetIndex *p, const uint64_t *aHash, int nHash,
                      int eMeasure, int k, double rMin, int bKeptOnly,
                      const sqlite3_int64 *aSkip, int nSkip,
                      DpSetHit *aHit, int *pnHit);
/* Write pending postings as a run, then merge a bounded amount. */
int dpSetIndexSync(DpSetIndex *p);
/* Drop pending postings and re-read the run list at next use. */
void dpSetIndexRollback(DpSetIndex *p);
/* Re-read the run list at next use (shared cache with read_uncommitted,
** where data_version does not tell of another connection's writes). */
void dpSetIndexInvalidate(DpSetIndex *p);
/* Merge up to about nWork pairs; *pbIdle (may be NULL): nothing left. */
int dpSetIndexMerge(DpSetIndex *p, sqlite3_int64 nWork, int *pbIdle);
/* Flush, then check every block, filter and fence and that the postings
** are exactly the sets' hashes: SQLITE_CORRUPT_VTAB with a message if not. */
int dpSetIndexIntegrity(DpSetIndex *p);
void dpSetIndexInfo(DpSetIndex *p, DpSetIndexStat *pStat);

/**************************************************************************
** Interface to code in vtab.c — the docpipe virtual table.
*/
typedef struct DpTable DpTable;
/* What the modules of one connection share: its open docpipe tables, so
** that dedup_index() can record its work in a table's statistics.  Owned
** by the connection (module client data), freed when the last module that
** holds it goes. */
typedef struct DpConn DpConn;
struct DpConn {
  DpTable *pTables;       /* open docpipe tables of this connection */
  int nRef;               /* modules holding this */
  /* statistics: has a statement ended since docpipe last returned? */
  sqlite3_int64 nChangeMark; /* sqlite3_total_changes64() then */
  int nSvpt;              /* statement savepoints begun or ended so far */
  int nSvptMark;          /* nSvpt then */
};
void dpConnRelease(void *pConn);
int dpRegisterVtab(sqlite3 *db, DpConn *pConn);
/* Record a dedup_index() run over docpipe table zDb.zTable (connected
** first if this connection has not used it yet) if it keeps statistics. */
void dpTableRecordDedup(sqlite3 *db, DpConn *pConn, const char *zDb,
                        const char *zTable, sqlite3_int64 nRows,
                        sqlite3_int64 nSearchNs, sqlite3_int64 nTotalNs,
                        sqlite3_int64 nCpuNs);
/* Margin above float rounding for prefilters that compare a fast score or
** bound with a threshold (index.c, dedup.c). */
double dpScoreSlack(int nDim);

/**************************************************************************
** Interface to code in stats.c — statement records, latency histograms.
*/
#define DP_STAGE_TOKENIZE 0
#define DP_STAGE_EMBED    1
#define DP_STAGE_SEARCH   2
#define DP_STAGE_STORE    3
#define DP_N_STAGE        4
extern const char *const dpStageName[DP_N_STAGE];

#define DP_KIND_INSERT 0
#define DP_KIND_UPDATE 1
#define DP_KIND_DELETE 2
#define DP_KIND_QUERY  3
#define DP_KIND_DEDUP  4

/* 64 log buckets per power of two from 64 ns; below 128 exact. */
#define DP_HIST_BUCKETS 2560
typedef struct DpHist DpHist;
struct DpHist {
  unsigned aCount[DP_HIST_BUCKETS]; /* values per bucket */
  sqlite3_uint64 nCount;  /* values */
  sqlite3_uint64 nSum;    /* their sum */
  sqlite3_uint64 nMax;    /* the largest */
};
int dpHistBucket(sqlite3_uint64 v);
sqlite3_uint64 dpHistValue(int iBucket);
void dpHistAdd(DpHist *h, sqlite3_uint64 v);
sqlite3_uint64 dpHistQuantile(const DpHist *h, double q);
/* DP_N_STAGE histograms to a compact blob (sqlite3_free) and back. */
int dpHistEncode(const DpHist *aHist, void **ppBlob, int *pnBlob);
int dpHistMergeBlob(DpHist *aHist, const void *pBlob, int nBlob);

/* One statement's work on one table. */
typedef struct DpStatRec DpStatRec;
struct DpStatRec {
  sqlite3_stmt *pStmt;    /* the statement (identity only) */
  int nVmStep;            /* its SQLITE_STMTSTATUS_VM_STEP when last seen */
  int nRun;               /* its SQLITE_STMTSTATUS_RUN when last seen */
  int eKind;              /* DP_KIND_*: the first write kind, else query/dedup */
  int nCursor;            /* open MATCH cursors of the table feeding it */
  char zStarted[32];      /* wall-clock start, UTC */
  char *zSql;             /* sqlite3_sql() of the statement */
  sqlite3_int64 nRows;    /* documents written or deleted */
  sqlite3_int64 nHits;    /* MATCH result rows (dedup: rows compared) */
  sqlite3_int64 aStageNs[DP_N_STAGE]; /* nanoseconds per stage */
  sqlite3_int64 nLoadNs;  /* nanoseconds loading the in-memory index */
  sqlite3_int64 nTotalNs; /* nanoseconds inside docpipe (wall clock) */
  sqlite3_int64 nCpuNs;   /* CPU nanoseconds of this thread inside docpipe */
  unsigned *aSample;      /* histogram bucket per document and stage (4 each,
                          ** DP_STAT_NOT_RUN for a stage it did not run),
                          ** while open: cheap for one-row statements */
  int nSample, nSampleAlloc; /* samples (documents) in aSample, allocated */
  unsigned aInline[4*DP_N_STAGE]; /* aSample's first storage */
  sqlite3_uint64 aSum[DP_N_STAGE], aMax[DP_N_STAGE]; /* exact per stage */
  void *pBlob;            /* the samples packed (dpHistEncode format), once closed */
  int nBlob;              /* bytes in pBlob */
  int iSeq;               /* order of opening, for ROLLBACK TO */
  int bFailed;            /* failed inside docpipe: never written */
  DpStatRec *pNext;       /* pending list */
};
#define DP_STAT_NOT_RUN 0xffffffffu
DpStatRec *dpStatOpen(sqlite3_stmt *pStmt, int eKind);
/* Is pStmt, seen now, still the execution r records?  Since r last saw
** it: bNoChanges, sqlite3_total_changes64() has not moved; bNoSvpt, no
** statement savepoint has begun or ended (see DpConn). */
int dpStatSame(DpStatRec *r, sqlite3_stmt *pStmt, int bNoChanges,
               int bNoSvpt);
/* One document (or query, or dedup run): nanoseconds per stage, a stage
** that did not run has 0 and gets no sample. */
void dpStatDocument(DpStatRec *r, const sqlite3_int64 *aStageNs);
int dpStatClose(DpStatRec *r);
void dpStatFree(DpStatRec *r);
sqlite3_stmt *dpStatCurrentStmt(sqlite3 *db, sqlite3_stmt *const *aOurs,
                                int nOurs, int bWrite, const char *zTable,
                                sqlite3_stmt *pPrefer);
/* Run pInsert (INSERT INTO %_stats(started, kind, rows, tokenize_ns,
** embed_ns, search_ns, store_ns, load_ns, total_ns, cpu_ns, sql)
** VALUES(?1..?11)), then pLatency (INSERT INTO %_latency(id, v)
** VALUES(?1, ?2)) with the new row's id. */
int dpStatWrite(sqlite3 *db, sqlite3_stmt *pInsert, sqlite3_stmt *pLatency,
                const DpStatRec *r);
/* CPU time of the calling thread, nanoseconds (0 when unknown). */
sqlite3_int64 dpCpuNs(void);
/* Bring a table of format version 1 (latency blobs in a column of %_stats)
** to version 2 (their own table %_latency). */
int dpStatMigrate(sqlite3 *db, const char *zDb, const char *zName,
                  char **pzErr);
/* The schema holding table zArg ("name" or "schema.name"), resolved as
** SQLite resolves a table name: temp, then main, then attached databases
** in the order attached.  *pzDb and *pzName are new strings (sqlite3_free);
** SQLITE_OK with *pzDb NULL when there is no such table. */
int dpResolveTable(sqlite3 *db, const char *zArg, char **pzDb, char **pzName);
int dpRegisterStats(sqlite3 *db);

/**************************************************************************
** Interface to code in dedup.c — dedup_index().
*/
int dpRegisterDedup(sqlite3 *db, DpConn *pConn);

/**************************************************************************
** Interface to code in funcs.c — cosine(), embed(), tokenize(), ...
*/
int dpRegisterFuncs(sqlite3 *db);
/* Read an f32 vector from a blob or a JSON array text into a new array
** (sqlite3_free). On error *pzErr names the problem without the function
** name; the caller prefixes it. *pnDim receives the element count. */
int dpVectorFromValue(sqlite3_value *pVal, float **paOut, int *pnDim,
                      char **pzErr);

/**************************************************************************
** Interface to code in util.c — small shared helpers.
*/
/* Set an error on a function context, prefixed "NAME(): ". */
void dpResultError(sqlite3_context *ctx, const char *zFunc,
                   const char *zFmt, ...);
/* Set a virtual table's error message: zPrefix, then the formatted text. */
void dpVtabErrorV(sqlite3_vtab *pVtab, const char *zPrefix,
                  const char *zFmt, va_list ap);
/* xBestIndex of a table-valued function whose arguments are the hidden
** columns iFirstArg.. (nArg <= 8): every usable = constraint on them
** becomes an argv entry in column order, idxNum bit i set for argument i;
** SQLITE_CONSTRAINT when one is not usable. */
int dpTvfBestIndex(sqlite3_index_info *pInfo, int iFirstArg, int nArg,
                   double rCost);
/* xDisconnect of a table-valued function whose vtab holds
** nothing to release but itself. */
int dpTvfDisconnect(sqlite3_vtab *pVtab);
/* sqlite3_malloc64() of n bytes, zeroed; NULL on OOM. */
void *dpMallocZero(sqlite3_uint64 n);
/* Grow *pa (element size szElem) to hold at least nNeed; SQLITE_NOMEM on
** failure, leaving *pa and *pnAlloc unchanged. */
int dpGrow(void **pa, int *pnAlloc, int nNeed, size_t szElem);
/* sqlite3_str_finish() that returns "" (not NULL) for an empty string;
** NULL only on OOM. */
char *dpStrFinish(sqlite3_str *p);
/* Monotonic clock in nanoseconds. */
sqlite3_int64 dpNowNs(void);

#endif /* DOCPIPE_H */
