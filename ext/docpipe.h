/*
** docpipe.h — the one internal header of docpipe.
**
** Every dependency between the files in ext/ is declared here, one section
** per file ("Interface to code in X.c"), so the whole shape of the extension
** can be read in one place.  Nothing here is exported from docpipe.so: the
** build uses -fvisibility=hidden and only sqlite3_docpipe_init is public.
**
** The modules and who calls whom (tools/arrows.py checks these arrows on
** every "make test"; util.c and config.c are leaves anyone may use):
**
**   docpipe.c  entry point        -> vtab, funcs, dedup, stats, simd, body
**   vtab.c     the virtual table: module methods, transactions, reads
**                                 -> pipeline, storage, index, embed,
**                                    query, stats, setindex
**   pipeline.c a table's writes and its index cache
**                                 -> storage, index, embed, stats,
**                                    simd (dpVectorScorable), setindex
**   dedup.c    dedup_index()      -> storage, stats, simd; over a set
**                                    table setindex (dpSetIndexLoadAll)
**                                    and setjoin
**   funcs.c    cosine(), embed(), tokenize(), shingle_set(),
**              set_similarity()   -> embed, tokenize, simd, setindex
**                                    (dpSetSimilarity)
**   storage.c  shadow tables %_config, %_docs, %_vectors; the open tables
**              of a connection    -> body
**   body.c     a body as %_docs stores it, docpipe_body()  -> (leaves only)
**   stats.c    %_stats, %_latency, docpipe_latency()  -> (leaves only)
**   index.c    in-memory vector index     -> simd
**   embed.c    text -> vector      -> tokenize
**   query.c    short MATCH queries -> tokenize
**   tokenize.c Unicode tokens      -> (leaves only)
**   setindex.c the set kind's index (measure='jaccard'|'cosine')
**                                 -> (leaves only)
**   setjoin.c  the all-pairs join of stored sets (dedup_index)
**                                 -> setindex (dpSetSimilarity)
**   simd.c, simd_avx2.c, simd_avx512.c  kernels: never call up
**
** A document's way through an INSERT, in pipeline.c: rowFeatures() (the
** dense kind: the caller's embedding, or dpEmbedText(): tokenize, embed;
** the set kind: dpSetText(): tokenize, hash shingles) -> decide() against
** the index (index.c, or setindex.c) -> storeDoc() into storage.c and the
** index.
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
#define DP_THRESHOLD_DEFAULT 0.65
/* measure='jaccard': half the union shared, the ground truth's definition
** of a near-duplicate in the quality benchmark (word 5-shingles, J >= 0.5);
** for sets of equal size that is set cosine 2/3, near the default 0.65 */
#define DP_THRESHOLD_JACCARD 0.5
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

typedef enum DpMeasure {
  DP_MEASURE_VECTOR = 0,  /* cosine of hashed vectors: the dense kind */
  DP_MEASURE_JACCARD = 1, /* exact Jaccard of shingle sets: the set kind */
  DP_MEASURE_COSINE = 2   /* exact cosine of shingle sets: the set kind */
} DpMeasure;

typedef struct DpOptions DpOptions;
struct DpOptions {
  int nDim;               /* buckets of the embedding, DP_DIM_MIN..DP_DIM_MAX */
  int nShingle;           /* tokens per feature: 1 = 'words', else 'shingle N' */
  DpHashing eHashing;     /* 'signed' (xxh3, default) or 'seed' (prototype) */
  double rThreshold;      /* cosine at or above which a document is a duplicate */
  DpOnDup eOnDup;         /* what INSERT does with a duplicate */
  int bStats;             /* keep per-statement records in %_stats */
  int nStatsKeep;         /* how many statements %_stats keeps */
  DpMeasure eMeasure;     /* the table's kind and measure */
  unsigned mSet;          /* keys applied so far (config.c): a second
                          ** "dim=..." is an error, not an override */
  int bCountRepeats;      /* 'signed' counting a repeated feature again: a
                          ** table made before features were a set (its
                          ** %_config says counting=repeats) */
  int bNormalize;         /* normalize='nfkc': tokens in Unicode NFKC with
                          ** case folding, marks kept in their word; 0
                          ** ('none'): the tokenizer before 2026-12, which
                          ** tables made then and hashing='seed' keep */
  int bSetsFromBody;      /* sets='body': the set kind stores no set, it
                          ** makes one again from the body when needed;
                          ** 0 ('stored', every table made before): each
                          ** set in %_sets */
  int bCompress;          /* compress='zstd': bodies stored as zstd frames
                          ** (body.c); 0 ('none', every table made before):
                          ** as they came */
};

/* Option groups: which keys a caller accepts. */
#define DP_OPT_EMBED  0x01   /* dim, tokenize, hashing */
#define DP_OPT_TABLE  0x02   /* threshold, on_duplicate */

void dpOptionsDefault(DpOptions *p);
/* Apply one "key=value" (or key='value') word; a key already applied to *p
** is an error ("option dim is given more than once"). Returns SQLITE_OK, SQLITE_EMPTY
** when the word is not an option (no '=' and not a known key: the vtab reads
** it as a column declaration), or SQLITE_ERROR with *pzErr set (sqlite3_free). */
int dpOptionsApply(DpOptions *p, int mGroups, const char *zWord, char **pzErr);
/* Parse a whole comma- or space-separated option string, as given to embed(). */
int dpOptionsParse(DpOptions *p, int mGroups, const char *zList, char **pzErr);
/* The tokenizer's flags for these options (dpTokenize): DP_TOK_SPLIT_WIDE
** in every mode but the prototype's hashing='seed', DP_TOK_NFKC with
** normalize='nfkc'. */
int dpTokenFlags(const DpOptions *p);
/* What a set made again from a body depends on beyond the options: tokenize.c's
** rules and the shingle hash (embed.c), whose version is
** DP_TOKENIZER_VERSION (raise it with any change to the tokens or hashes
** of a text under the same options), and the Unicode data and version
** of the utf8proc linked in.  A table with sets='body' stores it; under a build whose id
** differs, what makes or compares its sets waits for a 'rebuild'
** (dpStorageTokenizerCheck): its postings were made by the other.
** "docpipe 1, Unicode 15.0.0, utf8proc 2.8.0" into zBuf[nBuf]. */
#define DP_TOKENIZER_VERSION 1
#define DP_TOKENIZER_ID_MAX 64
void dpTokenizerId(char *zBuf, int nBuf);
/* A function's or a new table's options once parsed: the defaults that
** depend on other options (normalize). Not for a table read back from
** its %_config, which keeps what it was made with. */
void dpOptionsFinish(DpOptions *p);
/* Canonical "key=value" text of one option, for the _config table. */
char *dpOptionsTokenizeText(const DpOptions *p);   /* 'words' / 'shingle N' */
const char *dpOptionsHashingText(const DpOptions *p);
const char *dpOptionsOnDupText(const DpOptions *p);
const char *dpOptionsMeasureText(const DpOptions *p);
/* Defaults that depend on other options, once all are applied (CREATE):
** the kind (measure 'jaccard' unless dim or hashing is given: then
** 'vector') and the threshold of measure='jaccard'. */
void dpOptionsTableDefaults(DpOptions *p);
/* 1 for the set kind (measure 'jaccard' or 'cosine'). */
int dpOptionsIsSet(const DpOptions *p);
/* 1 when option zKey was given (applied) to *p. */
int dpOptionsGiven(const DpOptions *p, const char *zKey);

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
  uint64_t *aSet;         /* embed.c's set of the features seen, nSet slots */
  int nSet;               /* slots of aSet in use: a power of two >= 2*features */
  int nSetAlloc;          /* slots allocated for aSet */
  int32_t *aNorm;         /* code points of a token being normalized */
  int nNormAlloc;         /* slots allocated for aNorm */
  int32_t aFoldKey[256];  /* normalize='nfkc': letters last looked up (by
                          ** their low byte; 0: none) */
  int32_t aFoldVal[256];  /* ... and what they fold to, -1 if their token
                          ** must be normalized whole */
};

void dpTokensInit(DpTokens *p);
void dpTokensFree(DpTokens *p);
/* Split z[0..n) into lowercased letter runs.  Flags: DP_TOK_SPLIT_WIDE,
** each letter of a script written without spaces is a token of its own;
** DP_TOK_NFKC, each token in NFKC with full case folding, a word's marks
** (and default-ignorable format characters) kept in it.  Also sizes the
** scratch embed.c needs for these tokens (aHash; aSet with
** DP_TOK_SPLIT_WIDE, which callers pass for hashing='signed'), so that
** embedding cannot fail.  SQLITE_OK or NOMEM. */
#define DP_TOK_SPLIT_WIDE 0x01
#define DP_TOK_NFKC       0x02
int dpTokenize(DpTokens *p, const unsigned char *z, int n, int mFlags);
/* Size aSet (nSet) for nFeat distinct features. SQLITE_OK or NOMEM. */
int dpTokensReserveSet(DpTokens *p, int nFeat);

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
** hashing='signed' counts each distinct feature once, 'seed' every
** occurrence.  Writes per-token hashes into pTok->aHash and uses
** pTok->aSet.  Cannot fail after dpTokenize() with DP_TOK_SPLIT_WIDE for 'signed'
** (it sized the scratch); otherwise SQLITE_NOMEM when aSet cannot grow. */
int dpEmbedTokens(const DpOptions *pOpt, DpTokens *pTok, float *aOut);
/* The one way from text to vector: tokenize (dpTokenFlags) and embed in one
** call, reusing the tokens buffer (the tokens stay there).  aStageNs, when
** not NULL, gets the nanoseconds of each stage added at DP_STAGE_TOKENIZE
** and DP_STAGE_EMBED (at least 1 each). */
int dpEmbedText(const DpOptions *pOpt, DpTokens *pTok,
                const unsigned char *z, int n, float *aOut,
                sqlite3_int64 *aStageNs);
/* The set kind: the distinct feature hashes of tokens pTok (after
** dpTokenize(), hashing='signed'), sorted ascending, into *paHash (grown
** with dpGrow: *pnAlloc slots); *pnHash of them (0 for no token).
** SQLITE_OK or NOMEM. */
int dpSetTokens(const DpOptions *pOpt, DpTokens *pTok, uint64_t **paHash,
                int *pnAlloc, int *pnHash);
/* Tokenize and dpSetTokens() in one call, timed as dpEmbedText() is. */
int dpSetText(const DpOptions *pOpt, DpTokens *pTok,
              const unsigned char *z, int n, uint64_t **paHash, int *pnAlloc,
              int *pnHash, sqlite3_int64 *aStageNs);
/* The scratch a caller of dpEmbedText() keeps between calls. */
void dpEmbedScratchInit(DpTokens *pTok);
void dpEmbedScratchFree(DpTokens *pTok);

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

/*
** Scoring.  dpCosine() is the one cosine of docpipe: cosine() in SQL, the
** table's decisions and MATCH ranking (index.c) and dedup_index() all call
** it, or dpCosineNorm(), the same computation with |b|^2 summed once for a
** query scored against many vectors.  Dot and both squared norms come from
** one pass of the chosen kernel, in float (xDot2 and xDot3 of a row sum in
** the same order), then r = d / sqrt(na*nb) in double, clamped to [-1, 1].
** So one pair of float32 vectors gets one double on a given kernel path,
** whichever way it is asked for.
**
** A vector can be scored when every element is finite and its L2 norm is 0
** or lies in [DP_NORM_MIN, DP_NORM_MAX], the norm computed in double so
** that the rule is the same on every kernel path.  Inside those bounds the
** float sums can neither overflow (elements of 1e20 square to Inf) nor lose
** their precision to underflow (elements of 1e-30 square to 0).  Vectors
** outside them are refused: cosine() raises an error, the table refuses
** them at INSERT, and dpCosine() never scores them.
*/
#define DP_NORM_MIN 1e-15
#define DP_NORM_MAX 1e15

/* What dpCosine() and dpCosineNorm() report in *peNone. */
#define DP_SCORE_OK     0   /* scored: the result is the cosine */
#define DP_SCORE_ZERO   1   /* a vector is all zeros: no angle (result 0) */
#define DP_SCORE_BAD_A  2   /* a cannot be scored (dpVectorScorable) */
#define DP_SCORE_BAD_B  3   /* b cannot be scored */

/* Cosine of a and b (n floats each, any alignment); *peNone says whether
** it is one (DP_SCORE_OK) or why not.  Symmetric: dpCosine(b, a) is the
** same double. */
double dpCosine(const float *a, const float *b, int n, int *peNone);
/* Margin above the float rounding of dpCosine, for prefilters that compare
** a fast score or bound with a threshold (index.c, dedup.c). */
double dpScoreSlack(int nDim);
/* |a|^2 as the chosen kernel sums it, for dpCosineNorm(). */
float dpNormSq(const float *a, int n);
/* dpCosine(a, b, n, peNone), bit for bit, given nb = dpNormSq(b, n). */
double dpCosineNorm(const float *a, const float *b, int n, float nb,
                    int *peNone);
/* 1 when a[0..n) can be scored by the rule above (all-zero vectors can:
** they just have no angle), 0 when not.  When pzWhy is not NULL it
** receives why not, a static phrase for a message such as "embedding
** cannot be scored: %s": "it has a non-finite value (NaN or Inf)", "its L2
** norm is above 1e15" or "its L2 norm is below 1e-15 (and not 0)"; NULL
** when the vector can be scored.  The docpipe table calls this on every
** caller-supplied embedding and refuses the row when it returns 0. */
int dpVectorScorable(const float *a, int n, const char **pzWhy);

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
/* Scores are dpCosine()'s, exactly what cosine() returns.  A query that
** cannot be scored (dpVectorScorable) matches nothing. */
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
**   'merge'                      dpSetIndexMerge
**   'optimize'                   dpSetIndexOptimize
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
  sqlite3_int64 nGroup;       /* fence groups of runs read a group at a
                              ** time (runs with a group summary) */
  sqlite3_int64 nGroupRead;   /* ... of them read */
  int nRunOldFences;          /* runs of old fence rows (read whole) */
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
/* sets='body': the table stores no set; xSetOf(pCtx, id, &aHash, &nHash)
** makes document id's set again from its body (sorted, distinct; valid
** until its next call) when one is needed: a candidate verified, every set
** for dedup_index and integrity-check.  Set once, before any other call;
** set rows then hold in h a check of the set, not the set.  It returns
** SQLITE_OK, or an error code and
** may set *pzErr to a message (sqlite3_malloc; damage: SQLITE_CORRUPT_VTAB),
** which becomes this index's (dpSetIndexErrmsg). */
void dpSetIndexSetSource(DpSetIndex *p,
                         int (*xSetOf)(void*, sqlite3_int64, const uint64_t**,
                                       int*, char**),
                         void *pCtx);
/* The same source in bulk, for dpSetIndexLoadAll (dedup_index): xSetsOf
** (pCtx, nDoc, aId, aOff, aHash, anMade, &zErr) makes the set of each
** document aId[i] (ids ascending) into aHash[aOff[i] .. aOff[i+1]) (its
** hashes beyond that room are not written) and its count into anMade[i];
** errors as xSetOf's.  Without it, xSetOf is asked for each. */
void dpSetIndexSetBulkSource(DpSetIndex *p,
                             int (*xSetsOf)(void*, int, const sqlite3_int64*,
                                            const sqlite3_int64*, uint64_t*,
                                            sqlite3_int64*, char**));
/* bOld: runs written from now on have blocks as builds before 2026-12
** wrote them (512 pairs, no restart points, 64 filter words);
** test/setindex.c makes such a table with it. */
void dpSetIndexSetOldBlocks(DpSetIndex *p, int bOld);
/* bOld: runs written from now on have fence rows as builds before
** 2026-12-01 wrote them (4,096 blocks a row, no group summary, all read
** when the run is first used); test/setindex.c makes such a table. */
void dpSetIndexSetOldFences(DpSetIndex *p, int bOld);
/* The least merge work of a sync (default 65,536 pairs); tests lower it
** to leave merges in progress with few pairs. */
void dpSetIndexSetMergeMin(DpSetIndex *p, sqlite3_int64 nWork);
/* Runs whose filter answers a probe keeps from its estimate (default and
** at most 64; later runs are asked again); tests lower it. */
void dpSetIndexSetMaybeRuns(DpSetIndex *p, int nRun);
/* A search of k > 1 whose rMin asks at most one shared feature (a MATCH
** without a score bound) reads no uncached filter of a run of more blocks
** than nBlock (default 262,144), but the block (as past the soft heap
** limit; runs whose answers are kept only, dpSetIndexSetMaybeRuns); tests
** lower it. */
void dpSetIndexSetListBlocks(DpSetIndex *p, int nBlock);
/* Drop the shadow tables (the index need not be open). */
int dpSetIndexDrop(sqlite3 *db, const char *zDb, const char *zName,
                   char **pzErr);
int dpSetIndexRename(DpSetIndex *p, const char *zNew, char **pzErr);
/* 1 when zSuffix (after "name_") is one of this file's shadow tables. */
int dpSetIndexShadowName(const char *zSuffix);
/* Message of the last error, owned by p ("" if none). */
const char *dpSetIndexErrmsg(DpSetIndex *p);
/* SQLITE_RANGE (and its message) unless iId can be a document's id: the
** table checks an explicit rowid with it before it writes anything. */
int dpSetIndexCheckId(DpSetIndex *p, sqlite3_int64 iId);
/* Store document iId's set aHash[0..nHash) (sorted, distinct; an id not
** yet stored); bKept: it takes part in dpSetIndexBest.  */
int dpSetIndexAdd(DpSetIndex *p, sqlite3_int64 iId, const uint64_t *aHash,
                  int nHash, int bKept);
/* Forget document iId (*pbFound: its set was there; may be NULL); any
** posting of iId dies, also one left without a set by damage. */
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
/* integrity-check: does document iId's set row describe the set
** aHash[0..nHash) (made from its body)?  Its stored hashes, or with
** sets='body' its size and check.  SQLITE_ROW with *pbSame and *pbKept,
** SQLITE_DONE when iId has no set row; SQLITE_CORRUPT_VTAB for a damaged
** row. */
int dpSetIndexMatchRow(DpSetIndex *p, sqlite3_int64 iId, const uint64_t *aHash,
                       int nHash, int *pbSame, int *pbKept);
/* Number of stored sets. */
int dpSetIndexCount(DpSetIndex *p, sqlite3_int64 *pnSet);
/* Every stored set at once (dedup_index): set i has id aId[i] (ascending)
** and hashes aHash[aOff[i] .. aOff[i+1]) (sorted, distinct). */
typedef struct DpSetAll DpSetAll;
struct DpSetAll {
  int n;                  /* sets */
  sqlite3_int64 *aId;     /* n ids, ascending */
  sqlite3_int64 *aOff;    /* n+1 offsets into aHash */
  uint64_t *aHash;        /* aOff[n] hashes (dpLargeMalloc) */
  sqlite3_int64 nHashAlloc; /* hashes aHash was allocated for */
};
/* Read every set row into *pAll (freed with dpSetAllFree, also on error);
** SQLITE_CORRUPT_VTAB for a damaged row. */
int dpSetIndexLoadAll(DpSetIndex *p, DpSetAll *pAll);
void dpSetAllFree(DpSetAll *pAll);

/**************************************************************************
** Interface to code in setjoin.c — the all-pairs join over stored sets,
** for dedup_index() on a set table.
*/
/* One pair of rows i < j (positions in the caller's order) and their
** similarity; also dedup.c's pairs of vectors. */
typedef struct DpPair DpPair;
struct DpPair {
  int i, j;
  double r;
};
/* Every pair of sets of pAll (positions into it, i < j) whose
** dpSetSimilarity(eMeasure, ...) >= t, unordered, into *paPair
** (sqlite3_free) and *pnPair.  xPoll(pPollCtx) is called now and then on
** the calling thread; a non-zero return stops the join with that code.
** nThread: 0 for one thread per core from 2,048 sets up (one below), else
** that many (tests). */
int dpSetJoin(const DpSetAll *pAll, int eMeasure, double t, int nThread,
              int (*xPoll)(void*), void *pPollCtx,
              DpPair **paPair, int *pnPair);
/* Write pending postings as a run, then merge a bounded amount. */
int dpSetIndexSync(DpSetIndex *p);
/* The table's transaction methods.  Savepoint (xSavepoint: savepoint i
** is about to open) writes the pending postings as a run first; the
** rollbacks (xRollbackTo, xRollback; also called from inside a nested
** statement's step) drop pending postings, re-read the run list at next
** use, and drop the cached runs the rollback may have undone; Commit
** (xCommit): the runs this connection wrote are for good. */
int dpSetIndexSavepoint(DpSetIndex *p, int iSavepoint);
void dpSetIndexRelease(DpSetIndex *p, int iSavepoint);
void dpSetIndexRollbackTo(DpSetIndex *p, int iSavepoint);
void dpSetIndexRollback(DpSetIndex *p);
void dpSetIndexCommit(DpSetIndex *p);
/* Re-read the run list and every run at next use (shared cache with
** read_uncommitted, where data_version does not tell of another
** connection's writes, nor of its rollbacks). */
void dpSetIndexInvalidate(DpSetIndex *p);
/* Merge up to about nWork pairs; *pbIdle (may be NULL): nothing left. */
int dpSetIndexMerge(DpSetIndex *p, sqlite3_int64 nWork, int *pbIdle);
/* Write pending postings, finish the tiered merges, then merge every run
** into one ('optimize'). */
int dpSetIndexOptimize(DpSetIndex *p);
/* Flush, then check every block, filter and fence and that the postings
** are exactly the sets' hashes: SQLITE_CORRUPT_VTAB with a message if not. */
int dpSetIndexIntegrity(DpSetIndex *p);
void dpSetIndexInfo(DpSetIndex *p, DpSetIndexStat *pStat);

/**************************************************************************
** Interface to code in body.c — a body as %_docs stores it (zstd frames).
*/
typedef struct DpBodyCodec DpBodyCodec;   /* zstd contexts, made lazily */
int dpBodyCodecNew(DpBodyCodec **pp);
void dpBodyCodecFree(DpBodyCodec *c);
/* Pack n bytes of UTF-8 at z: *paOut, *pnOut the zstd frame (valid until
** the next call), or *paOut NULL when the body is to be stored as it is
** (short, or not made smaller).  SQLITE_NOMEM on failure. */
int dpBodyPack(DpBodyCodec *c, const void *z, int n, const void **paOut,
               int *pnOut);
/* The text of packed body a[0..n) of document *piId (NULL: unknown) into
** *pzText (sqlite3_malloc'd, NUL-terminated), *pnText bytes.  SQLITE_CORRUPT_VTAB
** with *pzErr (sqlite3_free) for a blob that is not one whole frame,
** SQLITE_TOOBIG past nMax bytes, SQLITE_NOMEM. */
int dpBodyUnpack(DpBodyCodec *c, const void *a, int n,
                 const sqlite3_int64 *piId,
                 sqlite3_int64 nMax, char **pzText, sqlite3_int64 *pnText,
                 char **pzErr);
/* The result of ctx: stored body pStored as the table shows it (a blob
** unpacked, anything else as it is), or the error, also returned. */
int dpBodyResult(DpBodyCodec *c, sqlite3_context *ctx, sqlite3_value *pStored,
                 const sqlite3_int64 *piId);
/* docpipe_body(x [, id]) on db: a packed body's text; anything else as it
** is. */
int dpRegisterBody(sqlite3 *db);

/**************************************************************************
** Interface to code in storage.c — the shadow tables %_config, %_docs and
** %_vectors of one docpipe table (used by vtab.c and dedup.c).  Functions
** return SQLite result codes; an error's message is in dpStorageErrmsg()
** until the next error or dpStorageClearError().
*/
/* Fixed columns of the table, in its declared order (vtab.c). */
#define DP_COL_BODY      0
#define DP_COL_EMBEDDING 1
#define DP_COL_ISDUP     2
#define DP_COL_DUPOF     3
#define DP_COL_SIM       4
#define DP_COL_EXTRA0    5   /* then the extra columns, score, k, <table> */

typedef struct DpStorage DpStorage;
typedef struct DpTableStats DpTableStats;    /* stats.c */
typedef struct DpConn DpConn;                /* vtab.c */
typedef struct DpTableRef DpTableRef;        /* vtab.c */
int dpStorageNew(sqlite3 *db, const char *zDb, const char *zName,
                 DpStorage **pp);
void dpStorageFree(DpStorage *s);
/* CREATE: options and extra columns from azArg, then the shadow tables.
** Errors go to *pzErr ("docpipe: ..."). */
int dpStorageCreate(DpStorage *s, int nArg, const char *const *azArg,
                    char **pzErr);
/* Connect: options and columns from %_config; SQLITE_CORRUPT_VTAB when
** it is damaged. */
int dpStorageConnect(DpStorage *s, char **pzErr);
int dpStorageDestroy(DpStorage *s);
int dpStorageRename(DpStorage *s, const char *zNew);
int dpStorageIsShadow(const char *zSuffix);      /* "docs", ...: ours */
const char *dpStorageErrmsg(const DpStorage *s);
void dpStorageClearError(DpStorage *s);
const DpOptions *dpStorageOptions(const DpStorage *s);
int dpStorageFormat(const DpStorage *s);         /* 1 or 2 */
/* Record format version 2 in %_config (the statistics tables were just
** migrated); a version 1 'signed' table keeps counting repeats. */
int dpStorageSetFormat2(DpStorage *s);
const char *dpStorageName(const DpStorage *s);
const char *dpStorageSchema(const DpStorage *s);
int dpStorageExtraCount(const DpStorage *s);
const char *dpStorageExtraName(const DpStorage *s, int i);
const char *dpStorageExtraDecl(const DpStorage *s);   /* NULL: none */
/* 1 when zName is one of the table's column names (or the rowid's). */
int dpStorageIsColumnName(const DpStorage *s, const char *zName);
/* The cached statements, so that statistics never take one of them for
** the user's. */
int dpStorageStatements(const DpStorage *s, sqlite3_stmt **aOut, int nMax);
/* Write document *piId (a new rowid when !bHasId) and its vector (none
** when aVec is NULL: the set kind). */
int dpStorageDocPut(DpStorage *s, sqlite3_int64 *piId, int bHasId,
                    sqlite3_value *pBody, int bOwn, int bDup,
                    sqlite3_int64 iDupOf, double rSim,
                    sqlite3_value **apExtra, const float *aVec);
int dpStorageVectorPut(DpStorage *s, sqlite3_int64 iId, const float *aVec);
int dpStorageDocDelete(DpStorage *s, sqlite3_int64 iId);
/* SQLITE_ROW with *ppRow on document iId (columns: body, is_duplicate,
** duplicate_of, similarity, own_vector, extras) until the matching
** Release; SQLITE_DONE when there is none. */
int dpStorageDocSeek(DpStorage *s, sqlite3_int64 iId, sqlite3_stmt **ppRow);
int dpStorageDocRelease(DpStorage *s);
/* sets='body': SQLITE_OK when the table's postings were made by this
** build's tokenizer (dpTokenizerId), else SQLITE_ERROR with a message
** naming 'rebuild', which writes this build's id (TokenizerRecord) once it
** has indexed every body again.  Checked by whatever makes or compares
** sets: INSERT, UPDATE, MATCH, integrity-check, dedup_index(). */
int dpStorageTokenizerCheck(DpStorage *s);
int dpStorageTokenizerRecord(DpStorage *s);
/* After ROLLBACK or ROLLBACK TO: the next check reads the row again. */
void dpStorageTokenizerRecheck(DpStorage *s);
/* The same for the body of iId alone (column 0), on a statement of its
** own (a set made again from it, sets='body'). */
int dpStorageBodySeek(DpStorage *s, sqlite3_int64 iId, sqlite3_stmt **ppRow);
int dpStorageBodyRelease(DpStorage *s);
int dpStorageDocExists(DpStorage *s, sqlite3_int64 iId, int *pbExists);
/* The same for the vector of iId (column 0: the blob). */
int dpStorageVectorSeek(DpStorage *s, sqlite3_int64 iId,
                        sqlite3_stmt **ppRow);
int dpStorageVectorRelease(DpStorage *s);
/* Every document: xRow(ctx, id, is_duplicate, vector value (NULL when the
** vector row is missing)); a non-OK return of xRow stops the scan. */
int dpStorageScanVectors(DpStorage *s,
                         int (*xRow)(void*, sqlite3_int64 iId, int bDup,
                                     sqlite3_value *pVec),
                         void *pCtx);
#define DP_SCAN_ALL  0      /* every document */
#define DP_SCAN_MADE 1      /* documents whose vector docpipe made */
#define DP_SCAN_OWN  2      /* documents whose vector the caller gave */
int dpStorageScanDocs(DpStorage *s, int eWhich,
                      int (*xRow)(void*, sqlite3_int64 iId,
                                  sqlite3_value *pBody, sqlite3_value *pVec),
                      void *pCtx);
/* The connection's list of open tables (DpConn, declared with vtab.c);
** dpConnFind: the open table zDb.zName, or NULL. */
void dpConnAdd(DpConn *pConn, DpTableRef *pRef);
void dpConnRemove(DpConn *pConn, DpTableRef *pRef);
DpTableRef *dpConnFind(DpConn *pConn, const char *zDb, const char *zName);
/* 1 when a table zDb.zName of the connection is marked by a write that
** failed half-way: the table object a schema reset left in the
** transaction too, not only the one SQLite connected again (vtab.c) */
int dpConnPartial(DpConn *pConn, const char *zDb, const char *zName);
/* A new statement giving (id, vector [, body length in bytes]) of every
** stored document, for dedup_index(); the caller finalizes it. */
int dpStorageVectorQuery(DpStorage *s, int bWithLength,
                         sqlite3_stmt **ppStmt);
/* A new statement giving (id, body length in bytes) of every stored
** document in id order (dedup_index() on a set table, keep='longest'). */
int dpStorageLengthQuery(DpStorage *s, sqlite3_stmt **ppStmt);
/* Rows that contradict each other (a vector without a document, a
** decision out of range): SQLITE_CORRUPT_VTAB naming the first. */
int dpStorageCheckRows(DpStorage *s);
/* A new statement over %_docs (id, body, is_duplicate, duplicate_of,
** similarity, extras) followed by zWhere; the caller finalizes it.  body is
** the text, or with bPacked as stored: a packed body unread until
** dpStorageBodyResult (a scan that wants no body unpacks none). */
int dpStorageDocCursor(DpStorage *s, const char *zWhere, int bPacked,
                       sqlite3_stmt **ppStmt);
/* The result of ctx: a body read as stored (dpStorageDocCursor, bPacked)
** as the table shows it, or the error of a damaged one (also returned). */
int dpStorageBodyResult(DpStorage *s, sqlite3_context *ctx,
                        sqlite3_value *pStored, sqlite3_int64 iId);
/* Ids of the documents where column aCol[i] azOp[i] apArg[i] holds for
** every i, ascending, in *paId (sqlite3_free). */
int dpStorageFilterIds(DpStorage *s, int nTerm, const int *aCol,
                       const char *const *azOp, sqlite3_value **apArg,
                       sqlite3_int64 **paId, int *pnId);
/* PRAGMA data_version, and whether this connection reads uncommitted
** data (shared cache): then data_version does not show every change. */
int dpStorageDataVersion(DpStorage *s, sqlite3_int64 *piVersion,
                         int *pbUncommitted);
/* 1 in *pbReads when pStmt's program opens for reading (itself or through
** an index) a table that an INSERT writes: %_docs, %_vectors, %_sets, or
** the set index's %_pruns, %_pblocks, %_pfilter, %_pfence, %_ptomb (a
** flush within a long statement appends to them). */
int dpStorageReadBy(DpStorage *s, sqlite3_stmt *pStmt, int *pbReads);

/**************************************************************************
** Interface to code in vtab.c and pipeline.c — the docpipe virtual table:
** vtab.c has the module methods, transactions and reads (xBestIndex,
** cursors, MATCH); pipeline.c the writes and the index cache.
*/
/* Why a table marked by a write that failed half-way refuses statements
** (vtab.c, partialWriteError; dedup.c) */
#define DP_PARTIAL_WRITE_MSG "a write in this transaction failed after" \
  " changing rows; roll back (ROLLBACK, or ROLLBACK TO a savepoint opened" \
  " before that write)"
/* The same mark met at COMMIT (xSync), after which SQLite rolls the whole
** transaction back itself: nothing is left to roll back. */
#define DP_PARTIAL_COMMIT_MSG "a write in this transaction failed after" \
  " changing rows; COMMIT refused and the transaction rolled back"
/* What the modules of one connection share: its open docpipe tables, so
** that dedup_index() reads a table through its storage and records its
** work in the table's statistics.  Owned by the connection (module client
** data), freed when the last module that holds it goes. */
struct DpTableRef {
  DpStorage *pStore;      /* the table's shadow tables */
  DpSetIndex *pSet;       /* the set kind's index, else NULL */
  DpTableStats *pStats;   /* its statistics */
  const int *pbPartial;   /* its DpTable.bPartial: reads refused with
                          ** DP_PARTIAL_WRITE_MSG (vtab.c) */
  DpTableRef *pNext;      /* next open table of the connection */
};
struct DpConn {
  DpTableRef *pTables;    /* open docpipe tables of this connection */
  int nRef;               /* modules holding this */
  /* statistics: has a statement ended since docpipe last returned? */
  sqlite3_int64 nChangeMark; /* sqlite3_total_changes64() then */
  int nSvpt;              /* statement savepoints begun or ended so far */
  sqlite3_int64 nSvptChanges; /* rows changed inside xSavepoint (a set
                          ** table's flush): not a failed write's (vtab.c) */
  int nSvptMark;          /* nSvpt then */
};
/* idxNum plans and flags of xBestIndex. */
#define PLAN_SCAN   0
#define PLAN_ROWID  1
#define PLAN_MATCH  2
#define PLAN_MASK   0x0F

typedef struct DpCursor DpCursor;
typedef struct DpTable DpTable;
struct DpTable {
  sqlite3_vtab base;      /* base class, must be first */
  sqlite3 *db;            /* connection */
  DpStorage *pStore;      /* its shadow tables (storage.c) */
  DpOptions opt;          /* options, from %_config (a copy of storage's) */
  int nExtra;             /* number of extra columns */
  DpTableStats *pStats;   /* its statistics (stats.c) */
  DpIndex index;          /* in-memory vectors (index.c): the dense kind */
  DpSetIndex *pSet;       /* the set kind's index (setindex.c), else NULL */
  uint64_t *aHash;        /* the set of the row being written or queried */
  int nHash;              /* hashes in aHash */
  int nHashAlloc;         /* slots allocated for aHash */
  int bIndexValid;        /* index matches the shadow tables */
  sqlite3_int64 iDataVersion; /* PRAGMA data_version when index was built */
  DpTokens tok;           /* tokenizer scratch */
  DpTokens tokBody;       /* sets='body': scratch of a stored document's set
                          ** made again (dpTableSetOfBody), beside the one
                          ** being searched for in aHash and tok */
  uint64_t *aBodyHash;    /* that set */
  int nBodyHashAlloc;     /* slots allocated for aBodyHash */
  float *aVec;            /* nDim floats of scratch */
  DpConn *pConn;          /* what the connection's tables share */
  DpTableRef ref;         /* this table in pConn's list (dedup_index) */
  DpCursor *pCursors;     /* open cursors: their statements are ours */
  sqlite3_stmt *pFeedStmt;  /* last INSERT checked by insertFeedsOnItself */
  char *zFeedSql;         /* its text (an address may be reused) */
  int bFeeds;             /* its verdict: it reads our shadow tables */
  sqlite3_int64 nWritten; /* documents stored or deleted so far (the
                          ** statistics' rows: a skipped row is none) */
  int nSvptDepth;         /* savepoints open (xSavepoint, xRelease, ...) */
  int bPartial;           /* a write failed after changing rows: the
                          ** transaction must not commit (vtabUpdate) */
  int iPartialDepth;      /* nSvptDepth then (or the least since) */
};

struct DpCursor {
  sqlite3_vtab_cursor base; /* base class, must be first */
  DpCursor *pNextCursor;  /* next open cursor of the table */
  int ePlan;              /* PLAN_* */
  sqlite3_stmt *pStmt;    /* scan: the scan; MATCH/rowid: lookup by id */
  int bEof;               /* no current row */
  DpHit *aHit;            /* MATCH results, best first */
  int nHit;               /* entries in aHit */
  int iHit;               /* current entry */
  int nK;                 /* k of this MATCH */
  int iRecSeq;            /* statistics record it feeds (0: none) */
};

/* Column numbers after the extras. */
static inline int dpColScore(const DpTable *p){ return DP_COL_EXTRA0 + p->nExtra; }
static inline int dpColK(const DpTable *p){ return DP_COL_EXTRA0 + p->nExtra + 1; }
static inline int dpColCmd(const DpTable *p){ return DP_COL_EXTRA0 + p->nExtra + 2; }

/* pipeline.c */
/* Set the table's error message, prefixed with its name; returns rc. */
int dpTableError(DpTable *p, int rc, const char *zFmt, ...);
/* An error of storage.c (its message) as the table's error; returns rc. */
int dpTableStoreError(DpTable *p, int rc);
/* A failed step or finalize of the table's own statement as its error,
** with SQLite's message (a damaged packed body: docpipe_body()'s); rc. */
int dpTableSqlError(DpTable *p, int rc);
/* The index made to match the shadow tables (loaded when stale). */
int dpTableEnsureIndex(DpTable *p);
/* The vector of a row into aOut: the caller's embedding pEmb (checked)
** or the embedding of pBody (its tokens stay in p->tok); *pbOwn: it was
** the caller's. */
int dpTableVector(DpTable *p, sqlite3_value *pBody, sqlite3_value *pEmb,
                  float *aOut, int *pbOwn);
/* embed(pBody) with the table's options, tokens scratch pTok (a read's
** own), no statistics: the embedding column of the set kind. */
int dpTableEmbedBody(DpTable *p, sqlite3_value *pBody, DpTokens *pTok,
                     float *aOut);
/* The set kind: the shingle set of pBody (text, or a blob of UTF-8; NULL
** gives the empty set) into p->aHash, p->nHash. */
int dpTableSet(DpTable *p, sqlite3_value *pBody);
/* sets='body': setindex.c's xSetOf (dpSetIndexSetSource), pCtx the table:
** the set of stored document iId made again from its body, into
** p->aBodyHash.  A missing row or a body that is not text or a blob is
** damage (a blob's bytes are read as the insert read them: invalid UTF-8,
** which no insert takes, reads as separators, and the set's check then
** tells). */
int dpTableSetOfBody(void *pCtx, sqlite3_int64 iId, const uint64_t **paHash,
                     int *pnHash, char **pzErr);
/* ... and its bulk source (dpSetIndexSetBulkSource): the sets of the
** documents aId[0..nDoc) (ascending) made from their bodies, read in one
** scan of %_docs and tokenized in a thread per core. */
int dpTableSetsOfBodies(void *pCtx, int nDoc, const sqlite3_int64 *aId,
                        const sqlite3_int64 *aOff, uint64_t *aHash,
                        sqlite3_int64 *anMade, char **pzErr);
/* An error of setindex.c (its message) as the table's error; returns rc. */
int dpTableSetError(DpTable *p, int rc);
/* setindex.c's measure (DP_SET_*) of a set-kind table. */
int dpTableSetMeasure(const DpTable *p);
/* xUpdate's work (DELETE, command, INSERT or UPDATE), its arguments. */
int dpTableWrite(DpTable *p, int argc, sqlite3_value **argv,
                 sqlite3_int64 *piRowid);
int dpVectorIsZero(const float *a, int n);
/* vtab.c */
int dpRegisterVtab(sqlite3 *db, DpConn *pConn);

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
                                int nOurs, int bWrite, int bMatch,
                                const char *zTable, sqlite3_stmt *pPrefer);
/* Run pInsert (INSERT INTO %_stats(started, kind, rows, tokenize_ns,
** embed_ns, search_ns, store_ns, load_ns, total_ns, cpu_ns, sql)
** VALUES(?1..?11)), then pLatency (INSERT INTO %_latency(id, v)
** VALUES(?1, ?2)) with the new row's id. */
int dpStatWrite(sqlite3 *db, sqlite3_stmt *pInsert, sqlite3_stmt *pLatency,
                const DpStatRec *r);
/* CPU time of the calling thread, nanoseconds (0 when unknown). */
sqlite3_int64 dpCpuNs(void);
/* Bring the statistics tables of a format version 1 table (latency blobs
** in a column of %_stats) to version 2 (their own table %_latency); the
** caller records the new version (dpStorageSetFormat). */
int dpStatMigrate(sqlite3 *db, const char *zDb, const char *zName,
                  char **pzErr);
/* The schema holding table zArg ("name" or "schema.name"), resolved as
** SQLite resolves a table name: temp, then main, then attached databases
** in the order attached.  *pzDb and *pzName are new strings (sqlite3_free);
** SQLITE_OK with *pzDb NULL when there is no such table. */
int dpResolveTable(sqlite3 *db, const char *zArg, char **pzDb, char **pzName);
int dpRegisterStats(sqlite3 *db);

/* The statistics of one open table (used by vtab.c and dedup.c). */
/* One call of docpipe within a statement, between dpTsBegin and dpTsEnd. */
typedef struct DpStatCall DpStatCall;
struct DpStatCall {
  int iSeq;               /* the record it feeds (0: none) */
  sqlite3_int64 t0;       /* dpTsClock() at its start */
  sqlite3_int64 tCpu;     /* dpCpuNs() at its start */
};
int dpTsIsShadow(const char *zSuffix);     /* "stats", "latency": ours */
int dpTsCreateTables(sqlite3 *db, const char *zDb, const char *zName,
                     char **pzErr);
/* xOurs(pOursCtx, aOut, nMax) lists the table's own statements (never
** taken for the user's). */
int dpTsNew(sqlite3 *db, DpConn *pConn, const char *zDb, const char *zName,
            const DpOptions *pOpt,
            int (*xOurs)(void*, sqlite3_stmt**, int), void *pOursCtx,
            DpTableStats **pp);
void dpTsFree(DpTableStats *ts);
int dpTsDropTables(DpTableStats *ts);
int dpTsRename(DpTableStats *ts, const char *zNew, char **pzErr);
int dpTsStatements(const DpTableStats *ts, sqlite3_stmt **aOut, int nMax);
/* The clock when statistics are on (0 otherwise: no cost); each reading
** is later than the one before, so a stage that ran takes >= 1 ns. */
sqlite3_int64 dpTsClock(DpTableStats *ts);
/* The current call's nanoseconds per stage (NULL when off), and adding
** the time since t0 to a stage or to the index load. */
sqlite3_int64 *dpTsStages(DpTableStats *ts);
void dpTsAddStage(DpTableStats *ts, int iStage, sqlite3_int64 t0);
void dpTsAddLoad(DpTableStats *ts, sqlite3_int64 t0);
/* A call into the table begins (eKind DP_KIND_*, or -1: a command, no
** record) and ends (rc: it failed, and its statement leaves no record;
** nRows documents written, nHits rows found). */
void dpTsBegin(DpTableStats *ts, int eKind, DpStatCall *pCall);
void dpTsEnd(DpTableStats *ts, const DpStatCall *pCall, int rc,
             sqlite3_int64 nRows, sqlite3_int64 nHits);
/* A MATCH cursor feeds the record until it closes (*piCursorSeq: the
** cursor's mark). */
void dpTsAttachCursor(DpTableStats *ts, const DpStatCall *pCall,
                      int *piCursorSeq);
void dpTsCursorClosed(DpTableStats *ts, int *piCursorSeq);
void dpTsRecordDedup(DpTableStats *ts, sqlite3_int64 nRows,
                     sqlite3_int64 nSearchNs, sqlite3_int64 nTotalNs,
                     sqlite3_int64 nCpuNs);
/* Transactions: records follow them. */
void dpTsCommit(DpTableStats *ts);
void dpTsRollback(DpTableStats *ts);
int dpTsSavepoint(DpTableStats *ts, int iSavepoint);
void dpTsRelease(DpTableStats *ts);
void dpTsRollbackTo(DpTableStats *ts, int iSavepoint);
/* 1 when records wait to be written; dpTsFlush writes them (xSync). */
int dpTsPending(DpTableStats *ts);
int dpTsFlush(DpTableStats *ts, char **pzErr);
/* 'stats-reset': forget and delete every record. */
int dpTsReset(DpTableStats *ts, int iFormat, char **pzErr);

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
/* An array that may pass 2 GB (the set join's, at a million documents):
** SQLite refuses any one allocation above SQLITE_MAX_ALLOCATION_SIZE
** (about 2 GB), so n >= DP_LARGE bytes come from malloc().  The size
** decides which, so dpLargeFree is given the same n. */
#define DP_LARGE ((sqlite3_uint64)1<<30)
void *dpLargeMalloc(sqlite3_uint64 n);
void dpLargeFree(void *p, sqlite3_uint64 n);
/* Ask Linux to back the 2 MB-aligned part of p[0..n) with huge pages (a
** hint; nothing elsewhere).  For arrays of hundreds of MB read at random
** (the set join's sketch, index and sets): a 4 KB page costs a TLB miss on
** nearly every access, and a fault of its own when first written. */
void dpHugePages(void *p, sqlite3_uint64 n);
/* Sort a[0..n) ascending, with aTmp[0..n) as scratch: LSD radix sort by
** bytes (linear in n, whatever the values; qsort's callback per comparison
** was a tenth of a set-kind insert). */
void dpSortU64(uint64_t *a, uint64_t *aTmp, int n);
/* sqlite3_str_finish() that returns "" (not NULL) for an empty string;
** NULL only on OOM. */
char *dpStrFinish(sqlite3_str *p);
/* Drop one module's hold on a DpConn (declared with vtab.c): the last
** frees it. */
void dpConnRelease(void *pConn);
/* sqlite3_exec() of a printf-formatted statement (names quoted by the
** caller with %w). */
int dpExecf(sqlite3 *db, char **pzErr, const char *zFmt, ...);
/* rc, an error of one of docpipe's own statements on db, as docpipe
** returns it: SQLITE_CORRUPT_VTAB when the statement failed on a damaged
** packed body (see util.c), else rc. */
int dpReadCode(sqlite3 *db, int rc);
/* Threads worth starting for work spread over cores: one per core this
** process may run on, at most nMax; 1 when SQLite was built without
** threads (docpipe's threads call SQLite's allocator). */
int dpThreadCount(int nMax);
/* ALTER TABLE zDb.zOld_zSuffix RENAME TO zNew_zSuffix, when it exists. */
int dpShadowRename(sqlite3 *db, const char *zDb, const char *zOld,
                   const char *zNew, const char *zSuffix, char **pzErr);
/* Monotonic clock in nanoseconds. */
sqlite3_int64 dpNowNs(void);
/* strtod() that reads '.' as the decimal point whatever locale the host
** program set (LC_NUMERIC); use it for every number docpipe parses. */
double dpStrtod(const char *z, char **pzEnd);
/* r as "%.17g" (17 significant digits: strtod reads back the same double)
** with a '.' point whatever the locale, into zBuf[nBuf] (32 bytes are
** always enough).  For the few places that cannot use sqlite3_mprintf(),
** whose %g stops at 16 digits but never looks at the locale. */
void dpFormatDouble(char *zBuf, int nBuf, double r);

#endif /* DOCPIPE_H */
