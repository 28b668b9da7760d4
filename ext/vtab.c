/*
** vtab.c — the docpipe virtual table.
**
**   CREATE VIRTUAL TABLE docs USING docpipe(dim=1024, threshold=0.8,
**                                           title TEXT, lang TEXT);
**   INSERT INTO docs(body, title) VALUES ('some text', 'a title');
**   SELECT rowid, is_duplicate, duplicate_of, similarity FROM docs;
**   SELECT rowid, score FROM docs WHERE docs MATCH 'query text' AND k = 5;
**   INSERT INTO docs(docs) VALUES ('integrity-check');   -- or 'rebuild'
**
** How it works.
**
** Columns (in order): body, embedding, is_duplicate, duplicate_of,
** similarity, the extra columns declared in CREATE, then hidden score, k
** and a hidden column named like the table (the MATCH and command column,
** as in FTS5).
**
** Shadow tables: %_config, %_docs and %_vectors belong to storage.c (read
** and written only through it), %_stats and %_latency to stats.c;
** xShadowName names them all, so SQLITE_DBCONFIG_DEFENSIVE protects them.
**
** INSERT tokenizes and embeds the body (or takes the given embedding):
** rowVector(); asks the in-memory index (index.c) for the best indexed
** document with cosine >= threshold: decide(); and stores both shadow rows
** and adds the vector to the index (flagged "indexed" unless it is a
** duplicate): storeDoc().  The decision comes first: a row refused by
** on_duplicate changes nothing, also under OR REPLACE.  UPDATE of body or
** embedding decides again as if the row were inserted now; UPDATE of
** extra columns keeps the decision.
**
** The index is a cache of the shadow tables.  It is rebuilt from them when
** first needed, after any ROLLBACK or ROLLBACK TO (xRollback, xRollbackTo
** and any error inside xUpdate mark it stale), and when PRAGMA
** data_version says another connection has committed.  So it follows
** transactions without an undo log of its own.
**
** xBestIndex plans (idxNum):
**   PLAN_SCAN   full scan in rowid order
**   PLAN_ROWID  rowid = ?
**   PLAN_MATCH  <table> MATCH ?, with optional k = ?, score >= ? (or >),
**               LIMIT ?, and constraints on stored columns, which filter
**               inside the search (idxStr lists them: "col op" per argv).
*/
#include "docpipe.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#define DP_K_MAX 1000000
#define DP_K_ALL 0x7fffffff     /* no k: every document, ranked */
#define DP_MAX_FILTER 64        /* column filters done inside a MATCH */

/* Fixed columns (docpipe.h): then the extras, score, k, <table>. */
#define COL_BODY      DP_COL_BODY
#define COL_EMBEDDING DP_COL_EMBEDDING
#define COL_ISDUP     DP_COL_ISDUP
#define COL_DUPOF     DP_COL_DUPOF
#define COL_SIM       DP_COL_SIM
#define COL_EXTRA0    DP_COL_EXTRA0

/* idxNum plans and flags. */
#define PLAN_SCAN   0
#define PLAN_ROWID  1
#define PLAN_MATCH  2
#define PLAN_MASK   0x0F
#define HAS_K       0x10
#define HAS_SCORE   0x20   /* score >= ? */
#define HAS_SCOREGT 0x40   /* score > ? */
#define HAS_LIMIT   0x80
#define HAS_OFFSET  0x100

typedef struct DpCursor DpCursor;
typedef struct DpTable DpTable;
struct DpTable {
  sqlite3_vtab base;      /* base class, must be first */
  sqlite3 *db;            /* connection */
  DpStorage *pStore;      /* its shadow tables (storage.c) */
  DpOptions opt;          /* options, from %_config (a copy of storage's) */
  int nExtra;             /* number of extra columns */
  DpTableStats *pStats;   /* its statistics (stats.c) */
  DpIndex index;          /* in-memory vectors (index.c) */
  int bIndexValid;        /* index matches the shadow tables */
  sqlite3_int64 iDataVersion; /* PRAGMA data_version when index was built */
  DpTokens tok;           /* tokenizer scratch */
  float *aVec;            /* nDim floats of scratch */
  DpConn *pConn;          /* what the connection's tables share */
  DpTableRef ref;         /* this table in pConn's list (dedup_index) */
  DpCursor *pCursors;     /* open cursors: their statements are ours */
  sqlite3_stmt *pFeedStmt;  /* last INSERT checked by insertFeedsOnItself */
  char *zFeedSql;         /* its text (an address may be reused) */
  int bFeeds;             /* its verdict: it reads our shadow tables */
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
static int colScore(const DpTable *p){ return COL_EXTRA0 + p->nExtra; }
static int colK(const DpTable *p){ return COL_EXTRA0 + p->nExtra + 1; }
static int colCmd(const DpTable *p){ return COL_EXTRA0 + p->nExtra + 2; }

/* Set the vtab error message, prefixed with the table name. */
static int tableError(DpTable *p, int rc, const char *zFmt, ...){
  va_list ap;
  char *zPrefix = sqlite3_mprintf("%s: ", dpStorageName(p->pStore));
  va_start(ap, zFmt);
  dpVtabErrorV(&p->base, zPrefix ? zPrefix : "", zFmt, ap);
  va_end(ap);
  sqlite3_free(zPrefix);
  return rc;
}

/* An error of storage.c (its message) as this table's error. */
static int storeError(DpTable *p, int rc){
  if( rc!=SQLITE_OK && rc!=SQLITE_ROW && rc!=SQLITE_DONE ){
    const char *zMsg = dpStorageErrmsg(p->pStore);
    if( zMsg ) tableError(p, rc, "%s", zMsg);
    dpStorageClearError(p->pStore);
  }
  return rc;
}

static int declareVtab(DpTable *p){
  int rc;
  /* A table renamed to one of its column names by an earlier version
  ** still opens (to be dropped or renamed back): its MATCH column takes
  ** another name then. */
  const char *zName = dpStorageName(p->pStore);
  const char *zDecl = dpStorageExtraDecl(p->pStore);
  const char *zCmd = dpStorageIsColumnName(p->pStore, zName)
                   ? "docpipe_match" : zName;
  char *zSql = sqlite3_mprintf("CREATE TABLE x(body TEXT, embedding BLOB,"
      " is_duplicate INTEGER, duplicate_of INTEGER, similarity REAL%s%s,"
      " score REAL HIDDEN, k INTEGER HIDDEN, \"%w\" HIDDEN)",
      zDecl ? ", " : "", zDecl ? zDecl : "", zCmd);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_declare_vtab(p->db, zSql);
  sqlite3_free(zSql);
  return rc;
}

static void tableFree(DpTable *p){
  if( p==0 ) return;
  if( p->pConn ) dpConnRemove(p->pConn, &p->ref);
  dpTsFree(p->pStats);
  dpIndexFree(&p->index);
  dpEmbedScratchFree(&p->tok);
  dpStorageFree(p->pStore);
  sqlite3_free(p->aVec);
  sqlite3_free(p->zFeedSql);
  sqlite3_free(p->base.zErrMsg);
  sqlite3_free(p);
}

static int ourStatements(void *pCtx, sqlite3_stmt **aOut, int nMax);

static int tableInit(sqlite3 *db, DpConn *pConn, int bCreate, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr){
  DpTable *p;
  int rc = SQLITE_OK;
  *ppVtab = 0;
  p = dpMallocZero(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  p->db = db;
  dpEmbedScratchInit(&p->tok);
  rc = dpStorageNew(db, argv[1], argv[2], &p->pStore);
  if( rc==SQLITE_OK && bCreate ){
    rc = dpStorageCreate(p->pStore, argc-3, &argv[3], pzErr);
    if( rc==SQLITE_OK ) rc = dpTsCreateTables(db, argv[1], argv[2], pzErr);
  }else if( rc==SQLITE_OK ){
    rc = dpStorageConnect(p->pStore, pzErr);
  }
  if( rc==SQLITE_OK ){
    p->opt = *dpStorageOptions(p->pStore);
    p->nExtra = dpStorageExtraCount(p->pStore);
    rc = dpTsNew(db, pConn, argv[1], argv[2], &p->opt, ourStatements, p,
                 &p->pStats);
  }
  if( rc==SQLITE_OK ){
    p->aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)p->opt.nDim);
    if( p->aVec==0 ) rc = SQLITE_NOMEM;
  }
  if( rc==SQLITE_OK ) rc = declareVtab(p);
  if( rc==SQLITE_OK ){
    sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
    dpIndexInit(&p->index, p->opt.nDim);
    p->pConn = pConn;
    p->ref.pStore = p->pStore;
    p->ref.pStats = p->pStats;
    dpConnAdd(pConn, &p->ref);
    *ppVtab = &p->base;
  }else{
    tableFree(p);
  }
  return rc;
}

static int dpCreate(sqlite3 *db, void *pAux, int argc,
                    const char *const *argv, sqlite3_vtab **ppVtab,
                    char **pzErr){
  return tableInit(db, (DpConn*)pAux, 1, argc, argv, ppVtab, pzErr);
}

static int dpConnect(sqlite3 *db, void *pAux, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr){
  return tableInit(db, (DpConn*)pAux, 0, argc, argv, ppVtab, pzErr);
}

static int dpDisconnect(sqlite3_vtab *pVtab){
  tableFree((DpTable*)pVtab);
  return SQLITE_OK;
}

static int dpDestroy(sqlite3_vtab *pVtab){
  DpTable *p = (DpTable*)pVtab;
  int rc = storeError(p, dpStorageDestroy(p->pStore));
  if( rc==SQLITE_OK ) rc = dpTsDropTables(p->pStats);
  if( rc==SQLITE_OK ) tableFree(p);
  return rc;
}

static int dpRename(sqlite3_vtab *pVtab, const char *zNew){
  DpTable *p = (DpTable*)pVtab;
  int rc;
  if( dpStorageIsColumnName(p->pStore, zNew) ){
    return tableError(p, SQLITE_ERROR, "cannot be renamed to %s: that is the"
                      " name of one of its columns", zNew);
  }
  rc = dpTsRename(p->pStats, zNew, &p->base.zErrMsg);
  if( rc==SQLITE_OK ) rc = storeError(p, dpStorageRename(p->pStore, zNew));
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

static int vectorIsZero(const float *a, int n){
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
    return tableError(p, SQLITE_CORRUPT_VTAB, "document %lld has no row in"
                      " %s_vectors", iId, dpStorageName(p->pStore));
  }
  if( !vectorIsValid(sqlite3_value_blob(pVec), nByte, p->opt.nDim,
                     pLoad->aVec) ){
    return tableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
                      " damaged (%d bytes, expected %d finite float32)",
                      iId, nByte, p->opt.nDim);
  }
  if( vectorIsZero(pLoad->aVec, p->opt.nDim) ) return SQLITE_OK;
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
  rc = storeError(p, dpStorageScanVectors(p->pStore, loadRow, &load));
  sqlite3_free(load.aVec);
  if( rc!=SQLITE_OK ) dpIndexClear(idx);
  return rc;
}

/* Make the index match the shadow tables. */
static int ensureIndex(DpTable *p){
  sqlite3_int64 iVersion = 0, t0;
  int bDirty = 0;
  int rc = storeError(p, dpStorageDataVersion(p->pStore, &iVersion, &bDirty));
  if( rc!=SQLITE_OK ) return rc;
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

/* Statements docpipe itself runs on this table, never the user's: the
** storage's and the open cursors' (for stats.c). */
static int ourStatements(void *pCtx, sqlite3_stmt **aOut, int nMax){
  DpTable *p = (DpTable*)pCtx;
  int n = dpStorageStatements(p->pStore, aOut, nMax);
  DpCursor *c;
  for(c=p->pCursors; c && n<nMax; c=c->pNextCursor){
    if( c->pStmt ) aOut[n++] = c->pStmt;
  }
  return n;
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

/* Vector of a row: the caller's embedding (checked) or embed(body). */
static int rowVector(DpTable *p, sqlite3_value *pBody, sqlite3_value *pEmb,
                     float *aOut, int *pbOwn){
  const int nDim = p->opt.nDim;
  *pbOwn = 0;
  if( pEmb && sqlite3_value_type(pEmb)!=SQLITE_NULL ){
    const void *pBlob;
    const char *zWhy;
    int nByte;
    if( sqlite3_value_type(pEmb)!=SQLITE_BLOB ){
      return tableError(p, SQLITE_MISMATCH, "embedding must be a float32"
                        " blob of %d values", nDim);
    }
    pBlob = sqlite3_value_blob(pEmb);
    nByte = sqlite3_value_bytes(pEmb);
    if( nByte!=4*nDim ){
      return tableError(p, SQLITE_MISMATCH, "embedding must be a float32"
                        " blob of %d values (%d bytes), not %d bytes",
                        nDim, 4*nDim, nByte);
    }
    if( !vectorIsValid(pBlob, nByte, nDim, aOut) ){
      return tableError(p, SQLITE_MISMATCH, "embedding has a non-finite"
                        " value (NaN or Inf)");
    }
    if( !dpVectorScorable(aOut, nDim, &zWhy) ){
      return tableError(p, SQLITE_MISMATCH, "embedding cannot be scored: %s", zWhy);
    }
    *pbOwn = 1;
    return SQLITE_OK;
  }
  switch( sqlite3_value_type(pBody) ){
    case SQLITE_NULL:
      memset(aOut, 0, sizeof(float)*(size_t)nDim);
      return SQLITE_OK;
    case SQLITE_BLOB: {
      /* readfile() gives blobs: one of valid UTF-8 is text (and is stored
      ** as text by storage.c) */
      int iBad = utf8Invalid(sqlite3_value_blob(pBody),
                             sqlite3_value_bytes(pBody));
      if( iBad>=0 ){
        return tableError(p, SQLITE_MISMATCH, "body must be text, or a blob"
                          " of valid UTF-8 (byte %d is not)", iBad);
      }
    }
    /* fall through */
    case SQLITE_TEXT: {
      const unsigned char *z = sqlite3_value_text(pBody);
      int n = sqlite3_value_bytes(pBody);
      if( z==0 ) return SQLITE_NOMEM;
      return dpEmbedText(&p->opt, &p->tok, z, n, aOut,
                         dpTsStages(p->pStats));
    }
    default:
      return tableError(p, SQLITE_MISMATCH, "body must be text");
  }
}

/* Decision of a vector against the indexed documents. */
typedef struct Decision Decision;
struct Decision {
  int bDup;               /* near-duplicate of an indexed document */
  sqlite3_int64 iDupOf;   /* which one (bDup) */
  double rSim;            /* cosine with it (bDup) */
};

/* Decide as if the documents aSkip[0..nSkip) were not indexed (the row an
** UPDATE rewrites, the row an OR REPLACE would delete): their flags are
** cleared for the search and put back after, so that a refused write
** leaves the index exactly as it was. */
static int decide(DpTable *p, const float *aVec, const sqlite3_int64 *aSkip,
                  int nSkip, Decision *pDec){
  int rc, i, aPos[2];
  unsigned char aFlag[2];
  sqlite3_int64 t0 = dpTsClock(p->pStats);
  memset(pDec, 0, sizeof(*pDec));
  if( vectorIsZero(aVec, p->opt.nDim) ) return SQLITE_OK;
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
  int rc = storeError(p, dpStorageDocPut(p->pStore, piId, bHasId, pBody,
                                         bOwn, pDec->bDup, pDec->iDupOf,
                                         pDec->rSim, apExtra, aVec));
  if( rc==SQLITE_OK && !vectorIsZero(aVec, p->opt.nDim) ){
    rc = dpIndexAdd(&p->index, *piId, aVec, !pDec->bDup);
  }
  dpTsAddStage(p->pStats, DP_STAGE_STORE, t0);
  return rc;
}

static int deleteDoc(DpTable *p, sqlite3_int64 iId){
  sqlite3_int64 t0 = dpTsClock(p->pStats);
  int rc = storeError(p, dpStorageDocDelete(p->pStore, iId));
  if( rc==SQLITE_OK ) dpIndexRemove(&p->index, iId);
  dpTsAddStage(p->pStats, DP_STAGE_STORE, t0);
  return rc;
}

static int docExists(DpTable *p, sqlite3_int64 iId, int *pbExists){
  return storeError(p, dpStorageDocExists(p->pStore, iId, pbExists));
}

/* integrity-check, one document made from its body: its stored vector is
** embed(body). */
static int checkMadeVector(void *pCtx, sqlite3_int64 iId, sqlite3_value *pBody,
                           sqlite3_value *pVec){
  DpTable *p = (DpTable*)pCtx;
  int bOwn;
  int rc = rowVector(p, pBody, 0, p->aVec, &bOwn);
  int nStored = sqlite3_value_bytes(pVec);
  if( rc==SQLITE_OK && sqlite3_value_type(pVec)!=SQLITE_NULL
   && (nStored!=4*p->opt.nDim
       || memcmp(sqlite3_value_blob(pVec), p->aVec, (size_t)nStored)) ){
    rc = tableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
                    " not the embedding of its body", iId);
  }
  return rc;
}

/* 'integrity-check': shadow tables agree with each other, with the options
** and with the in-memory index. */
static int integrityCheck(DpTable *p){
  DpIndex fresh;
  int rc, i;
  rc = ensureIndex(p);
  if( rc!=SQLITE_OK ) return rc;
  dpIndexInit(&fresh, p->opt.nDim);
  rc = loadIndex(p, &fresh);
  if( rc==SQLITE_OK && fresh.nEntry!=p->index.nEntry ){
    rc = tableError(p, SQLITE_CORRUPT_VTAB, "in-memory index has %d entries,"
                    " the shadow tables %d", p->index.nEntry, fresh.nEntry);
  }
  for(i=0; rc==SQLITE_OK && i<fresh.nEntry; i++){
    int j = dpIndexFind(&p->index, fresh.aId[i]);
    if( j<0 || p->index.aFlag[j]!=fresh.aFlag[i]
     || memcmp(&p->index.aVec[(sqlite3_int64)j*fresh.nDim],
               &fresh.aVec[(sqlite3_int64)i*fresh.nDim],
               sizeof(float)*(size_t)fresh.nDim) ){
      rc = tableError(p, SQLITE_CORRUPT_VTAB, "in-memory index differs from"
                      " the shadow tables at document %lld", fresh.aId[i]);
    }
  }
  dpIndexFree(&fresh);
  /* Vectors without a document; decisions out of range; vectors that are
  ** not embed(body) although the body produced them. */
  if( rc==SQLITE_OK ) rc = storeError(p, dpStorageCheckRows(p->pStore));
  if( rc==SQLITE_OK ){
    rc = storeError(p, dpStorageScanDocs(p->pStore, DP_SCAN_MADE,
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
    return tableError(p, SQLITE_CORRUPT_VTAB, "rebuild: the embedding of"
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
  int rc = rowVector(p, pBody, 0, p->aVec, &bOwn);
  (void)pVec;
  if( rc==SQLITE_OK ){
    rc = storeError(p, dpStorageVectorPut(p->pStore, iId, p->aVec));
  }
  return rc;
}

/* 'rebuild': vectors again from bodies (caller-supplied ones are kept),
** then the index again from the shadow tables. */
static int rebuild(DpTable *p){
  int rc = storeError(p, dpStorageScanDocs(p->pStore, DP_SCAN_MADE,
                                           rebuildMadeVector, p));
  p->bIndexValid = 0;
  if( rc==SQLITE_OK ){
    rc = storeError(p, dpStorageScanDocs(p->pStore, DP_SCAN_OWN,
                                         rebuildOwnVector, p));
  }
  if( rc==SQLITE_OK ) rc = ensureIndex(p);
  return rc;
}

static int runCommand(DpTable *p, sqlite3_value *pCmd){
  const char *zCmd = (const char*)sqlite3_value_text(pCmd);
  if( zCmd==0 ) return SQLITE_NOMEM;
  if( sqlite3_stricmp(zCmd, "integrity-check")==0 ) return integrityCheck(p);
  if( sqlite3_stricmp(zCmd, "rebuild")==0 ) return rebuild(p);
  if( sqlite3_stricmp(zCmd, "stats-reset")==0 ){
    return dpTsReset(p->pStats, dpStorageFormat(p->pStore), &p->base.zErrMsg);
  }
  return tableError(p, SQLITE_ERROR, "unknown command '%s' (integrity-check,"
                    " rebuild, stats-reset)", zCmd);
}

static const char *columnName(const DpTable *p, int iCol){
  static const char *const az[] = {
    "body", "embedding", "is_duplicate", "duplicate_of", "similarity"
  };
  if( iCol<COL_EXTRA0 ) return az[iCol];
  if( iCol<colScore(p) ) return dpStorageExtraName(p->pStore, iCol-COL_EXTRA0);
  if( iCol==colScore(p) ) return "score";
  if( iCol==colK(p) ) return "k";
  return dpStorageName(p->pStore);
}

/* On INSERT, the computed and hidden columns must be NULL. */
static int checkNotWritten(DpTable *p, sqlite3_value **apCol){
  static const int aRo[] = { COL_ISDUP, COL_DUPOF, COL_SIM };
  size_t i;
  for(i=0; i<sizeof(aRo)/sizeof(aRo[0]); i++){
    if( sqlite3_value_type(apCol[aRo[i]])!=SQLITE_NULL ){
      return tableError(p, SQLITE_CONSTRAINT, "column %s is read-only",
                        columnName(p, aRo[i]));
    }
  }
  if( sqlite3_value_type(apCol[colScore(p)])!=SQLITE_NULL
   || sqlite3_value_type(apCol[colK(p)])!=SQLITE_NULL ){
    return tableError(p, SQLITE_CONSTRAINT, "columns score and k are for"
                      " MATCH queries only");
  }
  return SQLITE_OK;
}

static int duplicateError(DpTable *p, const Decision *pDec){
  return tableError(p, SQLITE_CONSTRAINT, "document is a near-duplicate of"
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
      rc = storeError(p, dpStorageReadBy(p->pStore, s, &p->bFeeds));
      if( rc!=SQLITE_OK ){
        sqlite3_free(p->zFeedSql);
        p->zFeedSql = 0;
      }
    }
    if( rc==SQLITE_OK && p->bFeeds ){
      return tableError(p, SQLITE_ERROR, "an INSERT may not read %s_docs or"
          " %s_vectors: it would read the rows it writes (copy them into a"
          " temporary table first)", dpStorageName(p->pStore), dpStorageName(p->pStore));
    }
  }
  return rc;
}

static int doInsert(DpTable *p, sqlite3_value *pRowid, sqlite3_value **apCol,
                    sqlite3_int64 *piRowid){
  Decision dec;
  int bOwn = 0, bHasId = 0, bReplace = 0, rc;
  sqlite3_int64 iId = 0;

  rc = checkNotWritten(p, apCol);
  if( rc==SQLITE_OK ) rc = insertFeedsOnItself(p);
  if( rc==SQLITE_OK ){
    rc = rowVector(p, apCol[COL_BODY], apCol[COL_EMBEDDING], p->aVec, &bOwn);
  }
  if( rc!=SQLITE_OK ) return rc;
  if( sqlite3_value_type(pRowid)!=SQLITE_NULL ){
    int bExists;
    if( sqlite3_value_type(pRowid)!=SQLITE_INTEGER ){
      return tableError(p, SQLITE_MISMATCH, "rowid must be an integer");
    }
    iId = sqlite3_value_int64(pRowid);
    bHasId = 1;
    rc = docExists(p, iId, &bExists);
    if( rc!=SQLITE_OK ) return rc;
    if( bExists ){
      switch( sqlite3_vtab_on_conflict(p->db) ){
        case SQLITE_IGNORE:  return SQLITE_OK;
        case SQLITE_REPLACE: bReplace = 1; break;
        default:
          return tableError(p, SQLITE_CONSTRAINT, "UNIQUE constraint failed:"
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
    rc = storeDoc(p, &iId, bHasId, apCol[COL_BODY], bOwn, &dec,
                  &apCol[COL_EXTRA0], p->aVec);
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
  sqlite3_value *pBody = apCol[COL_BODY];
  int bBodySet = !sqlite3_value_nochange(apCol[COL_BODY]);
  int bEmbSet = !sqlite3_value_nochange(apCol[COL_EMBEDDING]);
  int bOldOwn = 0, bOwn = 0, bReplace = 0, bSkip = 0, rc, i;
  sqlite3_int64 iNew;
  Decision dec;
  static const int aRo[] = { COL_ISDUP, COL_DUPOF, COL_SIM };

  if( sqlite3_value_type(pNewRowid)!=SQLITE_INTEGER ){
    return tableError(p, SQLITE_MISMATCH, "rowid must be an integer");
  }
  iNew = sqlite3_value_int64(pNewRowid);
  if( sqlite3_value_type(apCol[colScore(p)])!=SQLITE_NULL
   || sqlite3_value_type(apCol[colK(p)])!=SQLITE_NULL ){
    return tableError(p, SQLITE_CONSTRAINT, "columns score and k are for"
                      " MATCH queries only");
  }
  rc = storeError(p, dpStorageDocSeek(p->pStore, iOld, &pGet));
  if( rc==SQLITE_DONE ){
    return tableError(p, SQLITE_CORRUPT_VTAB, "document %lld vanished", iOld);
  }
  if( rc!=SQLITE_ROW ) return rc;
  /* Columns of the document row: body, is_duplicate, duplicate_of,
  ** similarity, own_vector, extras.  Read-only columns may be "set" to
  ** their value. */
  for(i=0; i<3; i++){
    if( !sqlite3_value_nochange(apCol[aRo[i]]) && !sameValue(apCol[aRo[i]], pGet, 1+i) ){
      dpStorageDocRelease(p->pStore);
      return tableError(p, SQLITE_CONSTRAINT, "column %s is read-only",
                        columnName(p, aRo[i]));
    }
  }
  if( bBodySet && sameValue(pBody, pGet, 0) ) bBodySet = 0;
  if( bEmbSet ){
    /* "Set" to the stored vector (e.g. read for a WHERE clause): not a change. */
    sqlite3_stmt *pVec;
    rc = storeError(p, dpStorageVectorSeek(p->pStore, iOld, &pVec));
    if( rc==SQLITE_ROW ){
      if( sameValue(apCol[COL_EMBEDDING], pVec, 0) ) bEmbSet = 0;
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
  if( bEmbSet ){
    rc = rowVector(p, pBody, apCol[COL_EMBEDDING], p->aVec, &bOwn);
  }else if( bBodySet && !bOldOwn ){
    rc = rowVector(p, pBody, 0, p->aVec, &bOwn);
  }else{
    sqlite3_stmt *pVec;
    rc = storeError(p, dpStorageVectorSeek(p->pStore, iOld, &pVec));
    if( rc==SQLITE_ROW || rc==SQLITE_DONE ){
      if( rc!=SQLITE_ROW
       || !vectorIsValid(sqlite3_column_blob(pVec, 0),
                         sqlite3_column_bytes(pVec, 0), p->opt.nDim, p->aVec) ){
        rc = tableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
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
        rc = tableError(p, SQLITE_CONSTRAINT, "UNIQUE constraint failed:"
                        " %s.rowid", dpStorageName(p->pStore));
      }
    }
  }
  if( rc==SQLITE_OK && (bBodySet || bEmbSet) ){
    /* Decide again, as if inserted now, against every other document
    ** (not itself, nor the row OR REPLACE would delete).  Nothing is
    ** changed before the decision: a refused row changes nothing. */
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
      rc = storeDoc(p, &iNew, 1, pBody, bOwn, &dec, &apCol[COL_EXTRA0],
                    p->aVec);
    }
  }
  if( !bBodySet ) sqlite3_value_free(pBody);
  *piRowid = iNew;
  return rc;
}

static int doWrite(DpTable *p, int argc, sqlite3_value **argv,
                   sqlite3_int64 *piRowid);

static int dpUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                    sqlite3_int64 *piRowid){
  DpTable *p = (DpTable*)pVtab;
  DpStatCall call;
  int rc, eKind;
  if( argc!=1 && argc!=3+colCmd(p) ){
    /* SQLite's idea of the columns is not ours: with a shared cache the
    ** schema of another connection, declared before %_config changed */
    return tableError(p, SQLITE_CORRUPT_VTAB, "its columns (%d) do not match"
                      " %s_config (%d)", argc-2, dpStorageName(p->pStore),
                      colCmd(p)+1);
  }
  if( argc==1 ){
    eKind = DP_KIND_DELETE;
  }else if( sqlite3_value_type(argv[2+colCmd(p)])==SQLITE_NULL ){
    eKind = sqlite3_value_type(argv[0])==SQLITE_NULL
          ? DP_KIND_INSERT : DP_KIND_UPDATE;
  }else{
    eKind = -1;                 /* a command: no record of its own */
  }
  dpTsBegin(p->pStats, eKind, &call);
  /* DELETE and the commands do not need the index (a damaged shadow row
  ** must not block the statements that repair it); a stale index stays
  ** stale and is reloaded when next needed. */
  if( argc==1 || sqlite3_value_type(argv[2+colCmd(p)])!=SQLITE_NULL ){
    rc = SQLITE_OK;
  }else{
    rc = ensureIndex(p);
  }
  if( rc==SQLITE_OK ){
    rc = doWrite(p, argc, argv, piRowid);
  }
  /* A failed write may have changed the index but not, after SQLite rolls
  ** the statement back, the shadow tables: rebuild it next time. */
  if( rc!=SQLITE_OK ) p->bIndexValid = 0;
  dpTsEnd(p->pStats, &call, rc, 1, 0);
  return rc;
}

/* The write itself: DELETE, command, INSERT or UPDATE. */
static int doWrite(DpTable *p, int argc, sqlite3_value **argv,
                   sqlite3_int64 *piRowid){
  int rc;
  if( argc==1 ){
    rc = deleteDoc(p, sqlite3_value_int64(argv[0]));
  }else if( sqlite3_value_type(argv[2+colCmd(p)])!=SQLITE_NULL ){
    rc = runCommand(p, argv[2+colCmd(p)]);
  }else if( sqlite3_value_type(argv[0])==SQLITE_NULL ){
    rc = doInsert(p, argv[1], &argv[2], piRowid);
  }else{
    rc = doUpdate(p, sqlite3_value_int64(argv[0]), argv[1], &argv[2], piRowid);
  }
  return rc;
}

/**************************************************************************
** Transactions: the index is a cache, so undo means "rebuild".
*/
static int dpBegin(sqlite3_vtab *pVtab){ (void)pVtab; return SQLITE_OK; }

/* Statistics records are written with the transaction, as FTS5 writes its
** pending data.  A table of format version 1 gets version 2 first. */
static int dpSync(sqlite3_vtab *pVtab){
  DpTable *p = (DpTable*)pVtab;
  int rc = SQLITE_OK;
  if( dpStorageFormat(p->pStore)==1 && dpTsPending(p->pStats) ){
    rc = dpStatMigrate(p->db, dpStorageSchema(p->pStore),
                       dpStorageName(p->pStore), &p->base.zErrMsg);
    if( rc==SQLITE_OK ) rc = storeError(p, dpStorageSetFormat2(p->pStore));
  }
  if( rc==SQLITE_OK ){
    char *zErr = 0;
    rc = dpTsFlush(p->pStats, &zErr);
    if( rc!=SQLITE_OK ) tableError(p, rc, "%s", zErr ? zErr : "");
    sqlite3_free(zErr);
  }
  return rc;
}

static int dpCommit(sqlite3_vtab *pVtab){
  dpTsCommit(((DpTable*)pVtab)->pStats);
  return SQLITE_OK;
}

static int dpRollback(sqlite3_vtab *pVtab){
  DpTable *p = (DpTable*)pVtab;
  p->bIndexValid = 0;
  dpTsRollback(p->pStats);
  return SQLITE_OK;
}

static int dpSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  return dpTsSavepoint(((DpTable*)pVtab)->pStats, iSavepoint);
}

static int dpRelease(sqlite3_vtab *pVtab, int iSavepoint){
  (void)iSavepoint;
  dpTsRelease(((DpTable*)pVtab)->pStats);
  return SQLITE_OK;
}

static int dpRollbackTo(sqlite3_vtab *pVtab, int iSavepoint){
  DpTable *p = (DpTable*)pVtab;
  p->bIndexValid = 0;
  dpTsRollbackTo(p->pStats, iSavepoint);
  return SQLITE_OK;
}

/**************************************************************************
** Reads: xBestIndex, cursors.
*/
/* Operators that can filter inside a MATCH search, as SQL text. */
static const char *filterOp(int op){
  switch( op ){
    case SQLITE_INDEX_CONSTRAINT_EQ:    return "=";
    case SQLITE_INDEX_CONSTRAINT_GT:    return ">";
    case SQLITE_INDEX_CONSTRAINT_LE:    return "<=";
    case SQLITE_INDEX_CONSTRAINT_LT:    return "<";
    case SQLITE_INDEX_CONSTRAINT_GE:    return ">=";
    case SQLITE_INDEX_CONSTRAINT_NE:    return "<>";
    case SQLITE_INDEX_CONSTRAINT_IS:    return "IS";
    case SQLITE_INDEX_CONSTRAINT_ISNOT: return "IS NOT";
    case SQLITE_INDEX_CONSTRAINT_LIKE:  return "LIKE";
    case SQLITE_INDEX_CONSTRAINT_GLOB:  return "GLOB";
    default: return 0;
  }
}

static int dpBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  DpTable *p = (DpTable*)pVtab;
  int iMatch = -1, iK = -1, iScore = -1, iRowid = -1, iLimit = -1;
  int iOffset = -1;
  int bScoreGt = 0, i, n = 0, nFilter;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];
    if( c->iColumn>colCmd(p) ) continue;               /* see dpUpdate */
    if( c->iColumn==colCmd(p) && c->op==SQLITE_INDEX_CONSTRAINT_MATCH ){
      if( !c->usable ) return SQLITE_CONSTRAINT;
      iMatch = i;
    }else if( !c->usable ){
      continue;
    }else if( c->iColumn==colK(p) && c->op==SQLITE_INDEX_CONSTRAINT_EQ ){
      iK = i;
    }else if( c->iColumn==colScore(p) && (c->op==SQLITE_INDEX_CONSTRAINT_GE
                                       || c->op==SQLITE_INDEX_CONSTRAINT_GT) ){
      iScore = i;
      bScoreGt = c->op==SQLITE_INDEX_CONSTRAINT_GT;
    }else if( c->iColumn==-1 && c->op==SQLITE_INDEX_CONSTRAINT_EQ ){
      iRowid = i;
    }else if( c->op==SQLITE_INDEX_CONSTRAINT_LIMIT ){
      iLimit = i;
    }else if( c->op==SQLITE_INDEX_CONSTRAINT_OFFSET ){
      iOffset = i;
    }
  }
  if( iMatch>=0 ){
    sqlite3_str *s = sqlite3_str_new(0);
    pInfo->idxNum = PLAN_MATCH;
    pInfo->aConstraintUsage[iMatch].argvIndex = ++n;
    pInfo->aConstraintUsage[iMatch].omit = 1;
    if( iK>=0 ){
      pInfo->idxNum |= HAS_K;
      pInfo->aConstraintUsage[iK].argvIndex = ++n;
      pInfo->aConstraintUsage[iK].omit = 1;
    }else if( iLimit>=0 ){
      /* No k: LIMIT (plus OFFSET) says how many rows are wanted. */
      pInfo->idxNum |= HAS_LIMIT;
      pInfo->aConstraintUsage[iLimit].argvIndex = ++n;
      if( iOffset>=0 ){
        pInfo->idxNum |= HAS_OFFSET;
        pInfo->aConstraintUsage[iOffset].argvIndex = ++n;
      }
    }
    if( iScore>=0 ){
      pInfo->idxNum |= bScoreGt ? HAS_SCOREGT : HAS_SCORE;
      pInfo->aConstraintUsage[iScore].argvIndex = ++n;
    }
    /* Stored columns: filter inside the search.  SQLite checks them again
    ** afterwards (omit stays 0), which costs little and keeps NULL and
    ** affinity rules exactly SQLite's.  At most DP_MAX_FILTER of them
    ** (buildFilter's arrays); SQLite checks any others alone. */
    for(i=0, nFilter=0; i<pInfo->nConstraint; i++){
      const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];
      const char *zOp = filterOp(c->op);
      if( !c->usable || zOp==0 || c->iColumn<0 || c->iColumn==COL_EMBEDDING
       || c->iColumn>=colScore(p) || nFilter>=DP_MAX_FILTER ){
        continue;
      }
      nFilter++;
      pInfo->aConstraintUsage[i].argvIndex = ++n;
      sqlite3_str_appendf(s, "%d %s;", c->iColumn, zOp);
    }
    pInfo->idxStr = dpStrFinish(s);
    pInfo->needToFreeIdxStr = 1;
    if( pInfo->idxStr==0 ) return SQLITE_NOMEM;
    if( pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn==colScore(p)
     && pInfo->aOrderBy[0].desc ){
      pInfo->orderByConsumed = 1;
    }
    pInfo->estimatedCost = 1000.0;
    pInfo->estimatedRows = 10;
    return SQLITE_OK;
  }
  if( iRowid>=0 ){
    pInfo->idxNum = PLAN_ROWID;
    pInfo->aConstraintUsage[iRowid].argvIndex = 1;
    pInfo->aConstraintUsage[iRowid].omit = 1;
    pInfo->estimatedCost = 10.0;
    pInfo->estimatedRows = 1;
    pInfo->idxFlags = SQLITE_INDEX_SCAN_UNIQUE;
    return SQLITE_OK;
  }
  pInfo->idxNum = PLAN_SCAN;
  pInfo->estimatedCost = 1e6;
  if( pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn==-1
   && !pInfo->aOrderBy[0].desc ){
    pInfo->orderByConsumed = 1;
  }
  return SQLITE_OK;
}

static int dpOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  DpTable *p = (DpTable*)pVtab;
  DpCursor *pCur = sqlite3_malloc64(sizeof(*pCur));
  if( pCur==0 ) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  pCur->bEof = 1;
  pCur->pNextCursor = p->pCursors;
  p->pCursors = pCur;
  *ppCur = &pCur->base;
  return SQLITE_OK;
}

static void cursorReset(DpCursor *pCur){
  sqlite3_finalize(pCur->pStmt);
  pCur->pStmt = 0;
  sqlite3_free(pCur->aHit);
  pCur->aHit = 0;
  pCur->nHit = pCur->iHit = 0;
  pCur->bEof = 1;
}

static int dpClose(sqlite3_vtab_cursor *pCur){
  DpTable *p = (DpTable*)pCur->pVtab;
  DpCursor **pp = &p->pCursors;
  while( *pp && *pp!=(DpCursor*)pCur ) pp = &(*pp)->pNextCursor;
  if( *pp ) *pp = ((DpCursor*)pCur)->pNextCursor;
  dpTsCursorClosed(p->pStats, &((DpCursor*)pCur)->iRecSeq);
  cursorReset((DpCursor*)pCur);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

/* Statement on %_docs selecting the cursor's columns, by id or all. */
static int cursorPrepare(DpTable *p, DpCursor *pCur, const char *zWhere){
  return storeError(p, dpStorageDocCursor(p->pStore, zWhere, &pCur->pStmt));
}

/* Position the lookup statement on the current MATCH hit. */
static int cursorSeekHit(DpCursor *pCur){
  int rc;
  sqlite3_reset(pCur->pStmt);
  if( pCur->iHit>=pCur->nHit ){
    pCur->bEof = 1;
    return SQLITE_OK;
  }
  sqlite3_bind_int64(pCur->pStmt, 1, pCur->aHit[pCur->iHit].iId);
  rc = sqlite3_step(pCur->pStmt);
  if( rc==SQLITE_ROW ){
    pCur->bEof = 0;
    return SQLITE_OK;
  }
  rc = sqlite3_reset(pCur->pStmt);
  if( rc==SQLITE_OK ){
    DpTable *p = (DpTable*)pCur->base.pVtab;
    return tableError(p, SQLITE_CORRUPT_VTAB, "document %lld is in the index"
                      " but not in %s_docs", pCur->aHit[pCur->iHit].iId,
                      dpStorageName(p->pStore));
  }
  return rc;
}

/* Accepted ids of a filtered MATCH, sorted, for binary search. */
typedef struct IdSet IdSet;
struct IdSet {
  sqlite3_int64 *aId;
  int nId;
};

static int idSetHas(void *pCtx, sqlite3_int64 iId){
  const IdSet *s = (const IdSet*)pCtx;
  int lo = 0, hi = s->nId - 1;
  while( lo<=hi ){
    int mid = lo + (hi-lo)/2;
    if( s->aId[mid]==iId ) return 1;
    if( s->aId[mid]<iId ) lo = mid+1; else hi = mid-1;
  }
  return 0;
}

/* Run the column filters of idxStr on %_docs into pSet. */
static int buildFilter(DpTable *p, const char *zFilter, sqlite3_value **apArg,
                       IdSet *pSet){
  int aCol[DP_MAX_FILTER];    /* see dpBestIndex */
  const char *azOp[DP_MAX_FILTER];
  char *zOps = sqlite3_mprintf("%s", zFilter);   /* split in place */
  char *z = zOps;
  int nTerm = 0, rc;
  if( zOps==0 ) return SQLITE_NOMEM;
  while( *z && nTerm<(int)(sizeof(aCol)/sizeof(aCol[0])) ){
    char *zOp = strchr(z, ' ') + 1;
    char *zEnd = strchr(zOp, ';');
    aCol[nTerm] = atoi(z);
    azOp[nTerm] = zOp;
    *zEnd = 0;
    nTerm++;
    z = zEnd + 1;
  }
  rc = storeError(p, dpStorageFilterIds(p->pStore, nTerm, aCol, azOp, apArg,
                                        &pSet->aId, &pSet->nId));
  sqlite3_free(zOps);
  return rc;
}

/* Hits best first: higher score, then lower rowid (as index.c ranks). */
static int cmpHitRank(const void *pa, const void *pb){
  const DpHit *a = pa, *b = pb;
  if( a->rScore!=b->rScore ) return a->rScore > b->rScore ? -1 : 1;
  return (a->iId > b->iId) - (a->iId < b->iId);
}

/* A short text query (query.c): every body is scored by the query's word
** runs; documents with none of them are not hits. */
static int shortMatch(DpTable *p, DpCursor *pCur, DpShortQuery *pShort,
                      int nK, double rMin, IdSet *pFilter){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT id, body FROM \"%w\".\"%w_docs\"",
                               dpStorageSchema(p->pStore), dpStorageName(p->pStore));
  int rc = zSql ? SQLITE_OK : SQLITE_NOMEM, nAlloc = 0;
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
    const unsigned char *z;
    double r;
    if( pFilter && !idSetHas(pFilter, iId) ) continue;
    if( sqlite3_column_type(pStmt, 1)!=SQLITE_TEXT ) continue;
    z = sqlite3_column_text(pStmt, 1);
    rc = dpShortQueryScore(pShort, &p->tok, z, sqlite3_column_bytes(pStmt, 1),
                           &r);
    if( rc!=SQLITE_OK || r<=0.0 || r<rMin ) continue;
    rc = dpGrow((void**)&pCur->aHit, &nAlloc, pCur->nHit+1, sizeof(DpHit));
    if( rc==SQLITE_OK ){
      pCur->aHit[pCur->nHit].iId = iId;
      pCur->aHit[pCur->nHit].rScore = r;
      pCur->nHit++;
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
  else sqlite3_finalize(pStmt);
  if( pCur->nHit>0 ){
    qsort(pCur->aHit, (size_t)pCur->nHit, sizeof(DpHit), cmpHitRank);
  }
  if( pCur->nHit>nK ) pCur->nHit = nK;
  return rc;
}

/* The MATCH operand's k, LIMIT/OFFSET and score bound (idxNum says which
** argv hold them, from argv[1] on); *piArg is left at the first column
** filter argument. */
static int matchArgs(DpTable *p, int idxNum, sqlite3_value **argv, int *piArg,
                     sqlite3_int64 *pnK, double *prMin){
  int iArg = 1;
  /* Without k and without a LIMIT that SQLite hands over, the whole
  ** ranking: SQLite applies any LIMIT itself then, so nothing is cut. */
  *pnK = DP_K_ALL;
  *prMin = -2.0;
  if( idxNum & (HAS_K|HAS_LIMIT) ){
    sqlite3_value *pK = argv[iArg++];
    sqlite3_int64 nK;
    if( sqlite3_value_numeric_type(pK)!=SQLITE_INTEGER ){
      return tableError(p, SQLITE_ERROR, "k must be an integer from 1 to %d",
                        DP_K_MAX);
    }
    nK = sqlite3_value_int64(pK);
    if( (nK<1 || nK>DP_K_MAX) && (idxNum & HAS_K) ){
      return tableError(p, SQLITE_ERROR, "k must be an integer from 1 to %d,"
                        " not %lld", DP_K_MAX, nK);
    }
    if( nK<0 || nK>DP_K_ALL ) nK = DP_K_ALL;   /* LIMIT -1: no limit */
    if( idxNum & HAS_OFFSET ){
      sqlite3_int64 nOff = sqlite3_value_int64(argv[iArg++]);
      if( nOff>0 ) nK = nK + nOff > DP_K_ALL ? DP_K_ALL : nK + nOff;
    }
    *pnK = nK;
  }
  if( idxNum & (HAS_SCORE|HAS_SCOREGT) ){
    sqlite3_value *pS = argv[iArg++];
    int t = sqlite3_value_numeric_type(pS);
    if( t!=SQLITE_INTEGER && t!=SQLITE_FLOAT ){
      return tableError(p, SQLITE_ERROR, "score must be compared with a number");
    }
    *prMin = sqlite3_value_double(pS);
    if( idxNum & HAS_SCOREGT ) *prMin = nextafter(*prMin, 2.0);
  }
  *piArg = iArg;
  return SQLITE_OK;
}

/* The search of a MATCH: the hits into pCur->aHit. */
static int matchSearch(DpTable *p, DpCursor *pCur, int idxNum,
                       const char *idxStr, sqlite3_value **argv){
  sqlite3_value *pQuery = argv[0];
  const int bFilter = idxStr && idxStr[0];
  int iArg = 1, rc, bOwn;
  sqlite3_int64 nK, tSearch;
  double rMin;
  IdSet set = {0, 0};
  DpShortQuery *pShort = 0;
  rc = matchArgs(p, idxNum, argv, &iArg, &nK, &rMin);
  pCur->nK = (idxNum & HAS_K) ? (int)nK : 0;
  /* The index first: loading it uses p->aVec as scratch, and the query
  ** vector goes there next. */
  if( rc==SQLITE_OK ) rc = ensureIndex(p);   /* timed as load_ns */
  if( rc!=SQLITE_OK ) return rc;
  /* The query: text embedded with the table's options, or a vector; a
  ** text of fewer words than a shingle is scored by its words (query.c). */
  switch( sqlite3_value_type(pQuery) ){
    case SQLITE_TEXT:
      rc = rowVector(p, pQuery, 0, p->aVec, &bOwn); /* tokens in p->tok */
      if( rc==SQLITE_OK ) rc = dpShortQueryNew(&p->opt, &p->tok, &pShort);
      break;
    case SQLITE_BLOB:
      rc = rowVector(p, 0, pQuery, p->aVec, &bOwn);
      break;
    case SQLITE_NULL:
      return SQLITE_OK;      /* no rows */
    default:
      return tableError(p, SQLITE_MISMATCH, "MATCH needs text or a float32"
                        " blob of %d values", p->opt.nDim);
  }
  tSearch = dpTsClock(p->pStats);
  if( rc==SQLITE_OK && bFilter ){
    rc = buildFilter(p, idxStr, &argv[iArg], &set);
  }
  if( rc==SQLITE_OK && pShort ){
    rc = shortMatch(p, pCur, pShort, (int)nK, rMin, bFilter ? &set : 0);
  }else if( rc==SQLITE_OK && !vectorIsZero(p->aVec, p->opt.nDim) ){
    rc = dpIndexNearest(&p->index, p->aVec, (int)nK, rMin,
                        bFilter ? idSetHas : 0, &set,
                        &pCur->aHit, &pCur->nHit);
  }
  sqlite3_free(set.aId);
  dpShortQueryFree(pShort);
  dpTsAddStage(p->pStats, DP_STAGE_SEARCH, tSearch);
  return rc;
}

static int matchFilter(DpTable *p, DpCursor *pCur, int idxNum,
                       const char *idxStr, sqlite3_value **argv){
  DpStatCall call;
  int rc;
  dpTsBegin(p->pStats, DP_KIND_QUERY, &call);
  dpTsAttachCursor(p->pStats, &call, &pCur->iRecSeq);
  rc = matchSearch(p, pCur, idxNum, idxStr, argv);
  dpTsEnd(p->pStats, &call, rc, 0, pCur->nHit);
  if( rc==SQLITE_OK ) rc = cursorPrepare(p, pCur, "WHERE id=?1");
  if( rc==SQLITE_OK ) rc = cursorSeekHit(pCur);
  return rc;
}

static int dpFilter(sqlite3_vtab_cursor *pCursor, int idxNum,
                    const char *idxStr, int argc, sqlite3_value **argv){
  DpCursor *pCur = (DpCursor*)pCursor;
  DpTable *p = (DpTable*)pCursor->pVtab;
  int rc;
  cursorReset(pCur);
  pCur->ePlan = idxNum & PLAN_MASK;
  switch( pCur->ePlan ){
    case PLAN_MATCH:
      (void)argc;
      return matchFilter(p, pCur, idxNum, idxStr, argv);
    case PLAN_ROWID:
      rc = cursorPrepare(p, pCur, "WHERE id=?1");
      if( rc==SQLITE_OK ) sqlite3_bind_value(pCur->pStmt, 1, argv[0]);
      break;
    default:
      rc = cursorPrepare(p, pCur, "ORDER BY id");
      break;
  }
  if( rc!=SQLITE_OK ) return rc;
  rc = sqlite3_step(pCur->pStmt);
  if( rc==SQLITE_ROW ){
    pCur->bEof = 0;
    return SQLITE_OK;
  }
  pCur->bEof = 1;
  return rc==SQLITE_DONE ? SQLITE_OK : rc;
}

static int dpNext(sqlite3_vtab_cursor *pCursor){
  DpCursor *pCur = (DpCursor*)pCursor;
  int rc;
  if( pCur->ePlan==PLAN_MATCH ){
    pCur->iHit++;
    return cursorSeekHit(pCur);
  }
  rc = sqlite3_step(pCur->pStmt);
  if( rc==SQLITE_ROW ) return SQLITE_OK;
  pCur->bEof = 1;
  return rc==SQLITE_DONE ? SQLITE_OK : rc;
}

static int dpEof(sqlite3_vtab_cursor *pCursor){
  return ((DpCursor*)pCursor)->bEof;
}

static int dpColumn(sqlite3_vtab_cursor *pCursor, sqlite3_context *ctx,
                    int iCol){
  DpCursor *pCur = (DpCursor*)pCursor;
  DpTable *p = (DpTable*)pCursor->pVtab;
  sqlite3_stmt *pStmt = pCur->pStmt;
  if( iCol<0 || iCol>colCmd(p) ) return SQLITE_OK;   /* see dpUpdate */
  /* In an UPDATE, columns that keep their value are not fetched: the large
  ** ones cost a copy, the computed ones must not look "set". */
  if( sqlite3_vtab_nochange(ctx)
   && (iCol==COL_BODY || iCol==COL_EMBEDDING || iCol==COL_ISDUP
       || iCol==COL_DUPOF || iCol==COL_SIM || iCol==colScore(p)
       || iCol==colK(p)) ){
    return SQLITE_OK;
  }
  if( iCol<COL_EMBEDDING ){
    sqlite3_result_value(ctx, sqlite3_column_value(pStmt, 1));
  }else if( iCol==COL_EMBEDDING ){
    sqlite3_stmt *pVec;
    int rc = storeError(p, dpStorageVectorSeek(p->pStore,
                                               sqlite3_column_int64(pStmt, 0),
                                               &pVec));
    if( rc==SQLITE_ROW ){
      sqlite3_result_value(ctx, sqlite3_column_value(pVec, 0));
      rc = dpStorageVectorRelease(p->pStore);
    }else if( rc==SQLITE_DONE ){
      rc = SQLITE_OK;
    }
    if( rc!=SQLITE_OK ) return rc;
  }else if( iCol<colScore(p) ){
    /* is_duplicate .. similarity, extras: statement columns 2.. */
    sqlite3_result_value(ctx, sqlite3_column_value(pStmt, iCol));
  }else if( iCol==colScore(p) ){
    if( pCur->ePlan==PLAN_MATCH ){
      sqlite3_result_double(ctx, pCur->aHit[pCur->iHit].rScore);
    }
  }else if( iCol==colK(p) ){
    if( pCur->ePlan==PLAN_MATCH && pCur->nK>0 ){
      sqlite3_result_int(ctx, pCur->nK);
    }
  }
  return SQLITE_OK;
}

static int dpRowid(sqlite3_vtab_cursor *pCursor, sqlite3_int64 *piRowid){
  *piRowid = sqlite3_column_int64(((DpCursor*)pCursor)->pStmt, 0);
  return SQLITE_OK;
}

static int dpShadowName(const char *zName){
  return dpStorageIsShadow(zName) || dpTsIsShadow(zName);
}

static const sqlite3_module docpipeModule = {
  .iVersion     = 3,
  .xCreate      = dpCreate,
  .xConnect     = dpConnect,
  .xBestIndex   = dpBestIndex,
  .xDisconnect  = dpDisconnect,
  .xDestroy     = dpDestroy,
  .xOpen        = dpOpen,
  .xClose       = dpClose,
  .xFilter      = dpFilter,
  .xNext        = dpNext,
  .xEof         = dpEof,
  .xColumn      = dpColumn,
  .xRowid       = dpRowid,
  .xUpdate      = dpUpdate,
  .xBegin       = dpBegin,
  .xSync        = dpSync,
  .xCommit      = dpCommit,
  .xRollback    = dpRollback,
  .xRename      = dpRename,
  .xSavepoint   = dpSavepoint,
  .xRelease     = dpRelease,
  .xRollbackTo  = dpRollbackTo,
  .xShadowName  = dpShadowName,
};

int dpRegisterVtab(sqlite3 *db, DpConn *pConn){
  return sqlite3_create_module_v2(db, "docpipe", &docpipeModule, pConn,
                                  dpConnRelease);
}
