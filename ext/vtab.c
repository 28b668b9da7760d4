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
** Shadow tables (xShadowName protects them under SQLITE_DBCONFIG_DEFENSIVE):
**   %_config(k PRIMARY KEY, v) WITHOUT ROWID   options and format version;
**                 the options a reopened database uses come from here.
**   %_docs(id INTEGER PRIMARY KEY, body, is_duplicate, duplicate_of,
**          similarity, own_vector, c0, c1, ...)   one row per document;
**                 own_vector is 1 when the caller supplied the embedding.
**   %_vectors(id INTEGER PRIMARY KEY, v BLOB)   the f32 vector, 4*dim bytes.
** DELETE removes the rows (SQLite reuses the pages): no tombstones.
**
** INSERT tokenizes and embeds the body (or takes the given embedding),
** asks the in-memory index (index.c) for the best indexed document with
** cosine >= threshold, writes both shadow rows, and adds the vector to the
** index (flagged "indexed" unless it is a duplicate).  UPDATE of body or
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

#define DP_FORMAT_VERSION 2      /* 1: latency blobs in %_stats (stats.c) */
#define DP_K_MAX 1000000
#define DP_K_ALL 0x7fffffff     /* no k: every document, ranked */

/* Fixed columns. */
#define COL_BODY      0
#define COL_EMBEDDING 1
#define COL_ISDUP     2
#define COL_DUPOF     3
#define COL_SIM       4
#define COL_EXTRA0    5
/* then: extras, score, k, <table> */

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

/* Cached statements on the shadow tables. */
enum {
  STMT_DOC_WRITE = 0,   /* INSERT INTO %_docs(...) VALUES(...) */
  STMT_DOC_DELETE,      /* DELETE FROM %_docs WHERE id=?1 */
  STMT_DOC_GET,         /* SELECT ... FROM %_docs WHERE id=?1 */
  STMT_VEC_WRITE,       /* INSERT INTO %_vectors(id, v) ... ON CONFLICT(id) */
  STMT_VEC_DELETE,      /* DELETE FROM %_vectors WHERE id=?1 */
  STMT_VEC_GET,         /* SELECT v FROM %_vectors WHERE id=?1 */
  STMT_LOAD,            /* every document with its vector */
  STMT_DATA_VERSION,    /* PRAGMA data_version */
  STMT_READ_UNCOMMITTED, /* PRAGMA read_uncommitted */
  STMT_STATS_WRITE,     /* INSERT INTO %_stats(...) VALUES(...) */
  STMT_STATS_PRUNE,     /* DELETE FROM %_stats WHERE id <= max(id) - ?1 */
  STMT_LATENCY_WRITE,   /* INSERT INTO %_latency(id, v) VALUES(?1, ?2) */
  STMT_LATENCY_PRUNE,   /* DELETE FROM %_latency WHERE id <= max(id) - ?1 */
  N_STMT
};

typedef struct DpCursor DpCursor;
typedef struct DpTable DpTable;
struct DpTable {
  sqlite3_vtab base;      /* base class, must be first */
  sqlite3 *db;            /* connection */
  char *zDb;              /* schema name ("main", ...) */
  char *zName;            /* table name */
  DpOptions opt;          /* options, from %_config */
  int nExtra;             /* number of extra columns */
  char **azExtraName;     /* their names */
  char *zExtraDecl;       /* their declarations, "title TEXT, lang TEXT" */
  sqlite3_stmt *aStmt[N_STMT]; /* prepared lazily, finalized on disconnect */
  DpIndex index;          /* in-memory vectors (index.c) */
  int bIndexValid;        /* index matches the shadow tables */
  sqlite3_int64 iDataVersion; /* PRAGMA data_version when index was built */
  DpTokens tok;           /* tokenizer scratch */
  float *aVec;            /* nDim floats of scratch */
  DpConn *pConn;          /* connection registry (for dedup_index) */
  DpTable *pNextTable;    /* next table of the same connection */
  DpCursor *pCursors;     /* open cursors: their statements are ours */
  sqlite3_stmt *pFeedStmt;  /* last INSERT checked by insertFeedsOnItself */
  char *zFeedSql;         /* its text (an address may be reused) */
  int bFeeds;             /* its verdict: it reads our shadow tables */
  /* statistics (stats.c) */
  sqlite3_int64 aStageNs[DP_N_STAGE]; /* the current document's stages */
  DpStatRec *pRec;        /* the record of the statement running now */
  DpStatRec *pPending;    /* closed write records of this transaction */
  DpStatRec *pQueries;    /* closed read-only records, for the next write,
                          ** oldest first, at most stats_keep of them */
  DpStatRec *pQueryLast;  /* the newest of pQueries */
  int nQueries;           /* records in pQueries */
  sqlite3_int64 nLoadNs;  /* index load of the current call */
  sqlite3_int64 iLastClock; /* last statClock(): each reading is later */
  int iFormat;            /* format version in %_config (1 or 2) */
  int iSeq;               /* records opened so far */
  int *aSvptSeq;          /* iSeq when each savepoint level was opened */
  int nSvpt;              /* entries in aSvptSeq */
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
  char *zPrefix = sqlite3_mprintf("%s: ", p->zName);
  va_start(ap, zFmt);
  dpVtabErrorV(&p->base, zPrefix ? zPrefix : "", zFmt, ap);
  va_end(ap);
  sqlite3_free(zPrefix);
  return rc;
}

/**************************************************************************
** Shadow tables and cached statements.
*/
static const char *const azShadow[] = {
  "config", "docs", "vectors", "stats", "latency"
};

static int shadowName(const char *zName){
  size_t i;
  for(i=0; i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    if( sqlite3_stricmp(zName, azShadow[i])==0 ) return 1;
  }
  return 0;
}

/* Run one statement built from a printf format; names are quoted by the
** caller with %w. */
static int execf(sqlite3 *db, char **pzErr, const char *zFmt, ...){
  va_list ap;
  char *zSql;
  int rc;
  va_start(ap, zFmt);
  zSql = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_exec(db, zSql, 0, 0, pzErr);
  sqlite3_free(zSql);
  return rc;
}

/* ", c0, c1, ..." or ", ?7, ?8, ..." for the extra columns. */
static char *extraList(const DpTable *p, const char *zFmt, int iFirst){
  sqlite3_str *s = sqlite3_str_new(0);
  int i;
  for(i=0; i<p->nExtra; i++) sqlite3_str_appendf(s, zFmt, i + iFirst);
  return dpStrFinish(s);
}

static int getStmt(DpTable *p, int eStmt, sqlite3_stmt **ppStmt){
  int rc = SQLITE_OK;
  if( p->aStmt[eStmt]==0 ){
    char *zCols = 0, *zVals = 0, *zSql = 0;
    const char *zDb = p->zDb, *zName = p->zName;
    switch( eStmt ){
      case STMT_DOC_WRITE:
        zCols = extraList(p, ", c%d", 0);
        zVals = extraList(p, ", ?%d", 7);
        if( zCols && zVals ){
          /* INSERT, never REPLACE: REPLACE would delete any row that a
          ** user's UNIQUE index on a shadow table says is in the way */
          zSql = sqlite3_mprintf("INSERT INTO \"%w\".\"%w_docs\"(id, body,"
              " is_duplicate, duplicate_of, similarity, own_vector%s)"
              " VALUES(?1, ?2, ?3, ?4, ?5, ?6%s)", zDb, zName, zCols, zVals);
        }
        break;
      case STMT_DOC_DELETE:
        zSql = sqlite3_mprintf("DELETE FROM \"%w\".\"%w_docs\" WHERE id=?1",
                               zDb, zName);
        break;
      case STMT_DOC_GET:
        zCols = extraList(p, ", c%d", 0);
        if( zCols ){
          zSql = sqlite3_mprintf("SELECT body, is_duplicate, duplicate_of,"
              " similarity, own_vector%s FROM \"%w\".\"%w_docs\" WHERE id=?1",
              zCols, zDb, zName);
        }
        break;
      case STMT_VEC_WRITE:
        /* an upsert on id alone (rebuild rewrites vectors in place) */
        zSql = sqlite3_mprintf("INSERT INTO \"%w\".\"%w_vectors\"(id, v)"
                               " VALUES(?1, ?2) ON CONFLICT(id) DO UPDATE"
                               " SET v=excluded.v", zDb, zName);
        break;
      case STMT_VEC_DELETE:
        zSql = sqlite3_mprintf("DELETE FROM \"%w\".\"%w_vectors\" WHERE id=?1",
                               zDb, zName);
        break;
      case STMT_VEC_GET:
        zSql = sqlite3_mprintf("SELECT v FROM \"%w\".\"%w_vectors\" WHERE id=?1",
                               zDb, zName);
        break;
      case STMT_LOAD:
        zSql = sqlite3_mprintf("SELECT d.id, d.is_duplicate, v.v"
            " FROM \"%w\".\"%w_docs\" AS d LEFT JOIN \"%w\".\"%w_vectors\" AS v"
            " ON v.id=d.id", zDb, zName, zDb, zName);
        break;
      case STMT_DATA_VERSION:
        zSql = sqlite3_mprintf("PRAGMA \"%w\".data_version", zDb);
        break;
      case STMT_READ_UNCOMMITTED:
        zSql = sqlite3_mprintf("PRAGMA read_uncommitted");
        break;
      case STMT_STATS_WRITE:
        zSql = sqlite3_mprintf("INSERT INTO \"%w\".\"%w_stats\"(started, kind,"
            " rows, tokenize_ns, embed_ns, search_ns, store_ns, load_ns,"
            " total_ns, cpu_ns, sql) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
            " ?9, ?10, ?11)", zDb, zName);
        break;
      case STMT_LATENCY_WRITE:
        zSql = sqlite3_mprintf("INSERT INTO \"%w\".\"%w_latency\"(id, v)"
                               " VALUES(?1, ?2)", zDb, zName);
        break;
      case STMT_LATENCY_PRUNE:
        zSql = sqlite3_mprintf("DELETE FROM \"%w\".\"%w_latency\" WHERE id <="
            " (SELECT max(id) FROM \"%w\".\"%w_stats\") - ?1",
            zDb, zName, zDb, zName);
        break;
      case STMT_STATS_PRUNE:
        zSql = sqlite3_mprintf("DELETE FROM \"%w\".\"%w_stats\" WHERE id <="
            " (SELECT max(id) FROM \"%w\".\"%w_stats\") - ?1",
            zDb, zName, zDb, zName);
        break;
    }
    if( zSql==0 ){
      rc = SQLITE_NOMEM;
    }else{
      rc = sqlite3_prepare_v3(p->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                              &p->aStmt[eStmt], 0);
      if( rc!=SQLITE_OK ){
        tableError(p, rc, "cannot prepare a statement on its shadow tables"
                   " (%s)", sqlite3_errmsg(p->db));
      }
    }
    sqlite3_free(zCols);
    sqlite3_free(zVals);
    sqlite3_free(zSql);
  }
  *ppStmt = p->aStmt[eStmt];
  return rc;
}

static void finalizeStmts(DpTable *p){
  int i;
  for(i=0; i<N_STMT; i++){
    sqlite3_finalize(p->aStmt[i]);
    p->aStmt[i] = 0;
  }
}

/* SQLite's message with the shadow column names ("t_docs.c0") turned into
** the user's ("t.title"): a table made by an earlier version may carry
** constraints on its shadow table, and a user may add an index to one. */
static char *userColumnNames(const DpTable *p, const char *zMsg){
  sqlite3_str *s = sqlite3_str_new(0);
  char *zShadow = sqlite3_mprintf("%s_docs.", p->zName);
  const char *z = zMsg;
  int nShadow = zShadow ? (int)strlen(zShadow) : 0;
  while( zShadow && *z ){
    if( sqlite3_strnicmp(z, zShadow, nShadow)==0 ){
      const char *zCol = z + nShadow;
      if( zCol[0]=='c' && zCol[1]>='0' && zCol[1]<='9' ){
        int iCol = atoi(zCol+1);
        if( iCol<p->nExtra ){
          sqlite3_str_appendf(s, "%s.%s", p->zName, p->azExtraName[iCol]);
          z = zCol + 1;
          while( *z>='0' && *z<='9' ) z++;
          continue;
        }
      }
      sqlite3_str_appendf(s, "%s.", p->zName);
      z = zCol;
      continue;
    }
    sqlite3_str_appendchar(s, 1, *z++);
  }
  sqlite3_free(zShadow);
  return dpStrFinish(s);
}

/* Step a write statement to completion and reset it. */
static int stepWrite(DpTable *p, sqlite3_stmt *pStmt){
  int rc = sqlite3_step(pStmt);
  int rc2 = sqlite3_reset(pStmt);
  char *zMsg;
  if( rc==SQLITE_DONE ) return SQLITE_OK;
  rc = rc2!=SQLITE_OK ? rc2 : rc;
  zMsg = userColumnNames(p, sqlite3_errmsg(p->db));
  if( (rc & 0xff)==SQLITE_CONSTRAINT ){
    tableError(p, rc, "%s", zMsg ? zMsg : "constraint failed");
  }else{
    tableError(p, rc, "writing its shadow tables failed: %s",
               zMsg ? zMsg : sqlite3_errmsg(p->db));
  }
  sqlite3_free(zMsg);
  return rc;
}

/**************************************************************************
** Options and column declarations: CREATE arguments and %_config.
*/
static int isReservedColumn(const DpTable *p, const char *zName){
  static const char *const az[] = {
    "body", "embedding", "is_duplicate", "duplicate_of", "similarity",
    "score", "k", "rowid", "oid", "_rowid_"
  };
  size_t i;
  for(i=0; i<sizeof(az)/sizeof(az[0]); i++){
    if( sqlite3_stricmp(zName, az[i])==0 ) return 1;
  }
  return sqlite3_stricmp(zName, p->zName)==0;
}

/* 1 when z[0..n) is a word that starts a column constraint or clause. */
static int isConstraintWord(const char *z, int n){
  static const char *const az[] = {
    "constraint", "primary", "not", "null", "unique", "check", "default",
    "collate", "references", "generated", "as", "on", "key", "foreign"
  };
  size_t i;
  for(i=0; i<sizeof(az)/sizeof(az[0]); i++){
    if( (int)strlen(az[i])==n && sqlite3_strnicmp(z, az[i], n)==0 ) return 1;
  }
  return 0;
}

/* Check that zType is a type name and nothing else: words, then at most one
** "(n)" or "(n, m)" at the end.  A constraint would act on docpipe's own
** shadow table (UNIQUE or a foreign key's ON DELETE deleting documents
** behind its back), so none is accepted. */
static int checkTypeName(const char *zCol, const char *zType, char **pzErr){
  const char *z = zType;
  while( *z ){
    if( *z==' ' || *z=='\t' || *z=='\n' ){
      z++;
    }else if( (*z>='a' && *z<='z') || (*z>='A' && *z<='Z') || *z=='_' ){
      const char *zWord = z;
      while( (*z>='a' && *z<='z') || (*z>='A' && *z<='Z') || *z=='_'
          || (*z>='0' && *z<='9') ) z++;
      if( isConstraintWord(zWord, (int)(z - zWord)) ){
        *pzErr = sqlite3_mprintf("docpipe: column %s: only a type may be"
            " declared, not '%.*s' (constraints would act on docpipe's own"
            " storage)", zCol, (int)(z - zWord), zWord);
        return SQLITE_ERROR;
      }
    }else if( *z=='(' ){
      /* (n) or (n, m), signed numbers, and then the end */
      z++;
      while( *z && *z!=')'
          && ((*z>='0' && *z<='9') || *z=='+' || *z=='-' || *z==','
              || *z==' ' || *z=='.') ) z++;
      if( *z!=')' ) break;
      z++;
      while( *z==' ' || *z=='\t' || *z=='\n' ) z++;
      if( *z ) break;
    }else{
      break;
    }
  }
  if( *z ){
    *pzErr = sqlite3_mprintf("docpipe: column %s: only a type may be"
                             " declared, not '%s'", zCol, zType);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* Parse "name [type]" of an extra column and append it to p.  bCreate: a
** new table's declaration (only a type accepted); else one stored in
** %_config by an earlier version, read as it was written. */
static int addExtraColumn(DpTable *p, const char *zArg, int bCreate,
                          char **pzErr){
  const char *z = zArg;
  const char *zNameStart, *zType;
  int nName, i;
  char *zName, **azNew, *zDecl;
  while( *z==' ' || *z=='\t' || *z=='\n' ) z++;
  zNameStart = z;
  if( !((*z>='a' && *z<='z') || (*z>='A' && *z<='Z') || *z=='_') ){
    *pzErr = sqlite3_mprintf("docpipe: '%s' is neither an option (key=value)"
                             " nor a column declaration (name [type])", zArg);
    return SQLITE_ERROR;
  }
  while( (*z>='a' && *z<='z') || (*z>='A' && *z<='Z') || *z=='_'
      || (*z>='0' && *z<='9') ) z++;
  nName = (int)(z - zNameStart);
  zType = z;
  /* The type may hold letters, digits, blanks and parentheses only: it is
  ** copied into CREATE TABLE statements. */
  for(; *z; z++){
    if( !((*z>='a' && *z<='z') || (*z>='A' && *z<='Z') || (*z>='0' && *z<='9')
       || *z==' ' || *z=='\t' || *z=='\n' || *z=='(' || *z==')' || *z==',') ){
      *pzErr = sqlite3_mprintf("docpipe: column declaration '%s' may hold only"
                               " a name and a type", zArg);
      return SQLITE_ERROR;
    }
  }
  if( bCreate ){
    char *zCol = sqlite3_mprintf("%.*s", nName, zNameStart);
    int rc = zCol ? checkTypeName(zCol, zType, pzErr) : SQLITE_NOMEM;
    sqlite3_free(zCol);
    if( rc!=SQLITE_OK ) return rc;
  }
  zName = sqlite3_mprintf("%.*s", nName, zNameStart);
  if( zName==0 ) return SQLITE_NOMEM;
  /* (a stored column may carry the table's name: a rename by an earlier
  ** version, see declareVtab) */
  if( isReservedColumn(p, zName)
   && (bCreate || sqlite3_stricmp(zName, p->zName)!=0) ){
    *pzErr = sqlite3_mprintf("docpipe: column name '%s' is reserved", zName);
    sqlite3_free(zName);
    return SQLITE_ERROR;
  }
  for(i=0; i<p->nExtra; i++){
    if( sqlite3_stricmp(p->azExtraName[i], zName)==0 ){
      *pzErr = sqlite3_mprintf("docpipe: duplicate column name '%s'", zName);
      sqlite3_free(zName);
      return SQLITE_ERROR;
    }
  }
  azNew = sqlite3_realloc64(p->azExtraName, sizeof(char*)*(p->nExtra+1));
  if( azNew==0 ){
    sqlite3_free(zName);
    return SQLITE_NOMEM;
  }
  p->azExtraName = azNew;
  p->azExtraName[p->nExtra++] = zName;
  while( *zType==' ' || *zType=='\t' || *zType=='\n' ) zType++;
  zDecl = sqlite3_mprintf("%s%s%s%s%s", p->zExtraDecl ? p->zExtraDecl : "",
                          p->zExtraDecl ? ", " : "", zName,
                          *zType ? " " : "", zType);
  if( zDecl==0 ) return SQLITE_NOMEM;
  sqlite3_free(p->zExtraDecl);
  p->zExtraDecl = zDecl;
  return SQLITE_OK;
}

/* Split a stored declaration list on top-level commas. */
static int addExtraColumns(DpTable *p, const char *zList, char **pzErr){
  /* stored declarations are read as an earlier version wrote them */
  int rc = SQLITE_OK;
  const char *z = zList;
  while( rc==SQLITE_OK && *z ){
    const char *zStart = z;
    int depth = 0;
    char *zOne;
    for(; *z && (depth>0 || *z!=','); z++){
      if( *z=='(' ) depth++;
      if( *z==')' ) depth--;
    }
    zOne = sqlite3_mprintf("%.*s", (int)(z - zStart), zStart);
    if( zOne==0 ) return SQLITE_NOMEM;
    rc = addExtraColumn(p, zOne, 0, pzErr);
    sqlite3_free(zOne);
    if( *z==',' ) z++;
  }
  return rc;
}

/* Type of extra column i, for the %_docs declaration. */
static const char *extraType(const DpTable *p, int i, char **pzFree){
  /* Find declaration i in zExtraDecl and return what follows the name. */
  const char *z = p->zExtraDecl;
  int iCol = 0, depth = 0;
  const char *zStart = z;
  *pzFree = 0;
  for(; z && *z; z++){
    if( *z=='(' ) depth++;
    if( *z==')' ) depth--;
    if( *z==',' && depth==0 ){
      if( iCol==i ) break;
      iCol++;
      zStart = z+1;
    }
  }
  if( zStart==0 ) return "";
  while( *zStart==' ' ) zStart++;
  zStart += strlen(p->azExtraName[i]);
  *pzFree = sqlite3_mprintf("%.*s", (int)(z - zStart), zStart);
  return *pzFree ? *pzFree : "";
}

/* 1 when zName is the name of one of the table's columns (or of the
** rowid): the table itself may not take it, as its MATCH column would
** clash (CREATE and RENAME refuse it). */
static int isColumnName(const DpTable *p, const char *zName){
  int i;
  if( isReservedColumn(p, zName) && sqlite3_stricmp(zName, p->zName)!=0 ){
    return 1;
  }
  for(i=0; i<p->nExtra; i++){
    if( sqlite3_stricmp(zName, p->azExtraName[i])==0 ) return 1;
  }
  return 0;
}

static int declareVtab(DpTable *p){
  int rc;
  /* A table renamed to one of its column names by an earlier version
  ** still opens (to be dropped or renamed back): its MATCH column takes
  ** another name then. */
  const char *zCmd = isColumnName(p, p->zName) ? "docpipe_match" : p->zName;
  char *zSql = sqlite3_mprintf("CREATE TABLE x(body TEXT, embedding BLOB,"
      " is_duplicate INTEGER, duplicate_of INTEGER, similarity REAL%s%s,"
      " score REAL HIDDEN, k INTEGER HIDDEN, \"%w\" HIDDEN)",
      p->zExtraDecl ? ", " : "", p->zExtraDecl ? p->zExtraDecl : "", zCmd);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_declare_vtab(p->db, zSql);
  sqlite3_free(zSql);
  return rc;
}

static int createShadowTables(DpTable *p, char **pzErr){
  const char *zDb = p->zDb, *zName = p->zName;
  char *zTok = dpOptionsTokenizeText(&p->opt);
  sqlite3_str *s;
  char *zDocs;
  char zThreshold[32];
  int rc, i;
  if( zTok==0 ) return SQLITE_NOMEM;
  /* 17 significant digits read back as the same double; SQLite's own
  ** printf stops at 16. */
  dpFormatDouble(zThreshold, sizeof zThreshold, p->opt.rThreshold);
  s = sqlite3_str_new(0);
  sqlite3_str_appendf(s, "CREATE TABLE \"%w\".\"%w_docs\"(id INTEGER PRIMARY"
      " KEY, body, is_duplicate INTEGER, duplicate_of INTEGER,"
      " similarity REAL, own_vector INTEGER", zDb, zName);
  for(i=0; i<p->nExtra; i++){
    char *zFree = 0;
    const char *zType = extraType(p, i, &zFree);
    sqlite3_str_appendf(s, ", c%d %s", i, zType);
    sqlite3_free(zFree);
  }
  sqlite3_str_appendall(s, ")");
  zDocs = dpStrFinish(s);
  if( zDocs==0 ){
    sqlite3_free(zTok);
    return SQLITE_NOMEM;
  }
  rc = execf(p->db, pzErr,
      "CREATE TABLE \"%w\".\"%w_config\"(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
      "INSERT INTO \"%w\".\"%w_config\" VALUES"
      " ('version', %d), ('dim', %d), ('threshold', %Q),"
      " ('tokenize', %Q), ('hashing', %Q), ('on_duplicate', %Q),"
      " ('stats', %Q), ('stats_keep', %d), ('columns', %Q);"
      "%s;"
      "CREATE TABLE \"%w\".\"%w_vectors\"(id INTEGER PRIMARY KEY, v BLOB);"
      "CREATE TABLE \"%w\".\"%w_stats\"(id INTEGER PRIMARY KEY, started TEXT,"
      " kind TEXT, rows INTEGER, tokenize_ns INTEGER, embed_ns INTEGER,"
      " search_ns INTEGER, store_ns INTEGER, total_ns INTEGER, sql TEXT,"
      " load_ns INTEGER, cpu_ns INTEGER);"
      "CREATE TABLE \"%w\".\"%w_latency\"(id INTEGER PRIMARY KEY, v BLOB);",
      zDb, zName, zDb, zName, DP_FORMAT_VERSION, p->opt.nDim,
      zThreshold, zTok, dpOptionsHashingText(&p->opt),
      dpOptionsOnDupText(&p->opt), p->opt.bStats ? "on" : "off",
      p->opt.nStatsKeep, p->zExtraDecl ? p->zExtraDecl : "",
      zDocs, zDb, zName, zDb, zName, zDb, zName);
  p->iFormat = DP_FORMAT_VERSION;
  sqlite3_free(zTok);
  sqlite3_free(zDocs);
  return rc;
}

/* Read options and columns from %_config; a damaged table is corruption. */
static int readConfig(DpTable *p, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  char *zSql;
  int rc, nSeen = 0, bVersion = 0;
  zSql = sqlite3_mprintf("SELECT k, v FROM \"%w\".\"%w_config\"",
                         p->zDb, p->zName);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK ){
    *pzErr = sqlite3_mprintf("docpipe: table %s: cannot read %s_config: %s",
                             p->zName, p->zName, sqlite3_errmsg(p->db));
    return SQLITE_CORRUPT_VTAB;
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zKey = (const char*)sqlite3_column_text(pStmt, 0);
    const char *zVal = (const char*)sqlite3_column_text(pStmt, 1);
    char *zErr = 0;
    if( zKey==0 || zVal==0 ){
      rc = SQLITE_CORRUPT_VTAB;
    }else if( strcmp(zKey, "version")==0 ){
      p->iFormat = sqlite3_column_int(pStmt, 1);
      if( p->iFormat!=DP_FORMAT_VERSION && p->iFormat!=1 ){
        *pzErr = sqlite3_mprintf("docpipe: table %s: format version %s is"
            " not %d (made by another docpipe version?)", p->zName, zVal,
            DP_FORMAT_VERSION);
        rc = SQLITE_CORRUPT_VTAB;
      }
      bVersion = 1;
    }else if( strcmp(zKey, "columns")==0 ){
      rc = addExtraColumns(p, zVal, &zErr);
      if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ) rc = SQLITE_CORRUPT_VTAB;
    }else if( strcmp(zKey, "counting")==0 ){
      /* written when a version 1 table became version 2 */
      if( strcmp(zVal, "repeats")!=0 ) rc = SQLITE_CORRUPT_VTAB;
      p->opt.bCountRepeats = 1;
    }else{
      char *zWord = sqlite3_mprintf("%s=%s", zKey, zVal);
      if( zWord==0 ){
        rc = SQLITE_NOMEM;
      }else{
        rc = dpOptionsApply(&p->opt, DP_OPT_EMBED|DP_OPT_TABLE, zWord, &zErr);
        if( rc==SQLITE_EMPTY || rc==SQLITE_ERROR ) rc = SQLITE_CORRUPT_VTAB;
        nSeen++;
      }
      sqlite3_free(zWord);
    }
    if( rc==SQLITE_CORRUPT_VTAB && *pzErr==0 ){
      *pzErr = sqlite3_mprintf("docpipe: table %s: bad %s_config entry"
                               " '%s'%s%s", p->zName, p->zName,
                               zKey ? zKey : "NULL", zErr ? ": " : "",
                               zErr ? zErr : "");
    }
    sqlite3_free(zErr);
  }
  sqlite3_finalize(pStmt);
  /* a version 1 table counted repeated features under 'signed' */
  if( p->iFormat==1 && p->opt.eHashing==DP_HASH_SIGNED ){
    p->opt.bCountRepeats = 1;
  }
  if( rc==SQLITE_OK && (!bVersion || nSeen!=7) ){
    *pzErr = sqlite3_mprintf("docpipe: table %s: %s_config is incomplete",
                             p->zName, p->zName);
    rc = SQLITE_CORRUPT_VTAB;
  }
  return rc;
}

/* Drop the statistics records not yet written. */
static void statFreeList(DpStatRec **pp){
  while( *pp ){
    DpStatRec *r = *pp;
    *pp = r->pNext;
    dpStatFree(r);
  }
}

static void tableFree(DpTable *p){
  int i;
  if( p==0 ) return;
  if( p->pConn ){
    DpTable **pp = &p->pConn->pTables;
    while( *pp && *pp!=p ) pp = &(*pp)->pNextTable;
    if( *pp ) *pp = p->pNextTable;
  }
  dpStatFree(p->pRec);
  statFreeList(&p->pPending);
  statFreeList(&p->pQueries);
  sqlite3_free(p->aSvptSeq);
  finalizeStmts(p);
  dpIndexFree(&p->index);
  dpTokensFree(&p->tok);
  for(i=0; i<p->nExtra; i++) sqlite3_free(p->azExtraName[i]);
  sqlite3_free(p->azExtraName);
  sqlite3_free(p->zExtraDecl);
  sqlite3_free(p->aVec);
  sqlite3_free(p->zFeedSql);
  sqlite3_free(p->zDb);
  sqlite3_free(p->zName);
  sqlite3_free(p->base.zErrMsg);
  sqlite3_free(p);
}

static int tableInit(sqlite3 *db, DpConn *pConn, int bCreate, int argc,
                     const char *const *argv, sqlite3_vtab **ppVtab,
                     char **pzErr){
  DpTable *p;
  int rc = SQLITE_OK, i;
  *ppVtab = 0;
  p = dpMallocZero(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  p->db = db;
  p->zDb = sqlite3_mprintf("%s", argv[1]);
  p->zName = sqlite3_mprintf("%s", argv[2]);
  dpOptionsDefault(&p->opt);
  dpTokensInit(&p->tok);
  if( p->zDb==0 || p->zName==0 ) rc = SQLITE_NOMEM;

  if( rc==SQLITE_OK && bCreate ){
    for(i=3; rc==SQLITE_OK && i<argc; i++){
      char *zErr = 0;
      rc = dpOptionsApply(&p->opt, DP_OPT_EMBED|DP_OPT_TABLE, argv[i], &zErr);
      if( rc==SQLITE_EMPTY ){
        rc = addExtraColumn(p, argv[i], 1, pzErr);
      }else if( rc==SQLITE_ERROR ){
        *pzErr = sqlite3_mprintf("docpipe: %s", zErr);
      }
      sqlite3_free(zErr);
    }
    if( rc==SQLITE_OK ) rc = createShadowTables(p, pzErr);
  }else if( rc==SQLITE_OK ){
    rc = readConfig(p, pzErr);
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
    p->pNextTable = pConn->pTables;
    pConn->pTables = p;
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
  int rc;
  size_t i;
  finalizeStmts(p);
  for(i=0, rc=SQLITE_OK; rc==SQLITE_OK && i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    rc = execf(p->db, 0, "DROP TABLE IF EXISTS \"%w\".\"%w_%s\"",
               p->zDb, p->zName, azShadow[i]);
  }
  if( rc==SQLITE_OK ) tableFree(p);
  return rc;
}

static int dpRename(sqlite3_vtab *pVtab, const char *zNew){
  DpTable *p = (DpTable*)pVtab;
  int rc = SQLITE_OK;
  size_t i;
  char *zNewName;
  if( isColumnName(p, zNew) ){
    return tableError(p, SQLITE_ERROR, "cannot be renamed to %s: that is the"
                      " name of one of its columns", zNew);
  }
  finalizeStmts(p);
  for(i=0; rc==SQLITE_OK && i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    sqlite3_stmt *pStmt = 0;
    char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema"
                                 " WHERE name='%q_%q'", p->zDb, p->zName,
                                 azShadow[i]);
    int bExists;
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
    sqlite3_free(zSql);
    bExists = rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW;
    sqlite3_finalize(pStmt);
    if( rc==SQLITE_OK && bExists ){
      rc = execf(p->db, &p->base.zErrMsg,
                 "ALTER TABLE \"%w\".\"%w_%s\" RENAME TO \"%w_%s\"",
                 p->zDb, p->zName, azShadow[i], zNew, azShadow[i]);
    }
  }
  if( rc==SQLITE_OK ){
    zNewName = sqlite3_mprintf("%s", zNew);
    if( zNewName==0 ) return SQLITE_NOMEM;
    sqlite3_free(p->zName);
    p->zName = zNewName;
  }
  return rc;
}

/**************************************************************************
** The in-memory index: built from the shadow tables when stale.
*/
static int readDataVersion(DpTable *p, sqlite3_int64 *piVersion){
  sqlite3_stmt *pStmt;
  int rc = getStmt(p, STMT_DATA_VERSION, &pStmt);
  if( rc!=SQLITE_OK ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *piVersion = sqlite3_column_int64(pStmt, 0);
  }
  return sqlite3_reset(pStmt);
}

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

/* Fill idx from the shadow tables; SQLITE_CORRUPT_VTAB on bad rows. */
static int loadIndex(DpTable *p, DpIndex *idx){
  sqlite3_stmt *pStmt;
  /* its own scratch: p->aVec may hold the vector being written or queried */
  float *aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)p->opt.nDim);
  int rc = aVec ? getStmt(p, STMT_LOAD, &pStmt) : SQLITE_NOMEM;
  if( rc!=SQLITE_OK ){
    sqlite3_free(aVec);
    return rc;
  }
  dpIndexClear(idx);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
    int bDup = sqlite3_column_int(pStmt, 1);
    const void *pBlob = sqlite3_column_blob(pStmt, 2);
    int nByte = sqlite3_column_bytes(pStmt, 2);
    if( sqlite3_column_type(pStmt, 2)==SQLITE_NULL ){
      rc = tableError(p, SQLITE_CORRUPT_VTAB, "document %lld has no row in"
                      " %s_vectors", iId, p->zName);
    }else if( !vectorIsValid(pBlob, nByte, p->opt.nDim, aVec) ){
      rc = tableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
                      " damaged (%d bytes, expected %d finite float32)",
                      iId, nByte, p->opt.nDim);
    }else if( !vectorIsZero(aVec, p->opt.nDim) ){
      rc = dpIndexAdd(idx, iId, aVec, bDup==0);
    }
  }
  {
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  sqlite3_free(aVec);
  if( rc!=SQLITE_OK ) dpIndexClear(idx);
  return rc;
}

/* 1 in *pbOn when the connection reads uncommitted data: in shared-cache
** mode it then sees another connection's writes before they commit, and
** data_version does not tell. */
static int readUncommitted(DpTable *p, int *pbOn){
  sqlite3_stmt *pStmt;
  int rc = getStmt(p, STMT_READ_UNCOMMITTED, &pStmt);
  *pbOn = 0;
  if( rc!=SQLITE_OK ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ) *pbOn = sqlite3_column_int(pStmt, 0);
  return sqlite3_reset(pStmt);
}

static sqlite3_int64 statClock(DpTable *p);

/* Make the index match the shadow tables. */
static int ensureIndex(DpTable *p){
  sqlite3_int64 iVersion = 0, t0;
  int bDirty = 0;
  int rc = readDataVersion(p, &iVersion);
  if( rc==SQLITE_OK ) rc = readUncommitted(p, &bDirty);
  if( rc!=SQLITE_OK ) return rc;
  /* with read_uncommitted the index is rebuilt for every statement */
  if( p->bIndexValid && iVersion==p->iDataVersion && !bDirty ) return SQLITE_OK;
  t0 = statClock(p);
  rc = loadIndex(p, &p->index);
  p->nLoadNs += statClock(p) - t0;      /* statistics: load_ns */
  if( rc==SQLITE_OK ){
    p->bIndexValid = 1;
    p->iDataVersion = iVersion;
  }
  return rc;
}

/**************************************************************************
** Statistics (stats.c): which statement runs now, its record, and writing
** the records with the transaction.
*/

/* The clock, when statistics are kept (0 otherwise: no cost).  Each
** reading is later than the one before, so a stage that ran takes at
** least 1 ns and one that did not (0 ns) is told apart from it. */
static sqlite3_int64 statClock(DpTable *p){
  sqlite3_int64 t;
  if( !p->opt.bStats ) return 0;
  t = dpNowNs();
  if( t<=p->iLastClock ) t = p->iLastClock + 1;
  p->iLastClock = t;
  return t;
}

/* Statements docpipe itself runs on this table: never the user's. */
static int ourStatements(DpTable *p, sqlite3_stmt **aOut, int nMax){
  int n = 0, i;
  DpCursor *c;
  for(i=0; i<N_STMT && n<nMax; i++){
    if( p->aStmt[i] ) aOut[n++] = p->aStmt[i];
  }
  for(c=p->pCursors; c && n<nMax; c=c->pNextCursor){
    if( c->pStmt ) aOut[n++] = c->pStmt;
  }
  return n;
}

/* Close the open record: pack it and queue it for writing (dropped when
** the statement failed inside docpipe).  Read-only records wait for a
** write transaction that may never come (a read-only connection): only
** the newest stats_keep of them are kept, as only those could be
** written (statFlush keeps the newest stats_keep of all records). */
static void statClose(DpTable *p){
  DpStatRec *r = p->pRec;
  if( r==0 ) return;
  p->pRec = 0;
  if( r->bFailed || dpStatClose(r)!=SQLITE_OK ){
    dpStatFree(r);
    return;
  }
  if( r->eKind==DP_KIND_QUERY || r->eKind==DP_KIND_DEDUP ){
    r->pNext = 0;
    if( p->pQueryLast ) p->pQueryLast->pNext = r;
    else p->pQueries = r;
    p->pQueryLast = r;
    if( ++p->nQueries > p->opt.nStatsKeep ){
      DpStatRec *pOld = p->pQueries;
      p->pQueries = pOld->pNext;
      p->nQueries--;
      dpStatFree(pOld);
    }
  }else{
    r->pNext = p->pPending;
    p->pPending = r;
  }
}

/* The record of the statement running now, opened when it is a new
** execution; NULL when statistics are off (or there is no memory). */
static DpStatRec *statRecord(DpTable *p, int eKind){
  sqlite3_stmt *aOurs[N_STMT + 32];
  sqlite3_stmt *pStmt;
  int nOurs, bNoChanges, bNoSvpt;
  if( !p->opt.bStats ) return 0;
  nOurs = ourStatements(p, aOurs, (int)(sizeof(aOurs)/sizeof(aOurs[0])));
  pStmt = dpStatCurrentStmt(p->db, aOurs, nOurs, eKind<=DP_KIND_DELETE,
                            p->zName, p->pRec ? p->pRec->pStmt : 0);
  /* what has happened since docpipe last returned to SQLite */
  bNoChanges = sqlite3_total_changes64(p->db)==p->pConn->nChangeMark;
  bNoSvpt = p->pConn->nSvpt==p->pConn->nSvptMark;
  if( p->pRec && dpStatSame(p->pRec, pStmt, bNoChanges, bNoSvpt) ){
    /* a write joins a record opened by its MATCH: the statement's kind */
    if( eKind<=DP_KIND_DELETE && p->pRec->eKind>DP_KIND_DELETE ){
      p->pRec->eKind = eKind;
    }
    return p->pRec;
  }
  statClose(p);
  p->pRec = dpStatOpen(pStmt, eKind);
  if( p->pRec ) p->pRec->iSeq = ++p->iSeq;
  return p->pRec;
}

/* Docpipe returns to SQLite: what happens from now on is not its own. */
static void statMark(DpTable *p){
  p->pConn->nChangeMark = sqlite3_total_changes64(p->db);
  p->pConn->nSvptMark = p->pConn->nSvpt;
}

/* A MATCH cursor closes: SQLite closes a statement's cursors when it ends,
** so a read-only record whose last cursor closes is complete. */
static void statCursorClosed(DpTable *p, DpCursor *pCur){
  DpStatRec *r = p->pRec;
  if( r && pCur->iRecSeq==r->iSeq && --r->nCursor==0
   && r->eKind>DP_KIND_DELETE ){
    statClose(p);
  }
  pCur->iRecSeq = 0;
}

/* Drop write records opened at or after sequence number iSeq (all of them
** for 0): their statements were rolled back. */
static void statDiscardFrom(DpTable *p, int iSeq){
  DpStatRec **pp = &p->pPending;
  if( p->pRec && p->pRec->eKind<=DP_KIND_DELETE && p->pRec->iSeq>=iSeq ){
    dpStatFree(p->pRec);
    p->pRec = 0;
  }
  while( *pp ){
    if( (*pp)->iSeq>=iSeq ){
      DpStatRec *r = *pp;
      *pp = r->pNext;
      dpStatFree(r);
    }else{
      pp = &(*pp)->pNext;
    }
  }
}

static int cmpRecSeq(const void *a, const void *b){
  const DpStatRec *x = *(DpStatRec*const*)a, *y = *(DpStatRec*const*)b;
  return (x->iSeq > y->iSeq) - (x->iSeq < y->iSeq);
}

/* Drop every record not yet written. */
static void statForget(DpTable *p){
  dpStatFree(p->pRec);
  p->pRec = 0;
  statFreeList(&p->pPending);
  statFreeList(&p->pQueries);
  p->pQueryLast = 0;
  p->nQueries = 0;
}

/* Run a prune statement with ?1 = stats_keep. */
static int statPrune(DpTable *p, int eStmt){
  sqlite3_stmt *pPrune;
  int rc = getStmt(p, eStmt, &pPrune);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pPrune, 1, p->opt.nStatsKeep);
    sqlite3_step(pPrune);
    rc = sqlite3_reset(pPrune);
  }
  return rc;
}

/* Write every closed record into %_stats and %_latency, oldest first,
** then prune.  A table of format version 1 is migrated first. */
static int statFlush(DpTable *p){
  DpStatRec **aRec = 0, *r;
  sqlite3_stmt *pWrite, *pLatency = 0;
  int n = 0, i, rc = SQLITE_OK, iFirst;
  /* the application's last_insert_rowid() is its INSERT's, not ours */
  const sqlite3_int64 iLastRowid = sqlite3_last_insert_rowid(p->db);
  statClose(p);
  for(r=p->pPending; r; r=r->pNext) n++;
  for(r=p->pQueries; r; r=r->pNext) n++;
  if( n==0 ) return SQLITE_OK;
  aRec = sqlite3_malloc64(sizeof(DpStatRec*)*(sqlite3_int64)n);
  if( aRec==0 ) return SQLITE_NOMEM;
  n = 0;
  for(r=p->pPending; r; r=r->pNext) aRec[n++] = r;
  for(r=p->pQueries; r; r=r->pNext) aRec[n++] = r;
  qsort(aRec, (size_t)n, sizeof(DpStatRec*), cmpRecSeq);
  /* older ones would be pruned at once */
  iFirst = n > p->opt.nStatsKeep ? n - p->opt.nStatsKeep : 0;
  if( p->iFormat==1 ){
    rc = dpStatMigrate(p->db, p->zDb, p->zName, &p->base.zErrMsg);
    if( rc==SQLITE_OK ) p->iFormat = 2;
  }
  if( rc==SQLITE_OK ) rc = getStmt(p, STMT_STATS_WRITE, &pWrite);
  if( rc==SQLITE_OK ) rc = getStmt(p, STMT_LATENCY_WRITE, &pLatency);
  for(i=iFirst; rc==SQLITE_OK && i<n; i++){
    rc = dpStatWrite(p->db, pWrite, pLatency, aRec[i]);
  }
  sqlite3_free(aRec);
  statForget(p);
  if( rc==SQLITE_OK ) rc = statPrune(p, STMT_LATENCY_PRUNE);
  if( rc==SQLITE_OK ) rc = statPrune(p, STMT_STATS_PRUNE);
  sqlite3_set_last_insert_rowid(p->db, iLastRowid);
  if( rc!=SQLITE_OK && p->base.zErrMsg==0 ){
    tableError(p, rc, "writing %s_stats failed: %s", p->zName,
               sqlite3_errmsg(p->db));
  }
  return rc;
}

void dpTableRecordDedup(sqlite3 *db, DpConn *pConn, const char *zDb,
                        const char *zTable, sqlite3_int64 nRows,
                        sqlite3_int64 nSearchNs, sqlite3_int64 nTotalNs,
                        sqlite3_int64 nCpuNs){
  DpTable *p = 0;
  int bTried = 0;
  while( 1 ){
    for(p=pConn->pTables; p; p=p->pNextTable){
      if( sqlite3_stricmp(p->zName, zTable)==0
       && sqlite3_stricmp(p->zDb, zDb)==0 ) break;
    }
    if( p || bTried ) break;
    /* not used yet on this connection: preparing a statement that names
    ** the table connects it (xConnect) */
    {
      sqlite3_stmt *pStmt = 0;
      char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".\"%w\" WHERE 0",
                                   zDb, zTable);
      if( zSql ) sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
      sqlite3_finalize(pStmt);
      sqlite3_free(zSql);
    }
    bTried = 1;
  }
  if( p ){
    DpStatRec *r = statRecord(p, DP_KIND_DEDUP);
    if( r ){
      sqlite3_int64 aStage[DP_N_STAGE] = { 0, 0, 0, 0 };
      aStage[DP_STAGE_SEARCH] = nSearchNs>0 ? nSearchNs : 1;
      dpStatDocument(r, aStage);
      r->nHits += nRows;
      r->nTotalNs += nTotalNs;
      r->nCpuNs += nCpuNs;
      /* a run of its own is complete: it has no cursor of this table */
      if( r->eKind==DP_KIND_DEDUP && r->nCursor==0 ) statClose(p);
    }
  }
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
                     int *pbOwn){
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
    if( !vectorIsValid(pBlob, nByte, nDim, p->aVec) ){
      return tableError(p, SQLITE_MISMATCH, "embedding has a non-finite"
                        " value (NaN or Inf)");
    }
    if( !dpVectorScorable(p->aVec, nDim, &zWhy) ){
      return tableError(p, SQLITE_MISMATCH, "embedding cannot be scored: %s", zWhy);
    }
    *pbOwn = 1;
    return SQLITE_OK;
  }
  switch( sqlite3_value_type(pBody) ){
    case SQLITE_NULL:
      memset(p->aVec, 0, sizeof(float)*(size_t)nDim);
      return SQLITE_OK;
    case SQLITE_BLOB: {
      /* readfile() gives blobs: one of valid UTF-8 is text (and is stored
      ** as text, see writeDocStore) */
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
      sqlite3_int64 t0 = statClock(p), t1;
      int rc;
      if( z==0 ) return SQLITE_NOMEM;
      rc = dpTokenize(&p->tok, z, n, p->opt.eHashing!=DP_HASH_SEED);
      t1 = statClock(p);
      if( rc==SQLITE_OK ) dpEmbedTokens(&p->opt, &p->tok, p->aVec);
      p->aStageNs[DP_STAGE_TOKENIZE] += t1 - t0;
      p->aStageNs[DP_STAGE_EMBED] += statClock(p) - t1;
      return rc;
    }
    default:
      return tableError(p, SQLITE_MISMATCH, "body must be text");
  }
}

/* Decision of the vector in p->aVec against the indexed documents. */
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
static int decide(DpTable *p, const sqlite3_int64 *aSkip, int nSkip,
                  Decision *pDec){
  int rc, i, aPos[2];
  unsigned char aFlag[2];
  sqlite3_int64 t0 = statClock(p);
  memset(pDec, 0, sizeof(*pDec));
  if( vectorIsZero(p->aVec, p->opt.nDim) ) return SQLITE_OK;
  assert( nSkip<=2 );
  for(i=0; i<nSkip; i++){
    aPos[i] = dpIndexFind(&p->index, aSkip[i]);
    if( aPos[i]>=0 ){
      aFlag[i] = p->index.aFlag[aPos[i]];
      p->index.aFlag[aPos[i]] &= ~DP_ENTRY_INDEXED;
    }
  }
  rc = dpIndexBest(&p->index, p->aVec, p->opt.rThreshold, &pDec->iDupOf,
                   &pDec->rSim);
  for(i=nSkip-1; i>=0; i--){
    if( aPos[i]>=0 ) p->index.aFlag[aPos[i]] = aFlag[i];
  }
  p->aStageNs[DP_STAGE_SEARCH] += statClock(p) - t0;
  if( rc==SQLITE_ROW ){
    pDec->bDup = 1;
    rc = SQLITE_OK;
  }else if( rc==SQLITE_DONE ){
    rc = SQLITE_OK;
  }
  return rc;
}

/* Write both shadow rows of document iId and add it to the index. */
static int writeDocStore(DpTable *p, sqlite3_int64 *piId, int bHasId,
                         sqlite3_value *pBody, int bOwn, const Decision *pDec,
                         sqlite3_value **apExtra);

/* Timed for the 'store' stage. */
static int writeDoc(DpTable *p, sqlite3_int64 *piId, int bHasId,
                    sqlite3_value *pBody, int bOwn, const Decision *pDec,
                    sqlite3_value **apExtra){
  sqlite3_int64 t0 = statClock(p);
  int rc = writeDocStore(p, piId, bHasId, pBody, bOwn, pDec, apExtra);
  p->aStageNs[DP_STAGE_STORE] += statClock(p) - t0;
  return rc;
}

static int writeDocStore(DpTable *p, sqlite3_int64 *piId, int bHasId,
                         sqlite3_value *pBody, int bOwn, const Decision *pDec,
                         sqlite3_value **apExtra){
  sqlite3_stmt *pStmt;
  int rc = getStmt(p, STMT_DOC_WRITE, &pStmt);
  int i;
  if( rc!=SQLITE_OK ) return rc;
  if( bHasId ) sqlite3_bind_int64(pStmt, 1, *piId);
  else sqlite3_bind_null(pStmt, 1);
  if( sqlite3_value_type(pBody)==SQLITE_BLOB ){
    /* valid UTF-8 (rowVector checked): stored as the text it is */
    sqlite3_bind_text(pStmt, 2, sqlite3_value_blob(pBody),
                      sqlite3_value_bytes(pBody), SQLITE_TRANSIENT);
  }else{
    sqlite3_bind_value(pStmt, 2, pBody);
  }
  sqlite3_bind_int(pStmt, 3, pDec->bDup);
  if( pDec->bDup ){
    sqlite3_bind_int64(pStmt, 4, pDec->iDupOf);
    sqlite3_bind_double(pStmt, 5, pDec->rSim);
  }else{
    sqlite3_bind_null(pStmt, 4);
    sqlite3_bind_null(pStmt, 5);
  }
  sqlite3_bind_int(pStmt, 6, bOwn);
  for(i=0; i<p->nExtra; i++) sqlite3_bind_value(pStmt, 7+i, apExtra[i]);
  rc = stepWrite(p, pStmt);
  if( rc!=SQLITE_OK ) return rc;
  if( !bHasId ) *piId = sqlite3_last_insert_rowid(p->db);

  rc = getStmt(p, STMT_VEC_WRITE, &pStmt);
  if( rc!=SQLITE_OK ) return rc;
  sqlite3_bind_int64(pStmt, 1, *piId);
  sqlite3_bind_blob(pStmt, 2, p->aVec, 4*p->opt.nDim, SQLITE_STATIC);
  rc = stepWrite(p, pStmt);
  if( rc!=SQLITE_OK ) return rc;

  /* An existing entry was removed by the caller (UPDATE, REPLACE); a new
  ** rowid has none: no search of the index here, it is O(entries). */
  if( !vectorIsZero(p->aVec, p->opt.nDim) ){
    rc = dpIndexAdd(&p->index, *piId, p->aVec, !pDec->bDup);
  }
  return rc;
}

static int deleteDoc(DpTable *p, sqlite3_int64 iId){
  sqlite3_stmt *pStmt;
  sqlite3_int64 t0 = statClock(p);
  int rc = getStmt(p, STMT_DOC_DELETE, &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iId);
    rc = stepWrite(p, pStmt);
  }
  if( rc==SQLITE_OK ) rc = getStmt(p, STMT_VEC_DELETE, &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iId);
    rc = stepWrite(p, pStmt);
  }
  if( rc==SQLITE_OK ) dpIndexRemove(&p->index, iId);
  p->aStageNs[DP_STAGE_STORE] += statClock(p) - t0;
  return rc;
}

/* SQLITE_ROW when document iId exists (leaves STMT_DOC_GET on its row:
** the caller resets it), SQLITE_DONE when not. */
static int seekDoc(DpTable *p, sqlite3_int64 iId, sqlite3_stmt **ppStmt){
  sqlite3_stmt *pStmt;
  int rc = getStmt(p, STMT_DOC_GET, &pStmt);
  if( rc!=SQLITE_OK ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  rc = sqlite3_step(pStmt);
  if( rc!=SQLITE_ROW ){
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_DONE && rc2!=SQLITE_OK ) rc = rc2;
  }
  *ppStmt = pStmt;
  return rc;
}

static int docExists(DpTable *p, sqlite3_int64 iId, int *pbExists){
  sqlite3_stmt *pStmt;
  int rc = seekDoc(p, iId, &pStmt);
  *pbExists = rc==SQLITE_ROW;
  if( rc==SQLITE_ROW ) rc = sqlite3_reset(pStmt);
  return rc==SQLITE_DONE ? SQLITE_OK : rc;
}

/* 'integrity-check': shadow tables agree with each other, with the options
** and with the in-memory index. */
static int integrityCheck(DpTable *p){
  DpIndex fresh;
  sqlite3_stmt *pStmt = 0;
  char *zSql;
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
  if( rc==SQLITE_OK ){
    zSql = sqlite3_mprintf(
        "SELECT 'vector without document', v.id FROM \"%w\".\"%w_vectors\" v"
        " WHERE NOT EXISTS (SELECT 1 FROM \"%w\".\"%w_docs\" d WHERE d.id=v.id)"
        " UNION ALL SELECT 'bad decision', id FROM \"%w\".\"%w_docs\""
        " WHERE is_duplicate NOT IN (0,1)"
        "  OR (is_duplicate=1 AND (typeof(duplicate_of)<>'integer'"
        "      OR similarity IS NULL OR NOT (similarity BETWEEN -1 AND 1)))"
        "  OR (is_duplicate=0 AND (duplicate_of IS NOT NULL"
        "      OR similarity IS NOT NULL))"
        "  OR own_vector NOT IN (0,1)"
        " LIMIT 1", p->zDb, p->zName, p->zDb, p->zName, p->zDb, p->zName);
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
    sqlite3_free(zSql);
    if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      rc = tableError(p, SQLITE_CORRUPT_VTAB, "%s (rowid %lld)",
                      sqlite3_column_text(pStmt, 0),
                      sqlite3_column_int64(pStmt, 1));
    }
    sqlite3_finalize(pStmt);
  }
  if( rc==SQLITE_OK ){
    zSql = sqlite3_mprintf("SELECT d.id, d.body, v.v FROM \"%w\".\"%w_docs\" d"
        " JOIN \"%w\".\"%w_vectors\" v ON v.id=d.id WHERE d.own_vector=0",
        p->zDb, p->zName, p->zDb, p->zName);
    if( zSql==0 ) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
    sqlite3_free(zSql);
    while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
      sqlite3_int64 iId = sqlite3_column_int64(pStmt, 0);
      const void *pStored = sqlite3_column_blob(pStmt, 2);
      int nStored = sqlite3_column_bytes(pStmt, 2);
      rc = rowVector(p, sqlite3_column_value(pStmt, 1), 0, &i);
      if( rc==SQLITE_OK && (nStored!=4*p->opt.nDim
                            || memcmp(pStored, p->aVec, (size_t)nStored)) ){
        rc = tableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
                        " not the embedding of its body", iId);
      }
    }
    sqlite3_finalize(pStmt);
  }
  return rc;
}

/* After 'rebuild': a caller-supplied vector cannot be made again from the
** body; say which document has a damaged one and what to do. */
static int rebuildCheckOwnVectors(DpTable *p){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT d.id, v.v FROM \"%w\".\"%w_docs\" d"
      " LEFT JOIN \"%w\".\"%w_vectors\" v ON v.id=d.id WHERE d.own_vector<>0",
      p->zDb, p->zName, p->zDb, p->zName);
  float *aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)p->opt.nDim);
  int rc = (zSql && aVec) ? SQLITE_OK : SQLITE_NOMEM;
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    if( !vectorIsValid(sqlite3_column_blob(pStmt, 1),
                       sqlite3_column_bytes(pStmt, 1), p->opt.nDim, aVec) ){
      rc = tableError(p, SQLITE_CORRUPT_VTAB, "rebuild: the embedding of"
          " document %lld was given by the caller and is damaged: it cannot"
          " be made again from the body; DELETE the document and insert it"
          " again", sqlite3_column_int64(pStmt, 0));
    }
  }
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
  sqlite3_free(aVec);
  return rc;
}

/* 'rebuild': vectors again from bodies (caller-supplied ones are kept),
** then the index again from the shadow tables. */
static int rebuild(DpTable *p){
  sqlite3_stmt *pStmt = 0, *pWrite;
  char *zSql = sqlite3_mprintf("SELECT id, body FROM \"%w\".\"%w_docs\""
                               " WHERE own_vector=0", p->zDb, p->zName);
  int rc;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc==SQLITE_OK ) rc = getStmt(p, STMT_VEC_WRITE, &pWrite);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    int bOwn;
    rc = rowVector(p, sqlite3_column_value(pStmt, 1), 0, &bOwn);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pWrite, 1, sqlite3_column_int64(pStmt, 0));
      sqlite3_bind_blob(pWrite, 2, p->aVec, 4*p->opt.nDim, SQLITE_STATIC);
      rc = stepWrite(p, pWrite);
    }
  }
  sqlite3_finalize(pStmt);
  p->bIndexValid = 0;
  if( rc==SQLITE_OK ) rc = rebuildCheckOwnVectors(p);
  if( rc==SQLITE_OK ) rc = ensureIndex(p);
  return rc;
}

static int runCommand(DpTable *p, sqlite3_value *pCmd){
  const char *zCmd = (const char*)sqlite3_value_text(pCmd);
  if( zCmd==0 ) return SQLITE_NOMEM;
  if( sqlite3_stricmp(zCmd, "integrity-check")==0 ) return integrityCheck(p);
  if( sqlite3_stricmp(zCmd, "rebuild")==0 ) return rebuild(p);
  if( sqlite3_stricmp(zCmd, "stats-reset")==0 ){
    statForget(p);
    return execf(p->db, &p->base.zErrMsg, "DELETE FROM \"%w\".\"%w_stats\";"
                 "DELETE FROM \"%w\".\"%w_%s\"", p->zDb, p->zName, p->zDb,
                 p->zName, p->iFormat==1 ? "stats" : "latency");
  }
  return tableError(p, SQLITE_ERROR, "unknown command '%s' (integrity-check,"
                    " rebuild, stats-reset)", zCmd);
}

static const char *columnName(const DpTable *p, int iCol){
  static const char *const az[] = {
    "body", "embedding", "is_duplicate", "duplicate_of", "similarity"
  };
  if( iCol<COL_EXTRA0 ) return az[iCol];
  if( iCol<colScore(p) ) return p->azExtraName[iCol-COL_EXTRA0];
  if( iCol==colScore(p) ) return "score";
  if( iCol==colK(p) ) return "k";
  return p->zName;
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

/* 1 in *pbReads when pStmt's bytecode opens one of this table's shadow
** tables %_docs or %_vectors (or an index on them) for reading. */
static int stmtReadsShadow(DpTable *p, sqlite3_stmt *pStmt, int *pbReads){
  sqlite3_stmt *pExplain = 0;
  char *zSql = sqlite3_mprintf("EXPLAIN %s", sqlite3_sql(pStmt));
  char *zRoots = sqlite3_mprintf("SELECT group_concat(rootpage, ' '),"
      " (SELECT seq FROM pragma_database_list WHERE name=%Q)"
      " FROM \"%w\".sqlite_schema WHERE tbl_name IN ('%q_docs', '%q_vectors')",
      p->zDb, p->zDb, p->zName, p->zName);
  sqlite3_stmt *pRoots = 0;
  int rc = (zSql && zRoots) ? SQLITE_OK : SQLITE_NOMEM;
  *pbReads = 0;
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(p->db, zRoots, -1, &pRoots, 0);
  if( rc==SQLITE_OK && sqlite3_step(pRoots)==SQLITE_ROW
   && sqlite3_column_type(pRoots, 0)!=SQLITE_NULL ){
    /* " 2 5 9 " so that " %d " finds a root page */
    char *zList = sqlite3_mprintf(" %s ", sqlite3_column_text(pRoots, 0));
    int iDb = sqlite3_column_int(pRoots, 1);
    if( zList==0 ) rc = SQLITE_NOMEM;
    if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(p->db, zSql, -1, &pExplain, 0);
    while( rc==SQLITE_OK && !*pbReads && sqlite3_step(pExplain)==SQLITE_ROW ){
      const char *zOp = (const char*)sqlite3_column_text(pExplain, 1);
      if( zOp && (strcmp(zOp, "OpenRead")==0 || strcmp(zOp, "ReopenIdx")==0)
       && sqlite3_column_int(pExplain, 4)==iDb ){
        char zPage[32];
        snprintf(zPage, sizeof zPage, " %d ", sqlite3_column_int(pExplain, 3));
        *pbReads = strstr(zList, zPage)!=0;
      }
    }
    sqlite3_free(zList);
  }
  sqlite3_finalize(pExplain);
  sqlite3_finalize(pRoots);
  sqlite3_free(zSql);
  sqlite3_free(zRoots);
  return rc;
}

/* An INSERT that reads this table's own shadow tables (INSERT INTO t(body)
** SELECT body FROM t_docs) would read the rows it writes and never end:
** refuse it.  Only statements whose text holds a SELECT can read a table;
** each is checked once (its address and text remembered). */
static int insertFeedsOnItself(DpTable *p){
  sqlite3_stmt *s = 0;
  int rc = SQLITE_OK, i;
  while( rc==SQLITE_OK && (s = sqlite3_next_stmt(p->db, s))!=0 ){
    const char *zSql = sqlite3_sql(s);
    int bOurs = 0;
    DpCursor *c;
    if( !sqlite3_stmt_busy(s) || sqlite3_stmt_readonly(s) || zSql==0 ) continue;
    for(i=0; i<N_STMT && !bOurs; i++) bOurs = p->aStmt[i]==s;
    for(c=p->pCursors; c && !bOurs; c=c->pNextCursor) bOurs = c->pStmt==s;
    if( bOurs || sqlite3_strlike("%select%", zSql, 0)!=0 ) continue;
    if( s!=p->pFeedStmt || p->zFeedSql==0 || strcmp(zSql, p->zFeedSql)!=0 ){
      sqlite3_free(p->zFeedSql);
      p->pFeedStmt = s;
      p->zFeedSql = sqlite3_mprintf("%s", zSql);
      if( p->zFeedSql==0 ) return SQLITE_NOMEM;
      rc = stmtReadsShadow(p, s, &p->bFeeds);
      if( rc!=SQLITE_OK ){
        sqlite3_free(p->zFeedSql);
        p->zFeedSql = 0;
      }
    }
    if( rc==SQLITE_OK && p->bFeeds ){
      return tableError(p, SQLITE_ERROR, "an INSERT may not read %s_docs or"
          " %s_vectors: it would read the rows it writes (copy them into a"
          " temporary table first)", p->zName, p->zName);
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
  if( rc==SQLITE_OK ) rc = rowVector(p, apCol[COL_BODY], apCol[COL_EMBEDDING], &bOwn);
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
                            " %s.rowid", p->zName);
      }
    }
  }
  /* Decide first, as if the row OR REPLACE deletes were gone; only a row
  ** that is kept deletes it (a one-row write has no statement journal). */
  rc = decide(p, &iId, bReplace, &dec);
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
    rc = writeDoc(p, &iId, bHasId, apCol[COL_BODY], bOwn, &dec,
                  &apCol[COL_EXTRA0]);
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
  rc = seekDoc(p, iOld, &pGet);
  if( rc==SQLITE_DONE ){
    return tableError(p, SQLITE_CORRUPT_VTAB, "document %lld vanished", iOld);
  }
  if( rc!=SQLITE_ROW ) return rc;
  /* Columns of STMT_DOC_GET: body, is_duplicate, duplicate_of, similarity,
  ** own_vector, extras.  Read-only columns may be "set" to their value. */
  for(i=0; i<3; i++){
    if( !sqlite3_value_nochange(apCol[aRo[i]]) && !sameValue(apCol[aRo[i]], pGet, 1+i) ){
      sqlite3_reset(pGet);
      return tableError(p, SQLITE_CONSTRAINT, "column %s is read-only",
                        columnName(p, aRo[i]));
    }
  }
  if( bBodySet && sameValue(pBody, pGet, 0) ) bBodySet = 0;
  if( bEmbSet ){
    /* "Set" to the stored vector (e.g. read for a WHERE clause): not a change. */
    sqlite3_stmt *pVec;
    rc = getStmt(p, STMT_VEC_GET, &pVec);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pVec, 1, iOld);
      if( sqlite3_step(pVec)==SQLITE_ROW
       && sameValue(apCol[COL_EMBEDDING], pVec, 0) ){
        bEmbSet = 0;
      }
      rc = sqlite3_reset(pVec);
    }
    if( rc!=SQLITE_OK ){
      sqlite3_reset(pGet);
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
      sqlite3_reset(pGet);
      return SQLITE_NOMEM;
    }
  }
  sqlite3_reset(pGet);

  /* The vector: a new embedding, a new body's, or the stored one.  A
  ** vector docpipe made follows the body; one the caller gave stays until
  ** the caller sets embedding (to NULL: made from the body again). */
  if( bEmbSet ){
    rc = rowVector(p, pBody, apCol[COL_EMBEDDING], &bOwn);
  }else if( bBodySet && !bOldOwn ){
    rc = rowVector(p, pBody, 0, &bOwn);
  }else{
    sqlite3_stmt *pVec;
    rc = getStmt(p, STMT_VEC_GET, &pVec);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pVec, 1, iOld);
      if( sqlite3_step(pVec)!=SQLITE_ROW
       || !vectorIsValid(sqlite3_column_blob(pVec, 0),
                         sqlite3_column_bytes(pVec, 0), p->opt.nDim, p->aVec) ){
        rc = tableError(p, SQLITE_CORRUPT_VTAB, "vector of document %lld is"
                        " missing or damaged", iOld);
      }
      sqlite3_reset(pVec);
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
                        " %s.rowid", p->zName);
      }
    }
  }
  if( rc==SQLITE_OK && (bBodySet || bEmbSet) ){
    /* Decide again, as if inserted now, against every other document
    ** (not itself, nor the row OR REPLACE would delete).  Nothing is
    ** changed before the decision: a refused row changes nothing. */
    const sqlite3_int64 aSkip[2] = { iOld, iNew };
    rc = decide(p, aSkip, bReplace ? 2 : 1, &dec);
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
      rc = writeDoc(p, &iNew, 1, pBody, bOwn, &dec, &apCol[COL_EXTRA0]);
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
  DpStatRec *pRec = 0;
  sqlite3_int64 t0, tCpu;
  int rc, iSeq = 0;
  if( argc!=1 && argc!=3+colCmd(p) ){
    /* SQLite's idea of the columns is not ours: with a shared cache the
    ** schema of another connection, declared before %_config changed */
    return tableError(p, SQLITE_CORRUPT_VTAB, "its columns (%d) do not match"
                      " %s_config (%d)", argc-2, p->zName, colCmd(p)+1);
  }
  if( argc==1 ){
    pRec = statRecord(p, DP_KIND_DELETE);
  }else if( sqlite3_value_type(argv[2+colCmd(p)])==SQLITE_NULL ){
    pRec = statRecord(p, sqlite3_value_type(argv[0])==SQLITE_NULL
                         ? DP_KIND_INSERT : DP_KIND_UPDATE);
  }
  /* A nested statement that fails can make SQLite roll back (xRollback
  ** frees the record): find the record again afterwards by its number. */
  if( pRec ) iSeq = pRec->iSeq;
  memset(p->aStageNs, 0, sizeof(p->aStageNs));
  p->nLoadNs = 0;
  t0 = statClock(p);
  tCpu = pRec ? dpCpuNs() : 0;
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
  pRec = (p->pRec && p->pRec->iSeq==iSeq && iSeq) ? p->pRec : 0;
  if( pRec ){
    if( rc==SQLITE_OK ){
      dpStatDocument(pRec, p->aStageNs);
      pRec->nRows++;
      pRec->nLoadNs += p->nLoadNs;
      pRec->nTotalNs += statClock(p) - t0;
      pRec->nCpuNs += dpCpuNs() - tCpu;
    }else{
      pRec->bFailed = 1;      /* the statement fails: it leaves no record */
    }
  }
  statMark(p);
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
** pending data. */
static int dpSync(sqlite3_vtab *pVtab){
  return statFlush((DpTable*)pVtab);
}

static int dpCommit(sqlite3_vtab *pVtab){
  ((DpTable*)pVtab)->nSvpt = 0;
  return SQLITE_OK;
}

static int dpRollback(sqlite3_vtab *pVtab){
  DpTable *p = (DpTable*)pVtab;
  p->bIndexValid = 0;
  statDiscardFrom(p, 0);
  p->nSvpt = 0;
  return SQLITE_OK;
}

static int dpSavepoint(sqlite3_vtab *pVtab, int iSavepoint){
  DpTable *p = (DpTable*)pVtab;
  p->pConn->nSvpt++;          /* statistics: a statement may begin */
  if( iSavepoint<0 ) return SQLITE_OK;
  if( iSavepoint>=p->nSvpt ){
    int *aNew = sqlite3_realloc64(p->aSvptSeq, sizeof(int)*(iSavepoint+1));
    if( aNew==0 ) return SQLITE_NOMEM;
    p->aSvptSeq = aNew;
  }
  /* records opened from now on belong to this savepoint */
  p->aSvptSeq[iSavepoint] = p->iSeq + 1;
  p->nSvpt = iSavepoint + 1;
  return SQLITE_OK;
}

static int dpRelease(sqlite3_vtab *pVtab, int iSavepoint){
  (void)iSavepoint;
  ((DpTable*)pVtab)->pConn->nSvpt++;   /* statistics: a statement may end */
  return SQLITE_OK;
}

static int dpRollbackTo(sqlite3_vtab *pVtab, int iSavepoint){
  DpTable *p = (DpTable*)pVtab;
  p->bIndexValid = 0;
  p->pConn->nSvpt++;
  if( iSavepoint>=0 && iSavepoint<p->nSvpt ){
    statDiscardFrom(p, p->aSvptSeq[iSavepoint]);
  }
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
  int bScoreGt = 0, i, n = 0;
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
    ** affinity rules exactly SQLite's. */
    for(i=0; i<pInfo->nConstraint; i++){
      const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];
      const char *zOp = filterOp(c->op);
      if( !c->usable || zOp==0 || c->iColumn<0 || c->iColumn==COL_EMBEDDING
       || c->iColumn>=colScore(p) ){
        continue;
      }
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
  statCursorClosed(p, (DpCursor*)pCur);
  cursorReset((DpCursor*)pCur);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

/* Statement on %_docs selecting the cursor's columns, by id or all. */
static int cursorPrepare(DpTable *p, DpCursor *pCur, const char *zWhere){
  char *zCols = extraList(p, ", c%d", 0);
  char *zSql;
  int rc;
  if( zCols==0 ) return SQLITE_NOMEM;
  zSql = sqlite3_mprintf("SELECT id, body, is_duplicate, duplicate_of,"
                         " similarity%s FROM \"%w\".\"%w_docs\" %s",
                         zCols, p->zDb, p->zName, zWhere);
  sqlite3_free(zCols);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pCur->pStmt, 0);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ){
    /* a missing or altered shadow table: say which and what */
    rc = tableError(p, SQLITE_CORRUPT_VTAB, "cannot read %s_docs: %s",
                    p->zName, sqlite3_errmsg(p->db));
  }
  return rc;
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
                      p->zName);
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
  sqlite3_str *s = sqlite3_str_new(0);
  sqlite3_stmt *pStmt = 0;
  const char *z = zFilter;
  char *zSql;
  int rc, nArg = 0, nAlloc = 0;
  int aBodyArg[64];       /* 1 for an argument compared with body */
  sqlite3_str_appendf(s, "SELECT id FROM \"%w\".\"%w_docs\" WHERE 1",
                      p->zDb, p->zName);
  while( *z ){
    int iCol = atoi(z);
    const char *zOp = strchr(z, ' ') + 1;
    const char *zEnd = strchr(zOp, ';');
    static const char *const azFixed[] = {
      "body", "", "is_duplicate", "duplicate_of", "similarity"
    };
    if( nArg<(int)(sizeof(aBodyArg)/sizeof(aBodyArg[0])) ){
      aBodyArg[nArg] = iCol==COL_BODY;
    }
    if( iCol<COL_EXTRA0 ){
      sqlite3_str_appendf(s, " AND %s %.*s ?%d", azFixed[iCol],
                          (int)(zEnd-zOp), zOp, ++nArg);
    }else{
      sqlite3_str_appendf(s, " AND c%d %.*s ?%d", iCol-COL_EXTRA0,
                          (int)(zEnd-zOp), zOp, ++nArg);
    }
    z = zEnd + 1;
  }
  sqlite3_str_appendall(s, " ORDER BY id");
  zSql = dpStrFinish(s);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc==SQLITE_OK ){
    int i;
    for(i=0; i<nArg; i++){
      int t = sqlite3_value_type(apArg[i]);
      /* body is TEXT in the table but untyped in %_docs: give a number
      ** the TEXT affinity SQLite gives it when it compares with body */
      if( i<(int)(sizeof(aBodyArg)/sizeof(aBodyArg[0])) && aBodyArg[i]
       && (t==SQLITE_INTEGER || t==SQLITE_FLOAT) ){
        const unsigned char *z = sqlite3_value_text(apArg[i]);
        if( z==0 ){ rc = SQLITE_NOMEM; break; }
        sqlite3_bind_text(pStmt, i+1, (const char*)z, -1, SQLITE_TRANSIENT);
      }else{
        sqlite3_bind_value(pStmt, i+1, apArg[i]);
      }
    }
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = dpGrow((void**)&pSet->aId, &nAlloc, pSet->nId+1, sizeof(sqlite3_int64));
    if( rc==SQLITE_OK ) pSet->aId[pSet->nId++] = sqlite3_column_int64(pStmt, 0);
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pStmt);
  else sqlite3_finalize(pStmt);
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
                               p->zDb, p->zName);
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

static int matchFilter(DpTable *p, DpCursor *pCur, int idxNum,
                       const char *idxStr, int argc, sqlite3_value **argv){
  sqlite3_value *pQuery = argv[0];
  int iArg = 1, rc, bOwn;
  /* Without k and without a LIMIT that SQLite hands over, the whole
  ** ranking: SQLite applies any LIMIT itself then, so nothing is cut. */
  sqlite3_int64 nK = DP_K_ALL;
  DpStatRec *pRec = statRecord(p, DP_KIND_QUERY);
  const int iSeq = pRec ? pRec->iSeq : 0;   /* see dpUpdate */
  sqlite3_int64 t0 = statClock(p), tSearch, tCpu = pRec ? dpCpuNs() : 0;
  memset(p->aStageNs, 0, sizeof(p->aStageNs));
  p->nLoadNs = 0;
  if( pRec && pCur->iRecSeq!=iSeq ){
    pCur->iRecSeq = iSeq;     /* the record ends with the statement's cursors */
    pRec->nCursor++;
  }
  double rMin = -2.0;
  IdSet set = {0, 0};
  DpShortQuery *pShort = 0;
  (void)argc;
  if( idxNum & (HAS_K|HAS_LIMIT) ){
    sqlite3_value *pK = argv[iArg++];
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
  }
  if( idxNum & (HAS_SCORE|HAS_SCOREGT) ){
    sqlite3_value *pS = argv[iArg++];
    int t = sqlite3_value_numeric_type(pS);
    if( t!=SQLITE_INTEGER && t!=SQLITE_FLOAT ){
      return tableError(p, SQLITE_ERROR, "score must be compared with a number");
    }
    rMin = sqlite3_value_double(pS);
    if( idxNum & HAS_SCOREGT ) rMin = nextafter(rMin, 2.0);
  }
  /* The index first: loading it uses p->aVec as scratch, and the query
  ** vector goes there next. */
  rc = ensureIndex(p);     /* timed as load_ns, not as search */
  if( rc!=SQLITE_OK ) return rc;
  /* The query: text embedded with the table's options, or a vector; a
  ** text of fewer words than a shingle is scored by its words (query.c). */
  switch( sqlite3_value_type(pQuery) ){
    case SQLITE_TEXT:
      rc = rowVector(p, pQuery, 0, &bOwn);     /* leaves its tokens in p->tok */
      if( rc==SQLITE_OK ) rc = dpShortQueryNew(&p->opt, &p->tok, &pShort);
      break;
    case SQLITE_BLOB:
      rc = rowVector(p, 0, pQuery, &bOwn);
      break;
    case SQLITE_NULL:
      return SQLITE_OK;      /* no rows */
    default:
      return tableError(p, SQLITE_MISMATCH, "MATCH needs text or a float32"
                        " blob of %d values", p->opt.nDim);
  }
  tSearch = statClock(p);
  if( rc==SQLITE_OK && idxStr && idxStr[0] ){
    rc = buildFilter(p, idxStr, &argv[iArg], &set);
  }
  if( rc==SQLITE_OK && pShort ){
    rc = shortMatch(p, pCur, pShort, (int)nK, rMin,
                    (idxStr && idxStr[0]) ? &set : 0);
  }else if( rc==SQLITE_OK && !vectorIsZero(p->aVec, p->opt.nDim) ){
    rc = dpIndexNearest(&p->index, p->aVec, (int)nK, rMin,
                        (idxStr && idxStr[0]) ? idSetHas : 0, &set,
                        &pCur->aHit, &pCur->nHit);
  }
  sqlite3_free(set.aId);
  dpShortQueryFree(pShort);
  p->aStageNs[DP_STAGE_SEARCH] += statClock(p) - tSearch;
  pRec = (p->pRec && p->pRec->iSeq==iSeq && iSeq) ? p->pRec : 0;
  if( pRec ){
    if( rc==SQLITE_OK ){
      dpStatDocument(pRec, p->aStageNs);
      pRec->nHits += pCur->nHit;
      pRec->nLoadNs += p->nLoadNs;
      pRec->nTotalNs += statClock(p) - t0;
      pRec->nCpuNs += dpCpuNs() - tCpu;
    }else{
      pRec->bFailed = 1;
    }
  }
  statMark(p);
  pCur->nK = (idxNum & HAS_K) ? (int)nK : 0;
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
      return matchFilter(p, pCur, idxNum, idxStr, argc, argv);
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
    int rc = getStmt(p, STMT_VEC_GET, &pVec);
    if( rc!=SQLITE_OK ) return rc;
    sqlite3_bind_int64(pVec, 1, sqlite3_column_int64(pStmt, 0));
    if( sqlite3_step(pVec)==SQLITE_ROW ){
      sqlite3_result_value(ctx, sqlite3_column_value(pVec, 0));
    }
    rc = sqlite3_reset(pVec);
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
  return shadowName(zName);
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

void dpConnRelease(void *pArg){
  DpConn *pConn = (DpConn*)pArg;
  if( pConn && --pConn->nRef==0 ) sqlite3_free(pConn);
}

int dpRegisterVtab(sqlite3 *db, DpConn *pConn){
  return sqlite3_create_module_v2(db, "docpipe", &docpipeModule, pConn,
                                  dpConnRelease);
}
