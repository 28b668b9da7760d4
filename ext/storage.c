/*
** storage.c — the shadow tables of a docpipe table: schema, options in
** %_config, documents and vectors, and the statements that read them.
**
**   CREATE VIRTUAL TABLE docs USING docpipe(dim=256, title TEXT);
**   -- makes docs_config, docs_docs, docs_vectors (and, from stats.c,
**   -- docs_stats and docs_latency)
**
** Nothing else in docpipe writes SQL against %_config, %_docs or %_vectors:
** the table (vtab.c), dedup_index() (dedup.c) and the index loader reach
** them through the functions of this file.
**
** How it works.
**
**   %_config(k PRIMARY KEY, v) WITHOUT ROWID   options and format version;
**                 the options a reopened database uses come from here.
**   %_docs(id INTEGER PRIMARY KEY, body, is_duplicate, duplicate_of,
**          similarity, own_vector, c0, c1, ...)   one row per document;
**                 own_vector is 1 when the caller supplied the embedding;
**                 cN is extra column N, declared with its type only.
**   %_vectors(id INTEGER PRIMARY KEY, v BLOB)   the f32 vector, 4*dim bytes;
**                 empty in a set-kind table (measure 'jaccard' or 'cosine'),
**                 whose sets setindex.c keeps in shadow tables of its own.
**
** Rows are written with INSERT (and an upsert on id for vectors), never
** REPLACE: REPLACE would delete whatever row a user's UNIQUE index on a
** shadow table says is in the way.  DELETE removes rows (SQLite reuses
** the pages): no tombstones.  Statements are prepared lazily with
** SQLITE_PREPARE_PERSISTENT, cached in aStmt[] by an enum, and finalized
** when the table disconnects.  An error leaves its message in zErrMsg for
** the caller to report under its own name.
*/
#include "docpipe.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DP_FORMAT_VERSION 2      /* 1: latency blobs in %_stats (stats.c) */

/* Cached statements on the shadow tables. */
enum {
  STMT_DOC_WRITE = 0,   /* INSERT INTO %_docs(...) VALUES(...) */
  STMT_DOC_DELETE,      /* DELETE FROM %_docs WHERE id=?1 */
  STMT_DOC_GET,         /* SELECT ... FROM %_docs WHERE id=?1 */
  STMT_BODY_GET,        /* SELECT body FROM %_docs WHERE id=?1: a set made
                        ** again (sets='body'), which may come while a
                        ** cursor holds STMT_DOC_GET on a row */
  STMT_DOC_EXISTS,      /* SELECT 1 FROM %_docs WHERE id=?1: no body read
                        ** (unpacked), so a damaged one does not stop an
                        ** INSERT OR REPLACE of its id */
  STMT_VEC_WRITE,       /* INSERT INTO %_vectors(id, v) ... ON CONFLICT(id) */
  STMT_VEC_DELETE,      /* DELETE FROM %_vectors WHERE id=?1 */
  STMT_VEC_GET,         /* SELECT v FROM %_vectors WHERE id=?1 */
  STMT_LOAD,            /* every document with its vector */
  STMT_DATA_VERSION,    /* PRAGMA data_version */
  STMT_TOKENIZER_GET,   /* SELECT v FROM %_config WHERE k='tokenizer' */
  STMT_READ_UNCOMMITTED, /* PRAGMA read_uncommitted */
  N_STMT
};

struct DpStorage {
  sqlite3 *db;            /* connection */
  char *zDb;              /* schema name ("main", ...) */
  char *zName;            /* table name */
  DpOptions opt;          /* options, from CREATE or %_config */
  int iFormat;            /* format version in %_config (1 or 2) */
  int nExtra;             /* number of extra columns */
  char **azExtraName;     /* their names */
  char *zExtraDecl;       /* their declarations, "title TEXT, lang TEXT" */
  sqlite3_stmt *aStmt[N_STMT]; /* prepared lazily, finalized by Free */
  char *zErrMsg;          /* message of the last error, for the caller */
  int bTokenizerOther;    /* sets='body' and %_config's tokenizer is not
                          ** this build's when last read (connect, then
                          ** dpStorageTokenizerCheck), or must be read */
  sqlite3_int64 iTokVersion; /* PRAGMA data_version at the last check */
  DpBodyCodec *pCodec;    /* compress='zstd': packs bodies (body.c) */
};

/* body as the SQL of a read names it: through docpipe_body() in a table
** whose bodies are zstd frames (body.c), so that a filter or length()
** sees the text, and a damaged body's message names its id.  bAlias: %_docs
** is "d" in the statement. */
static const char *bodyExpr(const DpStorage *s, int bAlias){
  if( s->opt.bCompress ){
    return bAlias ? "docpipe_body(d.body, d.id)" : "docpipe_body(body, id)";
  }
  return bAlias ? "d.body" : "body";
}

/* The table's codec (body.c), made on first use; NULL when out of memory. */
static DpBodyCodec *storageCodec(DpStorage *s){
  if( s->pCodec==0 && dpBodyCodecNew(&s->pCodec)!=SQLITE_OK ) s->pCodec = 0;
  return s->pCodec;
}

static const char *const azShadow[] = { "config", "docs", "vectors" };

/* Record the message of an error and return rc. */
static int storeError(DpStorage *s, int rc, const char *zFmt, ...){
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(s->zErrMsg);
  s->zErrMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  return rc;
}

const char *dpStorageErrmsg(const DpStorage *s){ return s->zErrMsg; }
void dpStorageClearError(DpStorage *s){
  sqlite3_free(s->zErrMsg);
  s->zErrMsg = 0;
}
const DpOptions *dpStorageOptions(const DpStorage *s){ return &s->opt; }
int dpStorageFormat(const DpStorage *s){ return s->iFormat; }
int dpStorageSetFormat2(DpStorage *s){
  /* a version 1 table counted repeated features ('signed'): it keeps
  ** doing so, so that its vectors stay comparable */
  int rc = dpExecf(s->db, 0,
      "UPDATE \"%w\".\"%w_config\" SET v=2 WHERE k='version';"
      "INSERT OR IGNORE INTO \"%w\".\"%w_config\"(k, v) SELECT 'counting',"
      " 'repeats' FROM \"%w\".\"%w_config\" WHERE k='hashing' AND v='signed';",
      s->zDb, s->zName, s->zDb, s->zName, s->zDb, s->zName);
  if( rc==SQLITE_OK ) s->iFormat = 2;
  return rc;
}
const char *dpStorageName(const DpStorage *s){ return s->zName; }
const char *dpStorageSchema(const DpStorage *s){ return s->zDb; }
int dpStorageExtraCount(const DpStorage *s){ return s->nExtra; }
const char *dpStorageExtraName(const DpStorage *s, int i){
  return s->azExtraName[i];
}
const char *dpStorageExtraDecl(const DpStorage *s){ return s->zExtraDecl; }

int dpStorageIsShadow(const char *zSuffix){
  size_t i;
  for(i=0; i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    if( sqlite3_stricmp(zSuffix, azShadow[i])==0 ) return 1;
  }
  return 0;
}

/* ", c0, c1, ..." or ", ?7, ?8, ..." for the extra columns. */
static char *extraList(const DpStorage *s, const char *zFmt, int iFirst){
  sqlite3_str *p = sqlite3_str_new(0);
  int i;
  for(i=0; i<s->nExtra; i++) sqlite3_str_appendf(p, zFmt, i + iFirst);
  return dpStrFinish(p);
}

static int getStmt(DpStorage *s, int eStmt, sqlite3_stmt **ppStmt){
  int rc = SQLITE_OK;
  if( s->aStmt[eStmt]==0 ){
    char *zCols = 0, *zVals = 0, *zSql = 0;
    const char *zDb = s->zDb, *zName = s->zName;
    switch( eStmt ){
      case STMT_DOC_WRITE:
        zCols = extraList(s, ", c%d", 0);
        zVals = extraList(s, ", ?%d", 7);
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
        zCols = extraList(s, ", c%d", 0);
        if( zCols ){
          zSql = sqlite3_mprintf("SELECT %s, is_duplicate, duplicate_of,"
              " similarity, own_vector%s FROM \"%w\".\"%w_docs\" WHERE id=?1",
              bodyExpr(s, 0), zCols, zDb, zName);
        }
        break;
      case STMT_BODY_GET:
        zSql = sqlite3_mprintf("SELECT %s FROM \"%w\".\"%w_docs\""
                               " WHERE id=?1", bodyExpr(s, 0), zDb, zName);
        break;
      case STMT_DOC_EXISTS:
        zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".\"%w_docs\" WHERE id=?1",
                               zDb, zName);
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
      case STMT_TOKENIZER_GET:
        zSql = sqlite3_mprintf("SELECT v FROM \"%w\".\"%w_config\""
                               " WHERE k='tokenizer'", zDb, zName);
        break;
      case STMT_READ_UNCOMMITTED:
        zSql = sqlite3_mprintf("PRAGMA read_uncommitted");
        break;
    }
    if( zSql==0 ){
      rc = SQLITE_NOMEM;
    }else{
      rc = sqlite3_prepare_v3(s->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                              &s->aStmt[eStmt], 0);
      if( rc!=SQLITE_OK ){
        storeError(s, rc, "cannot prepare a statement on its shadow tables"
                   " (%s)", sqlite3_errmsg(s->db));
      }
    }
    sqlite3_free(zCols);
    sqlite3_free(zVals);
    sqlite3_free(zSql);
  }
  *ppStmt = s->aStmt[eStmt];
  return rc;
}

int dpStorageStatements(const DpStorage *s, sqlite3_stmt **aOut, int nMax){
  int i, n = 0;
  for(i=0; i<N_STMT && n<nMax; i++){
    if( s->aStmt[i] ) aOut[n++] = s->aStmt[i];
  }
  return n;
}

static void finalizeStmts(DpStorage *s){
  int i;
  for(i=0; i<N_STMT; i++){
    sqlite3_finalize(s->aStmt[i]);
    s->aStmt[i] = 0;
  }
}

/* SQLite's message with the shadow column names ("t_docs.c0") turned into
** the user's ("t.title"): a table made by an earlier version may carry
** constraints on its shadow table, and a user may add an index to one. */
static char *userColumnNames(const DpStorage *s, const char *zMsg){
  sqlite3_str *p = sqlite3_str_new(0);
  char *zShadow = sqlite3_mprintf("%s_docs.", s->zName);
  const char *z = zMsg;
  int nShadow = zShadow ? (int)strlen(zShadow) : 0;
  while( zShadow && *z ){
    if( sqlite3_strnicmp(z, zShadow, nShadow)==0 ){
      const char *zCol = z + nShadow;
      if( zCol[0]=='c' && zCol[1]>='0' && zCol[1]<='9' ){
        int iCol = atoi(zCol+1);
        if( iCol<s->nExtra ){
          sqlite3_str_appendf(p, "%s.%s", s->zName, s->azExtraName[iCol]);
          z = zCol + 1;
          while( *z>='0' && *z<='9' ) z++;
          continue;
        }
      }
      sqlite3_str_appendf(p, "%s.", s->zName);
      z = zCol;
      continue;
    }
    sqlite3_str_appendchar(p, 1, *z++);
  }
  sqlite3_free(zShadow);
  return dpStrFinish(p);
}

/* Step a write statement to completion and reset it. */
static int stepWrite(DpStorage *s, sqlite3_stmt *pStmt){
  int rc = sqlite3_step(pStmt);
  int rc2 = sqlite3_reset(pStmt);
  char *zMsg;
  if( rc==SQLITE_DONE ) return SQLITE_OK;
  rc = rc2!=SQLITE_OK ? rc2 : rc;
  zMsg = userColumnNames(s, sqlite3_errmsg(s->db));
  if( (rc & 0xff)==SQLITE_CONSTRAINT ){
    storeError(s, rc, "%s", zMsg ? zMsg : "constraint failed");
  }else{
    storeError(s, rc, "writing its shadow tables failed: %s",
               zMsg ? zMsg : sqlite3_errmsg(s->db));
  }
  sqlite3_free(zMsg);
  return rc;
}

/**************************************************************************
** Options and column declarations: CREATE arguments and %_config.
*/
static int isReservedColumn(const DpStorage *s, const char *zName){
  static const char *const az[] = {
    "body", "embedding", "is_duplicate", "duplicate_of", "similarity",
    "score", "k", "rowid", "oid", "_rowid_"
  };
  size_t i;
  for(i=0; i<sizeof(az)/sizeof(az[0]); i++){
    if( sqlite3_stricmp(zName, az[i])==0 ) return 1;
  }
  return sqlite3_stricmp(zName, s->zName)==0;
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

/* Parse "name [type]" of an extra column and append it.  bCreate: a new
** table's declaration (only a type accepted); else one stored in %_config
** by an earlier version, read as it was written. */
static int addExtraColumn(DpStorage *s, const char *zArg, int bCreate,
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
  ** version, see dpStorageIsColumnName) */
  if( isReservedColumn(s, zName)
   && (bCreate || sqlite3_stricmp(zName, s->zName)!=0) ){
    *pzErr = sqlite3_mprintf("docpipe: column name '%s' is reserved", zName);
    sqlite3_free(zName);
    return SQLITE_ERROR;
  }
  for(i=0; i<s->nExtra; i++){
    if( sqlite3_stricmp(s->azExtraName[i], zName)==0 ){
      *pzErr = sqlite3_mprintf("docpipe: duplicate column name '%s'", zName);
      sqlite3_free(zName);
      return SQLITE_ERROR;
    }
  }
  azNew = sqlite3_realloc64(s->azExtraName, sizeof(char*)*(s->nExtra+1));
  if( azNew==0 ){
    sqlite3_free(zName);
    return SQLITE_NOMEM;
  }
  s->azExtraName = azNew;
  s->azExtraName[s->nExtra++] = zName;
  while( *zType==' ' || *zType=='\t' || *zType=='\n' ) zType++;
  zDecl = sqlite3_mprintf("%s%s%s%s%s", s->zExtraDecl ? s->zExtraDecl : "",
                          s->zExtraDecl ? ", " : "", zName,
                          *zType ? " " : "", zType);
  if( zDecl==0 ) return SQLITE_NOMEM;
  sqlite3_free(s->zExtraDecl);
  s->zExtraDecl = zDecl;
  return SQLITE_OK;
}

/* Split a stored declaration list on top-level commas (stored
** declarations are read as an earlier version wrote them). */
static int addExtraColumns(DpStorage *s, const char *zList, char **pzErr){
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
    rc = addExtraColumn(s, zOne, 0, pzErr);
    sqlite3_free(zOne);
    if( *z==',' ) z++;
  }
  return rc;
}

/* Type of extra column i, for the %_docs declaration. */
static const char *extraType(const DpStorage *s, int i, char **pzFree){
  /* Find declaration i in zExtraDecl and return what follows the name. */
  const char *z = s->zExtraDecl;
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
  zStart += strlen(s->azExtraName[i]);
  *pzFree = sqlite3_mprintf("%.*s", (int)(z - zStart), zStart);
  return *pzFree ? *pzFree : "";
}

int dpStorageIsColumnName(const DpStorage *s, const char *zName){
  int i;
  if( isReservedColumn(s, zName) && sqlite3_stricmp(zName, s->zName)!=0 ){
    return 1;
  }
  for(i=0; i<s->nExtra; i++){
    if( sqlite3_stricmp(zName, s->azExtraName[i])==0 ) return 1;
  }
  return 0;
}

/**************************************************************************
** Create, connect, destroy, rename.
*/
int dpStorageNew(sqlite3 *db, const char *zDb, const char *zName,
                 DpStorage **pp){
  DpStorage *s = dpMallocZero(sizeof(*s));
  *pp = 0;
  if( s==0 ) return SQLITE_NOMEM;
  s->db = db;
  s->zDb = sqlite3_mprintf("%s", zDb);
  s->zName = sqlite3_mprintf("%s", zName);
  dpOptionsDefault(&s->opt);
  if( s->zDb==0 || s->zName==0 ){
    dpStorageFree(s);
    return SQLITE_NOMEM;
  }
  *pp = s;
  return SQLITE_OK;
}

void dpStorageFree(DpStorage *s){
  int i;
  if( s==0 ) return;
  finalizeStmts(s);
  dpBodyCodecFree(s->pCodec);
  for(i=0; i<s->nExtra; i++) sqlite3_free(s->azExtraName[i]);
  sqlite3_free(s->azExtraName);
  sqlite3_free(s->zExtraDecl);
  sqlite3_free(s->zErrMsg);
  sqlite3_free(s->zDb);
  sqlite3_free(s->zName);
  sqlite3_free(s);
}

int dpStorageCreate(DpStorage *s, int nArg, const char *const *azArg,
                    char **pzErr){
  const char *zDb = s->zDb, *zName = s->zName;
  char *zTok = 0, *zDocs = 0;
  char zThreshold[32];
  char *zSetsRows = 0;    /* sets='body': its %_config rows */
  sqlite3_str *p;
  int rc = SQLITE_OK, i;
  for(i=0; rc==SQLITE_OK && i<nArg; i++){
    char *zErr = 0;
    rc = dpOptionsApply(&s->opt, DP_OPT_EMBED|DP_OPT_TABLE, azArg[i], &zErr);
    if( rc==SQLITE_EMPTY ){
      rc = addExtraColumn(s, azArg[i], 1, pzErr);
    }else if( rc==SQLITE_ERROR ){
      *pzErr = sqlite3_mprintf("docpipe: %s", zErr);
    }
    sqlite3_free(zErr);
  }
  if( rc==SQLITE_OK ) dpOptionsTableDefaults(&s->opt);
  if( rc==SQLITE_OK && dpOptionsIsSet(&s->opt)
   && s->opt.eHashing==DP_HASH_SEED ){
    *pzErr = sqlite3_mprintf("docpipe: option hashing='seed' applies to"
        " measure='vector' only (measure='%s' hashes shingles with xxh3)",
        dpOptionsMeasureText(&s->opt));
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK && !dpOptionsIsSet(&s->opt)
   && dpOptionsGiven(&s->opt, "sets") ){
    *pzErr = sqlite3_mprintf("docpipe: option sets applies to measure="
        "'jaccard' or 'cosine' only (measure='vector' keeps vectors)");
    rc = SQLITE_ERROR;
  }
  if( rc!=SQLITE_OK ) return rc;
  if( s->opt.bSetsFromBody ){
    char zTokenizer[DP_TOKENIZER_ID_MAX];
    dpTokenizerId(zTokenizer, (int)sizeof(zTokenizer));
    zSetsRows = sqlite3_mprintf(", ('sets', 'body'), ('tokenizer', %Q)",
                                zTokenizer);
    if( zSetsRows==0 ) return SQLITE_NOMEM;
  }
  zTok = dpOptionsTokenizeText(&s->opt);
  /* 17 significant digits read back as the same double */
  dpFormatDouble(zThreshold, (int)sizeof(zThreshold), s->opt.rThreshold);
  p = sqlite3_str_new(0);
  sqlite3_str_appendf(p, "CREATE TABLE \"%w\".\"%w_docs\"(id INTEGER PRIMARY"
      " KEY, body, is_duplicate INTEGER, duplicate_of INTEGER,"
      " similarity REAL, own_vector INTEGER", zDb, zName);
  for(i=0; i<s->nExtra; i++){
    char *zFree = 0;
    const char *zType = extraType(s, i, &zFree);
    sqlite3_str_appendf(p, ", c%d %s", i, zType);
    sqlite3_free(zFree);
  }
  sqlite3_str_appendall(p, ")");
  zDocs = dpStrFinish(p);
  if( zTok==0 || zDocs==0 ){
    rc = SQLITE_NOMEM;
  }else{
    rc = dpExecf(s->db, pzErr,
        "CREATE TABLE \"%w\".\"%w_config\"(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
        "INSERT INTO \"%w\".\"%w_config\" VALUES"
        " ('version', %d), ('dim', %d), ('threshold', %Q),"
        " ('tokenize', %Q), ('hashing', %Q), ('on_duplicate', %Q),"
        " ('stats', %Q), ('stats_keep', %d), ('columns', %Q)%s%s%s%s;"
        "%s;"
        "CREATE TABLE \"%w\".\"%w_vectors\"(id INTEGER PRIMARY KEY, v BLOB);",
        zDb, zName, zDb, zName, DP_FORMAT_VERSION, s->opt.nDim,
        zThreshold, zTok, dpOptionsHashingText(&s->opt),
        dpOptionsOnDupText(&s->opt), s->opt.bStats ? "on" : "off",
        s->opt.nStatsKeep, s->zExtraDecl ? s->zExtraDecl : "",
        /* only the set kind says its measure: a vector table stays one
        ** that an earlier docpipe (which refuses unknown keys) can open */
        s->opt.eMeasure==DP_MEASURE_JACCARD ? ", ('measure', 'jaccard')"
        : s->opt.eMeasure==DP_MEASURE_COSINE ? ", ('measure', 'cosine')" : "",
        /* likewise only a normalizing table says so: without the key, the
        ** tokenizer of the tables made before it (and an earlier docpipe
        ** refuses to open a table it would tokenize differently) */
        s->opt.bNormalize ? ", ('normalize', 'nfkc')" : "",
        /* and only a table whose sets are made from the bodies, with the
        ** tokenizer that must make them (dpTokenizerId) */
        zSetsRows ? zSetsRows : "",
        /* and only a table whose bodies are zstd frames (body.c) */
        s->opt.bCompress ? ", ('compress', 'zstd')" : "", zDocs, zDb, zName);
  }
  s->iFormat = DP_FORMAT_VERSION;
  sqlite3_free(zTok);
  sqlite3_free(zDocs);
  sqlite3_free(zSetsRows);
  return rc;
}

/* Read options and columns from %_config; a damaged table is corruption. */
int dpStorageConnect(DpStorage *s, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  char *zSql;
  int rc, nSeen = 0, bVersion = 0, bTokenizer = 0;
  zSql = sqlite3_mprintf("SELECT k, v FROM \"%w\".\"%w_config\"",
                         s->zDb, s->zName);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(s->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK ){
    *pzErr = sqlite3_mprintf("docpipe: table %s: cannot read %s_config: %s",
                             s->zName, s->zName, sqlite3_errmsg(s->db));
    return SQLITE_CORRUPT_VTAB;
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *zKey = (const char*)sqlite3_column_text(pStmt, 0);
    const char *zVal = (const char*)sqlite3_column_text(pStmt, 1);
    char *zErr = 0;
    if( zKey==0 || zVal==0 ){
      rc = SQLITE_CORRUPT_VTAB;
    }else if( strcmp(zKey, "version")==0 ){
      s->iFormat = sqlite3_column_int(pStmt, 1);
      if( s->iFormat!=DP_FORMAT_VERSION && s->iFormat!=1 ){
        *pzErr = sqlite3_mprintf("docpipe: table %s: format version %s is"
            " not %d (made by another docpipe version?)", s->zName, zVal,
            DP_FORMAT_VERSION);
        rc = SQLITE_CORRUPT_VTAB;
      }
      bVersion = 1;
    }else if( strcmp(zKey, "columns")==0 ){
      rc = addExtraColumns(s, zVal, &zErr);
      if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ) rc = SQLITE_CORRUPT_VTAB;
    }else if( strcmp(zKey, "counting")==0 ){
      /* written when a version 1 table became version 2 (stats.c) */
      if( strcmp(zVal, "repeats")!=0 ) rc = SQLITE_CORRUPT_VTAB;
      s->opt.bCountRepeats = 1;
    }else if( strcmp(zKey, "tokenizer")==0 ){
      char zOurs[DP_TOKENIZER_ID_MAX];
      dpTokenizerId(zOurs, (int)sizeof(zOurs));
      bTokenizer = 1;
      /* another tokenizer made its postings: it opens, but what needs
      ** its sets waits for a 'rebuild' (dpStorageTokenizerCheck) */
      s->bTokenizerOther = strcmp(zVal, zOurs)!=0;
    }else if( strcmp(zKey, "measure")==0 || strcmp(zKey, "normalize")==0
           || strcmp(zKey, "sets")==0 || strcmp(zKey, "compress")==0 ){
      /* tables made before the set kind have no 'measure': 'vector';
      ** before normalization none has 'normalize': 'none'; before sets
      ** made from the bodies none has 'sets': 'stored'; before bodies were
      ** packed none has 'compress': 'none' */
      char *zWord = sqlite3_mprintf("%s=%s", zKey, zVal);
      rc = zWord ? dpOptionsApply(&s->opt, DP_OPT_EMBED|DP_OPT_TABLE, zWord,
                                  &zErr)
                 : SQLITE_NOMEM;
      if( rc==SQLITE_EMPTY || rc==SQLITE_ERROR ) rc = SQLITE_CORRUPT_VTAB;
      sqlite3_free(zWord);
    }else{
      char *zWord = sqlite3_mprintf("%s=%s", zKey, zVal);
      if( zWord==0 ){
        rc = SQLITE_NOMEM;
      }else{
        rc = dpOptionsApply(&s->opt, DP_OPT_EMBED|DP_OPT_TABLE, zWord, &zErr);
        if( rc==SQLITE_EMPTY || rc==SQLITE_ERROR ) rc = SQLITE_CORRUPT_VTAB;
        nSeen++;
      }
      sqlite3_free(zWord);
    }
    if( rc==SQLITE_CORRUPT_VTAB && *pzErr==0 ){
      *pzErr = sqlite3_mprintf("docpipe: table %s: bad %s_config entry"
                               " '%s'%s%s", s->zName, s->zName,
                               zKey ? zKey : "NULL", zErr ? ": " : "",
                               zErr ? zErr : "");
    }
    sqlite3_free(zErr);
  }
  sqlite3_finalize(pStmt);
  /* a version 1 table counted repeated features under 'signed' */
  if( s->iFormat==1 && s->opt.eHashing==DP_HASH_SIGNED ){
    s->opt.bCountRepeats = 1;
  }
  if( rc==SQLITE_OK && (bTokenizer!=s->opt.bSetsFromBody
                        || (s->opt.bSetsFromBody && !dpOptionsIsSet(&s->opt))) ){
    *pzErr = sqlite3_mprintf("docpipe: table %s: %s_config is damaged:"
        " 'sets', 'tokenizer' and 'measure' disagree (a table of sets made"
        " from the bodies has all three)", s->zName, s->zName);
    rc = SQLITE_CORRUPT_VTAB;
  }
  if( rc==SQLITE_OK && (!bVersion || nSeen!=7) ){
    *pzErr = sqlite3_mprintf("docpipe: table %s: %s_config is incomplete",
                             s->zName, s->zName);
    rc = SQLITE_CORRUPT_VTAB;
  }
  return rc;
}

/* The tokenizer row of %_config against this build's id: SQLITE_OK when
** they are the same (or the table stores its sets), else SQLITE_ERROR with
** the message.  Read again while they differ (a 'rebuild' changes the
** row), after a rollback (one may have undone it) and after another
** connection's commit (its rebuild: PRAGMA data_version). */
int dpStorageTokenizerCheck(DpStorage *s){
  sqlite3_stmt *pStmt = 0;
  char zOurs[DP_TOKENIZER_ID_MAX];
  char *zTheirs = 0;
  int rc;
  if( !s->opt.bSetsFromBody ) return SQLITE_OK;
  {
    /* another connection's commit (a 'rebuild' by another build) may have
    ** changed the row: read again when PRAGMA data_version says one came
    ** (this connection's own changes come through Record and Recheck) */
    sqlite3_int64 iVersion = 0;
    int bUncommitted = 0;
    rc = dpStorageDataVersion(s, &iVersion, &bUncommitted);
    if( rc!=SQLITE_OK ){
      return rc==SQLITE_NOMEM ? rc
           : storeError(s, rc, "%s", sqlite3_errmsg(s->db));
    }
    if( iVersion!=s->iTokVersion || bUncommitted ){
      s->bTokenizerOther = 1;
      s->iTokVersion = iVersion;
    }
  }
  if( !s->bTokenizerOther ) return SQLITE_OK;
  dpTokenizerId(zOurs, (int)sizeof(zOurs));
  rc = getStmt(s, STMT_TOKENIZER_GET, &pStmt);
  if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    const char *z = (const char*)sqlite3_column_text(pStmt, 0);
    zTheirs = sqlite3_mprintf("%s", z ? z : "");
    if( zTheirs==0 ) rc = SQLITE_NOMEM;
  }
  if( pStmt ){
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  if( rc!=SQLITE_OK ){
    sqlite3_free(zTheirs);
    return rc==SQLITE_NOMEM ? rc
         : storeError(s, rc, "cannot read %s_config: %s", s->zName,
                      sqlite3_errmsg(s->db));
  }
  if( zTheirs && strcmp(zTheirs, zOurs)==0 ){
    s->bTokenizerOther = 0;
  }else{
    /* the table as the user names it: "t", or "aux"."t" when attached */
    char *zTab = sqlite3_stricmp(s->zDb, "main")==0
        ? sqlite3_mprintf("\"%w\"", s->zName)
        : sqlite3_mprintf("\"%w\".\"%w\"", s->zDb, s->zName);
    rc = zTab==0 ? SQLITE_NOMEM
       : storeError(s, SQLITE_ERROR, "the shingle sets of %s were made from"
             " the bodies by tokenizer '%s', and this docpipe's is '%s':"
             " run INSERT INTO %s(\"%w\") VALUES('rebuild') to index them"
             " again with this one", s->zName, zTheirs ? zTheirs : "", zOurs,
             zTab, s->zName);
    sqlite3_free(zTab);
  }
  sqlite3_free(zTheirs);
  return rc;
}

void dpStorageTokenizerRecheck(DpStorage *s){
  /* a rollback may have undone a 'rebuild's row (one read, next check) */
  if( s->opt.bSetsFromBody ) s->bTokenizerOther = 1;
}

int dpStorageTokenizerRecord(DpStorage *s){
  char zOurs[DP_TOKENIZER_ID_MAX];
  int rc;
  if( !s->opt.bSetsFromBody ) return SQLITE_OK;
  dpTokenizerId(zOurs, (int)sizeof(zOurs));
  rc = dpExecf(s->db, 0, "UPDATE \"%w\".\"%w_config\" SET v=%Q"
               " WHERE k='tokenizer'", s->zDb, s->zName, zOurs);
  if( rc==SQLITE_OK ) s->bTokenizerOther = 0;
  else if( rc!=SQLITE_NOMEM ){
    rc = storeError(s, rc, "cannot write %s_config: %s", s->zName,
                    sqlite3_errmsg(s->db));
  }
  return rc;
}

int dpStorageDestroy(DpStorage *s){
  int rc = SQLITE_OK;
  size_t i;
  finalizeStmts(s);
  for(i=0; rc==SQLITE_OK && i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    rc = dpExecf(s->db, 0, "DROP TABLE IF EXISTS \"%w\".\"%w_%s\"",
                 s->zDb, s->zName, azShadow[i]);
  }
  return rc;
}

int dpStorageRename(DpStorage *s, const char *zNew){
  int rc = SQLITE_OK;
  size_t i;
  char *zNewName;
  finalizeStmts(s);
  for(i=0; rc==SQLITE_OK && i<sizeof(azShadow)/sizeof(azShadow[0]); i++){
    char *zErr = 0;
    rc = dpShadowRename(s->db, s->zDb, s->zName, zNew, azShadow[i], &zErr);
    if( rc!=SQLITE_OK ) storeError(s, rc, "%s", zErr ? zErr : "rename failed");
    sqlite3_free(zErr);
  }
  if( rc==SQLITE_OK ){
    zNewName = sqlite3_mprintf("%s", zNew);
    if( zNewName==0 ) return SQLITE_NOMEM;
    sqlite3_free(s->zName);
    s->zName = zNewName;
  }
  return rc;
}

/**************************************************************************
** Documents and vectors.
*/

/* Bind body pBody as %_docs stores it: a blob (valid UTF-8, the table
** checked) as the text it is; a text (or such a blob) in a compressing
** table as a zstd frame when that is smaller (body.c). */
static int bindBody(DpStorage *s, sqlite3_stmt *pStmt, int iParam,
                    sqlite3_value *pBody){
  int eType = sqlite3_value_type(pBody);
  if( eType!=SQLITE_TEXT && eType!=SQLITE_BLOB ){
    return sqlite3_bind_value(pStmt, iParam, pBody);
  }else{
    const void *z = eType==SQLITE_TEXT ? (const void*)sqlite3_value_text(pBody)
                                       : sqlite3_value_blob(pBody);
    int n = sqlite3_value_bytes(pBody);
    const void *aPacked = 0;
    int nPacked = 0, rc = SQLITE_OK;
    if( z==0 && n>0 ) return SQLITE_NOMEM;
    if( s->opt.bCompress ){
      /* body.c stores what is short or does not shrink as it is */
      DpBodyCodec *c = storageCodec(s);
      rc = c ? dpBodyPack(c, z, n, &aPacked, &nPacked) : SQLITE_NOMEM;
      if( rc!=SQLITE_OK ) return rc;
    }
    if( aPacked ){
      return sqlite3_bind_blob(pStmt, iParam, aPacked, nPacked,
                               SQLITE_TRANSIENT);
    }
    if( eType==SQLITE_TEXT ) return sqlite3_bind_value(pStmt, iParam, pBody);
    return sqlite3_bind_text(pStmt, iParam, z ? z : "", n, SQLITE_TRANSIENT);
  }
}
int dpStorageDocPut(DpStorage *s, sqlite3_int64 *piId, int bHasId,
                    sqlite3_value *pBody, int bOwn, int bDup,
                    sqlite3_int64 iDupOf, double rSim,
                    sqlite3_value **apExtra, const float *aVec){
  sqlite3_stmt *pStmt;
  int rc = getStmt(s, STMT_DOC_WRITE, &pStmt);
  int i;
  if( rc!=SQLITE_OK ) return rc;
  if( bHasId ) sqlite3_bind_int64(pStmt, 1, *piId);
  else sqlite3_bind_null(pStmt, 1);
  rc = bindBody(s, pStmt, 2, pBody);
  if( rc!=SQLITE_OK ) return rc;
  sqlite3_bind_int(pStmt, 3, bDup);
  if( bDup ){
    sqlite3_bind_int64(pStmt, 4, iDupOf);
    sqlite3_bind_double(pStmt, 5, rSim);
  }else{
    sqlite3_bind_null(pStmt, 4);
    sqlite3_bind_null(pStmt, 5);
  }
  sqlite3_bind_int(pStmt, 6, bOwn);
  for(i=0; i<s->nExtra; i++) sqlite3_bind_value(pStmt, 7+i, apExtra[i]);
  rc = stepWrite(s, pStmt);
  if( rc!=SQLITE_OK ) return rc;
  if( !bHasId ) *piId = sqlite3_last_insert_rowid(s->db);
  return aVec ? dpStorageVectorPut(s, *piId, aVec) : SQLITE_OK;
}

int dpStorageVectorPut(DpStorage *s, sqlite3_int64 iId, const float *aVec){
  sqlite3_stmt *pStmt;
  int rc = getStmt(s, STMT_VEC_WRITE, &pStmt);
  if( rc!=SQLITE_OK ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  sqlite3_bind_blob(pStmt, 2, aVec, 4*s->opt.nDim, SQLITE_STATIC);
  return stepWrite(s, pStmt);
}

int dpStorageDocDelete(DpStorage *s, sqlite3_int64 iId){
  sqlite3_stmt *pStmt;
  int rc = getStmt(s, STMT_DOC_DELETE, &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iId);
    rc = stepWrite(s, pStmt);
  }
  if( rc==SQLITE_OK ) rc = getStmt(s, STMT_VEC_DELETE, &pStmt);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iId);
    rc = stepWrite(s, pStmt);
  }
  return rc;
}

/* Step cached statement eStmt for id iId: SQLITE_ROW with *ppRow on its
** row (reset by the matching Release), SQLITE_DONE when there is none. */
static int seekById(DpStorage *s, int eStmt, sqlite3_int64 iId,
                    sqlite3_stmt **ppRow){
  sqlite3_stmt *pStmt;
  int rc = getStmt(s, eStmt, &pStmt);
  *ppRow = 0;
  if( rc!=SQLITE_OK ) return rc;
  sqlite3_bind_int64(pStmt, 1, iId);
  rc = sqlite3_step(pStmt);
  if( rc!=SQLITE_ROW ){
    int rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_DONE && rc2!=SQLITE_OK ) rc = rc2;
    if( rc!=SQLITE_DONE ){
      rc = dpReadCode(s->db, rc);
      storeError(s, rc, "%s", sqlite3_errmsg(s->db));
    }
  }else{
    *ppRow = pStmt;
  }
  return rc;
}

static int release(DpStorage *s, int eStmt){
  return s->aStmt[eStmt] ? sqlite3_reset(s->aStmt[eStmt]) : SQLITE_OK;
}

int dpStorageDocSeek(DpStorage *s, sqlite3_int64 iId, sqlite3_stmt **ppRow){
  return seekById(s, STMT_DOC_GET, iId, ppRow);
}
int dpStorageDocRelease(DpStorage *s){ return release(s, STMT_DOC_GET); }
int dpStorageBodySeek(DpStorage *s, sqlite3_int64 iId, sqlite3_stmt **ppRow){
  return seekById(s, STMT_BODY_GET, iId, ppRow);
}
int dpStorageBodyRelease(DpStorage *s){ return release(s, STMT_BODY_GET); }

int dpStorageDocExists(DpStorage *s, sqlite3_int64 iId, int *pbExists){
  sqlite3_stmt *pRow;
  int rc = seekById(s, STMT_DOC_EXISTS, iId, &pRow);
  *pbExists = rc==SQLITE_ROW;
  if( rc==SQLITE_ROW ) rc = release(s, STMT_DOC_EXISTS);
  return rc==SQLITE_DONE ? SQLITE_OK : rc;
}

int dpStorageVectorSeek(DpStorage *s, sqlite3_int64 iId,
                        sqlite3_stmt **ppRow){
  return seekById(s, STMT_VEC_GET, iId, ppRow);
}
int dpStorageVectorRelease(DpStorage *s){ return release(s, STMT_VEC_GET); }

/**************************************************************************
** Streams of stored rows: the index load, integrity-check, rebuild,
** dedup_index().
*/
int dpStorageScanVectors(DpStorage *s,
                         int (*xRow)(void*, sqlite3_int64 iId, int bDup,
                                     sqlite3_value *pVec),
                         void *pCtx){
  sqlite3_stmt *pStmt;
  int rc = getStmt(s, STMT_LOAD, &pStmt), rc2;
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = xRow(pCtx, sqlite3_column_int64(pStmt, 0),
              sqlite3_column_int(pStmt, 1), sqlite3_column_value(pStmt, 2));
  }
  if( pStmt ){
    rc2 = sqlite3_reset(pStmt);
    if( rc==SQLITE_OK ) rc = rc2;
  }
  return rc;
}

/* Finalize a statement that read the shadow tables: its error (a damaged
** packed body, I/O, an interrupt) with SQLite's message. */
static int finalizeRead(DpStorage *s, sqlite3_stmt *pStmt){
  int rc = dpReadCode(s->db, sqlite3_finalize(pStmt));
  if( rc!=SQLITE_OK ) storeError(s, rc, "%s", sqlite3_errmsg(s->db));
  return rc;
}

int dpStorageScanDocs(DpStorage *s, int eWhich,
                      int (*xRow)(void*, sqlite3_int64 iId,
                                  sqlite3_value *pBody, sqlite3_value *pVec),
                      void *pCtx){
  static const char *const azWhere[] = {
    "",                         /* DP_SCAN_ALL */
    " WHERE d.own_vector=0",    /* DP_SCAN_MADE: vectors made from bodies */
    " WHERE d.own_vector<>0",   /* DP_SCAN_OWN: vectors the caller gave */
  };
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT d.id, %s, v.v FROM \"%w\".\"%w_docs\""
      " d LEFT JOIN \"%w\".\"%w_vectors\" v ON v.id=d.id%s", bodyExpr(s, 1),
      s->zDb, s->zName, s->zDb, s->zName, azWhere[eWhich]);
  int rc = zSql ? SQLITE_OK : SQLITE_NOMEM;
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(s->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = xRow(pCtx, sqlite3_column_int64(pStmt, 0),
              sqlite3_column_value(pStmt, 1), sqlite3_column_value(pStmt, 2));
  }
  if( rc==SQLITE_OK ) rc = finalizeRead(s, pStmt);
  else sqlite3_finalize(pStmt);
  return rc;
}

/* Prepare zSql (sqlite3_mprintf'd, freed here) as a new statement for the
** caller; on error the message names shadow table %s_zWhat. */
static int prepareQuery(DpStorage *s, char *zSql, const char *zWhat,
                        sqlite3_stmt **ppStmt){
  int rc;
  *ppStmt = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(s->db, zSql, -1, ppStmt, 0);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK ){
    storeError(s, rc, "cannot read %s_%s: %s", s->zName, zWhat,
               sqlite3_errmsg(s->db));
  }
  return rc;
}

/* keep='longest' compares the bytes of the bodies as the table shows them
** (a packed body's text, body.c) */
int dpStorageVectorQuery(DpStorage *s, int bWithLength,
                         sqlite3_stmt **ppStmt){
  char *zSql = bWithLength
    ? sqlite3_mprintf("SELECT v.id, v.v, length(CAST(%s AS BLOB))"
                      " FROM \"%w\".\"%w_vectors\" v JOIN \"%w\".\"%w_docs\" d"
                      " ON d.id=v.id", bodyExpr(s, 1), s->zDb, s->zName, s->zDb,
                      s->zName)
    : sqlite3_mprintf("SELECT id, v FROM \"%w\".\"%w_vectors\"",
                      s->zDb, s->zName);
  return prepareQuery(s, zSql, "vectors", ppStmt);
}

int dpStorageLengthQuery(DpStorage *s, sqlite3_stmt **ppStmt){
  return prepareQuery(s, sqlite3_mprintf("SELECT id, length(CAST(%s AS BLOB))"
                                         " FROM \"%w\".\"%w_docs\" ORDER BY id",
                                         bodyExpr(s, 0), s->zDb, s->zName),
                      "docs", ppStmt);
}

int dpStorageCheckRows(DpStorage *s){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf(
      "SELECT 'vector without document', v.id FROM \"%w\".\"%w_vectors\" v"
      " WHERE NOT EXISTS (SELECT 1 FROM \"%w\".\"%w_docs\" d WHERE d.id=v.id)"
      " UNION ALL SELECT 'bad decision', id FROM \"%w\".\"%w_docs\""
      " WHERE is_duplicate NOT IN (0,1)"
      "  OR (is_duplicate=1 AND (typeof(duplicate_of)<>'integer'"
      "      OR similarity IS NULL OR NOT (similarity BETWEEN -1 AND 1)))"
      "  OR (is_duplicate=0 AND (duplicate_of IS NOT NULL"
      "      OR similarity IS NOT NULL))"
      "  OR own_vector NOT IN (0,1)"
      " LIMIT 1", s->zDb, s->zName, s->zDb, s->zName, s->zDb, s->zName);
  int rc;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(s->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = storeError(s, SQLITE_CORRUPT_VTAB, "%s (rowid %lld)",
                    sqlite3_column_text(pStmt, 0),
                    sqlite3_column_int64(pStmt, 1));
  }
  sqlite3_finalize(pStmt);
  return rc;
}

int dpStorageDocCursor(DpStorage *s, const char *zWhere, int bPacked,
                       sqlite3_stmt **ppStmt){
  char *zCols = extraList(s, ", c%d", 0);
  char *zSql;
  int rc;
  *ppStmt = 0;
  if( zCols==0 ) return SQLITE_NOMEM;
  zSql = sqlite3_mprintf("SELECT id, %s, is_duplicate, duplicate_of,"
                         " similarity%s FROM \"%w\".\"%w_docs\" %s",
                         bPacked ? "body" : bodyExpr(s, 0), zCols, s->zDb,
                         s->zName, zWhere);
  sqlite3_free(zCols);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(s->db, zSql, -1, ppStmt, 0);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ){
    /* a missing or altered shadow table: say which and what */
    rc = storeError(s, SQLITE_CORRUPT_VTAB, "cannot read %s_docs: %s",
                    s->zName, sqlite3_errmsg(s->db));
  }
  return rc;
}

int dpStorageBodyResult(DpStorage *s, sqlite3_context *ctx,
                        sqlite3_value *pStored, sqlite3_int64 iId){
  DpBodyCodec *c;
  if( !s->opt.bCompress ){
    sqlite3_result_value(ctx, pStored);
    return SQLITE_OK;
  }
  c = storageCodec(s);
  if( c==0 ){
    sqlite3_result_error_nomem(ctx);
    return SQLITE_NOMEM;
  }
  return dpBodyResult(c, ctx, pStored, &iId);
}

int dpStorageFilterIds(DpStorage *s, int nTerm, const int *aCol,
                       const char *const *azOp, sqlite3_value **apArg,
                       sqlite3_int64 **paId, int *pnId){
  static const char *const azFixed[] = {
    "body", "", "is_duplicate", "duplicate_of", "similarity"
  };
  sqlite3_str *p = sqlite3_str_new(0);
  sqlite3_stmt *pStmt = 0;
  char *zSql;
  int rc, i, nAlloc = 0;
  *paId = 0;
  *pnId = 0;
  sqlite3_str_appendf(p, "SELECT id FROM \"%w\".\"%w_docs\" WHERE 1",
                      s->zDb, s->zName);
  for(i=0; i<nTerm; i++){
    if( aCol[i]<DP_COL_EXTRA0 ){
      sqlite3_str_appendf(p, " AND %s %s ?%d",
                          aCol[i]==DP_COL_BODY ? bodyExpr(s, 0)
                                               : azFixed[aCol[i]],
                          azOp[i], i+1);
    }else{
      sqlite3_str_appendf(p, " AND c%d %s ?%d", aCol[i]-DP_COL_EXTRA0,
                          azOp[i], i+1);
    }
  }
  sqlite3_str_appendall(p, " ORDER BY id");
  zSql = dpStrFinish(p);
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(s->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  for(i=0; rc==SQLITE_OK && i<nTerm; i++){
    int t = sqlite3_value_type(apArg[i]);
    /* body is TEXT in the table but untyped in %_docs: give a number the
    ** TEXT affinity SQLite gives it when it compares with body */
    if( aCol[i]==DP_COL_BODY && (t==SQLITE_INTEGER || t==SQLITE_FLOAT) ){
      const unsigned char *z = sqlite3_value_text(apArg[i]);
      if( z==0 ){ rc = SQLITE_NOMEM; break; }
      sqlite3_bind_text(pStmt, i+1, (const char*)z, -1, SQLITE_TRANSIENT);
    }else{
      sqlite3_bind_value(pStmt, i+1, apArg[i]);
    }
  }
  while( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW ){
    rc = dpGrow((void**)paId, &nAlloc, *pnId+1, sizeof(sqlite3_int64));
    if( rc==SQLITE_OK ) (*paId)[(*pnId)++] = sqlite3_column_int64(pStmt, 0);
  }
  if( rc==SQLITE_OK ) rc = finalizeRead(s, pStmt);
  else sqlite3_finalize(pStmt);
  return rc;
}

/**************************************************************************
** What changed, and who reads what.
*/
int dpStorageDataVersion(DpStorage *s, sqlite3_int64 *piVersion,
                         int *pbUncommitted){
  sqlite3_stmt *pStmt;
  int rc = getStmt(s, STMT_DATA_VERSION, &pStmt);
  *pbUncommitted = 0;
  if( rc!=SQLITE_OK ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *piVersion = sqlite3_column_int64(pStmt, 0);
  }
  rc = sqlite3_reset(pStmt);
  /* in shared-cache mode read_uncommitted shows another connection's
  ** writes before they commit, and data_version does not tell */
  if( rc==SQLITE_OK ) rc = getStmt(s, STMT_READ_UNCOMMITTED, &pStmt);
  if( rc!=SQLITE_OK ) return rc;
  if( sqlite3_step(pStmt)==SQLITE_ROW ){
    *pbUncommitted = sqlite3_column_int(pStmt, 0);
  }
  return sqlite3_reset(pStmt);
}

int dpStorageReadBy(DpStorage *s, sqlite3_stmt *pStmt, int *pbReads){
  sqlite3_stmt *pExplain = 0;
  char *zSql = sqlite3_mprintf("EXPLAIN %s", sqlite3_sql(pStmt));
  /* the set kind's tables only for a set table: a user's table v_sets
  ** beside a vector table v is the user's */
  const int bSet = dpOptionsIsSet(&s->opt);
  char *zRoots = sqlite3_mprintf("SELECT group_concat(rootpage, ' '),"
      " (SELECT seq FROM pragma_database_list WHERE name=%Q)"
      " FROM \"%w\".sqlite_schema WHERE tbl_name IN ('%q_docs', '%q_vectors',"
      " '%q_%s', '%q_%s', '%q_%s', '%q_%s', '%q_%s', '%q_%s')",
      s->zDb, s->zDb, s->zName, s->zName,
      s->zName, bSet ? "sets" : "docs", s->zName, bSet ? "pruns" : "docs",
      s->zName, bSet ? "pblocks" : "docs", s->zName, bSet ? "pfilter" : "docs",
      s->zName, bSet ? "pfence" : "docs", s->zName, bSet ? "ptomb" : "docs");
  sqlite3_stmt *pRoots = 0;
  int rc = (zSql && zRoots) ? SQLITE_OK : SQLITE_NOMEM;
  *pbReads = 0;
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(s->db, zRoots, -1, &pRoots, 0);
  if( rc==SQLITE_OK && sqlite3_step(pRoots)==SQLITE_ROW
   && sqlite3_column_type(pRoots, 0)!=SQLITE_NULL ){
    /* " 2 5 9 " so that " %d " finds a root page */
    char *zList = sqlite3_mprintf(" %s ", sqlite3_column_text(pRoots, 0));
    int iDb = sqlite3_column_int(pRoots, 1);
    if( zList==0 ) rc = SQLITE_NOMEM;
    if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(s->db, zSql, -1, &pExplain, 0);
    while( rc==SQLITE_OK && !*pbReads && sqlite3_step(pExplain)==SQLITE_ROW ){
      const char *zOp = (const char*)sqlite3_column_text(pExplain, 1);
      if( zOp && (strcmp(zOp, "OpenRead")==0 || strcmp(zOp, "ReopenIdx")==0)
       && sqlite3_column_int(pExplain, 4)==iDb ){
        char *zPage = sqlite3_mprintf(" %d ", sqlite3_column_int(pExplain, 3));
        if( zPage==0 ) rc = SQLITE_NOMEM;
        else *pbReads = strstr(zList, zPage)!=0;
        sqlite3_free(zPage);
      }
    }
    sqlite3_free(zList);
  }
  {
    /* a step that failed (out of memory) must not pass the check */
    int rc2 = sqlite3_finalize(pExplain), rc3 = sqlite3_finalize(pRoots);
    if( rc==SQLITE_OK ) rc = rc2!=SQLITE_OK ? rc2 : rc3;
  }
  sqlite3_free(zSql);
  sqlite3_free(zRoots);
  return rc;
}

/**************************************************************************
** The open tables of a connection (DpConn), for dedup_index().
*/
void dpConnAdd(DpConn *pConn, DpTableRef *pRef){
  pRef->pNext = pConn->pTables;
  pConn->pTables = pRef;
}

void dpConnRemove(DpConn *pConn, DpTableRef *pRef){
  DpTableRef **pp = &pConn->pTables;
  while( *pp && *pp!=pRef ) pp = &(*pp)->pNext;
  if( *pp ) *pp = pRef->pNext;
}

int dpConnPartial(DpConn *pConn, const char *zDb, const char *zName){
  DpTableRef *r;
  for(r=pConn->pTables; r; r=r->pNext){
    if( r->pbPartial && *r->pbPartial
     && sqlite3_stricmp(dpStorageName(r->pStore), zName)==0
     && sqlite3_stricmp(dpStorageSchema(r->pStore), zDb)==0 ){
      return 1;
    }
  }
  return 0;
}

DpTableRef *dpConnFind(DpConn *pConn, const char *zDb, const char *zName){
  DpTableRef *r;
  for(r=pConn->pTables; r; r=r->pNext){
    if( sqlite3_stricmp(dpStorageName(r->pStore), zName)==0
     && sqlite3_stricmp(dpStorageSchema(r->pStore), zDb)==0 ){
      return r;
    }
  }
  return 0;
}
