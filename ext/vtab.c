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
** and written only through it), %_stats and %_latency to stats.c, and for
** the set kind (measure='jaccard'|'cosine') %_sets and the postings
** %_pruns, %_pblocks, %_pfilter, %_pfence, %_ptomb to setindex.c;
** xShadowName names them all, so SQLITE_DBCONFIG_DEFENSIVE protects them.
** The set kind's pending postings are written as a run at xSync and at
** xSavepoint and dropped at xRollback and xRollbackTo; its embedding
** column is computed from the body on read (setEmbedding).
**
** Writes (xUpdate) are pipeline.c's: dpTableWrite() embeds, decides and
** stores each row, and dpTableEnsureIndex() keeps the in-memory index a
** cache of the shadow tables.  This file marks that cache stale when a
** write fails and on ROLLBACK and ROLLBACK TO, writes the statistics with
** the transaction (xSync), and answers reads: scans, rowid lookups and
** MATCH (the vector index, or query.c for a query shorter than a shingle).
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


#define DP_K_MAX 1000000
#define DP_K_ALL 0x7fffffff     /* no k: every document, ranked */
#define DP_MAX_FILTER 64        /* column filters done inside a MATCH */


/* idxNum flags (the plans are in docpipe.h). */
#define HAS_K       0x10
#define HAS_SCORE   0x20   /* score >= ? */
#define HAS_SCOREGT 0x40   /* score > ? */
#define HAS_LIMIT   0x80
#define HAS_OFFSET  0x100

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
  dpSetIndexClose(p->pSet);
  sqlite3_free(p->aHash);
  dpEmbedScratchFree(&p->tok);
  dpEmbedScratchFree(&p->tokBody);
  sqlite3_free(p->aBodyHash);
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
  dpEmbedScratchInit(&p->tokBody);
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
  if( rc==SQLITE_OK && dpOptionsIsSet(&p->opt) ){
    /* the storage's copies of the names: argv may not outlive the
    ** statements that created the shadow tables */
    const char *zName = dpStorageName(p->pStore);
    char *zErr = 0;
    rc = dpSetIndexOpen(db, dpStorageSchema(p->pStore), zName, bCreate,
                        &p->pSet, &zErr);
    if( rc==SQLITE_OK && p->opt.bSetsFromBody ){
      dpSetIndexSetSource(p->pSet, dpTableSetOfBody, p);
      dpSetIndexSetBulkSource(p->pSet, dpTableSetsOfBodies);
    }
    if( rc!=SQLITE_OK && *pzErr==0 ){
      *pzErr = sqlite3_mprintf("docpipe: table %s: %s", zName,
                               zErr ? zErr : sqlite3_errstr(rc));
      if( rc!=SQLITE_NOMEM && !bCreate ) rc = SQLITE_CORRUPT_VTAB;
    }
    sqlite3_free(zErr);
  }
  if( rc==SQLITE_OK ) rc = declareVtab(p);
  if( rc==SQLITE_OK ){
    sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
    dpIndexInit(&p->index, p->opt.nDim);
    p->pConn = pConn;
    p->ref.pStore = p->pStore;
    p->ref.pStats = p->pStats;
    p->ref.pSet = p->pSet;
    p->ref.pbPartial = &p->bPartial;
    dpConnAdd(pConn, &p->ref);
    *ppVtab = &p->base;
  }else{
    tableFree(p);
  }
  return rc;
}

static int vtabCreate(sqlite3 *db, void *pAux, int argc,
                    const char *const *argv, sqlite3_vtab **ppVtab,
                    char **pzErr){
  return tableInit(db, (DpConn*)pAux, 1, argc, argv, ppVtab, pzErr);
}

static int vtabConnect(sqlite3 *db, void *pAux, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr){
  return tableInit(db, (DpConn*)pAux, 0, argc, argv, ppVtab, pzErr);
}

static int vtabDisconnect(sqlite3_vtab *pVtab){
  tableFree((DpTable*)pVtab);
  return SQLITE_OK;
}

static int vtabDestroy(sqlite3_vtab *pVtab){
  DpTable *p = (DpTable*)pVtab;
  int rc = dpTableStoreError(p, dpStorageDestroy(p->pStore));
  if( rc==SQLITE_OK ) rc = dpTsDropTables(p->pStats);
  if( rc==SQLITE_OK && p->pSet ){
    dpSetIndexClose(p->pSet);         /* its statements go first */
    p->pSet = 0;
    p->ref.pSet = 0;
    rc = dpSetIndexDrop(p->db, dpStorageSchema(p->pStore),
                        dpStorageName(p->pStore), &p->base.zErrMsg);
  }
  if( rc==SQLITE_OK ) tableFree(p);
  return rc;
}

static int vtabRename(sqlite3_vtab *pVtab, const char *zNew){
  DpTable *p = (DpTable*)pVtab;
  int rc;
  if( dpStorageIsColumnName(p->pStore, zNew) ){
    return dpTableError(p, SQLITE_ERROR, "cannot be renamed to %s: that is the"
                      " name of one of its columns", zNew);
  }
  rc = dpTsRename(p->pStats, zNew, &p->base.zErrMsg);
  if( rc==SQLITE_OK && p->pSet ){
    rc = dpSetIndexRename(p->pSet, zNew, &p->base.zErrMsg);
  }
  if( rc==SQLITE_OK ) rc = dpTableStoreError(p, dpStorageRename(p->pStore, zNew));
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

/* A write that fails after it changed rows (the REPLACE of a row whose
** new values a user's UNIQUE index on a shadow table refuses, a rowid the
** set kind cannot take chosen by SQLite, damage met half-way) leaves
** those changes behind: a one-row INSERT or UPDATE of a virtual table has
** no statement journal, and SQLite undoes nothing short of the whole
** transaction (in autocommit mode it rolls that back, except for OR FAIL,
** which commits it).  So the table is then marked: every statement on it
** (reads and writes) fails, and so does COMMIT (after which SQLite rolls
** the transaction back), until a ROLLBACK, or a ROLLBACK TO a savepoint
** opened before the write, undoes the changes.  A statement that has a
** journal (several rows) is rolled back to it by SQLite, which clears the
** mark the same way. */
static int partialWriteError(DpTable *p){
  return dpTableError(p, SQLITE_ERROR, "%s", DP_PARTIAL_WRITE_MSG);
}

/* Is the table marked?  Also when a schema reset (a ROLLBACK TO undoing
** DDL, a RENAME) made SQLite connect it again: the marked object stays in
** the transaction until it ends. */
static int isPartial(DpTable *p){
  return p->bPartial || dpConnPartial(p->pConn, dpStorageSchema(p->pStore),
                                      dpStorageName(p->pStore));
}

/* Rows the write itself changed so far: the connection's changes, less
** those of the set tables' flushes in xSavepoint (a user's trigger on a
** shadow table gives our statement a journal, and SQLite calls every
** table's xSavepoint inside our write; they write earlier rows' postings,
** which a commit writes anyway) */
static sqlite3_int64 writeChanges(DpTable *p){
  return sqlite3_total_changes64(p->db) - p->pConn->nSvptChanges;
}

static int isIntegrityCheck(DpTable *p, int argc, sqlite3_value **argv){
  const unsigned char *z;
  if( argc==1 ) return 0;
  z = sqlite3_value_text(argv[2+dpColCmd(p)]);
  return z && sqlite3_stricmp((const char*)z, "integrity-check")==0;
}

static int vtabUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                    sqlite3_int64 *piRowid){
  DpTable *p = (DpTable*)pVtab;
  DpStatCall call;
  const sqlite3_int64 nWritten0 = p->nWritten;
  const sqlite3_int64 nChange0 = writeChanges(p);
  int rc, eKind;
  if( isPartial(p) ) return partialWriteError(p);
  if( argc!=1 && argc!=3+dpColCmd(p) ){
    /* SQLite's idea of the columns is not ours: with a shared cache the
    ** schema of another connection, declared before %_config changed */
    return dpTableError(p, SQLITE_CORRUPT_VTAB, "its columns (%d) do not match"
                      " %s_config (%d)", argc-2, dpStorageName(p->pStore),
                      dpColCmd(p)+1);
  }
  if( argc==1 ){
    eKind = DP_KIND_DELETE;
  }else if( sqlite3_value_type(argv[2+dpColCmd(p)])==SQLITE_NULL ){
    eKind = sqlite3_value_type(argv[0])==SQLITE_NULL
          ? DP_KIND_INSERT : DP_KIND_UPDATE;
  }else{
    eKind = -1;                 /* a command: no record of its own */
  }
  dpTsBegin(p->pStats, eKind, &call);
  /* DELETE and the commands do not need the index (a damaged shadow row
  ** must not block the statements that repair it); a stale index stays
  ** stale and is reloaded when next needed. */
  if( argc==1 || sqlite3_value_type(argv[2+dpColCmd(p)])!=SQLITE_NULL ){
    rc = SQLITE_OK;
  }else{
    rc = dpTableEnsureIndex(p);
  }
  if( rc==SQLITE_OK ){
    rc = dpTableWrite(p, argc, argv, piRowid);
  }
  /* A failed write may have changed the index but not, after SQLite rolls
  ** the statement back, the shadow tables: rebuild it next time. */
  if( rc!=SQLITE_OK ) p->bIndexValid = 0;
  /* ... or it may have changed them, and nothing will undo it (above);
  ** integrity-check changes only what a commit would write anyway */
  if( rc!=SQLITE_OK && writeChanges(p)!=nChange0
   && !isIntegrityCheck(p, argc, argv) ){
    p->bPartial = 1;
    p->iPartialDepth = p->nSvptDepth;
  }
  dpTsEnd(p->pStats, &call, rc, p->nWritten - nWritten0, 0);
  return rc;
}

/**************************************************************************
** Transactions: the index is a cache, so undo means "rebuild".
*/
static int vtabBegin(sqlite3_vtab *pVtab){ (void)pVtab; return SQLITE_OK; }

/* Statistics records are written with the transaction, as FTS5 writes its
** pending data.  A table of format version 1 gets version 2 first. */
static int vtabSync(sqlite3_vtab *pVtab){
  DpTable *p = (DpTable*)pVtab;
  int rc = SQLITE_OK;
  if( p->bPartial ){
    return dpTableError(p, SQLITE_ERROR, "%s", DP_PARTIAL_COMMIT_MSG);
  }
  if( p->pSet ){
    /* the set kind's pending postings become a run (and merges advance) */
    rc = dpTableSetError(p, dpSetIndexSync(p->pSet));
    if( rc!=SQLITE_OK ) return rc;
  }
  if( dpStorageFormat(p->pStore)==1 && dpTsPending(p->pStats) ){
    rc = dpStatMigrate(p->db, dpStorageSchema(p->pStore),
                       dpStorageName(p->pStore), &p->base.zErrMsg);
    if( rc==SQLITE_OK ) rc = dpTableStoreError(p, dpStorageSetFormat2(p->pStore));
  }
  if( rc==SQLITE_OK ){
    char *zErr = 0;
    rc = dpTsFlush(p->pStats, &zErr);
    if( rc!=SQLITE_OK ) dpTableError(p, rc, "%s", zErr ? zErr : "");
    sqlite3_free(zErr);
  }
  return rc;
}

static int vtabCommit(sqlite3_vtab *pVtab){
  DpTable *p = (DpTable*)pVtab;
  p->nSvptDepth = 0;
  if( p->pSet ) dpSetIndexCommit(p->pSet);
  dpTsCommit(p->pStats);
  return SQLITE_OK;
}

static int vtabRollback(sqlite3_vtab *pVtab){
  DpTable *p = (DpTable*)pVtab;
  p->bIndexValid = 0;
  p->nSvptDepth = 0;
  p->bPartial = 0;
  if( p->pSet ) dpSetIndexRollback(p->pSet);
  dpStorageTokenizerRecheck(p->pStore);
  dpTsRollback(p->pStats);
  return SQLITE_OK;
}

static int vtabSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  DpTable *p = (DpTable*)pVtab;
  /* (not refused when marked: SQLite would not show this error's message,
  ** and the mark stays with the savepoints open before it) */
  p->nSvptDepth = iSavepoint + 1;
  if( p->pSet ){
    /* SQLite calls this before it opens the savepoint (a user's, or a
    ** statement's): the postings pending so far are written outside it,
    ** so ROLLBACK TO drops exactly the pending ones (the changes since) */
    const sqlite3_int64 n0 = sqlite3_total_changes64(p->db);
    int rc = dpTableSetError(p, dpSetIndexSavepoint(p->pSet, iSavepoint));
    p->pConn->nSvptChanges += sqlite3_total_changes64(p->db) - n0;
    if( rc!=SQLITE_OK ) return rc;
  }
  return dpTsSavepoint(p->pStats, iSavepoint);
}

static int vtabRelease(sqlite3_vtab *pVtab, int iSavepoint){
  DpTable *p = (DpTable*)pVtab;
  /* the changes of a failed write now belong to the enclosing savepoint */
  p->nSvptDepth = iSavepoint;
  if( p->iPartialDepth>iSavepoint ) p->iPartialDepth = iSavepoint;
  if( p->pSet ) dpSetIndexRelease(p->pSet, iSavepoint);
  dpTsRelease(p->pStats);
  return SQLITE_OK;
}

static int vtabRollbackTo(sqlite3_vtab *pVtab, int iSavepoint){
  DpTable *p = (DpTable*)pVtab;
  p->bIndexValid = 0;
  /* undone if made after savepoint iSavepoint was opened, that is with
  ** more than iSavepoint savepoints open */
  if( p->bPartial && p->iPartialDepth>iSavepoint ) p->bPartial = 0;
  p->nSvptDepth = iSavepoint + 1;
  if( p->pSet ) dpSetIndexRollbackTo(p->pSet, iSavepoint);
  dpStorageTokenizerRecheck(p->pStore);
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

static int vtabBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  DpTable *p = (DpTable*)pVtab;
  int iMatch = -1, iK = -1, iScore = -1, iRowid = -1, iLimit = -1;
  int iOffset = -1;
  int bScoreGt = 0, i, n = 0, nFilter;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];
    if( c->iColumn>dpColCmd(p) ) continue;               /* see vtabUpdate */
    if( c->iColumn==dpColCmd(p) && c->op==SQLITE_INDEX_CONSTRAINT_MATCH ){
      if( !c->usable ) return SQLITE_CONSTRAINT;
      iMatch = i;
    }else if( !c->usable ){
      continue;
    }else if( c->iColumn==dpColK(p) && c->op==SQLITE_INDEX_CONSTRAINT_EQ ){
      iK = i;
    }else if( c->iColumn==dpColScore(p) && (c->op==SQLITE_INDEX_CONSTRAINT_GE
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
      if( !c->usable || zOp==0 || c->iColumn<0 || c->iColumn==DP_COL_EMBEDDING
       || c->iColumn>=dpColScore(p) || nFilter>=DP_MAX_FILTER ){
        continue;
      }
      nFilter++;
      pInfo->aConstraintUsage[i].argvIndex = ++n;
      sqlite3_str_appendf(s, "%d %s;", c->iColumn, zOp);
    }
    pInfo->idxStr = dpStrFinish(s);
    pInfo->needToFreeIdxStr = 1;
    if( pInfo->idxStr==0 ) return SQLITE_NOMEM;
    if( pInfo->nOrderBy==1 && pInfo->aOrderBy[0].iColumn==dpColScore(p)
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

static int vtabOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
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

static int vtabClose(sqlite3_vtab_cursor *pCur){
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
  return dpTableStoreError(p, dpStorageDocCursor(p->pStore, zWhere, 1,
                                                &pCur->pStmt));
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
  rc = dpTableSqlError((DpTable*)pCur->base.pVtab, sqlite3_reset(pCur->pStmt));
  if( rc==SQLITE_OK ){
    DpTable *p = (DpTable*)pCur->base.pVtab;
    return dpTableError(p, SQLITE_CORRUPT_VTAB, "document %lld is in the index"
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
  int aCol[DP_MAX_FILTER];    /* see vtabBestIndex */
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
  rc = dpTableStoreError(p, dpStorageFilterIds(p->pStore, nTerm, aCol, azOp, apArg,
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
  /* columns id and body first, body as the table shows it (storage.c) */
  int rc = dpTableStoreError(p, dpStorageDocCursor(p->pStore, "", 0, &pStmt));
  int nAlloc = 0;
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
  if( rc==SQLITE_OK ) rc = dpTableSqlError(p, sqlite3_finalize(pStmt));
  else sqlite3_finalize(pStmt);
  if( pCur->nHit>0 ){
    qsort(pCur->aHit, (size_t)pCur->nHit, sizeof(DpHit), cmpHitRank);
  }
  if( pCur->nHit>nK ) pCur->nHit = nK;
  return rc;
}

/* The MATCH operand's k, LIMIT/OFFSET and score bound (idxNum says which
** argv hold them, from argv[1] on); *piArg is left at the first column
** filter argument.  *pbNone: the bound is NULL, so no row can pass it
** (score >= NULL is NULL in SQL, as MATCH NULL gives no rows). */
static int matchArgs(DpTable *p, int idxNum, sqlite3_value **argv, int *piArg,
                     sqlite3_int64 *pnK, double *prMin, int *pbNone){
  int iArg = 1;
  *pbNone = 0;
  /* Without k and without a LIMIT that SQLite hands over, the whole
  ** ranking: SQLite applies any LIMIT itself then, so nothing is cut. */
  *pnK = DP_K_ALL;
  *prMin = -2.0;
  if( idxNum & (HAS_K|HAS_LIMIT) ){
    sqlite3_value *pK = argv[iArg++];
    sqlite3_int64 nK;
    if( sqlite3_value_numeric_type(pK)!=SQLITE_INTEGER ){
      return dpTableError(p, SQLITE_ERROR, "k must be an integer from 1 to %d",
                        DP_K_MAX);
    }
    nK = sqlite3_value_int64(pK);
    if( (nK<1 || nK>DP_K_MAX) && (idxNum & HAS_K) ){
      return dpTableError(p, SQLITE_ERROR, "k must be an integer from 1 to %d,"
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
    if( t==SQLITE_NULL ){
      *pbNone = 1;
    }else if( t!=SQLITE_INTEGER && t!=SQLITE_FLOAT ){
      return dpTableError(p, SQLITE_ERROR, "score must be compared with a number");
    }
    *prMin = sqlite3_value_double(pS);
    if( idxNum & HAS_SCOREGT ) *prMin = nextafter(*prMin, 2.0);
  }
  *piArg = iArg;
  return SQLITE_OK;
}

/* The set kind's MATCH: the stored documents sharing a shingle with the
** query's set p->aHash, ranked by the table's measure (ties: lowest id),
** score >= rMin, accepted by the column filters when there are some, the
** nK best.  setindex.c ranks into an array of the k asked for: without k,
** or with filters (applied after), that is every stored set. */
static int setMatch(DpTable *p, DpCursor *pCur, sqlite3_int64 nK, double rMin,
                    IdSet *pFilter){
  DpSetHit *aSet = 0;
  sqlite3_int64 nSet = 0, nAsk = nK;
  int rc = SQLITE_OK, nFound = 0, i;
  if( nK==DP_K_ALL || pFilter ){
    rc = dpTableSetError(p, dpSetIndexCount(p->pSet, &nSet));
    nAsk = nSet;
  }
  if( rc!=SQLITE_OK || nAsk<=0 ) return rc;
  aSet = sqlite3_malloc64(sizeof(DpSetHit)*(sqlite3_uint64)nAsk);
  pCur->aHit = sqlite3_malloc64(sizeof(DpHit)*(sqlite3_uint64)nAsk);
  if( aSet==0 || pCur->aHit==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK ){
    rc = dpTableSetError(p, dpSetIndexNearest(p->pSet, p->aHash, p->nHash,
                                              dpTableSetMeasure(p), (int)nAsk,
                                              rMin, 0, 0, 0, aSet, &nFound));
  }
  for(i=0; rc==SQLITE_OK && i<nFound && pCur->nHit<nK; i++){
    if( pFilter && !idSetHas(pFilter, aSet[i].iId) ) continue;
    pCur->aHit[pCur->nHit].iId = aSet[i].iId;
    pCur->aHit[pCur->nHit].rScore = aSet[i].rSim;
    pCur->nHit++;
  }
  sqlite3_free(aSet);
  return rc;
}

/* The search of a MATCH: the hits into pCur->aHit. */
static int matchSearch(DpTable *p, DpCursor *pCur, int idxNum,
                       const char *idxStr, sqlite3_value **argv){
  sqlite3_value *pQuery = argv[0];
  const int bFilter = idxStr && idxStr[0];
  int iArg = 1, rc, bOwn, bNone;
  sqlite3_int64 nK, tSearch;
  double rMin;
  IdSet set = {0, 0};
  DpShortQuery *pShort = 0;
  rc = matchArgs(p, idxNum, argv, &iArg, &nK, &rMin, &bNone);
  pCur->nK = (idxNum & HAS_K) ? (int)nK : 0;
  if( rc==SQLITE_OK && bNone ) return SQLITE_OK;     /* no rows */
  /* The index first (it loads into scratch of its own; the query vector
  ** goes into p->aVec next). */
  if( rc==SQLITE_OK ) rc = dpTableEnsureIndex(p);   /* timed as load_ns */
  if( rc!=SQLITE_OK ) return rc;
  /* The query: text embedded with the table's options, or a vector; a
  ** text of fewer words than a shingle is scored by its words (query.c). */
  switch( sqlite3_value_type(pQuery) ){
    case SQLITE_TEXT:
      if( p->pSet ){
        rc = dpTableSet(p, pQuery);                     /* tokens in p->tok */
      }else{
        rc = dpTableVector(p, pQuery, 0, p->aVec, &bOwn); /* and here too */
      }
      if( rc==SQLITE_OK ) rc = dpShortQueryNew(&p->opt, &p->tok, &pShort);
      break;
    case SQLITE_BLOB:
      if( p->pSet ){
        return dpTableError(p, SQLITE_MISMATCH, "MATCH needs text on a"
                          " measure='%s' table", dpOptionsMeasureText(&p->opt));
      }
      rc = dpTableVector(p, 0, pQuery, p->aVec, &bOwn);
      break;
    case SQLITE_NULL:
      return SQLITE_OK;      /* no rows */
    default:
      return dpTableError(p, SQLITE_MISMATCH, "MATCH needs text or a float32"
                        " blob of %d values", p->opt.nDim);
  }
  tSearch = dpTsClock(p->pStats);
  if( rc==SQLITE_OK && bFilter ){
    rc = buildFilter(p, idxStr, &argv[iArg], &set);
  }
  if( rc==SQLITE_OK && p->pSet ){
    /* every MATCH of a set table, also one scored by its words: what the
    ** table answers waits for a rebuild under another tokenizer */
    rc = dpTableStoreError(p, dpStorageTokenizerCheck(p->pStore));
  }
  if( rc==SQLITE_OK && pShort ){
    rc = shortMatch(p, pCur, pShort, (int)nK, rMin, bFilter ? &set : 0);
  }else if( rc==SQLITE_OK && p->pSet ){
    rc = setMatch(p, pCur, nK, rMin, bFilter ? &set : 0);
  }else if( rc==SQLITE_OK && !dpVectorIsZero(p->aVec, p->opt.nDim) ){
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

static int vtabFilter(sqlite3_vtab_cursor *pCursor, int idxNum,
                    const char *idxStr, int argc, sqlite3_value **argv){
  DpCursor *pCur = (DpCursor*)pCursor;
  DpTable *p = (DpTable*)pCursor->pVtab;
  int rc;
  cursorReset(pCur);
  if( isPartial(p) ) return partialWriteError(p);
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
  return rc==SQLITE_DONE ? SQLITE_OK
                         : dpTableSqlError(p, sqlite3_reset(pCur->pStmt));
}

static int vtabNext(sqlite3_vtab_cursor *pCursor){
  DpCursor *pCur = (DpCursor*)pCursor;
  int rc;
  if( pCur->ePlan==PLAN_MATCH ){
    pCur->iHit++;
    return cursorSeekHit(pCur);
  }
  rc = sqlite3_step(pCur->pStmt);
  if( rc==SQLITE_ROW ) return SQLITE_OK;
  pCur->bEof = 1;
  return rc==SQLITE_DONE ? SQLITE_OK
         : dpTableSqlError((DpTable*)pCursor->pVtab, sqlite3_reset(pCur->pStmt));
}

static int vtabEof(sqlite3_vtab_cursor *pCursor){
  return ((DpCursor*)pCursor)->bEof;
}

/* The embedding column of a set-kind table, which stores no vector: the
** vector embed() makes of the body with the table's options (so cosine()
** works on both kinds); NULL for a NULL body. */
static int setEmbedding(DpTable *p, sqlite3_context *ctx, sqlite3_int64 iId){
  DpTokens tok;
  float *aVec = 0;
  sqlite3_stmt *pRow;
  sqlite3_value *pBody;
  /* the body as text (the cursor holds it as stored, maybe packed) */
  int rc = dpTableStoreError(p, dpStorageBodySeek(p->pStore, iId, &pRow));
  if( rc==SQLITE_DONE ) return SQLITE_OK;
  if( rc!=SQLITE_ROW ) return rc;
  pBody = sqlite3_column_value(pRow, 0);
  rc = SQLITE_OK;
  if( sqlite3_value_type(pBody)!=SQLITE_NULL ){
    aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_uint64)p->opt.nDim);
    if( aVec==0 ) rc = SQLITE_NOMEM;
  }
  if( aVec ){
    /* scratch of its own: a read may come between a write's steps */
    dpEmbedScratchInit(&tok);
    rc = dpTableEmbedBody(p, pBody, &tok, aVec);
    dpEmbedScratchFree(&tok);
  }
  if( rc==SQLITE_OK && aVec ){
    sqlite3_result_blob(ctx, aVec, 4*p->opt.nDim, sqlite3_free);
    aVec = 0;
  }
  sqlite3_free(aVec);
  {
    int rc2 = dpStorageBodyRelease(p->pStore);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  return rc;
}

static int vtabColumn(sqlite3_vtab_cursor *pCursor, sqlite3_context *ctx,
                    int iCol){
  DpCursor *pCur = (DpCursor*)pCursor;
  DpTable *p = (DpTable*)pCursor->pVtab;
  sqlite3_stmt *pStmt = pCur->pStmt;
  if( iCol<0 || iCol>dpColCmd(p) ) return SQLITE_OK;   /* see vtabUpdate */
  /* In an UPDATE, columns that keep their value are not fetched: the large
  ** ones cost a copy, the computed ones must not look "set". */
  if( sqlite3_vtab_nochange(ctx)
   && (iCol==DP_COL_BODY || iCol==DP_COL_EMBEDDING || iCol==DP_COL_ISDUP
       || iCol==DP_COL_DUPOF || iCol==DP_COL_SIM || iCol==dpColScore(p)
       || iCol==dpColK(p)) ){
    return SQLITE_OK;
  }
  if( iCol<DP_COL_EMBEDDING ){
    /* body, read as stored: unpacked only here, when it is asked for */
    return dpStorageBodyResult(p->pStore, ctx, sqlite3_column_value(pStmt, 1),
                               sqlite3_column_int64(pStmt, 0));
  }else if( iCol==DP_COL_EMBEDDING && p->pSet ){
    return setEmbedding(p, ctx, sqlite3_column_int64(pStmt, 0));
  }else if( iCol==DP_COL_EMBEDDING ){
    sqlite3_stmt *pVec;
    int rc = dpTableStoreError(p, dpStorageVectorSeek(p->pStore,
                                               sqlite3_column_int64(pStmt, 0),
                                               &pVec));
    if( rc==SQLITE_ROW ){
      sqlite3_result_value(ctx, sqlite3_column_value(pVec, 0));
      rc = dpStorageVectorRelease(p->pStore);
    }else if( rc==SQLITE_DONE ){
      rc = SQLITE_OK;
    }
    if( rc!=SQLITE_OK ) return rc;
  }else if( iCol<dpColScore(p) ){
    /* is_duplicate .. similarity, extras: statement columns 2.. */
    sqlite3_result_value(ctx, sqlite3_column_value(pStmt, iCol));
  }else if( iCol==dpColScore(p) ){
    if( pCur->ePlan==PLAN_MATCH ){
      sqlite3_result_double(ctx, pCur->aHit[pCur->iHit].rScore);
    }
  }else if( iCol==dpColK(p) ){
    if( pCur->ePlan==PLAN_MATCH && pCur->nK>0 ){
      sqlite3_result_int(ctx, pCur->nK);
    }
  }
  return SQLITE_OK;
}

static int vtabRowid(sqlite3_vtab_cursor *pCursor, sqlite3_int64 *piRowid){
  *piRowid = sqlite3_column_int64(((DpCursor*)pCursor)->pStmt, 0);
  return SQLITE_OK;
}

static int vtabShadowName(const char *zName){
  return dpStorageIsShadow(zName) || dpTsIsShadow(zName)
      || dpSetIndexShadowName(zName);
}

static const sqlite3_module docpipeModule = {
  .iVersion     = 3,
  .xCreate      = vtabCreate,
  .xConnect     = vtabConnect,
  .xBestIndex   = vtabBestIndex,
  .xDisconnect  = vtabDisconnect,
  .xDestroy     = vtabDestroy,
  .xOpen        = vtabOpen,
  .xClose       = vtabClose,
  .xFilter      = vtabFilter,
  .xNext        = vtabNext,
  .xEof         = vtabEof,
  .xColumn      = vtabColumn,
  .xRowid       = vtabRowid,
  .xUpdate      = vtabUpdate,
  .xBegin       = vtabBegin,
  .xSync        = vtabSync,
  .xCommit      = vtabCommit,
  .xRollback    = vtabRollback,
  .xRename      = vtabRename,
  .xSavepoint   = vtabSavepoint,
  .xRelease     = vtabRelease,
  .xRollbackTo  = vtabRollbackTo,
  .xShadowName  = vtabShadowName,
};

int dpRegisterVtab(sqlite3 *db, DpConn *pConn){
  return sqlite3_create_module_v2(db, "docpipe", &docpipeModule, pConn,
                                  dpConnRelease);
}
