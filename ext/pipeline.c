/*
** pipeline.c — a docpipe table's documents: from a row to its stored
** decision, and the in-memory index that the decisions use.
**
**   INSERT INTO docs(body) VALUES ('some text');        -- dpTableWrite
**   UPDATE docs SET body = 'other text' WHERE rowid = 1;
**   INSERT INTO docs(docs) VALUES ('integrity-check');   -- or 'rebuild'
**
** How it works.  vtab.c's xUpdate hands every write to dpTableWrite().  A
** document goes through rowVector() (the caller's embedding, checked, or
** dpEmbedText(): tokenize and embed), decide() (the best indexed document
** with cosine >= threshold, as a brute-force scan would find it, ignoring
** the row an UPDATE rewrites and the row an OR REPLACE would delete) and
** storeDoc() (both shadow rows through storage.c, then the index).  The
** decision comes before any write, so a row refused by on_duplicate
** changes nothing.
**
** The set kind (measure='jaccard'|'cosine') takes the same way with a set
** instead of a vector: rowFeatures() makes the body's shingle set
** (dpTableSet), decideSet() asks setindex.c for the best kept document,
** storeDoc() and deleteDoc() add and remove the set there.  setindex.c's
** index lives in the database and follows transactions itself.  With
** sets='body' it stores no set and asks this file for one made again from
** the body (dpTableSetOfBody; dpTableSetsOfBodies for dedup_index, the
** bodies read in id order and tokenized in a thread per core).
**
** The vector kind's index is a cache of the shadow tables (dpTableEnsureIndex): built
** when first needed, after any ROLLBACK or ROLLBACK TO or failed write
** (vtab.c marks it stale), when PRAGMA data_version says another
** connection has committed, and for every statement when the connection
** reads uncommitted data (shared cache).  So it follows transactions
** without an undo log of its own.
*/
#include "docpipe.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>


/**************************************************************************
** Errors of the table.
*/
int dpTableError(DpTable *p, int rc, const char *zFmt, ...){
  va_list ap;
  char *zPrefix = sqlite3_mprintf("%s: ", dpStorageName(p->pStore));
  va_start(ap, zFmt);
  dpVtabErrorV(&p->base, zPrefix ? zPrefix : "", zFmt, ap);
  va_end(ap);
  sqlite3_free(zPrefix);
  return rc;
}

int dpTableStoreError(DpTable *p, int rc){
  if( rc!=SQLITE_OK && rc!=SQLITE_ROW && rc!=SQLITE_DONE ){
    const char *zMsg = dpStorageErrmsg(p->pStore);
    if( zMsg ) dpTableError(p, rc, "%s", zMsg);
    dpStorageClearError(p->pStore);
  }
  return rc;
}

int dpTableSqlError(DpTable *p, int rc){
  if( rc!=SQLITE_OK && rc!=SQLITE_ROW && rc!=SQLITE_DONE ){
    rc = dpReadCode(p->db, rc);
    dpTableError(p, rc, "%s", sqlite3_errmsg(p->db));
  }
  return rc;
}

/**************************************************************************
** The in-memory index: built from the shadow tables when stale.
*/
/* 1 when the blob holds nDim finite floats. */
static int vectorIsValid(const void *pBlob, int nByte, int nDim, float *aOut){
  int i;
  if( pBlob==0 || nByte!=4*nDim ) return 0;
  memcpy(aOut, pBlob, (size_t)nByte);
  for(i=0; i<nDim; i++){
    if( !isfinite(aOut[i]) ) return 0;
  }
  return 1;
}

int dpVectorIsZero(const float *a, int n){
  int i;
  for(i=0; i<n; i++){
    if( a[i]!=0.0f ) return 0;
  }
  return 1;
}

/* Fill an index from the shadow tables; SQLITE_CORRUPT_VTAB on bad rows. */
typedef struct IndexLoad IndexLoad;
struct IndexLoad {
  DpTable *p;             /* the table (messages) */
  DpIndex *idx;           /* filled */
  float *aVec;            /* scratch: p->aVec may hold the vector being
                          ** written or queried */
};

static int loadRow(void *pCtx, sqlite3_int64 iId, int bDup,
                   sqlite3_value *pVec){
  IndexLoad *pLoad = (IndexLoad*)pCtx;
  DpTable *p = pLoad->p;
  int nByte = sqlite3_value_bytes(pVec);
  if( sqlite3_value_type(pVec)==SQLITE_NULL ){
    return dpTableError(p, SQLITE_CORRUPT_VTAB, "document %lld has no row in"
                      " %s_vectors", iId, dpStorageName(p->pStore));
  }
  if( !vectorIsValid(sqlite3_value_blob(pVec), nByte, p->opt.nDim,
                     pLoad->aVec) ){
    return dpTableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
                      " damaged (%d bytes, expected %d finite float32)",
                      iId, nByte, p->opt.nDim);
  }
  if( dpVectorIsZero(pLoad->aVec, p->opt.nDim) ) return SQLITE_OK;
  return dpIndexAdd(pLoad->idx, iId, pLoad->aVec, bDup==0);
}

static int loadIndex(DpTable *p, DpIndex *idx){
  IndexLoad load;
  int rc;
  load.p = p;
  load.idx = idx;
  load.aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)p->opt.nDim);
  if( load.aVec==0 ) return SQLITE_NOMEM;
  dpIndexClear(idx);
  rc = dpTableStoreError(p, dpStorageScanVectors(p->pStore, loadRow, &load));
  sqlite3_free(load.aVec);
  if( rc!=SQLITE_OK ) dpIndexClear(idx);
  return rc;
}

/* Make the index match the shadow tables. */
int dpTableEnsureIndex(DpTable *p){
  sqlite3_int64 iVersion = 0, t0;
  int bDirty = 0;
  int rc = dpTableStoreError(p, dpStorageDataVersion(p->pStore, &iVersion, &bDirty));
  if( rc!=SQLITE_OK ) return rc;
  if( p->pSet ){
    /* setindex.c follows commits itself (data_version); read_uncommitted
    ** hides other connections' writes from that, so re-read its run list */
    if( bDirty ) dpSetIndexInvalidate(p->pSet);
    return SQLITE_OK;
  }
  /* with read_uncommitted the index is rebuilt for every statement */
  if( p->bIndexValid && iVersion==p->iDataVersion && !bDirty ) return SQLITE_OK;
  t0 = dpTsClock(p->pStats);
  rc = loadIndex(p, &p->index);
  dpTsAddLoad(p->pStats, t0);          /* statistics: load_ns */
  if( rc==SQLITE_OK ){
    p->bIndexValid = 1;
    p->iDataVersion = iVersion;
  }
  return rc;
}

/**************************************************************************
** Writes: INSERT, UPDATE, DELETE and commands.
*/

/* Offset of the first byte that is not valid UTF-8, or -1. */
static int utf8Invalid(const void *pBlob, int n){
  const utf8proc_uint8_t *z = (const utf8proc_uint8_t*)pBlob;
  int i = 0;
  while( i<n ){
    utf8proc_int32_t c;
    utf8proc_ssize_t m;
    if( z[i]<0x80 ){ i++; continue; }
    m = utf8proc_iterate(&z[i], n - i, &c);
    if( m<=0 ) return i;
    i += (int)m;
  }
  return -1;
}

/* The text of a body: *pz NULL for a NULL body; a blob must be valid
** UTF-8 (readfile() gives blobs: such a blob is text, and storage.c stores
** it as text); anything else is an error. */
static int bodyText(DpTable *p, sqlite3_value *pBody,
                    const unsigned char **pz, int *pn){
  *pz = 0;
  *pn = 0;
  switch( sqlite3_value_type(pBody) ){
    case SQLITE_NULL:
      return SQLITE_OK;
    case SQLITE_BLOB: {
      int iBad = utf8Invalid(sqlite3_value_blob(pBody),
                             sqlite3_value_bytes(pBody));
      if( iBad>=0 ){
        return dpTableError(p, SQLITE_MISMATCH, "body must be text, or a blob"
                          " of valid UTF-8 (byte %d is not)", iBad);
      }
    }
    /* fall through */
    case SQLITE_TEXT:
      *pz = sqlite3_value_text(pBody);
      *pn = sqlite3_value_bytes(pBody);
      return *pz ? SQLITE_OK : SQLITE_NOMEM;
    default:
      return dpTableError(p, SQLITE_MISMATCH, "body must be text");
  }
}

/* embed(body) into aOut with tokens scratch pTok (zeros for a NULL body);
** stage times added to aStageNs when not NULL. */
static int embedBody(DpTable *p, sqlite3_value *pBody, DpTokens *pTok,
                     float *aOut, sqlite3_int64 *aStageNs){
  const unsigned char *z;
  int n, rc = bodyText(p, pBody, &z, &n);
  if( rc!=SQLITE_OK ) return rc;
  if( z==0 ){
    memset(aOut, 0, sizeof(float)*(size_t)p->opt.nDim);
    return SQLITE_OK;
  }
  return dpEmbedText(&p->opt, pTok, z, n, aOut, aStageNs);
}

/* Vector of a row: the caller's embedding (checked) or embed(body). */
int dpTableVector(DpTable *p, sqlite3_value *pBody, sqlite3_value *pEmb,
                  float *aOut, int *pbOwn){
  const int nDim = p->opt.nDim;
  *pbOwn = 0;
  if( pEmb && sqlite3_value_type(pEmb)!=SQLITE_NULL ){
    const void *pBlob;
    const char *zWhy;
    int nByte;
    if( sqlite3_value_type(pEmb)!=SQLITE_BLOB ){
      return dpTableError(p, SQLITE_MISMATCH, "embedding must be a float32"
                        " blob of %d values", nDim);
    }
    pBlob = sqlite3_value_blob(pEmb);
    nByte = sqlite3_value_bytes(pEmb);
    if( nByte!=4*nDim ){
      return dpTableError(p, SQLITE_MISMATCH, "embedding must be a float32"
                        " blob of %d values (%d bytes), not %d bytes",
                        nDim, 4*nDim, nByte);
    }
    if( !vectorIsValid(pBlob, nByte, nDim, aOut) ){
      return dpTableError(p, SQLITE_MISMATCH, "embedding has a non-finite"
                        " value (NaN or Inf)");
    }
    if( !dpVectorScorable(aOut, nDim, &zWhy) ){
      return dpTableError(p, SQLITE_MISMATCH, "embedding cannot be scored: %s", zWhy);
    }
    *pbOwn = 1;
    return SQLITE_OK;
  }
  return embedBody(p, pBody, &p->tok, aOut, dpTsStages(p->pStats));
}

int dpTableEmbedBody(DpTable *p, sqlite3_value *pBody, DpTokens *pTok,
                     float *aOut){
  return embedBody(p, pBody, pTok, aOut, 0);
}

int dpTableSet(DpTable *p, sqlite3_value *pBody){
  const unsigned char *z;
  int n, rc = bodyText(p, pBody, &z, &n);
  p->nHash = 0;
  if( rc!=SQLITE_OK || z==0 ) return rc;
  return dpSetText(&p->opt, &p->tok, z, n, &p->aHash, &p->nHashAlloc,
                   &p->nHash, dpTsStages(p->pStats));
}

/* The stored body of document iId in column iCol of pStmt's row, as
** bodyText read it when it was written: *pz, *pn (*pz NULL for a NULL
** body: the empty set).  A blob is read as its bytes, which were valid
** UTF-8 when stored (dpSetText reads invalid bytes as separators, so damage
** there still gives a set, which its size and check see); another type is
** damage, named in *pzErr. */
static int storedBody(DpTable *p, sqlite3_stmt *pStmt, int iCol,
                      sqlite3_int64 iId, const unsigned char **pz, int *pn,
                      char **pzErr){
  int eType = sqlite3_column_type(pStmt, iCol);
  *pz = 0;
  *pn = 0;
  if( eType==SQLITE_NULL ) return SQLITE_OK;
  if( eType!=SQLITE_TEXT && eType!=SQLITE_BLOB ){
    *pzErr = sqlite3_mprintf("the body of document %lld in %s_docs is not"
                             " text", iId, dpStorageName(p->pStore));
    return SQLITE_CORRUPT_VTAB;
  }
  *pz = eType==SQLITE_TEXT ? sqlite3_column_text(pStmt, iCol)
                           : sqlite3_column_blob(pStmt, iCol);
  *pn = sqlite3_column_bytes(pStmt, iCol);
  if( *pz==0 && *pn>0 ) return SQLITE_NOMEM;
  if( *pz==0 ) *pz = (const unsigned char*)"";    /* an empty blob */
  return SQLITE_OK;
}

int dpTableSetOfBody(void *pCtx, sqlite3_int64 iId, const uint64_t **paHash,
                     int *pnHash, char **pzErr){
  DpTable *p = (DpTable*)pCtx;
  const char *zName = dpStorageName(p->pStore);
  sqlite3_stmt *pRow = 0;
  int rc = dpStorageBodySeek(p->pStore, iId, &pRow);
  *paHash = 0;
  *pnHash = 0;
  if( rc==SQLITE_DONE ){
    *pzErr = sqlite3_mprintf("%s_sets has a set for document %lld, %s_docs"
                             " no row", zName, iId, zName);
    return SQLITE_CORRUPT_VTAB;
  }
  if( rc==SQLITE_ROW ){
    const unsigned char *z = 0;
    int n = 0;
    rc = storedBody(p, pRow, 0, iId, &z, &n, pzErr);
    if( rc==SQLITE_OK && z ){
      rc = dpSetText(&p->opt, &p->tokBody, z, n, &p->aBodyHash,
                     &p->nBodyHashAlloc, pnHash, 0);
      if( rc==SQLITE_OK ) *paHash = p->aBodyHash;
    }
    {
      int rc2 = dpStorageBodyRelease(p->pStore);
      if( rc==SQLITE_OK ) rc = rc2;
    }
  }
  if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM && *pzErr==0 ){
    /* the read's own error (a statement not prepared, an interrupt, I/O,
    ** a damaged packed body): storage's message, else SQLite's */
    const char *zStore = dpStorageErrmsg(p->pStore);
    *pzErr = sqlite3_mprintf("%s", zStore ? zStore : sqlite3_errmsg(p->db));
  }
  dpStorageClearError(p->pStore);
  return rc;
}

/* dpTableSetsOfBodies: a batch of bodies read, tokenized by a thread
** per core (each with its own tokenizer scratch), each set into its room
** in the caller's array. */
#define DP_BODIES_BATCH_BYTES (16 << 20)  /* text read before tokenizing */
#define DP_BODIES_BATCH_DOCS  8192
#define DP_BODIES_MAX_THREADS 8
#define DP_BODIES_MIN_THREADED 256        /* fewer bodies: no thread */
typedef struct BodyBatch BodyBatch;
struct BodyBatch {
  const DpOptions *pOpt;
  char *zText;            /* the batch's bodies, one after the other */
  sqlite3_int64 nText, nTextAlloc;
  int *aDoc;              /* per body: its index i in the caller's arrays */
  sqlite3_int64 *aStart;  /* per body: its offset in zText */
  int *aLen;              /* per body: bytes; -1 a NULL body (empty set) */
  int nBody;
  const sqlite3_int64 *aOff;  /* the caller's */
  uint64_t *aHash;
  sqlite3_int64 *anMade;
};
typedef struct BodyWorker BodyWorker;
struct BodyWorker {
  BodyBatch *pBatch;
  int iFirst, nStep;      /* bodies iFirst, iFirst+nStep, ... */
  int rc;
  DpTokens tok;
  uint64_t *aSet;
  int nSetAlloc;
};

static void *bodyWork(void *pArg){
  BodyWorker *w = (BodyWorker*)pArg;
  BodyBatch *b = w->pBatch;
  int j;
  for(j=w->iFirst; w->rc==SQLITE_OK && j<b->nBody; j+=w->nStep){
    int i = b->aDoc[j], nSet = 0;
    if( b->aLen[j]>=0 ){
      w->rc = dpSetText(b->pOpt, &w->tok,
                        (const unsigned char*)&b->zText[b->aStart[j]],
                        b->aLen[j], &w->aSet, &w->nSetAlloc, &nSet, 0);
    }
    if( w->rc==SQLITE_OK ){
      sqlite3_int64 nRoom = b->aOff[i+1] - b->aOff[i];
      b->anMade[i] = nSet;
      if( nSet>0 ){
        memcpy(&b->aHash[b->aOff[i]], w->aSet,
               sizeof(uint64_t)*(size_t)(nSet<nRoom ? nSet : nRoom));
      }
    }
  }
  return 0;
}

static int bodyBatchRun(BodyBatch *b, BodyWorker *aW, int nThread){
  pthread_t aThread[DP_BODIES_MAX_THREADS];
  int abStarted[DP_BODIES_MAX_THREADS];
  int i, rc = SQLITE_OK;
  /* a small batch on this thread alone (threads only where they pay, and
  ** the out-of-memory test's counting allocator sees one thread) */
  if( b->nBody<DP_BODIES_MIN_THREADED ) nThread = 1;
  for(i=0; i<nThread; i++){
    aW[i].pBatch = b;
    aW[i].iFirst = i;
    aW[i].nStep = nThread;
  }
  for(i=1; i<nThread; i++){
    abStarted[i] = pthread_create(&aThread[i], 0, bodyWork, &aW[i])==0;
  }
  bodyWork(&aW[0]);
  for(i=1; i<nThread; i++){
    if( abStarted[i] ) pthread_join(aThread[i], 0);
    else bodyWork(&aW[i]);            /* no thread: done here */
  }
  for(i=0; i<nThread && rc==SQLITE_OK; i++) rc = aW[i].rc;
  b->nBody = 0;
  b->nText = 0;
  return rc;
}

int dpTableSetsOfBodies(void *pCtx, int nDoc, const sqlite3_int64 *aId,
                        const sqlite3_int64 *aOff, uint64_t *aHash,
                        sqlite3_int64 *anMade, char **pzErr){
  DpTable *p = (DpTable*)pCtx;
  const char *zName = dpStorageName(p->pStore);
  BodyBatch b;
  BodyWorker aW[DP_BODIES_MAX_THREADS];
  sqlite3_stmt *pStmt = 0;
  int nThread = dpThreadCount(DP_BODIES_MAX_THREADS), i = 0, k, rc;
  memset(&b, 0, sizeof(b));
  memset(aW, 0, sizeof(aW));
  for(k=0; k<nThread; k++) dpEmbedScratchInit(&aW[k].tok);
  b.pOpt = &p->opt;
  b.aOff = aOff;
  b.aHash = aHash;
  b.anMade = anMade;
  b.aDoc = sqlite3_malloc64(sizeof(int)*DP_BODIES_BATCH_DOCS);
  b.aStart = sqlite3_malloc64(sizeof(sqlite3_int64)*DP_BODIES_BATCH_DOCS);
  b.aLen = sqlite3_malloc64(sizeof(int)*DP_BODIES_BATCH_DOCS);
  rc = (b.aDoc && b.aStart && b.aLen) ? SQLITE_OK : SQLITE_NOMEM;
  if( rc==SQLITE_OK ) rc = dpStorageDocCursor(p->pStore, "ORDER BY id", 0,
                                              &pStmt);
  if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ){
    *pzErr = sqlite3_mprintf("%s", dpStorageErrmsg(p->pStore));
    dpStorageClearError(p->pStore);
  }
  /* the documents in id order beside the ids asked (ascending): a document
  ** without a set is not this call's to judge; a set without one is damage */
  while( rc==SQLITE_OK && i<nDoc && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
    int n = 0;
    const unsigned char *z = 0;
    if( iId<aId[i] ) continue;
    if( iId>aId[i] ) break;
    rc = storedBody(p, pStmt, 1, iId, &z, &n, pzErr);
    if( rc ) break;
    if( b.nBody==DP_BODIES_BATCH_DOCS || b.nText+n>DP_BODIES_BATCH_BYTES ){
      rc = bodyBatchRun(&b, aW, nThread);
      if( rc ) break;
    }
    if( b.nText+n>b.nTextAlloc ){
      sqlite3_int64 nNew = b.nText + n + DP_BODIES_BATCH_BYTES/4;
      char *zNew = sqlite3_realloc64(b.zText, (sqlite3_uint64)nNew);
      if( zNew==0 ){ rc = SQLITE_NOMEM; break; }
      b.zText = zNew;
      b.nTextAlloc = nNew;
    }
    if( n>0 ) memcpy(&b.zText[b.nText], z, (size_t)n);
    b.aDoc[b.nBody] = i;
    b.aStart[b.nBody] = b.nText;
    b.aLen[b.nBody] = z==0 ? -1 : n;          /* -1: a NULL body */
    b.nBody++;
    b.nText += n;
    i++;
  }
  if( pStmt ){
    int rc2 = sqlite3_finalize(pStmt);
    if( rc==SQLITE_OK && rc2!=SQLITE_OK ){
      rc = dpReadCode(p->db, rc2);
      *pzErr = sqlite3_mprintf("%s", sqlite3_errmsg(p->db));
    }
  }
  if( rc==SQLITE_OK && b.nBody ) rc = bodyBatchRun(&b, aW, nThread);
  if( rc==SQLITE_OK && i<nDoc ){
    *pzErr = sqlite3_mprintf("%s_sets has a set for document %lld, %s_docs"
                             " no row", zName, aId[i], zName);
    rc = SQLITE_CORRUPT_VTAB;
  }
  for(k=0; k<nThread; k++){
    dpEmbedScratchFree(&aW[k].tok);
    sqlite3_free(aW[k].aSet);
  }
  sqlite3_free(b.zText);
  sqlite3_free(b.aDoc);
  sqlite3_free(b.aStart);
  sqlite3_free(b.aLen);
  return rc;
}

int dpTableSetError(DpTable *p, int rc){
  if( rc!=SQLITE_OK && rc!=SQLITE_ROW && rc!=SQLITE_DONE && p->pSet ){
    const char *zMsg = dpSetIndexErrmsg(p->pSet);
    /* its messages start "docpipe: "; the table's name prefixes ours */
    if( strncmp(zMsg, "docpipe: ", 9)==0 ) zMsg += 9;
    if( zMsg[0] ) dpTableError(p, rc, "%s", zMsg);
  }
  return rc;
}

int dpTableSetMeasure(const DpTable *p){
  return p->opt.eMeasure==DP_MEASURE_COSINE ? DP_SET_COSINE : DP_SET_JACCARD;
}

/* Decision of a vector against the indexed documents. */
typedef struct Decision Decision;
struct Decision {
  int bDup;               /* near-duplicate of an indexed document */
  sqlite3_int64 iDupOf;   /* which one (bDup) */
  double rSim;            /* cosine with it (bDup) */
};

/* The set kind: the kept document of highest similarity >= threshold with
** the set p->aHash (ties: lowest id), as a scan of every stored set finds
** it (setindex.c); aSkip as for decide(). */
static int decideSet(DpTable *p, const sqlite3_int64 *aSkip, int nSkip,
                     Decision *pDec){
  sqlite3_int64 t0 = dpTsClock(p->pStats);
  DpSetHit hit;
  int bFound = 0;
  int rc = dpTableSetError(p, dpSetIndexBest(p->pSet, p->aHash, p->nHash,
                                             dpTableSetMeasure(p),
                                             p->opt.rThreshold, aSkip, nSkip,
                                             &hit, &bFound));
  dpTsAddStage(p->pStats, DP_STAGE_SEARCH, t0);
  if( rc==SQLITE_OK && bFound ){
    pDec->bDup = 1;
    pDec->iDupOf = hit.iId;
    pDec->rSim = hit.rSim;
  }
  return rc;
}

/* Decide as if the documents aSkip[0..nSkip) were not indexed (the row an
** UPDATE rewrites, the row an OR REPLACE would delete): their flags are
** cleared for the search and put back after, so that a refused write
** leaves the index exactly as it was. */
static int decide(DpTable *p, const float *aVec, const sqlite3_int64 *aSkip,
                  int nSkip, Decision *pDec){
  int rc, i, aPos[2];
  unsigned char aFlag[2];
  sqlite3_int64 t0;
  memset(pDec, 0, sizeof(*pDec));
  if( p->pSet ) return decideSet(p, aSkip, nSkip, pDec);
  t0 = dpTsClock(p->pStats);
  if( dpVectorIsZero(aVec, p->opt.nDim) ) return SQLITE_OK;
  assert( nSkip<=2 );
  for(i=0; i<nSkip; i++){
    aPos[i] = dpIndexFind(&p->index, aSkip[i]);
    if( aPos[i]>=0 ){
      aFlag[i] = p->index.aFlag[aPos[i]];
      p->index.aFlag[aPos[i]] &= ~DP_ENTRY_INDEXED;
    }
  }
  rc = dpIndexBest(&p->index, aVec, p->opt.rThreshold, &pDec->iDupOf,
                   &pDec->rSim);
  for(i=nSkip-1; i>=0; i--){
    if( aPos[i]>=0 ) p->index.aFlag[aPos[i]] = aFlag[i];
  }
  dpTsAddStage(p->pStats, DP_STAGE_SEARCH, t0);
  if( rc==SQLITE_ROW ){
    pDec->bDup = 1;
    rc = SQLITE_OK;
  }else if( rc==SQLITE_DONE ){
    rc = SQLITE_OK;
  }
  return rc;
}

/* Store: both shadow rows of document *piId (a new rowid when !bHasId)
** with its vector aVec and decision, then the vector into the index (an
** existing entry was removed by the caller: UPDATE, REPLACE).  Timed as
** the 'store' stage. */
static int storeDoc(DpTable *p, sqlite3_int64 *piId, int bHasId,
                    sqlite3_value *pBody, int bOwn, const Decision *pDec,
                    sqlite3_value **apExtra, const float *aVec){
  sqlite3_int64 t0 = dpTsClock(p->pStats);
  int rc = dpTableStoreError(p, dpStorageDocPut(p->pStore, piId, bHasId, pBody,
                                         bOwn, pDec->bDup, pDec->iDupOf,
                                         pDec->rSim, apExtra,
                                         p->pSet ? 0 : aVec));
  if( rc==SQLITE_OK ) p->nWritten++;
  if( rc==SQLITE_OK && p->pSet ){
    /* the set of the row is in p->aHash (dpTableSet) */
    rc = dpTableSetError(p, dpSetIndexAdd(p->pSet, *piId, p->aHash, p->nHash,
                                          !pDec->bDup));
  }else if( rc==SQLITE_OK && !dpVectorIsZero(aVec, p->opt.nDim) ){
    rc = dpIndexAdd(&p->index, *piId, aVec, !pDec->bDup);
  }
  dpTsAddStage(p->pStats, DP_STAGE_STORE, t0);
  return rc;
}

static int deleteDoc(DpTable *p, sqlite3_int64 iId){
  sqlite3_int64 t0 = dpTsClock(p->pStats);
  int rc = dpTableStoreError(p, dpStorageDocDelete(p->pStore, iId));
  if( rc==SQLITE_OK && p->pSet ){
    rc = dpTableSetError(p, dpSetIndexRemove(p->pSet, iId, 0));
  }else if( rc==SQLITE_OK ){
    dpIndexRemove(&p->index, iId);
  }
  dpTsAddStage(p->pStats, DP_STAGE_STORE, t0);
  return rc;
}

static int docExists(DpTable *p, sqlite3_int64 iId, int *pbExists){
  return dpTableStoreError(p, dpStorageDocExists(p->pStore, iId, pbExists));
}

/* integrity-check, one document made from its body: its stored vector is
** embed(body). */
static int checkMadeVector(void *pCtx, sqlite3_int64 iId, sqlite3_value *pBody,
                           sqlite3_value *pVec){
  DpTable *p = (DpTable*)pCtx;
  int bOwn;
  int rc = dpTableVector(p, pBody, 0, p->aVec, &bOwn);
  int nStored = sqlite3_value_bytes(pVec);
  if( rc==SQLITE_OK && sqlite3_value_type(pVec)!=SQLITE_NULL
   && (nStored!=4*p->opt.nDim
       || memcmp(sqlite3_value_blob(pVec), p->aVec, (size_t)nStored)) ){
    rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
                    " not the embedding of its body", iId);
  }
  return rc;
}

/* The set kind, for each document in id order: xDoc(p, id, body,
** is_duplicate) with the document's set in p->aHash (made from its body).
** For 'integrity-check' and 'rebuild'. */
static int forEachSetDoc(DpTable *p, int (*xDoc)(DpTable*, sqlite3_int64,
                                                 int, sqlite3_int64*),
                         sqlite3_int64 *pnDoc){
  sqlite3_stmt *pStmt = 0;
  int rc = dpTableStoreError(p, dpStorageDocCursor(p->pStore, "ORDER BY id",
                                                   0, &pStmt));
  *pnDoc = 0;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
    rc = dpTableSet(p, sqlite3_column_value(pStmt, 1));
    if( rc==SQLITE_MISMATCH ){
      /* no insert takes such a body: damage, named */
      rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "the body of document %lld"
                        " in %s_docs is not text (DELETE the document, or"
                        " UPDATE its body)", iId, dpStorageName(p->pStore));
    }
    if( rc==SQLITE_OK ) rc = xDoc(p, iId, sqlite3_column_int(pStmt, 2), pnDoc);
  }
  if( rc==SQLITE_OK ) rc = dpTableSqlError(p, sqlite3_finalize(pStmt));
  else sqlite3_finalize(pStmt);
  return rc;
}

/* integrity-check, one document: its set row describes the set of its body,
** kept exactly when it is not a duplicate. */
static int checkSetDoc(DpTable *p, sqlite3_int64 iId, int bDup,
                       sqlite3_int64 *pnDoc){
  int bSame = 0, bKept = 0;
  int rc = dpTableSetError(p, dpSetIndexMatchRow(p->pSet, iId, p->aHash,
                                                 p->nHash, &bSame, &bKept));
  if( rc==SQLITE_DONE ){
    rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "document %lld has no set in"
                    " %s_sets", iId, dpStorageName(p->pStore));
  }else if( rc==SQLITE_ROW ){
    rc = SQLITE_OK;
    if( !bSame ){
      rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "the set of document %lld is"
                      " not the shingle set of its body", iId);
    }else if( bKept!=!bDup ){
      rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "the set of document %lld"
                      " says kept=%d, its row is_duplicate=%d", iId, bKept,
                      bDup);
    }
  }
  (*pnDoc)++;
  return rc;
}

/* 'integrity-check' of the set kind: the index (setindex.c checks its
** postings against the sets), every document's set, and no set without
** a document. */
static int integrityCheckSet(DpTable *p){
  sqlite3_int64 nDoc = 0, nSet = 0;
  int rc = dpTableSetError(p, dpSetIndexIntegrity(p->pSet));
  if( rc==SQLITE_OK ) rc = dpTableStoreError(p, dpStorageCheckRows(p->pStore));
  if( rc==SQLITE_OK ) rc = forEachSetDoc(p, checkSetDoc, &nDoc);
  if( rc==SQLITE_OK ) rc = dpTableSetError(p, dpSetIndexCount(p->pSet, &nSet));
  if( rc==SQLITE_OK && nSet!=nDoc ){
    rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "%s_sets has %lld sets, %s_docs"
                    " %lld documents", dpStorageName(p->pStore), nSet,
                    dpStorageName(p->pStore), nDoc);
  }
  return rc;
}

/* 'rebuild', one document of the set kind: its set made again from the
** body and indexed again (the old postings die with its tombstone). */
static int rebuildSetDoc(DpTable *p, sqlite3_int64 iId, int bDup,
                         sqlite3_int64 *pnDoc){
  int rc = dpTableSetError(p, dpSetIndexRemove(p->pSet, iId, 0));
  if( rc==SQLITE_OK ){
    rc = dpTableSetError(p, dpSetIndexAdd(p->pSet, iId, p->aHash, p->nHash,
                                          !bDup));
  }
  (*pnDoc)++;
  return rc;
}

/* 'integrity-check': shadow tables agree with each other, with the options
** and with the in-memory index. */
static int integrityCheck(DpTable *p){
  DpIndex fresh;
  int rc, i;
  if( p->pSet ) return integrityCheckSet(p);
  rc = dpTableEnsureIndex(p);
  if( rc!=SQLITE_OK ) return rc;
  dpIndexInit(&fresh, p->opt.nDim);
  rc = loadIndex(p, &fresh);
  if( rc==SQLITE_OK && fresh.nEntry!=p->index.nEntry ){
    rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "in-memory index has %d entries,"
                    " the shadow tables %d", p->index.nEntry, fresh.nEntry);
  }
  for(i=0; rc==SQLITE_OK && i<fresh.nEntry; i++){
    int j = dpIndexFind(&p->index, fresh.aId[i]);
    if( j<0 || p->index.aFlag[j]!=fresh.aFlag[i]
     || memcmp(&p->index.aVec[(sqlite3_int64)j*fresh.nDim],
               &fresh.aVec[(sqlite3_int64)i*fresh.nDim],
               sizeof(float)*(size_t)fresh.nDim) ){
      rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "in-memory index differs from"
                      " the shadow tables at document %lld", fresh.aId[i]);
    }
  }
  dpIndexFree(&fresh);
  /* Vectors without a document; decisions out of range; vectors that are
  ** not embed(body) although the body produced them. */
  if( rc==SQLITE_OK ) rc = dpTableStoreError(p, dpStorageCheckRows(p->pStore));
  if( rc==SQLITE_OK ){
    rc = dpTableStoreError(p, dpStorageScanDocs(p->pStore, DP_SCAN_MADE,
                                         checkMadeVector, p));
  }
  return rc;
}

/* 'rebuild', a vector the caller gave: it cannot be made again from the
** body; a damaged one is named, with what to do. */
static int rebuildOwnVector(void *pCtx, sqlite3_int64 iId,
                            sqlite3_value *pBody, sqlite3_value *pVec){
  DpTable *p = (DpTable*)pCtx;
  (void)pBody;
  if( !vectorIsValid(sqlite3_value_blob(pVec), sqlite3_value_bytes(pVec),
                     p->opt.nDim, p->aVec) ){
    return dpTableError(p, SQLITE_CORRUPT_VTAB, "rebuild: the embedding of"
        " document %lld was given by the caller and is damaged: it cannot"
        " be made again from the body; DELETE the document and insert it"
        " again", iId);
  }
  return SQLITE_OK;
}

/* 'rebuild', a vector docpipe made: made again from the body. */
static int rebuildMadeVector(void *pCtx, sqlite3_int64 iId,
                             sqlite3_value *pBody, sqlite3_value *pVec){
  DpTable *p = (DpTable*)pCtx;
  int bOwn;
  int rc = dpTableVector(p, pBody, 0, p->aVec, &bOwn);
  (void)pVec;
  if( rc==SQLITE_OK ){
    rc = dpTableStoreError(p, dpStorageVectorPut(p->pStore, iId, p->aVec));
  }
  return rc;
}

/* 'rebuild': vectors again from bodies (caller-supplied ones are kept),
** then the index again from the shadow tables. */
static int rebuild(DpTable *p){
  int rc;
  if( p->pSet ){
    /* every set made again from its body and indexed again: with
    ** sets='body' by this build's tokenizer, which %_config then names */
    sqlite3_int64 nDoc;
    rc = forEachSetDoc(p, rebuildSetDoc, &nDoc);
    if( rc==SQLITE_OK ){
      rc = dpTableStoreError(p, dpStorageTokenizerRecord(p->pStore));
    }
    return rc;
  }
  rc = dpTableStoreError(p, dpStorageScanDocs(p->pStore, DP_SCAN_MADE,
                                              rebuildMadeVector, p));
  p->bIndexValid = 0;
  if( rc==SQLITE_OK ){
    rc = dpTableStoreError(p, dpStorageScanDocs(p->pStore, DP_SCAN_OWN,
                                         rebuildOwnVector, p));
  }
  if( rc==SQLITE_OK ) rc = dpTableEnsureIndex(p);
  return rc;
}

static int runCommand(DpTable *p, sqlite3_value *pCmd){
  const char *zCmd = (const char*)sqlite3_value_text(pCmd);
  if( zCmd==0 ) return SQLITE_NOMEM;
  if( sqlite3_stricmp(zCmd, "integrity-check")==0 ){
    int rc = dpTableStoreError(p, dpStorageTokenizerCheck(p->pStore));
    return rc ? rc : integrityCheck(p);
  }
  if( sqlite3_stricmp(zCmd, "rebuild")==0 ) return rebuild(p);
  if( sqlite3_stricmp(zCmd, "merge")==0 && p->pSet ){
    /* the set kind: merge every run the tiered policy would merge */
    int bIdle = 0, rc = SQLITE_OK;
    while( rc==SQLITE_OK && !bIdle ){
      rc = dpTableSetError(p, dpSetIndexMerge(p->pSet, 1000000, &bIdle));
    }
    return rc;
  }
  if( sqlite3_stricmp(zCmd, "optimize")==0 && p->pSet ){
    /* the set kind: every run merged into one */
    return dpTableSetError(p, dpSetIndexOptimize(p->pSet));
  }
  if( sqlite3_stricmp(zCmd, "stats-reset")==0 ){
    return dpTsReset(p->pStats, dpStorageFormat(p->pStore), &p->base.zErrMsg);
  }
  return dpTableError(p, SQLITE_ERROR, "unknown command '%s' (integrity-check,"
                    " rebuild, stats-reset%s)", zCmd,
                    p->pSet ? ", merge, optimize" : "");
}

static const char *columnName(const DpTable *p, int iCol){
  static const char *const az[] = {
    "body", "embedding", "is_duplicate", "duplicate_of", "similarity"
  };
  if( iCol<DP_COL_EXTRA0 ) return az[iCol];
  if( iCol<dpColScore(p) ) return dpStorageExtraName(p->pStore, iCol-DP_COL_EXTRA0);
  if( iCol==dpColScore(p) ) return "score";
  if( iCol==dpColK(p) ) return "k";
  return dpStorageName(p->pStore);
}

/* The code of an error for writing a column that cannot be written: a
** constraint (so OR ROLLBACK and OR FAIL act as on any constraint, and
** clients see code 19 as before), except under OR IGNORE, which would skip
** the row without a word (the table declares constraint support, for
** on_duplicate and UNIQUE rowids): there a plain error. */
static int unwritableCode(DpTable *p){
  return sqlite3_vtab_on_conflict(p->db)==SQLITE_IGNORE ? SQLITE_ERROR
                                                        : SQLITE_CONSTRAINT;
}

/* On INSERT, the computed and hidden columns must be NULL. */
static int checkNotWritten(DpTable *p, sqlite3_value **apCol){
  static const int aRo[] = { DP_COL_ISDUP, DP_COL_DUPOF, DP_COL_SIM };
  size_t i;
  for(i=0; i<sizeof(aRo)/sizeof(aRo[0]); i++){
    if( sqlite3_value_type(apCol[aRo[i]])!=SQLITE_NULL ){
      return dpTableError(p, unwritableCode(p), "column %s is read-only",
                        columnName(p, aRo[i]));
    }
  }
  if( sqlite3_value_type(apCol[dpColScore(p)])!=SQLITE_NULL
   || sqlite3_value_type(apCol[dpColK(p)])!=SQLITE_NULL ){
    return dpTableError(p, unwritableCode(p), "columns score and k are for"
                      " MATCH queries only");
  }
  return SQLITE_OK;
}

static int duplicateError(DpTable *p, const Decision *pDec){
  return dpTableError(p, SQLITE_CONSTRAINT, "document is a near-duplicate of"
                    " rowid %lld (similarity %.4f >= threshold %g,"
                    " on_duplicate=abort)", pDec->iDupOf, pDec->rSim,
                    p->opt.rThreshold);
}

/* An INSERT that reads this table's own shadow tables (INSERT INTO t(body)
** SELECT body FROM t_docs) would read the rows it writes and never end:
** refuse it.  Only statements whose text holds a SELECT can read a table;
** each is checked once (its address and text remembered). */
static int insertFeedsOnItself(DpTable *p){
  sqlite3_stmt *s = 0, *aStore[32];
  int rc = SQLITE_OK, i;
  int nStore = dpStorageStatements(p->pStore, aStore, 32);
  nStore += dpTsStatements(p->pStats, &aStore[nStore], 32-nStore);
  while( rc==SQLITE_OK && (s = sqlite3_next_stmt(p->db, s))!=0 ){
    const char *zSql = sqlite3_sql(s);
    int bOurs = 0;
    DpCursor *c;
    if( !sqlite3_stmt_busy(s) || sqlite3_stmt_readonly(s) || zSql==0 ) continue;
    for(i=0; i<nStore && !bOurs; i++) bOurs = aStore[i]==s;
    for(c=p->pCursors; c && !bOurs; c=c->pNextCursor) bOurs = c->pStmt==s;
    if( bOurs || sqlite3_strlike("%select%", zSql, 0)!=0 ) continue;
    if( s!=p->pFeedStmt || p->zFeedSql==0 || strcmp(zSql, p->zFeedSql)!=0 ){
      sqlite3_free(p->zFeedSql);
      p->pFeedStmt = s;
      p->zFeedSql = sqlite3_mprintf("%s", zSql);
      if( p->zFeedSql==0 ) return SQLITE_NOMEM;
      rc = dpTableStoreError(p, dpStorageReadBy(p->pStore, s, &p->bFeeds));
      if( rc!=SQLITE_OK ){
        sqlite3_free(p->zFeedSql);
        p->zFeedSql = 0;
      }
    }
    if( rc==SQLITE_OK && p->bFeeds ){
      const char *zName = dpStorageName(p->pStore);
      if( dpOptionsIsSet(&p->opt) ){
        return dpTableError(p, SQLITE_ERROR, "an INSERT may not read %s_docs,"
            " %s_sets or the index's %s_p* tables: it would read the rows it"
            " writes (copy them into a temporary table first)", zName, zName,
            zName);
      }
      return dpTableError(p, SQLITE_ERROR, "an INSERT may not read %s_docs or"
          " %s_vectors: it would read the rows it writes (copy them into a"
          " temporary table first)", zName, zName);
    }
  }
  return rc;
}

/* The embedding of a set-kind table is computed from the body on read
** (vtab.c): it cannot be written. */
static int setEmbeddingError(DpTable *p){
  return dpTableError(p, unwritableCode(p), "column embedding is computed"
                    " from body on a measure='%s' table and cannot be"
                    " written", dpOptionsMeasureText(&p->opt));
}

/* What a row is compared by: its set into p->aHash (the set kind), or its
** vector into p->aVec (*pbOwn: the caller's embedding). */
static int rowFeatures(DpTable *p, sqlite3_value *pBody, sqlite3_value *pEmb,
                       int *pbOwn){
  if( p->pSet ){
    *pbOwn = 0;
    if( pEmb && sqlite3_value_type(pEmb)!=SQLITE_NULL ){
      return setEmbeddingError(p);
    }
    return dpTableSet(p, pBody);
  }
  return dpTableVector(p, pBody, pEmb, p->aVec, pbOwn);
}

static int doInsert(DpTable *p, sqlite3_value *pRowid, sqlite3_value **apCol,
                    sqlite3_int64 *piRowid){
  Decision dec;
  int bOwn = 0, bHasId = 0, bReplace = 0, rc;
  sqlite3_int64 iId = 0;

  rc = checkNotWritten(p, apCol);
  if( rc==SQLITE_OK ) rc = insertFeedsOnItself(p);
  if( rc==SQLITE_OK ){
    rc = rowFeatures(p, apCol[DP_COL_BODY], apCol[DP_COL_EMBEDDING], &bOwn);
  }
  if( rc!=SQLITE_OK ) return rc;
  if( sqlite3_value_type(pRowid)!=SQLITE_NULL ){
    int bExists;
    if( sqlite3_value_type(pRowid)!=SQLITE_INTEGER ){
      return dpTableError(p, SQLITE_MISMATCH, "rowid must be an integer");
    }
    iId = sqlite3_value_int64(pRowid);
    bHasId = 1;
    /* refused before anything is written (see vtabUpdate) */
    if( p->pSet ) rc = dpTableSetError(p, dpSetIndexCheckId(p->pSet, iId));
    if( rc==SQLITE_OK ) rc = docExists(p, iId, &bExists);
    if( rc!=SQLITE_OK ) return rc;
    if( bExists ){
      switch( sqlite3_vtab_on_conflict(p->db) ){
        case SQLITE_IGNORE:  return SQLITE_OK;
        case SQLITE_REPLACE: bReplace = 1; break;
        default:
          return dpTableError(p, SQLITE_CONSTRAINT, "UNIQUE constraint failed:"
                            " %s.rowid", dpStorageName(p->pStore));
      }
    }
  }
  /* Decide first, as if the row OR REPLACE deletes were gone; only a row
  ** that is kept deletes it (a one-row write has no statement journal). */
  rc = decide(p, p->aVec, &iId, bReplace, &dec);
  if( rc!=SQLITE_OK ) return rc;
  if( dec.bDup && p->opt.eOnDup!=DP_ONDUP_KEEP ){
    if( p->opt.eOnDup==DP_ONDUP_IGNORE
     || sqlite3_vtab_on_conflict(p->db)==SQLITE_IGNORE ){
      return SQLITE_OK;             /* not stored; the statement goes on */
    }
    return duplicateError(p, &dec);
  }
  if( bReplace ) rc = deleteDoc(p, iId);
  if( rc==SQLITE_OK ){
    rc = storeDoc(p, &iId, bHasId, apCol[DP_COL_BODY], bOwn, &dec,
                  &apCol[DP_COL_EXTRA0], p->aVec);
  }
  *piRowid = iId;
  return rc;
}

/* Values equal as SQL would store them (for read-only column checks). */
static int sameValue(sqlite3_value *a, sqlite3_stmt *pStmt, int iCol){
  int t = sqlite3_value_type(a);
  if( t!=sqlite3_column_type(pStmt, iCol) ) return 0;
  switch( t ){
    case SQLITE_NULL:    return 1;
    case SQLITE_INTEGER: return sqlite3_value_int64(a)==sqlite3_column_int64(pStmt, iCol);
    case SQLITE_FLOAT:   return sqlite3_value_double(a)==sqlite3_column_double(pStmt, iCol);
    default: {
      int n = sqlite3_value_bytes(a);
      /* an empty value may have a NULL pointer: memcmp must not see it */
      return n==sqlite3_column_bytes(pStmt, iCol)
          && (n==0 || memcmp(sqlite3_value_blob(a),
                             sqlite3_column_blob(pStmt, iCol), n)==0);
    }
  }
}

static int doUpdate(DpTable *p, sqlite3_int64 iOld, sqlite3_value *pNewRowid,
                    sqlite3_value **apCol, sqlite3_int64 *piRowid){
  sqlite3_stmt *pGet;
  sqlite3_value *pBody = apCol[DP_COL_BODY];
  int bBodySet = !sqlite3_value_nochange(apCol[DP_COL_BODY]);
  int bEmbSet = !sqlite3_value_nochange(apCol[DP_COL_EMBEDDING]);
  int bOldOwn = 0, bOwn = 0, bReplace = 0, bSkip = 0, rc, i;
  sqlite3_int64 iNew;
  Decision dec;
  static const int aRo[] = { DP_COL_ISDUP, DP_COL_DUPOF, DP_COL_SIM };

  if( sqlite3_value_type(pNewRowid)!=SQLITE_INTEGER ){
    return dpTableError(p, SQLITE_MISMATCH, "rowid must be an integer");
  }
  iNew = sqlite3_value_int64(pNewRowid);
  if( p->pSet ){
    /* refused before anything is written (see vtabUpdate) */
    rc = dpTableSetError(p, dpSetIndexCheckId(p->pSet, iNew));
    if( rc!=SQLITE_OK ) return rc;
  }
  if( sqlite3_value_type(apCol[dpColScore(p)])!=SQLITE_NULL
   || sqlite3_value_type(apCol[dpColK(p)])!=SQLITE_NULL ){
    return dpTableError(p, unwritableCode(p), "columns score and k are for"
                      " MATCH queries only");
  }
  rc = dpTableStoreError(p, dpStorageDocSeek(p->pStore, iOld, &pGet));
  if( rc==SQLITE_DONE ){
    return dpTableError(p, SQLITE_CORRUPT_VTAB, "document %lld vanished", iOld);
  }
  if( rc!=SQLITE_ROW ) return rc;
  /* Columns of the document row: body, is_duplicate, duplicate_of,
  ** similarity, own_vector, extras.  Read-only columns may be "set" to
  ** their value. */
  for(i=0; i<3; i++){
    if( !sqlite3_value_nochange(apCol[aRo[i]]) && !sameValue(apCol[aRo[i]], pGet, 1+i) ){
      dpStorageDocRelease(p->pStore);
      return dpTableError(p, unwritableCode(p), "column %s is read-only",
                        columnName(p, aRo[i]));
    }
  }
  if( bBodySet && sameValue(pBody, pGet, 0) ) bBodySet = 0;
  if( bEmbSet && p->pSet ){
    /* the set kind stores no vector: "set" to NULL or to the value read
    ** (the embedding of the stored body; NULL for a NULL body) is not a
    ** change */
    sqlite3_value *pEmb = apCol[DP_COL_EMBEDDING];
    if( sqlite3_value_type(pEmb)!=SQLITE_NULL ){
      int bOwnUnused;
      rc = dpTableVector(p, sqlite3_column_value(pGet, 0), 0, p->aVec,
                         &bOwnUnused);
      if( rc==SQLITE_OK
       && (sqlite3_column_type(pGet, 0)==SQLITE_NULL
           || sqlite3_value_type(pEmb)!=SQLITE_BLOB
           || sqlite3_value_bytes(pEmb)!=4*p->opt.nDim
           || memcmp(sqlite3_value_blob(pEmb), p->aVec, 4*(size_t)p->opt.nDim)) ){
        rc = setEmbeddingError(p);
      }
      if( rc!=SQLITE_OK ){
        dpStorageDocRelease(p->pStore);
        return rc;
      }
    }
    bEmbSet = 0;
  }else if( bEmbSet ){
    /* "Set" to the stored vector (e.g. read for a WHERE clause): not a change. */
    sqlite3_stmt *pVec;
    rc = dpTableStoreError(p, dpStorageVectorSeek(p->pStore, iOld, &pVec));
    if( rc==SQLITE_ROW ){
      if( sameValue(apCol[DP_COL_EMBEDDING], pVec, 0) ) bEmbSet = 0;
      rc = dpStorageVectorRelease(p->pStore);
    }else if( rc==SQLITE_DONE ){
      rc = SQLITE_OK;
    }
    if( rc!=SQLITE_OK ){
      dpStorageDocRelease(p->pStore);
      return rc;
    }
  }
  bOldOwn = sqlite3_column_int(pGet, 4);
  dec.bDup = sqlite3_column_int(pGet, 1);
  dec.iDupOf = sqlite3_column_int64(pGet, 2);
  dec.rSim = sqlite3_column_double(pGet, 3);
  if( !bBodySet ){
    /* keep the stored body: copy it before the statement is reset */
    pBody = sqlite3_value_dup(sqlite3_column_value(pGet, 0));
    if( pBody==0 ){
      dpStorageDocRelease(p->pStore);
      return SQLITE_NOMEM;
    }
  }
  dpStorageDocRelease(p->pStore);

  /* The vector: a new embedding, a new body's, or the stored one.  A
  ** vector docpipe made follows the body; one the caller gave stays until
  ** the caller sets embedding (to NULL: made from the body again). */
  if( p->pSet ){
    rc = dpTableSet(p, pBody);      /* the set follows the body */
  }else if( bEmbSet ){
    rc = dpTableVector(p, pBody, apCol[DP_COL_EMBEDDING], p->aVec, &bOwn);
  }else if( bBodySet && !bOldOwn ){
    rc = dpTableVector(p, pBody, 0, p->aVec, &bOwn);
  }else{
    sqlite3_stmt *pVec;
    rc = dpTableStoreError(p, dpStorageVectorSeek(p->pStore, iOld, &pVec));
    if( rc==SQLITE_ROW || rc==SQLITE_DONE ){
      if( rc!=SQLITE_ROW
       || !vectorIsValid(sqlite3_column_blob(pVec, 0),
                         sqlite3_column_bytes(pVec, 0), p->opt.nDim, p->aVec) ){
        rc = dpTableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
                        " missing or damaged", iOld);
      }else{
        rc = SQLITE_OK;
      }
      dpStorageVectorRelease(p->pStore);
    }
    bOwn = bOldOwn;
  }
  if( rc==SQLITE_OK && iNew!=iOld ){
    int bExists;
    rc = docExists(p, iNew, &bExists);
    if( rc==SQLITE_OK && bExists ){
      if( sqlite3_vtab_on_conflict(p->db)==SQLITE_REPLACE ){
        bReplace = 1;
      }else{
        rc = dpTableError(p, SQLITE_CONSTRAINT, "UNIQUE constraint failed:"
                        " %s.rowid", dpStorageName(p->pStore));
      }
    }
  }
  if( rc==SQLITE_OK
   && (bBodySet || bEmbSet || (iNew!=iOld && dec.bDup && dec.iDupOf==iNew)) ){
    /* Decide again, as if inserted now, against every other document
    ** (not itself, nor the row OR REPLACE would delete).  Nothing is
    ** changed before the decision: a refused row changes nothing.  A
    ** duplicate moved onto the rowid of its original (OR REPLACE deleting
    ** it, or after a DELETE) is decided again too: its kept decision
    ** would name itself. */
    const sqlite3_int64 aSkip[2] = { iOld, iNew };
    rc = decide(p, p->aVec, aSkip, bReplace ? 2 : 1, &dec);
    if( rc==SQLITE_OK && dec.bDup && p->opt.eOnDup!=DP_ONDUP_KEEP ){
      if( p->opt.eOnDup==DP_ONDUP_IGNORE
       || sqlite3_vtab_on_conflict(p->db)==SQLITE_IGNORE ){
        bSkip = 1;                  /* the row keeps its old values */
      }else{
        rc = duplicateError(p, &dec);
      }
    }
  }
  if( rc==SQLITE_OK && !bSkip ){
    if( bReplace ) rc = deleteDoc(p, iNew);
    if( rc==SQLITE_OK ) rc = deleteDoc(p, iOld);
    if( rc==SQLITE_OK ){
      rc = storeDoc(p, &iNew, 1, pBody, bOwn, &dec, &apCol[DP_COL_EXTRA0],
                    p->aVec);
    }
  }
  if( !bBodySet ) sqlite3_value_free(pBody);
  *piRowid = iNew;
  return rc;
}

/* The write itself: DELETE, command, INSERT or UPDATE. */
int dpTableWrite(DpTable *p, int argc, sqlite3_value **argv,
                 sqlite3_int64 *piRowid){
  int rc;
  if( argc==1 ){
    rc = deleteDoc(p, sqlite3_value_int64(argv[0]));
    if( rc==SQLITE_OK ) p->nWritten++;
  }else if( sqlite3_value_type(argv[2+dpColCmd(p)])!=SQLITE_NULL ){
    /* SQLite makes *piRowid the last insert rowid of a vtab INSERT: a
    ** command inserts no row, so the application's stays */
    *piRowid = sqlite3_last_insert_rowid(p->db);
    rc = runCommand(p, argv[2+dpColCmd(p)]);
  }else if( (rc = dpTableStoreError(p, dpStorageTokenizerCheck(p->pStore)))
           !=SQLITE_OK ){
    /* sets='body' made by another tokenizer: decided after a rebuild */
  }else if( sqlite3_value_type(argv[0])==SQLITE_NULL ){
    rc = doInsert(p, argv[1], &argv[2], piRowid);
  }else{
    rc = doUpdate(p, sqlite3_value_int64(argv[0]), argv[1], &argv[2], piRowid);
  }
  return rc;
}

