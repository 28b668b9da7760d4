/*
** dedup.c — dedup_index(): near-duplicate detection over a whole table or
** any query, in one batch.
**
**   SELECT * FROM dedup_index('docs');                      -- its threshold
**   SELECT id, is_duplicate, duplicate_of FROM dedup_index('docs', 0.9);
**   SELECT id, other_id, similarity
**     FROM dedup_index('SELECT id, embed(body) FROM mytable', 0.8, 'pairs');
**   SELECT id, cluster_id FROM dedup_index('docs', 0.8, 'clusters');
**
** Arguments: source, threshold (default: the docpipe table's, or 0.65 for a
** query), mode ('first', 'pairs' or 'clusters').  Output columns: id,
** is_duplicate, duplicate_of, similarity, other_id, cluster_id; each mode
** fills its own and leaves the others NULL:
**   first     one row per input row in id order: the keep-first rule of the
**             docpipe table (doc/design.md, "Decide") applied in id order: a row is a
**             duplicate of the best earlier non-duplicate with cosine >=
**             threshold (ties: lowest id); zero vectors never are.
**   pairs     (id, other_id, similarity) for every pair with cosine >=
**             threshold, id < other_id, ordered by id then other_id.
**   clusters  (id, cluster_id) for every row: connected components of the
**             pairs graph, named by their smallest id.
**
** How it works: the input is loaded once (ids sorted, vectors kept as given
** plus an L2-normalised copy).  Scores come from the blocked many-vs-many
** kernel of the dispatch table (xDotBlock) over tiles of 64 x 64 rows of
** the normalised copy, which stay in L1/L2 while 4096 dot products are
** made of them; no n x n matrix is ever held.  A tiled dot product differs
** from cosine() only by float rounding, so every pair it puts within
** dpScoreSlack() of the threshold is scored again exactly (dpCosine, the
** cosine() computation): the decisions are those of a brute-force scan
** with cosine().  'first' walks blocks of rows in id order, scoring each
** block against the rows already kept and then within itself; 'pairs' is
** computed one block of rows at a time as the cursor advances; 'clusters'
** unions the pairs as they are found.  Between tiles the work checks
** sqlite3_interrupt() (by stepping a tiny statement, which returns
** SQLITE_INTERRUPT once the connection is interrupted).
**
** A set table (measure 'jaccard' or 'cosine') has sets, not vectors: its
** stored sets are loaded (dpSetIndexLoadAll) and joined (setjoin.c), which
** gives every pair at or above the threshold by the table's measure, and
** each mode is made from those pairs (runSets): 'pairs' sorts them,
** 'clusters' unions them, 'first' takes them by their later row in
** processing order, so that each row's earlier partners are decided
** before it.
*/
#include "docpipe.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TILE 64                 /* rows per tile of the blocked kernel */
#define MODE_FIRST    0
#define MODE_PAIRS    1
#define MODE_CLUSTERS 2
#define KEEP_FIRST    0         /* lowest id kept (rows processed in id order) */
#define KEEP_LONGEST  1         /* longest document kept */
#define KEEP_LAST     2         /* highest id kept */

#define COL_ID        0
#define COL_ISDUP     1
#define COL_DUPOF     2
#define COL_SIM       3
#define COL_OTHER     4
#define COL_CLUSTER   5
#define COL_SOURCE    6         /* hidden: argument 1 */
#define COL_THRESHOLD 7         /* hidden: argument 2 */
#define COL_MODE      8         /* hidden: argument 3 */
#define COL_KEEP      9         /* hidden: argument 4 */

/* The input rows, sorted by id. */
typedef struct DedupInput DedupInput;
struct DedupInput {
  int n;                  /* rows */
  int nDim;               /* floats per vector */
  sqlite3_int64 *aId;     /* ids, ascending */
  float *aVec;            /* n * nDim, as given */
  float *aUnit;           /* n * nDim, L2-normalised (zero rows stay zero) */
  unsigned char *aZero;   /* 1 for an all-zero vector */
  sqlite3_int64 *aLen;    /* document lengths (keep='longest'), or NULL */
};

typedef struct DedupVtab DedupVtab;
struct DedupVtab {
  sqlite3_vtab base;      /* base class, must be first */
  sqlite3 *db;            /* the connection, for the source query */
  DpConn *pConn;          /* its docpipe tables, for their statistics */
};

typedef struct DedupCursor DedupCursor;
struct DedupCursor {
  sqlite3_vtab_cursor base; /* base class, must be first */
  sqlite3 *db;            /* for interrupts and queries */
  sqlite3_stmt *pPoll;    /* "SELECT 1": SQLITE_INTERRUPT once interrupted */
  int eMode;              /* MODE_* */
  double rThreshold;      /* cosine at or above which rows are duplicates */
  DedupInput in;          /* the rows */
  int iRow;               /* current output row (first, clusters) */
  /* mode first */
  unsigned char *aDup;    /* 1 when row is a duplicate */
  int *aDupOf;            /* row position of its original */
  double *aSim;           /* cosine with it */
  /* mode clusters */
  int *aParent;           /* union-find forest over row positions */
  /* mode pairs, one block of rows at a time */
  int iBlock;             /* first row of the next block to compute */
  DpPair *aPair;          /* pairs of the current block, sorted */
  int nPair, nPairAlloc;  /* pairs in use, allocated */
  int iPair;              /* current pair */
  float *aTile;           /* TILE * TILE scores of the blocked kernel */
  int rcPair;             /* error raised inside a PairFn (out of memory) */
  int eKeep;              /* KEEP_*: which member of a group is kept */
  int *aInv;              /* id-order row -> processing position, or NULL */
  /* a set table (measure 'jaccard' or 'cosine'): rows without vectors */
  int bSets;              /* the pairs come from dpSetJoin over sets */
  int eSetMeasure;        /* DP_SET_JACCARD or DP_SET_COSINE */
  DpSetAll sets;          /* its sets, until the join has run */
};

static void setError(sqlite3_vtab_cursor *pCur, const char *zFmt, ...){
  va_list ap;
  va_start(ap, zFmt);
  dpVtabErrorV(pCur->pVtab, "dedup_index(): ", zFmt, ap);
  va_end(ap);
}

static void inputFree(DedupInput *p){
  sqlite3_free(p->aId);
  sqlite3_free(p->aVec);
  sqlite3_free(p->aUnit);
  sqlite3_free(p->aZero);
  sqlite3_free(p->aLen);
  memset(p, 0, sizeof(*p));
}

/**************************************************************************
** Loading the input.
*/
typedef struct RowRef RowRef;
struct RowRef { sqlite3_int64 iId; int iPos; };

static int cmpRowRef(const void *a, const void *b){
  const RowRef *x = a, *y = b;
  return (x->iId > y->iId) - (x->iId < y->iId);
}

/* Read (id, vector) rows from pStmt into pIn, sorted by id. */
static int loadRows(sqlite3_vtab_cursor *pCur, sqlite3_stmt *pStmt,
                    DedupInput *pIn){
  const int bLen = sqlite3_column_count(pStmt)>=3;
  sqlite3_int64 *aLen = 0;
  int nLenAlloc = 0;
  sqlite3_int64 *aId = 0;
  float *aVec = 0;
  int nAlloc = 0, nVecAlloc = 0, n = 0, nDim = 0, rc = SQLITE_OK, i, d;
  RowRef *aRef = 0;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const void *pBlob;
    int nByte;
    sqlite3_int64 iId;
    if( sqlite3_column_type(pStmt, 0)!=SQLITE_INTEGER ){
      setError(pCur, "row %d: id must be an integer", n+1);
      rc = SQLITE_ERROR;
      break;
    }
    iId = sqlite3_column_int64(pStmt, 0);
    if( sqlite3_column_type(pStmt, 1)!=SQLITE_BLOB ){
      setError(pCur, "id %lld: vector must be a float32 blob", iId);
      rc = SQLITE_ERROR;
      break;
    }
    pBlob = sqlite3_column_blob(pStmt, 1);
    nByte = sqlite3_column_bytes(pStmt, 1);
    if( nByte==0 || nByte%4 ){
      setError(pCur, "id %lld: blob of %d bytes is not a float32 vector",
               iId, nByte);
      rc = SQLITE_ERROR;
      break;
    }
    if( n==0 ) nDim = nByte/4;
    if( nByte/4!=nDim ){
      setError(pCur, "id %lld: vector has %d values, earlier vectors %d",
               iId, nByte/4, nDim);
      rc = SQLITE_ERROR;
      break;
    }
    if( dpGrow((void**)&aId, &nAlloc, n+1, sizeof(sqlite3_int64))
     || (sqlite3_int64)(n+1)*nDim > 0x7fffffff
     || dpGrow((void**)&aVec, &nVecAlloc, (n+1)*nDim, sizeof(float)) ){
      rc = SQLITE_NOMEM;
      break;
    }
    if( bLen && dpGrow((void**)&aLen, &nLenAlloc, n+1, sizeof(sqlite3_int64)) ){
      rc = SQLITE_NOMEM;
      break;
    }
    if( bLen ) aLen[n] = sqlite3_column_int64(pStmt, 2);
    aId[n] = iId;
    memcpy(&aVec[(size_t)n*nDim], pBlob, (size_t)nByte);
    for(d=0; d<nDim; d++){
      if( !isfinite(aVec[(size_t)n*nDim + d]) ){
        setError(pCur, "id %lld: vector has a non-finite value (NaN or Inf)",
                 iId);
        rc = SQLITE_ERROR;
        break;
      }
    }
    n++;
  }
  if( rc==SQLITE_OK ){
    rc = dpReadCode(sqlite3_db_handle(pStmt), sqlite3_reset(pStmt));
    if( rc!=SQLITE_OK ){
      setError(pCur, "%s", sqlite3_errmsg(sqlite3_db_handle(pStmt)));
    }
  }
  /* Sort by id through a permutation, then lay the vectors out in order. */
  if( rc==SQLITE_OK && n>0 ){
    aRef = sqlite3_malloc64(sizeof(RowRef)*(sqlite3_int64)n);
    pIn->aId = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_int64)n);
    pIn->aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)n*nDim);
    pIn->aUnit = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)n*nDim);
    pIn->aZero = sqlite3_malloc64(n);
    if( bLen ) pIn->aLen = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_int64)n);
    if( !aRef || !pIn->aId || !pIn->aVec || !pIn->aUnit || !pIn->aZero
     || (bLen && !pIn->aLen) ){
      rc = SQLITE_NOMEM;
    }
  }
  if( rc==SQLITE_OK && n>0 ){
    for(i=0; i<n; i++){ aRef[i].iId = aId[i]; aRef[i].iPos = i; }
    qsort(aRef, (size_t)n, sizeof(RowRef), cmpRowRef);
    for(i=0; rc==SQLITE_OK && i<n; i++){
      const float *src = &aVec[(size_t)aRef[i].iPos*nDim];
      float *dst = &pIn->aVec[(size_t)i*nDim];
      float *unit = &pIn->aUnit[(size_t)i*nDim];
      double ss = 0.0;
      if( i>0 && aRef[i].iId==aRef[i-1].iId ){
        setError(pCur, "id %lld appears twice", aRef[i].iId);
        rc = SQLITE_ERROR;
        break;
      }
      pIn->aId[i] = aRef[i].iId;
      if( bLen ) pIn->aLen[i] = aLen[aRef[i].iPos];
      memcpy(dst, src, sizeof(float)*(size_t)nDim);
      for(d=0; d<nDim; d++) ss += (double)dst[d]*dst[d];
      pIn->aZero[i] = ss==0.0;
      for(d=0; d<nDim; d++){
        unit[d] = ss==0.0 ? 0.0f : (float)(dst[d] / sqrt(ss));
      }
    }
  }
  pIn->n = n;
  pIn->nDim = nDim;
  sqlite3_free(aRef);
  sqlite3_free(aId);
  sqlite3_free(aVec);
  sqlite3_free(aLen);
  return rc;
}

/* 1 when z (after blanks) starts a query rather than naming a table. */
static int looksLikeQuery(const char *z){
  while( *z==' ' || *z=='\t' || *z=='\n' || *z=='\r' || *z=='(' ) z++;
  return sqlite3_strnicmp(z, "select", 6)==0
      || sqlite3_strnicmp(z, "with", 4)==0
      || sqlite3_strnicmp(z, "values", 6)==0;
}

/* Load the source; *prThreshold gets the table's threshold when a docpipe
** table is named (left alone otherwise), and *pzDb, *pzName its schema and
** name (sqlite3_free; NULL for a query). */
/* The open docpipe table zDb.zName of this connection: connected first
** (preparing a statement that names it runs xConnect) when it has not
** been used yet.  NULL when it is no docpipe table. */
static DpTableRef *findTable(DedupCursor *pCur, const char *zDb,
                             const char *zName){
  DpConn *pConn = ((DedupVtab*)pCur->base.pVtab)->pConn;
  DpTableRef *pRef = dpConnFind(pConn, zDb, zName);
  if( pRef==0 ){
    sqlite3_stmt *pStmt = 0;
    char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".\"%w\" WHERE 0",
                                 zDb, zName);
    if( zSql ) sqlite3_prepare_v2(pCur->db, zSql, -1, &pStmt, 0);
    sqlite3_finalize(pStmt);
    sqlite3_free(zSql);
    pRef = dpConnFind(pConn, zDb, zName);
  }
  return pRef;
}

/* The rows of a set table: its ids (in id order) into pCur->in, without
** vectors, and its sets into pCur->sets; with keep='longest' the bodies'
** lengths in bytes, which must name the same ids. */
static int loadSets(DedupCursor *pCur, DpTableRef *pRef){
  DedupInput *in = &pCur->in;
  sqlite3_stmt *pStmt = 0;
  int rc, i = 0;
  pCur->bSets = 1;
  pCur->eSetMeasure = dpStorageOptions(pRef->pStore)->eMeasure==DP_MEASURE_COSINE
                    ? DP_SET_COSINE : DP_SET_JACCARD;
  rc = dpStorageTokenizerCheck(pRef->pStore);
  if( rc!=SQLITE_OK ){
    if( rc!=SQLITE_NOMEM ){
      setError(&pCur->base, "%s", dpStorageErrmsg(pRef->pStore));
    }
    dpStorageClearError(pRef->pStore);
    return rc;
  }
  rc = dpSetIndexLoadAll(pRef->pSet, &pCur->sets);
  if( rc!=SQLITE_OK ){
    if( rc!=SQLITE_NOMEM ){
      /* "docpipe: a set row of t is damaged": the prefix is ours already */
      const char *zMsg = dpSetIndexErrmsg(pRef->pSet);
      if( strncmp(zMsg, "docpipe: ", 9)==0 ) zMsg += 9;
      setError(&pCur->base, "%s", zMsg);
    }
    return rc;
  }
  in->n = pCur->sets.n;
  in->aId = pCur->sets.aId;             /* the ids move to the input */
  pCur->sets.aId = 0;
  if( pCur->eKeep!=KEEP_LONGEST ) return SQLITE_OK;
  in->aLen = sqlite3_malloc64(sizeof(sqlite3_int64)*((sqlite3_int64)in->n+1));
  if( in->aLen==0 ) return SQLITE_NOMEM;
  rc = dpStorageLengthQuery(pRef->pStore, &pStmt);
  if( rc!=SQLITE_OK ){
    setError(&pCur->base, "%s", dpStorageErrmsg(pRef->pStore));
    dpStorageClearError(pRef->pStore);
    return rc;
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
    if( i>=in->n || in->aId[i]!=iId ){
      setError(&pCur->base, "document %lld has no set (run"
               " 'integrity-check')", iId);
      rc = SQLITE_CORRUPT_VTAB;
    }else{
      in->aLen[i++] = sqlite3_column_int64(pStmt, 1);
    }
  }
  if( rc==SQLITE_OK ){
    rc = dpReadCode(pCur->db, sqlite3_reset(pStmt));
    if( rc!=SQLITE_OK ) setError(&pCur->base, "%s", sqlite3_errmsg(pCur->db));
  }
  if( rc==SQLITE_OK && i<in->n ){
    setError(&pCur->base, "set %lld has no document (run"
             " 'integrity-check')", in->aId[i]);
    rc = SQLITE_CORRUPT_VTAB;
  }
  sqlite3_finalize(pStmt);
  return rc;
}

static int loadSource(DedupCursor *pCur, const char *zSource,
                      double *prThreshold, char **pzDb, char **pzName){
  sqlite3 *db = pCur->db;
  sqlite3_stmt *pStmt = 0;
  int rc;
  if( looksLikeQuery(zSource) ){
    rc = sqlite3_prepare_v2(db, zSource, -1, &pStmt, 0);
    if( rc!=SQLITE_OK ){
      setError(&pCur->base, "the query does not compile: %s",
               sqlite3_errmsg(db));
      return SQLITE_ERROR;
    }
    if( !sqlite3_stmt_readonly(pStmt) ){
      /* "WITH ... DELETE" also starts with WITH: only reads are run */
      setError(&pCur->base, "the query must only read (a SELECT)");
      sqlite3_finalize(pStmt);
      return SQLITE_ERROR;
    }
    if( sqlite3_column_count(pStmt)<2 || sqlite3_column_count(pStmt)>3 ){
      setError(&pCur->base, "the query must return 2 or 3 columns (id,"
               " vector [, length]), not %d", sqlite3_column_count(pStmt));
      sqlite3_finalize(pStmt);
      return SQLITE_ERROR;
    }
    if( pCur->eKeep==KEEP_LONGEST && sqlite3_column_count(pStmt)<3 ){
      setError(&pCur->base, "keep='longest' needs a third column, the"
               " length: SELECT id, vector, length(text) FROM ...");
      sqlite3_finalize(pStmt);
      return SQLITE_ERROR;
    }
  }else{
    /* A docpipe table ("name" or "schema.name", found as SQLite finds a
    ** table: temp, main, then attached databases): its stored vectors,
    ** through its storage (storage.c). */
    DpTableRef *pRef;
    rc = dpResolveTable(db, zSource, pzDb, pzName);
    if( rc!=SQLITE_OK ) return rc;
    if( *pzDb==0 ){
      setError(&pCur->base, "no table named '%s' (or pass a query:"
               " SELECT id, vector FROM ...)", zSource);
      return SQLITE_ERROR;
    }
    pRef = findTable(pCur, *pzDb, *pzName);
    if( pRef==0 ){
      setError(&pCur->base, "'%s' is not a docpipe table (pass a query:"
               " SELECT id, vector FROM %s)", zSource, zSource);
      return SQLITE_ERROR;
    }
    if( dpConnPartial(((DedupVtab*)pCur->base.pVtab)->pConn, *pzDb, *pzName) ){
      /* its rows are half written (vtab.c, partialWriteError) */
      setError(&pCur->base, "'%s': %s", zSource, DP_PARTIAL_WRITE_MSG);
      return SQLITE_ERROR;
    }
    *prThreshold = dpStorageOptions(pRef->pStore)->rThreshold;
    if( dpOptionsIsSet(dpStorageOptions(pRef->pStore)) ){
      return loadSets(pCur, pRef);      /* its documents are sets */
    }
    /* with keep='longest', the body's length in bytes as the third column */
    rc = dpStorageVectorQuery(pRef->pStore, pCur->eKeep==KEEP_LONGEST, &pStmt);
    if( rc!=SQLITE_OK ){
      setError(&pCur->base, "%s", dpStorageErrmsg(pRef->pStore));
      dpStorageClearError(pRef->pStore);
      return SQLITE_ERROR;
    }
  }
  rc = loadRows(&pCur->base, pStmt, &pCur->in);
  sqlite3_finalize(pStmt);
  return rc;
}

/* Processing order for keep='longest' (longest first, then lowest id). */
typedef struct OrderKey OrderKey;
struct OrderKey { sqlite3_int64 iLen; int iPos; };

static int cmpLongest(const void *pa, const void *pb){
  const OrderKey *a = pa, *b = pb;
  if( a->iLen!=b->iLen ) return (a->iLen < b->iLen) - (a->iLen > b->iLen);
  return (a->iPos > b->iPos) - (a->iPos < b->iPos);
}

/*
** Reorder the rows (sorted by id) into the order they are decided in: the
** keep-first rule keeps whichever member of a group comes first, so keep
** 'last' processes ids from highest to lowest and 'longest' from longest
** to shortest.  pCur->aInv maps each id-order row to its new position.
*/
static int applyKeepOrder(DedupCursor *pCur){
  DedupInput *in = &pCur->in, out;
  const int n = in->n, nDim = in->nDim;
  OrderKey *aKey;
  int k;
  if( pCur->eKeep==KEEP_FIRST || n==0 ) return SQLITE_OK;
  aKey = sqlite3_malloc64(sizeof(OrderKey)*(sqlite3_int64)n);
  pCur->aInv = sqlite3_malloc64(sizeof(int)*(sqlite3_int64)n);
  memset(&out, 0, sizeof(out));
  out.n = n;
  out.nDim = nDim;
  out.aId = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_int64)n);
  if( in->aVec ){                       /* a set table's rows have none */
    out.aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)n*nDim);
    out.aUnit = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)n*nDim);
    out.aZero = sqlite3_malloc64(n);
  }
  if( !aKey || !pCur->aInv || !out.aId
   || (in->aVec && (!out.aVec || !out.aUnit || !out.aZero)) ){
    sqlite3_free(aKey);
    inputFree(&out);
    return SQLITE_NOMEM;
  }
  for(k=0; k<n; k++){
    aKey[k].iPos = pCur->eKeep==KEEP_LAST ? n-1-k : k;
    aKey[k].iLen = in->aLen ? in->aLen[k] : 0;
  }
  if( pCur->eKeep==KEEP_LONGEST ){
    qsort(aKey, (size_t)n, sizeof(OrderKey), cmpLongest);
  }
  for(k=0; k<n; k++){
    int src = aKey[k].iPos;
    out.aId[k] = in->aId[src];
    if( in->aVec ){
      out.aZero[k] = in->aZero[src];
      memcpy(&out.aVec[(size_t)k*nDim], &in->aVec[(size_t)src*nDim],
             sizeof(float)*(size_t)nDim);
      memcpy(&out.aUnit[(size_t)k*nDim], &in->aUnit[(size_t)src*nDim],
             sizeof(float)*(size_t)nDim);
    }
    pCur->aInv[src] = k;
  }
  sqlite3_free(aKey);
  inputFree(in);
  *in = out;
  return SQLITE_OK;
}

/**************************************************************************
** The blocked computation.
*/

/* SQLITE_INTERRUPT once sqlite3_interrupt() was called on the connection. */
static int pollInterrupt(DedupCursor *pCur){
  int rc;
  if( pCur->pPoll==0 ){
    rc = sqlite3_prepare_v2(pCur->db, "SELECT 1", -1, &pCur->pPoll, 0);
    if( rc!=SQLITE_OK ) return rc;
  }
  rc = sqlite3_step(pCur->pPoll);
  sqlite3_reset(pCur->pPoll);
  return rc==SQLITE_ROW ? SQLITE_OK : SQLITE_INTERRUPT;
}

/* 1 when (r1, id1) ranks before (r2, id2): higher score, then lower id. */
static int ranksBefore(double r1, sqlite3_int64 id1, double r2,
                       sqlite3_int64 id2){
  return r1>r2 || (r1==r2 && id1<id2);
}

/*
** For every pair (row a of [a0, a0+nA), row b of aRowB[0..nB)) whose tiled
** score may reach the threshold, call xPair(pCtx, a, b, exact cosine) when
** the exact cosine reaches it.  aRowB lists row positions; bUpper keeps
** only pairs with b > a.  Tiles of TILE x TILE; polls for interrupts.
*/
typedef void (*PairFn)(DedupCursor*, int a, int b, double r);

static int scanPairs(DedupCursor *pCur, int a0, int nA, const int *aRowB,
                     const float *aUnitB, int nB, int bUpper, PairFn xPair){
  const DedupInput *in = &pCur->in;
  const int nDim = in->nDim;
  const double rMin = pCur->rThreshold - dpScoreSlack(nDim);
  int b0, rc = SQLITE_OK, nTile = 0;
  for(b0=0; rc==SQLITE_OK && b0<nB; b0+=TILE){
    int nBt = nB - b0 < TILE ? nB - b0 : TILE;
    int x, y;
    if( bUpper && aRowB[b0 + nBt - 1] <= a0 ) continue;   /* all below */
    dpKernels->xDotBlock(&in->aUnit[(size_t)a0*nDim], nA,
                         &aUnitB[(size_t)b0*nDim], nBt, nDim, pCur->aTile);
    for(x=0; x<nA; x++){
      const float *row = &pCur->aTile[(size_t)x*nBt];
      for(y=0; y<nBt; y++){
        int a = a0 + x, b = aRowB[b0 + y];
        if( row[y]>=rMin && (!bUpper || b>a) && !in->aZero[a] && !in->aZero[b] ){
          int bZero = 0;
          double r = dpCosine(&in->aVec[(size_t)a*nDim], &in->aVec[(size_t)b*nDim],
                              nDim, &bZero);
          if( !bZero && r>=pCur->rThreshold ) xPair(pCur, a, b, r);
        }
      }
    }
    if( pCur->rcPair ) rc = pCur->rcPair;
    else if( (++nTile & 15)==0 ) rc = pollInterrupt(pCur);
  }
  return rc;
}

/* mode first: a pair (a in the current block, b kept earlier) is a
** candidate original of a. */
static void firstPair(DedupCursor *pCur, int a, int b, double r){
  const sqlite3_int64 *aId = pCur->in.aId;
  if( !pCur->aDup[a] || ranksBefore(r, aId[b], pCur->aSim[a], aId[pCur->aDupOf[a]]) ){
    pCur->aDup[a] = 1;
    pCur->aDupOf[a] = b;
    pCur->aSim[a] = r;
  }
}

/* Mode first's results, one per row: none a duplicate yet. */
static int firstArrays(DedupCursor *pCur){
  const int n = pCur->in.n;
  pCur->aDup = sqlite3_malloc64((sqlite3_int64)n+1);
  pCur->aDupOf = sqlite3_malloc64(sizeof(int)*((sqlite3_int64)n+1));
  pCur->aSim = sqlite3_malloc64(sizeof(double)*((sqlite3_int64)n+1));
  if( !pCur->aDup || !pCur->aDupOf || !pCur->aSim ) return SQLITE_NOMEM;
  memset(pCur->aDup, 0, (size_t)n);
  return SQLITE_OK;
}

static int runFirst(DedupCursor *pCur){
  DedupInput *in = &pCur->in;
  const int n = in->n, nDim = in->nDim;
  int *aKept = sqlite3_malloc64(sizeof(int)*((sqlite3_int64)n+1));
  float *aKeptUnit = sqlite3_malloc64(sizeof(float)*((sqlite3_int64)n*nDim+1));
  int nKept = 0, j0, rc = firstArrays(pCur);
  if( !aKept || !aKeptUnit ) rc = SQLITE_NOMEM;
  for(j0=0; rc==SQLITE_OK && j0<n; j0+=TILE){
    int nJ = n - j0 < TILE ? n - j0 : TILE;
    int j;
    /* 1. against every row kept before this block */
    rc = scanPairs(pCur, j0, nJ, aKept, aKeptUnit, nKept, 0, firstPair);
    if( rc!=SQLITE_OK ) break;
    /* 2. within the block, in processing order: earlier rows may be originals */
    dpKernels->xDotBlock(&in->aUnit[(size_t)j0*nDim], nJ,
                         &in->aUnit[(size_t)j0*nDim], nJ, nDim, pCur->aTile);
    for(j=j0; j<j0+nJ; j++){
      int i;
      for(i=j0; i<j; i++){
        if( pCur->aDup[i] || in->aZero[i] || in->aZero[j] ) continue;
        if( pCur->aTile[(size_t)(j-j0)*nJ + (i-j0)]
              >= pCur->rThreshold - dpScoreSlack(nDim) ){
          int bZero = 0;
          double r = dpCosine(&in->aVec[(size_t)j*nDim], &in->aVec[(size_t)i*nDim],
                              nDim, &bZero);
          if( !bZero && r>=pCur->rThreshold ) firstPair(pCur, j, i, r);
        }
      }
      if( !pCur->aDup[j] && !in->aZero[j] ){
        aKept[nKept] = j;
        memcpy(&aKeptUnit[(size_t)nKept*nDim], &in->aUnit[(size_t)j*nDim],
               sizeof(float)*(size_t)nDim);
        nKept++;
      }
    }
  }
  sqlite3_free(aKept);
  sqlite3_free(aKeptUnit);
  return rc;
}

/* mode pairs: collect the pairs of the current block. */
static void collectPair(DedupCursor *pCur, int a, int b, double r){
  if( pCur->nPair>=pCur->nPairAlloc ){
    if( dpGrow((void**)&pCur->aPair, &pCur->nPairAlloc, pCur->nPair+1,
               sizeof(DpPair)) ){
      pCur->rcPair = SQLITE_NOMEM;   /* scanPairs stops with it */
      return;
    }
  }
  pCur->aPair[pCur->nPair].i = a;
  pCur->aPair[pCur->nPair].j = b;
  pCur->aPair[pCur->nPair].r = r;
  pCur->nPair++;
}

static int cmpPair(const void *pa, const void *pb){
  const DpPair *a = pa, *b = pb;
  if( a->i!=b->i ) return (a->i > b->i) - (a->i < b->i);
  return (a->j > b->j) - (a->j < b->j);
}

/* Row positions 0..n-1, the "B" side of an all-rows scan. */
static int *allRows(int n){
  int *a = sqlite3_malloc64(sizeof(int)*((sqlite3_int64)n+1));
  int i;
  if( a ) for(i=0; i<n; i++) a[i] = i;
  return a;
}

/* Compute the pairs of the next block of rows that has any. */
static int nextPairBlock(DedupCursor *pCur){
  int *aRows = allRows(pCur->in.n);
  int rc = SQLITE_OK;
  if( aRows==0 ) return SQLITE_NOMEM;
  pCur->nPair = 0;
  pCur->iPair = 0;
  while( rc==SQLITE_OK && pCur->nPair==0 && pCur->iBlock<pCur->in.n ){
    int a0 = pCur->iBlock;
    int nA = pCur->in.n - a0 < TILE ? pCur->in.n - a0 : TILE;
    /* only rows from a0 on can pair with rows of this block as b > a */
    rc = scanPairs(pCur, a0, nA, aRows + a0,
                   &pCur->in.aUnit[(size_t)a0*pCur->in.nDim],
                   pCur->in.n - a0, 1, collectPair);
    pCur->iBlock += nA;
  }
  sqlite3_free(aRows);
  if( rc==SQLITE_OK && pCur->nPair>1 ){
    qsort(pCur->aPair, (size_t)pCur->nPair, sizeof(DpPair), cmpPair);
  }
  return rc;
}

/* mode clusters: union-find whose root is the earliest row in processing
** order, the member 'keep' chooses (the smallest id by default). */
static int findRoot(int *aParent, int x){
  while( aParent[x]!=x ){
    aParent[x] = aParent[aParent[x]];
    x = aParent[x];
  }
  return x;
}

static void unionPair(DedupCursor *pCur, int a, int b, double r){
  int ra = findRoot(pCur->aParent, a), rb = findRoot(pCur->aParent, b);
  (void)r;
  if( ra<rb ) pCur->aParent[rb] = ra;
  else if( rb<ra ) pCur->aParent[ra] = rb;
}

/* Mode clusters' forest: every row its own root. */
static int parentArray(DedupCursor *pCur){
  const int n = pCur->in.n;
  int i;
  pCur->aParent = sqlite3_malloc64(sizeof(int)*((sqlite3_int64)n+1));
  if( pCur->aParent==0 ) return SQLITE_NOMEM;
  for(i=0; i<n; i++) pCur->aParent[i] = i;
  return SQLITE_OK;
}

static int runClusters(DedupCursor *pCur){
  const int n = pCur->in.n;
  int *aRows = allRows(n);
  int a0, rc = parentArray(pCur);
  if( aRows==0 || rc!=SQLITE_OK ){
    sqlite3_free(aRows);
    return SQLITE_NOMEM;
  }
  for(a0=0; rc==SQLITE_OK && a0<n; a0+=TILE){
    int nA = n - a0 < TILE ? n - a0 : TILE;
    rc = scanPairs(pCur, a0, nA, aRows + a0,
                   &pCur->in.aUnit[(size_t)a0*pCur->in.nDim], n - a0, 1,
                   unionPair);
  }
  sqlite3_free(aRows);
  return rc;
}

/**************************************************************************
** A set table: all three modes from the pairs of the join (setjoin.c).
*/
static int pollCallback(void *pCtx){
  return pollInterrupt((DedupCursor*)pCtx);
}

/* Order of pairs by their later row, then their earlier one. */
static int cmpPairLater(const void *pa, const void *pb){
  const DpPair *a = pa, *b = pb;
  if( a->j!=b->j ) return (a->j > b->j) - (a->j < b->j);
  return (a->i > b->i) - (a->i < b->i);
}

static int runSets(DedupCursor *pCur){
  const int n = pCur->in.n;
  int rc, k;
  rc = dpSetJoin(&pCur->sets, pCur->eSetMeasure, pCur->rThreshold, 0,
                 pollCallback, pCur, &pCur->aPair, &pCur->nPair);
  dpSetAllFree(&pCur->sets);
  if( rc!=SQLITE_OK ) return rc;
  pCur->nPairAlloc = pCur->nPair;
  for(k=0; pCur->aInv && k<pCur->nPair; k++){
    /* to processing positions, earlier first */
    DpPair *p = &pCur->aPair[k];
    int a = pCur->aInv[p->i], b = pCur->aInv[p->j];
    p->i = a<b ? a : b;
    p->j = a<b ? b : a;
  }
  switch( pCur->eMode ){
    case MODE_PAIRS:
      if( pCur->nPair>1 ){
        qsort(pCur->aPair, (size_t)pCur->nPair, sizeof(DpPair), cmpPair);
      }
      pCur->iBlock = n;                 /* every pair is already here */
      break;
    case MODE_FIRST:
      /* keep-first in processing order: a row's original is its best
      ** partner among the earlier rows that stayed originals, all of them
      ** decided before it since pairs come by their later row */
      if( firstArrays(pCur) ) return SQLITE_NOMEM;
      if( pCur->nPair>1 ){
        qsort(pCur->aPair, (size_t)pCur->nPair, sizeof(DpPair), cmpPairLater);
      }
      for(k=0; k<pCur->nPair; k++){
        const DpPair *p = &pCur->aPair[k];
        if( !pCur->aDup[p->i] ) firstPair(pCur, p->j, p->i, p->r);
      }
      break;
    default:
      if( parentArray(pCur) ) return SQLITE_NOMEM;
      for(k=0; k<pCur->nPair; k++){
        unionPair(pCur, pCur->aPair[k].i, pCur->aPair[k].j, pCur->aPair[k].r);
      }
      break;
  }
  return SQLITE_OK;
}

/**************************************************************************
** The table-valued function.
*/
static int ddConnect(sqlite3 *db, void *pAux, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr){
  DedupVtab *p;
  int rc;
  (void)pAux; (void)argc; (void)argv; (void)pzErr;
  *ppVtab = 0;
  rc = sqlite3_declare_vtab(db, "CREATE TABLE x(id INTEGER, is_duplicate"
      " INTEGER, duplicate_of INTEGER, similarity REAL, other_id INTEGER,"
      " cluster_id INTEGER, source HIDDEN, threshold HIDDEN, mode HIDDEN,"
      " keep HIDDEN)");
  if( rc!=SQLITE_OK ) return rc;
  p = dpMallocZero(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  p->db = db;
  p->pConn = (DpConn*)pAux;
  /* It runs the query it is given: never from a schema object. */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  *ppVtab = &p->base;
  return SQLITE_OK;
}

/* idxNum bits: 1 source, 2 threshold, 4 mode, 8 keep (in that argv order). */
static int ddBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  (void)pVtab;
  return dpTvfBestIndex(pInfo, COL_SOURCE, 4, 1e6);
}

static int ddOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  DedupCursor *p = dpMallocZero(sizeof(*p));
  (void)pVtab;
  if( p==0 ) return SQLITE_NOMEM;
  *ppCur = &p->base;
  return SQLITE_OK;
}

static void cursorClear(DedupCursor *p){
  inputFree(&p->in);
  sqlite3_free(p->aDup);
  sqlite3_free(p->aDupOf);
  sqlite3_free(p->aSim);
  sqlite3_free(p->aParent);
  sqlite3_free(p->aPair);
  sqlite3_free(p->aTile);
  sqlite3_free(p->aInv);
  dpSetAllFree(&p->sets);
  p->bSets = 0;
  p->aDup = 0; p->aDupOf = 0; p->aSim = 0; p->aParent = 0;
  p->aPair = 0; p->aTile = 0; p->aInv = 0;
  p->nPair = p->nPairAlloc = p->iPair = p->iBlock = p->iRow = 0;
  p->rcPair = SQLITE_OK;
}

static int ddClose(sqlite3_vtab_cursor *pCur){
  DedupCursor *p = (DedupCursor*)pCur;
  cursorClear(p);
  sqlite3_finalize(p->pPoll);
  sqlite3_free(p);
  return SQLITE_OK;
}

/* Which of az[0..n) the argument names (0 when NULL or absent); -1 with
** the error set when it names none of them. */
static int wordArg(sqlite3_vtab_cursor *pCursor, sqlite3_value *pVal,
                   const char *zWhat, const char *const *az, int n){
  const char *z;
  int i;
  if( pVal==0 || sqlite3_value_type(pVal)==SQLITE_NULL ) return 0;
  z = (const char*)sqlite3_value_text(pVal);
  for(i=0; z && i<n; i++){
    if( sqlite3_stricmp(z, az[i])==0 ) return i;
  }
  {
    sqlite3_str *pList = sqlite3_str_new(0);
    char *zList;
    for(i=0; i<n; i++){
      sqlite3_str_appendf(pList, "%s'%s'", i==0 ? "" : (i==n-1 ? " or " : ", "),
                          az[i]);
    }
    zList = dpStrFinish(pList);
    setError(pCursor, "%s must be %s, not '%s'", zWhat, zList ? zList : "",
             z ? z : "");
    sqlite3_free(zList);
  }
  return -1;
}

static int ddFilter(sqlite3_vtab_cursor *pCursor, int idxNum,
                    const char *idxStr, int argc, sqlite3_value **argv){
  DedupCursor *pCur = (DedupCursor*)pCursor;
  int iArg = 0, rc;
  const char *zSource;
  sqlite3_value *pThreshold = 0, *pMode = 0, *pKeep = 0;
  sqlite3_int64 tStart = dpNowNs(), tSearch, tCpu = dpCpuNs();
  char *zDb = 0, *zName = 0;
  double rTable = DP_THRESHOLD_DEFAULT;
  (void)idxStr; (void)argc;
  cursorClear(pCur);
  pCur->db = ((DedupVtab*)pCursor->pVtab)->db;
  if( (idxNum & 1)==0 ){
    setError(pCursor, "the source argument (a docpipe table or a query) is"
             " required");
    return SQLITE_ERROR;
  }
  iArg++;
  if( idxNum & 2 ) pThreshold = argv[iArg++];
  if( idxNum & 4 ) pMode = argv[iArg++];
  if( idxNum & 8 ) pKeep = argv[iArg++];
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT ){
    setError(pCursor, "source must be a docpipe table name or a query");
    return SQLITE_ERROR;
  }
  zSource = (const char*)sqlite3_value_text(argv[0]);
  {
    /* word arguments: position in the list is the MODE_* / KEEP_* value */
    static const char *const azMode[] = { "first", "pairs", "clusters" };
    static const char *const azKeep[] = { "first", "longest", "last" };
    pCur->eMode = wordArg(pCursor, pMode, "mode", azMode, 3);
    pCur->eKeep = wordArg(pCursor, pKeep, "keep", azKeep, 3);
    if( pCur->eMode<0 || pCur->eKeep<0 ) return SQLITE_ERROR;
  }
  if( pThreshold && sqlite3_value_type(pThreshold)!=SQLITE_NULL ){
    int t = sqlite3_value_numeric_type(pThreshold);
    double r = sqlite3_value_double(pThreshold);
    if( (t!=SQLITE_INTEGER && t!=SQLITE_FLOAT) || !(r>0.0 && r<=1.0) ){
      setError(pCursor, "threshold must be a number in (0, 1], not '%s'",
               sqlite3_value_text(pThreshold));
      return SQLITE_ERROR;
    }
    pCur->rThreshold = r;
  }else{
    pCur->rThreshold = -1.0;   /* the table's, once known */
  }
  rc = loadSource(pCur, zSource, &rTable, &zDb, &zName);
  if( rc==SQLITE_OK && pCur->rThreshold<0.0 ) pCur->rThreshold = rTable;
  if( rc==SQLITE_OK && pCur->eMode!=MODE_PAIRS ) rc = applyKeepOrder(pCur);
  if( rc==SQLITE_OK ){
    pCur->aTile = sqlite3_malloc64(sizeof(float)*TILE*TILE);
    if( pCur->aTile==0 ) rc = SQLITE_NOMEM;
  }
  if( rc!=SQLITE_OK ){
    sqlite3_free(zDb);
    sqlite3_free(zName);
    return rc;
  }
  tSearch = dpNowNs();
  if( pCur->bSets ){
    rc = runSets(pCur);
  }else switch( pCur->eMode ){
    case MODE_FIRST:    rc = runFirst(pCur); break;
    case MODE_CLUSTERS: rc = runClusters(pCur); break;
    default:            rc = nextPairBlock(pCur); break;
  }
  if( rc==SQLITE_INTERRUPT ) setError(pCursor, "interrupted");
  if( rc==SQLITE_OK && zDb && zName ){
    /* a docpipe table: the run goes into its statistics ('pairs' counts
    ** the work of its first block only; the rest happens as rows are read) */
    sqlite3_int64 tEnd = dpNowNs();
    DpTableRef *pRef = findTable(pCur, zDb, zName);
    if( pRef ){
      dpTsRecordDedup(pRef->pStats, pCur->in.n, tEnd - tSearch,
                      tEnd - tStart, dpCpuNs() - tCpu);
    }
  }
  sqlite3_free(zDb);
  sqlite3_free(zName);
  return rc;
}

static int ddNext(sqlite3_vtab_cursor *pCursor){
  DedupCursor *pCur = (DedupCursor*)pCursor;
  if( pCur->eMode==MODE_PAIRS ){
    pCur->iPair++;
    if( pCur->iPair>=pCur->nPair ){
      int rc = nextPairBlock(pCur);
      if( rc==SQLITE_INTERRUPT ) setError(pCursor, "interrupted");
      return rc;
    }
    return SQLITE_OK;
  }
  pCur->iRow++;
  return SQLITE_OK;
}

static int ddEof(sqlite3_vtab_cursor *pCursor){
  DedupCursor *pCur = (DedupCursor*)pCursor;
  if( pCur->eMode==MODE_PAIRS ) return pCur->iPair>=pCur->nPair;
  return pCur->iRow>=pCur->in.n;
}

static int ddColumn(sqlite3_vtab_cursor *pCursor, sqlite3_context *ctx,
                    int iCol){
  DedupCursor *pCur = (DedupCursor*)pCursor;
  const sqlite3_int64 *aId = pCur->in.aId;
  if( pCur->eMode==MODE_PAIRS ){
    const DpPair *p = &pCur->aPair[pCur->iPair];
    switch( iCol ){
      case COL_ID:    sqlite3_result_int64(ctx, aId[p->i]); break;
      case COL_OTHER: sqlite3_result_int64(ctx, aId[p->j]); break;
      case COL_SIM:   sqlite3_result_double(ctx, p->r); break;
      default: break;
    }
    return SQLITE_OK;
  }
  {
    /* rows come out in id order; results live at processing positions */
    const int r = pCur->aInv ? pCur->aInv[pCur->iRow] : pCur->iRow;
    switch( iCol ){
      case COL_ID: sqlite3_result_int64(ctx, aId[r]); break;
      case COL_ISDUP:
        if( pCur->eMode==MODE_FIRST ) sqlite3_result_int(ctx, pCur->aDup[r]);
        break;
      case COL_DUPOF:
        if( pCur->eMode==MODE_FIRST && pCur->aDup[r] ){
          sqlite3_result_int64(ctx, aId[pCur->aDupOf[r]]);
        }
        break;
      case COL_SIM:
        if( pCur->eMode==MODE_FIRST && pCur->aDup[r] ){
          sqlite3_result_double(ctx, pCur->aSim[r]);
        }
        break;
      case COL_CLUSTER:
        if( pCur->eMode==MODE_CLUSTERS ){
          sqlite3_result_int64(ctx, aId[findRoot(pCur->aParent, r)]);
        }
        break;
      default: break;
    }
  }
  return SQLITE_OK;
}

static int ddRowid(sqlite3_vtab_cursor *pCursor, sqlite3_int64 *pRowid){
  DedupCursor *pCur = (DedupCursor*)pCursor;
  *pRowid = pCur->eMode==MODE_PAIRS ? pCur->iPair : pCur->iRow;
  return SQLITE_OK;
}

static const sqlite3_module dedupModule = {
  .iVersion    = 0,
  .xCreate     = 0,          /* eponymous only */
  .xConnect    = ddConnect,
  .xBestIndex  = ddBestIndex,
  .xDisconnect = dpTvfDisconnect,
  .xOpen       = ddOpen,
  .xClose      = ddClose,
  .xFilter     = ddFilter,
  .xNext       = ddNext,
  .xEof        = ddEof,
  .xColumn     = ddColumn,
  .xRowid      = ddRowid,
};

int dpRegisterDedup(sqlite3 *db, DpConn *pConn){
  return sqlite3_create_module_v2(db, "dedup_index", &dedupModule, pConn,
                                  dpConnRelease);
}
