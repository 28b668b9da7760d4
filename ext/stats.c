/*
** stats.c — per-statement timing of docpipe tables, and per-document stage
** latency percentiles.
**
**   SELECT id, started, kind, rows, total_ns, cpu_ns, sql FROM docs_stats ORDER BY total_ns DESC LIMIT 5;
**   SELECT * FROM docpipe_latency('docs');          -- every recorded statement
**   SELECT * FROM docpipe_latency('docs', 10);      -- the last 10 statements
**   SELECT * FROM docpipe_latency('aux.docs');      -- an attached database's
**   INSERT INTO docs(docs) VALUES ('stats-reset');   -- forget them
**
** How it works.
**
** A record (DpStatRec) collects one execution of one SQL statement on one
** table: the statement is recognised, at each call into the table, as the
** busy prepared statement that is not one of docpipe's own (a write
** statement for INSERT/UPDATE/DELETE; preferring one whose text names the
** table when several are busy, and for a MATCH one whose text also has the
** word MATCH).  dpStatSame() tells one execution from
** the next: open MATCH cursors, the VM step and run counts, the
** connection's total of changes and statement savepoints (see there).  No
** trace or profile hook is used: those belong to the application.  While
** a record is open it keeps, for each stage (tokenize, embed, search,
** store), the total nanoseconds and the histogram bucket of each
** document's latency in the stages it ran: log buckets, 64 per power of
** two (HDR-style, relative error at most 1/128 at the bucket midpoint);
** and beside them the index load time (load_ns) and the thread's CPU time
** (cpu_ns).  When the execution is over the record is closed: its samples
** are packed into a small blob (varints of the non-empty buckets, the
** format of dpHistEncode) and it waits in a pending list.
**
** Records of write statements are part of the transaction: vtab.c writes
** them in xSync (as FTS5 flushes its pending data), throws away those of a
** rolled-back transaction or savepoint, and a statement that failed inside
** docpipe leaves none.  Read-only statements (MATCH, dedup_index) must not
** start a write transaction of their own: their records wait in memory,
** at most stats_keep of them per table (the newest), and are written with
** the next write transaction of the table (or lost when the connection
** closes first).
**
**   %_stats(id INTEGER PRIMARY KEY, started TEXT, kind TEXT, rows INTEGER,
**           tokenize_ns, embed_ns, search_ns, store_ns, total_ns INTEGER,
**           sql TEXT, load_ns INTEGER, cpu_ns INTEGER)
**   %_latency(id INTEGER PRIMARY KEY, v BLOB)    the packed samples of the
**           %_stats row with the same id (out of SELECT * on %_stats)
**
** keep the last stats_keep statements.  Format version 1 (docpipe 0.1.0)
** had the blob as a last column "latency" of %_stats and no load_ns,
** cpu_ns: such a table is read as it is and migrated by its first write
** transaction (dpStatMigrate).  docpipe_latency(table [, n]) merges the
** blobs of the last n (default: all kept) statements and returns per
** stage: count, mean, p50, p95, p99 and max nanoseconds.  Table names
** ("name" or "schema.name") are resolved as SQLite resolves them
** (dpResolveTable).
*/
#include "docpipe.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const dpStageName[DP_N_STAGE] = {
  "tokenize", "embed", "search", "store"
};

/**************************************************************************
** Histogram.
*/
int dpHistBucket(sqlite3_uint64 v){
  int e, b;
  if( v<64 ) return (int)v;
  e = 63 - __builtin_clzll(v);                 /* 6 .. 63 */
  b = (e-5)*64 + (int)((v >> (e-6)) & 63);
  return b<DP_HIST_BUCKETS ? b : DP_HIST_BUCKETS-1;
}

/* Midpoint of bucket b (its exact value below 128). */
sqlite3_uint64 dpHistValue(int b){
  int e;
  sqlite3_uint64 lo, width;
  if( b<128 ) return (sqlite3_uint64)b;
  e = b/64 + 5;
  lo = (sqlite3_uint64)(64 + b%64) << (e-6);
  width = (sqlite3_uint64)1 << (e-6);
  return lo + width/2;
}

void dpHistAdd(DpHist *h, sqlite3_uint64 v){
  h->aCount[dpHistBucket(v)]++;
  h->nCount++;
  h->nSum += v;
  if( v>h->nMax ) h->nMax = v;
}

/* Value at quantile q (0..1]: the smallest bucket whose cumulative count
** reaches ceil(q * count); the exact maximum for the last one. */
sqlite3_uint64 dpHistQuantile(const DpHist *h, double q){
  sqlite3_uint64 nRank, nSeen = 0;
  int b;
  if( h->nCount==0 ) return 0;
  nRank = (sqlite3_uint64)(q * (double)h->nCount + 0.999999);
  if( nRank<1 ) nRank = 1;
  if( nRank>=h->nCount ) return h->nMax;
  for(b=0; b<DP_HIST_BUCKETS; b++){
    nSeen += h->aCount[b];
    if( nSeen>=nRank ){
      sqlite3_uint64 v = dpHistValue(b);
      return v>h->nMax ? h->nMax : v;
    }
  }
  return h->nMax;
}

/* Varints, 7 bits a byte, low bits first. */
static void putVarint(sqlite3_str *s, sqlite3_uint64 v){
  do{
    unsigned char c = (unsigned char)(v & 0x7f);
    v >>= 7;
    if( v ) c |= 0x80;
    sqlite3_str_appendchar(s, 1, (char)c);
  }while( v );
}

static int getVarint(const unsigned char **pp, const unsigned char *pEnd,
                     sqlite3_uint64 *pv){
  sqlite3_uint64 v = 0;
  int shift = 0;
  while( *pp<pEnd && shift<64 ){
    unsigned char c = *(*pp)++;
    v |= (sqlite3_uint64)(c & 0x7f) << shift;
    if( (c & 0x80)==0 ){ *pv = v; return 1; }
    shift += 7;
  }
  return 0;
}

/* Blob of DP_N_STAGE histograms: per stage count, sum, max, number of
** non-empty buckets, then (bucket delta, count) pairs. */
int dpHistEncode(const DpHist *aHist, void **ppBlob, int *pnBlob){
  sqlite3_str *s = sqlite3_str_new(0);
  int i, b;
  for(i=0; i<DP_N_STAGE; i++){
    const DpHist *h = &aHist[i];
    int nNonEmpty = 0, iPrev = 0;
    for(b=0; b<DP_HIST_BUCKETS; b++) nNonEmpty += h->aCount[b]!=0;
    putVarint(s, h->nCount);
    putVarint(s, h->nSum);
    putVarint(s, h->nMax);
    putVarint(s, (sqlite3_uint64)nNonEmpty);
    for(b=0; b<DP_HIST_BUCKETS; b++){
      if( h->aCount[b]==0 ) continue;
      putVarint(s, (sqlite3_uint64)(b - iPrev));
      putVarint(s, h->aCount[b]);
      iPrev = b;
    }
  }
  *pnBlob = sqlite3_str_length(s);
  *ppBlob = dpStrFinish(s);
  return *ppBlob ? SQLITE_OK : SQLITE_NOMEM;
}

/* Add a blob made by dpHistEncode into aHist; 0 when it is malformed. */
int dpHistMergeBlob(DpHist *aHist, const void *pBlob, int nBlob){
  const unsigned char *p, *pEnd;
  int i;
  if( pBlob==0 || nBlob<=0 ) return 0;     /* an empty blob is not one */
  p = pBlob;
  pEnd = p + nBlob;
  for(i=0; i<DP_N_STAGE; i++){
    DpHist *h = &aHist[i];
    sqlite3_uint64 nCount, nSum, nMax, nNonEmpty, k, b = 0, d, c;
    if( !getVarint(&p, pEnd, &nCount) || !getVarint(&p, pEnd, &nSum)
     || !getVarint(&p, pEnd, &nMax) || !getVarint(&p, pEnd, &nNonEmpty) ){
      return 0;
    }
    for(k=0; k<nNonEmpty; k++){
      if( !getVarint(&p, pEnd, &d) || !getVarint(&p, pEnd, &c) ) return 0;
      b += d;
      if( b>=DP_HIST_BUCKETS ) return 0;
      h->aCount[b] += (unsigned)c;
    }
    h->nCount += nCount;
    h->nSum += nSum;
    if( nMax>h->nMax ) h->nMax = nMax;
  }
  return p==pEnd;
}

/**************************************************************************
** Records.
*/
void dpStatFree(DpStatRec *r){
  if( r==0 ) return;
  sqlite3_free(r->zSql);
  if( r->aSample!=r->aInline ) sqlite3_free(r->aSample);
  sqlite3_free(r->pBlob);
  sqlite3_free(r);
}

/* Wall-clock time now, "YYYY-MM-DD HH:MM:SS.mmm" UTC. */
static void wallClock(char *zBuf, int nBuf){
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(zBuf, (size_t)nBuf, "%04d-%02d-%02d %02d:%02d:%02d.%03d",
           (tm.tm_year+1900) % 10000, (tm.tm_mon+1) % 100, tm.tm_mday % 100,
           tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
           (int)(ts.tv_nsec/1000000) % 1000);
}

DpStatRec *dpStatOpen(sqlite3_stmt *pStmt, int eKind){
  DpStatRec *r = sqlite3_malloc64(sizeof(*r));
  if( r==0 ) return 0;
  memset(r, 0, sizeof(*r));
  r->pStmt = pStmt;
  r->nRun = pStmt ? sqlite3_stmt_status(pStmt, SQLITE_STMTSTATUS_RUN, 0) : 0;
  r->nVmStep = pStmt ? sqlite3_stmt_status(pStmt, SQLITE_STMTSTATUS_VM_STEP, 0) : 0;
  r->eKind = eKind;
  r->zSql = sqlite3_mprintf("%s", pStmt && sqlite3_sql(pStmt) ? sqlite3_sql(pStmt) : "");
  r->aSample = r->aInline;
  r->nSampleAlloc = (int)(sizeof(r->aInline)/sizeof(r->aInline[0])) / DP_N_STAGE;
  if( r->zSql==0 ){
    dpStatFree(r);
    return 0;
  }
  wallClock(r->zStarted, (int)sizeof(r->zStarted));
  return r;
}

/* Is pStmt still the execution r was opened for?  Its address alone does
** not say: a cached statement runs again at the same address, and a
** finalized statement's memory is reused by the next one prepared.
**
** It is when a MATCH cursor of the execution is still open (SQLite closes
** a statement's cursors when it ends).  Otherwise it must be the same
** sqlite3_step() call (SQLite adds to SQLITE_STMTSTATUS_VM_STEP when a
** call returns, and a statement makes all its writes in its first call),
** and one of:
**   - no statement has ended since (the total of changes has not moved);
**   - a trigger program has started since (each one counts as a run,
**     SQLITE_STMTSTATUS_RUN, and its end moves the total of changes);
**   - the run count is the same, a trigger is running (count above 1: the
**     statement's own run and the trigger's), and no statement savepoint
**     has begun or ended: the next statement of the same trigger body (its
**     OP_ResetCount moves the total).  Statements that fire triggers get a
**     statement savepoint inside a transaction, so a new one is seen.
** In autocommit mode each write statement also ends with xSync. */
int dpStatSame(DpStatRec *r, sqlite3_stmt *pStmt, int bNoChanges,
               int bNoSvpt){
  int nStep, nRun;
  const char *zSql;
  if( r==0 || pStmt==0 || r->pStmt!=pStmt ) return 0;
  zSql = sqlite3_sql(pStmt);
  if( strcmp(r->zSql, zSql ? zSql : "")!=0 ) return 0;
  nStep = sqlite3_stmt_status(pStmt, SQLITE_STMTSTATUS_VM_STEP, 0);
  nRun = sqlite3_stmt_status(pStmt, SQLITE_STMTSTATUS_RUN, 0);
  if( r->nCursor==0 ){
    if( nStep!=r->nVmStep ) return 0;
    if( !bNoChanges && nRun<=r->nRun
     && !(nRun==r->nRun && nRun>1 && bNoSvpt) ){
      return 0;
    }
  }
  r->nVmStep = nStep;
  r->nRun = nRun;
  return 1;
}

void dpStatDocument(DpStatRec *r, const sqlite3_int64 *aStageNs){
  int i;
  if( r==0 ) return;
  if( r->nSample>=r->nSampleAlloc ){
    /* grow by doubling; out of memory: the sample is not kept (the totals
    ** still are) */
    sqlite3_int64 nNew = (sqlite3_int64)r->nSampleAlloc*2;
    unsigned *aNew = sqlite3_malloc64(sizeof(unsigned)*DP_N_STAGE*nNew);
    if( aNew==0 || nNew>0x7fffffff/DP_N_STAGE ){
      sqlite3_free(aNew);
      for(i=0; i<DP_N_STAGE; i++){
        if( aStageNs[i]>0 ) r->aStageNs[i] += aStageNs[i];
      }
      return;
    }
    memcpy(aNew, r->aSample, sizeof(unsigned)*DP_N_STAGE*(size_t)r->nSample);
    if( r->aSample!=r->aInline ) sqlite3_free(r->aSample);
    r->aSample = aNew;
    r->nSampleAlloc = (int)nNew;
  }
  for(i=0; i<DP_N_STAGE; i++){
    unsigned *pSlot = &r->aSample[(size_t)r->nSample*DP_N_STAGE + i];
    sqlite3_uint64 v;
    if( aStageNs[i]<=0 ){
      *pSlot = DP_STAT_NOT_RUN;       /* not run: no sample, not a 0 ns one */
      continue;
    }
    v = (sqlite3_uint64)aStageNs[i];
    r->aStageNs[i] += aStageNs[i];
    *pSlot = (unsigned)dpHistBucket(v);
    r->aSum[i] += v;
    if( v>r->aMax[i] ) r->aMax[i] = v;
  }
  r->nSample++;
}

static int cmpUnsigned(const void *a, const void *b){
  unsigned x = *(const unsigned*)a, y = *(const unsigned*)b;
  return (x>y) - (x<y);
}

/* Pack the samples in the format of dpHistEncode: per stage the count, sum,
** max, then the non-empty buckets (sorted samples, run-length coded).
** Documents that did not run a stage are not counted in it. */
int dpStatClose(DpStatRec *r){
  sqlite3_str *s;
  unsigned *aTmp;
  int i, k;
  if( r->pBlob ) return SQLITE_OK;
  aTmp = sqlite3_malloc64(sizeof(unsigned)*((sqlite3_int64)r->nSample+1));
  if( aTmp==0 ) return SQLITE_NOMEM;
  s = sqlite3_str_new(0);
  for(i=0; i<DP_N_STAGE; i++){
    int nNonEmpty = 0, n = 0;
    unsigned iPrev = 0;
    for(k=0; k<r->nSample; k++){
      unsigned b = r->aSample[(size_t)k*DP_N_STAGE + i];
      if( b!=DP_STAT_NOT_RUN ) aTmp[n++] = b;
    }
    qsort(aTmp, (size_t)n, sizeof(unsigned), cmpUnsigned);
    for(k=0; k<n; k++) nNonEmpty += (k==0 || aTmp[k]!=aTmp[k-1]);
    putVarint(s, (sqlite3_uint64)n);
    putVarint(s, r->aSum[i]);
    putVarint(s, r->aMax[i]);
    putVarint(s, (sqlite3_uint64)nNonEmpty);
    for(k=0; k<n; ){
      int j = k;
      while( j<n && aTmp[j]==aTmp[k] ) j++;
      putVarint(s, aTmp[k] - iPrev);
      putVarint(s, (sqlite3_uint64)(j - k));
      iPrev = aTmp[k];
      k = j;
    }
  }
  sqlite3_free(aTmp);
  r->nBlob = sqlite3_str_length(s);
  r->pBlob = dpStrFinish(s);
  if( r->aSample!=r->aInline ) sqlite3_free(r->aSample);
  r->aSample = 0;
  r->nSample = 0;
  return r->pBlob ? SQLITE_OK : SQLITE_NOMEM;
}

/* Does zSql have the word MATCH (any case, not part of a name such as
** "matches")?  A heuristic: a MATCH inside a string literal or a comment
** counts too. */
static int saysMatch(const char *zSql){
  const char *z;
  for(z=zSql; *z; z++){
    if( sqlite3_strnicmp(z, "match", 5)==0
     && (z==zSql || !(isalnum((unsigned char)z[-1]) || z[-1]=='_'))
     && !(isalnum((unsigned char)z[5]) || z[5]=='_') ){
      return 1;
    }
  }
  return 0;
}

/* The running statement: busy, not in aOurs, a write statement when
** bWrite.  pPrefer (the statement of the open record, compared by address
** only: it may be gone) wins when it is a candidate; otherwise, among
** several, the first whose text names zTable, and for a MATCH (bMatch)
** first one whose text also says MATCH: a MATCH run in the loop of a scan
** of the same table is the MATCH's, not the scan's. */
sqlite3_stmt *dpStatCurrentStmt(sqlite3 *db, sqlite3_stmt *const *aOurs,
                                int nOurs, int bWrite, int bMatch,
                                const char *zTable, sqlite3_stmt *pPrefer){
  sqlite3_stmt *s = 0, *aCand[8];
  int nCand = 0, i;
  while( (s = sqlite3_next_stmt(db, s))!=0 ){
    int bOurs = 0;
    if( !sqlite3_stmt_busy(s) ) continue;
    if( bWrite && sqlite3_stmt_readonly(s) ) continue;
    for(i=0; i<nOurs && !bOurs; i++) bOurs = aOurs[i]==s;
    if( bOurs ) continue;
    if( s==pPrefer ) return s;
    if( nCand<8 ) aCand[nCand++] = s;
  }
  if( nCand<=1 || zTable==0 ) return nCand ? aCand[0] : 0;
  {
    sqlite3_stmt *pNames = 0;
    char *zPat = sqlite3_mprintf("%%%s%%", zTable);
    for(i=0; zPat && i<nCand; i++){
      const char *zSql = sqlite3_sql(aCand[i]);
      if( zSql==0 || sqlite3_strlike(zPat, zSql, 0)!=0 ) continue;
      if( !bMatch || saysMatch(zSql) ){
        pNames = aCand[i];
        break;
      }
      if( pNames==0 ) pNames = aCand[i];
    }
    sqlite3_free(zPat);
    return pNames ? pNames : aCand[0];
  }
}

static const char *kindName(int eKind){
  static const char *const az[] = { "insert", "update", "delete", "query", "dedup" };
  return (eKind>=0 && eKind<5) ? az[eKind] : "other";
}

/* The rows column: documents written for a write, else rows returned. */
static sqlite3_int64 recRows(const DpStatRec *r){
  return r->eKind<=DP_KIND_DELETE ? r->nRows : r->nHits;
}

int dpStatWrite(sqlite3 *db, sqlite3_stmt *pInsert, sqlite3_stmt *pLatency,
                const DpStatRec *r){
  int rc;
  sqlite3_bind_text(pInsert, 1, r->zStarted, -1, SQLITE_STATIC);
  sqlite3_bind_text(pInsert, 2, kindName(r->eKind), -1, SQLITE_STATIC);
  sqlite3_bind_int64(pInsert, 3, recRows(r));
  sqlite3_bind_int64(pInsert, 4, r->aStageNs[DP_STAGE_TOKENIZE]);
  sqlite3_bind_int64(pInsert, 5, r->aStageNs[DP_STAGE_EMBED]);
  sqlite3_bind_int64(pInsert, 6, r->aStageNs[DP_STAGE_SEARCH]);
  sqlite3_bind_int64(pInsert, 7, r->aStageNs[DP_STAGE_STORE]);
  sqlite3_bind_int64(pInsert, 8, r->nLoadNs);
  sqlite3_bind_int64(pInsert, 9, r->nTotalNs);
  sqlite3_bind_int64(pInsert, 10, r->nCpuNs);
  sqlite3_bind_text(pInsert, 11, r->zSql, -1, SQLITE_STATIC);
  sqlite3_step(pInsert);
  rc = sqlite3_reset(pInsert);
  if( rc==SQLITE_OK && r->pBlob ){
    sqlite3_bind_int64(pLatency, 1, sqlite3_last_insert_rowid(db));
    sqlite3_bind_blob(pLatency, 2, r->pBlob, r->nBlob, SQLITE_STATIC);
    sqlite3_step(pLatency);
    rc = sqlite3_reset(pLatency);
  }
  return rc;
}

sqlite3_int64 dpCpuNs(void){
  struct timespec ts;
  if( clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)!=0 ) return 0;
  return (sqlite3_int64)ts.tv_sec*1000000000 + ts.tv_nsec;
}

/* Format version 1 kept each statement's latency blob in a column of
** %_stats, where SELECT * showed it as garbage.  Version 2 keeps it in
** %_latency(id INTEGER PRIMARY KEY, v BLOB), id being the %_stats row's.
** The first write transaction of a version 1 table moves the blobs there,
** drops the column and records version 2 (an older docpipe then refuses
** the table rather than failing to write its statistics). */
int dpStatMigrate(sqlite3 *db, const char *zDb, const char *zName,
                  char **pzErr){
  char *zSql = sqlite3_mprintf(
      "CREATE TABLE IF NOT EXISTS \"%w\".\"%w_latency\"(id INTEGER PRIMARY KEY,"
      " v BLOB);"
      "INSERT OR REPLACE INTO \"%w\".\"%w_latency\"(id, v)"
      " SELECT id, latency FROM \"%w\".\"%w_stats\" WHERE latency IS NOT NULL;"
      "ALTER TABLE \"%w\".\"%w_stats\" DROP COLUMN latency;"
      "ALTER TABLE \"%w\".\"%w_stats\" ADD COLUMN load_ns INTEGER;"
      "ALTER TABLE \"%w\".\"%w_stats\" ADD COLUMN cpu_ns INTEGER;",
      zDb, zName, zDb, zName, zDb, zName, zDb, zName, zDb, zName, zDb, zName);
  int rc;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_exec(db, zSql, 0, 0, pzErr);
  sqlite3_free(zSql);
  return rc;
}

/* Does schema zDb hold a table named zName (any case, as SQLite compares
** table names)?  *pbDocpipe: it is a docpipe virtual table. */
static int schemaHasTable(sqlite3 *db, const char *zDb, const char *zName,
                          int *pbFound){
  char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema"
                               " WHERE type='table' AND name=?1 COLLATE NOCASE",
                               zDb);
  sqlite3_stmt *pStmt = 0;
  int rc;
  *pbFound = 0;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if( rc!=SQLITE_OK ) return rc;
  sqlite3_bind_text(pStmt, 1, zName, -1, SQLITE_STATIC);
  *pbFound = sqlite3_step(pStmt)==SQLITE_ROW;
  return sqlite3_finalize(pStmt);
}

/* dpResolveTable(), with "schema." split off zArg when bSplit. */
static int resolveTable(sqlite3 *db, const char *zArg, int bSplit,
                        char **pzDb, char **pzName){
  sqlite3_stmt *pList = 0;
  const char *zDot = bSplit ? strchr(zArg, '.') : 0;
  int rc, bFound = 0;
  /* the databases in SQLite's search order: temp, main, then attached
  ** (seq 2, 3, ...) in the order attached */
  rc = sqlite3_prepare_v2(db, "SELECT name FROM pragma_database_list"
                          " ORDER BY CASE seq WHEN 1 THEN -1 ELSE seq END",
                          -1, &pList, 0);
  while( rc==SQLITE_OK && !bFound && sqlite3_step(pList)==SQLITE_ROW ){
    const char *zDb = (const char*)sqlite3_column_text(pList, 0);
    const char *zName = zArg;
    if( zDb==0 ) continue;
    if( zDot ){
      /* "schema.name": only that schema */
      if( sqlite3_strnicmp(zArg, zDb, (int)(zDot - zArg))!=0
       || zDb[zDot - zArg]!=0 ){
        continue;
      }
      zName = zDot + 1;
    }
    rc = schemaHasTable(db, zDb, zName, &bFound);
    if( rc==SQLITE_OK && bFound ){
      *pzDb = sqlite3_mprintf("%s", zDb);
      *pzName = sqlite3_mprintf("%s", zName);
      if( *pzDb==0 || *pzName==0 ) rc = SQLITE_NOMEM;
    }
  }
  if( rc==SQLITE_OK ) rc = sqlite3_finalize(pList);
  else sqlite3_finalize(pList);
  return rc;
}

int dpResolveTable(sqlite3 *db, const char *zArg, char **pzDb, char **pzName){
  int rc;
  *pzDb = *pzName = 0;
  rc = resolveTable(db, zArg, 1, pzDb, pzName);
  if( rc==SQLITE_OK && *pzDb==0 && strchr(zArg, '.') ){
    /* no schema of that name: a table whose own name holds a dot */
    rc = resolveTable(db, zArg, 0, pzDb, pzName);
  }
  if( rc!=SQLITE_OK || *pzName==0 ){
    sqlite3_free(*pzDb);
    sqlite3_free(*pzName);
    *pzDb = *pzName = 0;
  }
  return rc;
}

/**************************************************************************
** docpipe_latency(table [, last_n]) — eponymous table-valued function.
*/
typedef struct LatCursor LatCursor;
struct LatCursor {
  sqlite3_vtab_cursor base; /* base class, must be first */
  DpHist *aHist;            /* merged histograms, one per stage */
  int iStage;               /* current row */
};

typedef struct LatVtab LatVtab;
struct LatVtab {
  sqlite3_vtab base;      /* base class, must be first */
  sqlite3 *db;            /* connection */
};

#define LAT_COL_STAGE 0
#define LAT_COL_COUNT 1
#define LAT_COL_MEAN  2
#define LAT_COL_P50   3
#define LAT_COL_P95   4
#define LAT_COL_P99   5
#define LAT_COL_MAX   6
#define LAT_COL_TABLE 7     /* hidden: argument 1 */
#define LAT_COL_LASTN 8     /* hidden: argument 2 */

static int latConnect(sqlite3 *db, void *pAux, int argc,
                      const char *const *argv, sqlite3_vtab **ppVtab,
                      char **pzErr){
  LatVtab *p;
  int rc;
  (void)pAux; (void)argc; (void)argv; (void)pzErr;
  *ppVtab = 0;
  rc = sqlite3_declare_vtab(db, "CREATE TABLE x(stage TEXT, count INTEGER,"
      " mean_ns REAL, p50_ns INTEGER, p95_ns INTEGER, p99_ns INTEGER,"
      " max_ns INTEGER, tbl HIDDEN, last_n HIDDEN)");
  if( rc!=SQLITE_OK ) return rc;
  p = dpMallocZero(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  p->db = db;
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int latBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  (void)pVtab;
  return dpTvfBestIndex(pInfo, LAT_COL_TABLE, 2, 1000.0);
}

static int latOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  LatCursor *p = dpMallocZero(sizeof(*p));
  (void)pVtab;
  if( p==0 ) return SQLITE_NOMEM;
  *ppCur = &p->base;
  return SQLITE_OK;
}

static int latClose(sqlite3_vtab_cursor *pCur){
  sqlite3_free(((LatCursor*)pCur)->aHist);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

static int latError(sqlite3_vtab_cursor *pCur, const char *zFmt, ...){
  va_list ap;
  va_start(ap, zFmt);
  dpVtabErrorV(pCur->pVtab, "docpipe_latency(): ", zFmt, ap);
  va_end(ap);
  return SQLITE_ERROR;
}

static int latFilter(sqlite3_vtab_cursor *pCursor, int idxNum,
                     const char *idxStr, int argc, sqlite3_value **argv){
  LatCursor *pCur = (LatCursor*)pCursor;
  sqlite3 *db = ((LatVtab*)pCursor->pVtab)->db;
  sqlite3_int64 nLast = -1;
  const char *zTable;
  sqlite3_stmt *pStmt = 0;
  char *zSql, *zDb = 0, *zName = 0;
  int rc;
  (void)idxStr; (void)argc;
  pCur->iStage = 0;
  if( pCur->aHist==0 ){
    pCur->aHist = sqlite3_malloc64(sizeof(DpHist)*DP_N_STAGE);
    if( pCur->aHist==0 ) return SQLITE_NOMEM;
  }
  memset(pCur->aHist, 0, sizeof(DpHist)*DP_N_STAGE);
  if( (idxNum & 1)==0 ) return latError(pCursor, "the table name is required");
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT ){
    return latError(pCursor, "the first argument must be a table name");
  }
  zTable = (const char*)sqlite3_value_text(argv[0]);
  if( idxNum & 2 ){
    if( sqlite3_value_numeric_type(argv[1])!=SQLITE_INTEGER
     || sqlite3_value_int64(argv[1])<1 ){
      return latError(pCursor, "last_n must be a positive integer");
    }
    nLast = sqlite3_value_int64(argv[1]);
  }
  rc = dpResolveTable(db, zTable, &zDb, &zName);
  if( rc!=SQLITE_OK ) return rc;
  if( zDb ){
    /* format 2: blobs in %_latency; format 1 (a table not written since
    ** this version, e.g. on a read-only connection): a column of %_stats */
    zSql = sqlite3_mprintf("SELECT l.v FROM (SELECT id FROM \"%w\".\"%w_stats\""
        " ORDER BY id DESC LIMIT %lld) AS s JOIN \"%w\".\"%w_latency\" AS l"
        " ON l.id=s.id", zDb, zName, nLast, zDb, zName);
    if( zSql==0 ) rc = SQLITE_NOMEM;
    else rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
    sqlite3_free(zSql);
    if( rc==SQLITE_ERROR ){
      zSql = sqlite3_mprintf("SELECT latency FROM \"%w\".\"%w_stats\""
                             " ORDER BY id DESC LIMIT %lld", zDb, zName, nLast);
      if( zSql==0 ) rc = SQLITE_NOMEM;
      else rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
      sqlite3_free(zSql);
    }
  }
  sqlite3_free(zDb);
  sqlite3_free(zName);
  if( rc==SQLITE_NOMEM ) return rc;
  if( pStmt==0 ){
    return latError(pCursor, "no docpipe table named '%s' with statistics",
                    zTable);
  }
  while( sqlite3_step(pStmt)==SQLITE_ROW ){
    if( sqlite3_column_type(pStmt, 0)==SQLITE_NULL ) continue;
    if( !dpHistMergeBlob(pCur->aHist, sqlite3_column_blob(pStmt, 0),
                         sqlite3_column_bytes(pStmt, 0)) ){
      sqlite3_finalize(pStmt);
      latError(pCursor, "damaged latency blob in %s_latency", zTable);
      return SQLITE_CORRUPT_VTAB;
    }
  }
  return sqlite3_finalize(pStmt);
}

static int latNext(sqlite3_vtab_cursor *pCur){
  ((LatCursor*)pCur)->iStage++;
  return SQLITE_OK;
}

static int latEof(sqlite3_vtab_cursor *pCur){
  return ((LatCursor*)pCur)->iStage>=DP_N_STAGE;
}

static int latColumn(sqlite3_vtab_cursor *pCursor, sqlite3_context *ctx,
                     int iCol){
  LatCursor *pCur = (LatCursor*)pCursor;
  const DpHist *h = &pCur->aHist[pCur->iStage];
  switch( iCol ){
    case LAT_COL_STAGE:
      sqlite3_result_text(ctx, dpStageName[pCur->iStage], -1, SQLITE_STATIC);
      break;
    case LAT_COL_COUNT: sqlite3_result_int64(ctx, (sqlite3_int64)h->nCount); break;
    case LAT_COL_MEAN:
      if( h->nCount ) sqlite3_result_double(ctx, (double)h->nSum / (double)h->nCount);
      break;
    case LAT_COL_P50: case LAT_COL_P95: case LAT_COL_P99: {
      static const double aQ[] = { 0.50, 0.95, 0.99 };
      if( h->nCount ){
        sqlite3_result_int64(ctx,
            (sqlite3_int64)dpHistQuantile(h, aQ[iCol - LAT_COL_P50]));
      }
      break;
    }
    case LAT_COL_MAX:
      if( h->nCount ) sqlite3_result_int64(ctx, (sqlite3_int64)h->nMax);
      break;
    default: break;
  }
  return SQLITE_OK;
}

static int latRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid){
  *pRowid = ((LatCursor*)pCur)->iStage + 1;
  return SQLITE_OK;
}

static const sqlite3_module latencyModule = {
  .iVersion    = 0,
  .xConnect    = latConnect,
  .xBestIndex  = latBestIndex,
  .xDisconnect = dpTvfDisconnect,
  .xOpen       = latOpen,
  .xClose      = latClose,
  .xFilter     = latFilter,
  .xNext       = latNext,
  .xEof        = latEof,
  .xColumn     = latColumn,
  .xRowid      = latRowid,
};

int dpRegisterStats(sqlite3 *db){
  return sqlite3_create_module(db, "docpipe_latency", &latencyModule, 0);
}

/**************************************************************************
** The statistics of one open table (DpTableStats): its records, the
** brackets around each call of the table, and writing the records with
** the transaction.  vtab.c and dedup.c use these; the tables are
** %_stats and %_latency.
*/
enum {
  TS_STATS_WRITE = 0,   /* INSERT INTO %_stats(...) VALUES(...) */
  TS_STATS_PRUNE,       /* DELETE FROM %_stats WHERE id <= max(id) - ?1 */
  TS_LATENCY_WRITE,     /* INSERT INTO %_latency(id, v) VALUES(?1, ?2) */
  TS_LATENCY_PRUNE,     /* DELETE FROM %_latency WHERE id <= max(id) - ?1 */
  TS_N_STMT
};

static const char *const azStatsShadow[] = { "stats", "latency" };

struct DpTableStats {
  sqlite3 *db;            /* connection */
  DpConn *pConn;          /* what the connection's tables share */
  char *zDb;              /* schema of the table */
  char *zName;            /* its name (changes with RENAME) */
  int bOn;                /* stats=on */
  int nKeep;              /* stats_keep */
  int (*xOurs)(void*, sqlite3_stmt**, int);  /* the table's own statements */
  void *pOursCtx;         /* their argument */
  sqlite3_stmt *aStmt[TS_N_STMT]; /* prepared lazily */
  sqlite3_int64 aStageNs[DP_N_STAGE]; /* the current call's stages */
  sqlite3_int64 nLoadNs;  /* index load of the current call */
  sqlite3_int64 iLastClock; /* last dpTsClock(): each reading is later */
  DpStatRec *pRec;        /* the record of the statement running now */
  DpStatRec *pPending;    /* closed write records of this transaction */
  DpStatRec *pQueries;    /* closed read-only records, for the next write,
                          ** oldest first, at most nKeep of them */
  DpStatRec *pQueryLast;  /* the newest of pQueries */
  int nQueries;           /* records in pQueries */
  int iSeq;               /* records opened so far */
  int *aSvptSeq;          /* iSeq when each savepoint level was opened */
  int nSvpt;              /* entries in aSvptSeq */
};

int dpTsIsShadow(const char *zSuffix){
  size_t i;
  for(i=0; i<sizeof(azStatsShadow)/sizeof(azStatsShadow[0]); i++){
    if( sqlite3_stricmp(zSuffix, azStatsShadow[i])==0 ) return 1;
  }
  return 0;
}

int dpTsCreateTables(sqlite3 *db, const char *zDb, const char *zName,
                     char **pzErr){
  return dpExecf(db, pzErr,
      "CREATE TABLE \"%w\".\"%w_stats\"(id INTEGER PRIMARY KEY, started TEXT,"
      " kind TEXT, rows INTEGER, tokenize_ns INTEGER, embed_ns INTEGER,"
      " search_ns INTEGER, store_ns INTEGER, total_ns INTEGER, sql TEXT,"
      " load_ns INTEGER, cpu_ns INTEGER);"
      "CREATE TABLE \"%w\".\"%w_latency\"(id INTEGER PRIMARY KEY, v BLOB);",
      zDb, zName, zDb, zName);
}

static void tsFinalize(DpTableStats *ts){
  int i;
  for(i=0; i<TS_N_STMT; i++){
    sqlite3_finalize(ts->aStmt[i]);
    ts->aStmt[i] = 0;
  }
}

int dpTsDropTables(DpTableStats *ts){
  int rc = SQLITE_OK;
  size_t i;
  tsFinalize(ts);
  for(i=0; rc==SQLITE_OK && i<sizeof(azStatsShadow)/sizeof(azStatsShadow[0]);
      i++){
    rc = dpExecf(ts->db, 0, "DROP TABLE IF EXISTS \"%w\".\"%w_%s\"",
                 ts->zDb, ts->zName, azStatsShadow[i]);
  }
  return rc;
}

int dpTsRename(DpTableStats *ts, const char *zNew, char **pzErr){
  int rc = SQLITE_OK;
  size_t i;
  char *zNewName;
  tsFinalize(ts);
  for(i=0; rc==SQLITE_OK && i<sizeof(azStatsShadow)/sizeof(azStatsShadow[0]);
      i++){
    rc = dpShadowRename(ts->db, ts->zDb, ts->zName, zNew, azStatsShadow[i],
                        pzErr);
  }
  if( rc!=SQLITE_OK ) return rc;
  zNewName = sqlite3_mprintf("%s", zNew);
  if( zNewName==0 ) return SQLITE_NOMEM;
  sqlite3_free(ts->zName);
  ts->zName = zNewName;
  return SQLITE_OK;
}

int dpTsNew(sqlite3 *db, DpConn *pConn, const char *zDb, const char *zName,
            const DpOptions *pOpt,
            int (*xOurs)(void*, sqlite3_stmt**, int), void *pOursCtx,
            DpTableStats **pp){
  DpTableStats *ts = dpMallocZero(sizeof(*ts));
  *pp = 0;
  if( ts==0 ) return SQLITE_NOMEM;
  ts->db = db;
  ts->pConn = pConn;
  ts->zDb = sqlite3_mprintf("%s", zDb);
  ts->zName = sqlite3_mprintf("%s", zName);
  ts->bOn = pOpt->bStats;
  ts->nKeep = pOpt->nStatsKeep;
  ts->xOurs = xOurs;
  ts->pOursCtx = pOursCtx;
  if( ts->zDb==0 || ts->zName==0 ){
    dpTsFree(ts);
    return SQLITE_NOMEM;
  }
  *pp = ts;
  return SQLITE_OK;
}

static void tsFreeList(DpStatRec **pp){
  while( *pp ){
    DpStatRec *r = *pp;
    *pp = r->pNext;
    dpStatFree(r);
  }
}

/* Drop every record not yet written. */
static void tsForget(DpTableStats *ts){
  dpStatFree(ts->pRec);
  ts->pRec = 0;
  tsFreeList(&ts->pPending);
  tsFreeList(&ts->pQueries);
  ts->pQueryLast = 0;
  ts->nQueries = 0;
}

void dpTsFree(DpTableStats *ts){
  if( ts==0 ) return;
  tsForget(ts);
  tsFinalize(ts);
  sqlite3_free(ts->aSvptSeq);
  sqlite3_free(ts->zDb);
  sqlite3_free(ts->zName);
  sqlite3_free(ts);
}

int dpTsStatements(const DpTableStats *ts, sqlite3_stmt **aOut, int nMax){
  int i, n = 0;
  for(i=0; i<TS_N_STMT && n<nMax; i++){
    if( ts->aStmt[i] ) aOut[n++] = ts->aStmt[i];
  }
  return n;
}

static int tsStmt(DpTableStats *ts, int eStmt, sqlite3_stmt **ppStmt){
  int rc = SQLITE_OK;
  if( ts->aStmt[eStmt]==0 ){
    const char *zDb = ts->zDb, *zName = ts->zName;
    char *zSql = 0;
    switch( eStmt ){
      case TS_STATS_WRITE:
        zSql = sqlite3_mprintf("INSERT INTO \"%w\".\"%w_stats\"(started, kind,"
            " rows, tokenize_ns, embed_ns, search_ns, store_ns, load_ns,"
            " total_ns, cpu_ns, sql) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
            " ?9, ?10, ?11)", zDb, zName);
        break;
      case TS_LATENCY_WRITE:
        zSql = sqlite3_mprintf("INSERT INTO \"%w\".\"%w_latency\"(id, v)"
                               " VALUES(?1, ?2)", zDb, zName);
        break;
      case TS_LATENCY_PRUNE:
        zSql = sqlite3_mprintf("DELETE FROM \"%w\".\"%w_latency\" WHERE id <="
            " (SELECT max(id) FROM \"%w\".\"%w_stats\") - ?1",
            zDb, zName, zDb, zName);
        break;
      case TS_STATS_PRUNE:
        zSql = sqlite3_mprintf("DELETE FROM \"%w\".\"%w_stats\" WHERE id <="
            " (SELECT max(id) FROM \"%w\".\"%w_stats\") - ?1",
            zDb, zName, zDb, zName);
        break;
    }
    if( zSql==0 ){
      rc = SQLITE_NOMEM;
    }else{
      rc = sqlite3_prepare_v3(ts->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                              &ts->aStmt[eStmt], 0);
    }
    sqlite3_free(zSql);
  }
  *ppStmt = ts->aStmt[eStmt];
  return rc;
}

sqlite3_int64 dpTsClock(DpTableStats *ts){
  sqlite3_int64 t;
  if( !ts->bOn ) return 0;
  t = dpNowNs();
  if( t<=ts->iLastClock ) t = ts->iLastClock + 1;
  ts->iLastClock = t;
  return t;
}

sqlite3_int64 *dpTsStages(DpTableStats *ts){
  return ts->bOn ? ts->aStageNs : 0;
}

void dpTsAddStage(DpTableStats *ts, int iStage, sqlite3_int64 t0){
  if( ts->bOn ) ts->aStageNs[iStage] += dpTsClock(ts) - t0;
}

void dpTsAddLoad(DpTableStats *ts, sqlite3_int64 t0){
  if( ts->bOn ) ts->nLoadNs += dpTsClock(ts) - t0;
}

/* Close the open record: pack it and queue it for writing (dropped when
** the statement failed inside docpipe).  Read-only records wait for a
** write transaction that may never come (a read-only connection): only
** the newest stats_keep of them are kept, as only those could be
** written (dpTsFlush keeps the newest stats_keep of all records). */
static void tsClose(DpTableStats *ts){
  DpStatRec *r = ts->pRec;
  if( r==0 ) return;
  ts->pRec = 0;
  if( r->bFailed || dpStatClose(r)!=SQLITE_OK ){
    dpStatFree(r);
    return;
  }
  if( r->eKind==DP_KIND_QUERY || r->eKind==DP_KIND_DEDUP ){
    r->pNext = 0;
    if( ts->pQueryLast ) ts->pQueryLast->pNext = r;
    else ts->pQueries = r;
    ts->pQueryLast = r;
    if( ++ts->nQueries > ts->nKeep ){
      DpStatRec *pOld = ts->pQueries;
      ts->pQueries = pOld->pNext;
      ts->nQueries--;
      dpStatFree(pOld);
    }
  }else{
    r->pNext = ts->pPending;
    ts->pPending = r;
  }
}

/* The record of the statement running now, opened when it is a new
** execution; NULL when statistics are off (or there is no memory). */
static DpStatRec *tsRecord(DpTableStats *ts, int eKind){
  sqlite3_stmt *aOurs[128];
  sqlite3_stmt *pStmt;
  int nOurs, bNoChanges, bNoSvpt;
  if( !ts->bOn ) return 0;
  nOurs = dpTsStatements(ts, aOurs, 128);
  nOurs += ts->xOurs(ts->pOursCtx, &aOurs[nOurs], 128-nOurs);
  pStmt = dpStatCurrentStmt(ts->db, aOurs, nOurs, eKind<=DP_KIND_DELETE,
                            eKind==DP_KIND_QUERY, ts->zName,
                            ts->pRec ? ts->pRec->pStmt : 0);
  /* what has happened since docpipe last returned to SQLite */
  bNoChanges = sqlite3_total_changes64(ts->db)==ts->pConn->nChangeMark;
  bNoSvpt = ts->pConn->nSvpt==ts->pConn->nSvptMark;
  if( ts->pRec && dpStatSame(ts->pRec, pStmt, bNoChanges, bNoSvpt) ){
    /* a write joins a record opened by its MATCH: the statement's kind */
    if( eKind<=DP_KIND_DELETE && ts->pRec->eKind>DP_KIND_DELETE ){
      ts->pRec->eKind = eKind;
    }
    return ts->pRec;
  }
  tsClose(ts);
  ts->pRec = dpStatOpen(pStmt, eKind);
  if( ts->pRec ) ts->pRec->iSeq = ++ts->iSeq;
  return ts->pRec;
}

void dpTsBegin(DpTableStats *ts, int eKind, DpStatCall *pCall){
  DpStatRec *r = eKind>=0 ? tsRecord(ts, eKind) : 0;
  /* A nested statement that fails can make SQLite roll back (xRollback
  ** frees the record): the record is found again at the end by its
  ** number. */
  pCall->iSeq = r ? r->iSeq : 0;
  memset(ts->aStageNs, 0, sizeof(ts->aStageNs));
  ts->nLoadNs = 0;
  pCall->t0 = dpTsClock(ts);
  pCall->tCpu = r ? dpCpuNs() : 0;
}

void dpTsAttachCursor(DpTableStats *ts, const DpStatCall *pCall,
                      int *piCursorSeq){
  if( pCall->iSeq && ts->pRec && ts->pRec->iSeq==pCall->iSeq
   && *piCursorSeq!=pCall->iSeq ){
    *piCursorSeq = pCall->iSeq;     /* the record ends with its cursors */
    ts->pRec->nCursor++;
  }
}

void dpTsEnd(DpTableStats *ts, const DpStatCall *pCall, int rc,
             sqlite3_int64 nRows, sqlite3_int64 nHits){
  DpStatRec *r = (pCall->iSeq && ts->pRec && ts->pRec->iSeq==pCall->iSeq)
               ? ts->pRec : 0;
  if( r ){
    if( rc==SQLITE_OK ){
      dpStatDocument(r, ts->aStageNs);
      r->nRows += nRows;
      r->nHits += nHits;
      r->nLoadNs += ts->nLoadNs;
      r->nTotalNs += dpTsClock(ts) - pCall->t0;
      r->nCpuNs += dpCpuNs() - pCall->tCpu;
    }else{
      r->bFailed = 1;      /* the statement fails: it leaves no record */
    }
  }
  /* docpipe returns to SQLite: what happens from now on is not its own */
  ts->pConn->nChangeMark = sqlite3_total_changes64(ts->db);
  ts->pConn->nSvptMark = ts->pConn->nSvpt;
}

void dpTsCursorClosed(DpTableStats *ts, int *piCursorSeq){
  DpStatRec *r = ts->pRec;
  if( r && *piCursorSeq==r->iSeq && --r->nCursor==0
   && r->eKind>DP_KIND_DELETE ){
    tsClose(ts);
  }
  *piCursorSeq = 0;
}

void dpTsRecordDedup(DpTableStats *ts, sqlite3_int64 nRows,
                     sqlite3_int64 nSearchNs, sqlite3_int64 nTotalNs,
                     sqlite3_int64 nCpuNs){
  DpStatRec *r = tsRecord(ts, DP_KIND_DEDUP);
  if( r ){
    sqlite3_int64 aStage[DP_N_STAGE] = { 0, 0, 0, 0 };
    aStage[DP_STAGE_SEARCH] = nSearchNs>0 ? nSearchNs : 1;
    dpStatDocument(r, aStage);
    r->nHits += nRows;
    r->nTotalNs += nTotalNs;
    r->nCpuNs += nCpuNs;
    /* a run of its own is complete: it has no cursor of this table */
    if( r->eKind==DP_KIND_DEDUP && r->nCursor==0 ) tsClose(ts);
  }
}

/* Drop write records opened at or after sequence number iSeq (all of them
** for 0): their statements were rolled back. */
static void tsDiscardFrom(DpTableStats *ts, int iSeq){
  DpStatRec **pp = &ts->pPending;
  if( ts->pRec && ts->pRec->eKind<=DP_KIND_DELETE && ts->pRec->iSeq>=iSeq ){
    dpStatFree(ts->pRec);
    ts->pRec = 0;
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

void dpTsCommit(DpTableStats *ts){ ts->nSvpt = 0; }

void dpTsRollback(DpTableStats *ts){
  tsDiscardFrom(ts, 0);
  ts->nSvpt = 0;
}

int dpTsSavepoint(DpTableStats *ts, int iSavepoint){
  ts->pConn->nSvpt++;          /* a statement may begin */
  if( iSavepoint<0 ) return SQLITE_OK;
  if( iSavepoint>=ts->nSvpt ){
    int i;
    int *aNew = sqlite3_realloc64(ts->aSvptSeq, sizeof(int)*(iSavepoint+1));
    if( aNew==0 ) return SQLITE_NOMEM;
    ts->aSvptSeq = aNew;
    /* A table that joins the transaction inside savepoints is told of the
    ** innermost only (sqlite3VtabBegin), yet ROLLBACK TO an outer one
    ** reaches it: the outer levels began before any record of this
    ** transaction (a write record means the table had joined). */
    for(i=ts->nSvpt; i<iSavepoint; i++) ts->aSvptSeq[i] = ts->iSeq + 1;
  }
  /* records opened from now on belong to this savepoint */
  ts->aSvptSeq[iSavepoint] = ts->iSeq + 1;
  ts->nSvpt = iSavepoint + 1;
  return SQLITE_OK;
}

void dpTsRelease(DpTableStats *ts){
  ts->pConn->nSvpt++;          /* a statement may end */
}

/* ROLLBACK TO savepoint iSavepoint; -1 when it is the SAVEPOINT that
** began the transaction (SQLite does not count that one in its savepoint
** levels): the whole transaction is undone, and stays open. */
void dpTsRollbackTo(DpTableStats *ts, int iSavepoint){
  ts->pConn->nSvpt++;
  if( iSavepoint<0 ){
    tsDiscardFrom(ts, 0);
    ts->nSvpt = 0;
  }else if( iSavepoint<ts->nSvpt ){
    tsDiscardFrom(ts, ts->aSvptSeq[iSavepoint]);
  }
}

static int cmpRecSeq(const void *a, const void *b){
  const DpStatRec *x = *(DpStatRec*const*)a, *y = *(DpStatRec*const*)b;
  return (x->iSeq > y->iSeq) - (x->iSeq < y->iSeq);
}

/* Run a prune statement with ?1 = stats_keep. */
static int tsPrune(DpTableStats *ts, int eStmt){
  sqlite3_stmt *pPrune;
  int rc = tsStmt(ts, eStmt, &pPrune);
  if( rc==SQLITE_OK ){
    sqlite3_bind_int(pPrune, 1, ts->nKeep);
    sqlite3_step(pPrune);
    rc = sqlite3_reset(pPrune);
  }
  return rc;
}

int dpTsPending(DpTableStats *ts){
  tsClose(ts);
  return ts->pPending!=0 || ts->pQueries!=0;
}

int dpTsFlush(DpTableStats *ts, char **pzErr){
  DpStatRec **aRec = 0, *r;
  sqlite3_stmt *pWrite = 0, *pLatency = 0;
  int n = 0, i, rc = SQLITE_OK, iFirst;
  /* the application's last_insert_rowid() is its INSERT's, not ours */
  const sqlite3_int64 iLastRowid = sqlite3_last_insert_rowid(ts->db);
  tsClose(ts);
  for(r=ts->pPending; r; r=r->pNext) n++;
  for(r=ts->pQueries; r; r=r->pNext) n++;
  if( n==0 ) return SQLITE_OK;
  aRec = sqlite3_malloc64(sizeof(DpStatRec*)*(sqlite3_int64)n);
  if( aRec==0 ) return SQLITE_NOMEM;
  n = 0;
  for(r=ts->pPending; r; r=r->pNext) aRec[n++] = r;
  for(r=ts->pQueries; r; r=r->pNext) aRec[n++] = r;
  qsort(aRec, (size_t)n, sizeof(DpStatRec*), cmpRecSeq);
  /* older ones would be pruned at once */
  iFirst = n > ts->nKeep ? n - ts->nKeep : 0;
  rc = tsStmt(ts, TS_STATS_WRITE, &pWrite);
  if( rc==SQLITE_OK ) rc = tsStmt(ts, TS_LATENCY_WRITE, &pLatency);
  for(i=iFirst; rc==SQLITE_OK && i<n; i++){
    rc = dpStatWrite(ts->db, pWrite, pLatency, aRec[i]);
  }
  sqlite3_free(aRec);
  tsForget(ts);
  if( rc==SQLITE_OK ) rc = tsPrune(ts, TS_LATENCY_PRUNE);
  if( rc==SQLITE_OK ) rc = tsPrune(ts, TS_STATS_PRUNE);
  sqlite3_set_last_insert_rowid(ts->db, iLastRowid);
  if( rc!=SQLITE_OK ){
    *pzErr = sqlite3_mprintf("writing %s_stats failed: %s", ts->zName,
                             sqlite3_errmsg(ts->db));
  }
  return rc;
}

int dpTsReset(DpTableStats *ts, int iFormat, char **pzErr){
  tsForget(ts);
  return dpExecf(ts->db, pzErr, "DELETE FROM \"%w\".\"%w_stats\";"
                 "DELETE FROM \"%w\".\"%w_%s\"", ts->zDb, ts->zName, ts->zDb,
                 ts->zName, iFormat==1 ? "stats" : "latency");
}
