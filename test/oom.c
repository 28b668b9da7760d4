/*
** oom.c — out-of-memory at every allocation of a script of docpipe
** operations: every failure must surface as an error (never a crash), and
** afterwards the database must pass PRAGMA integrity_check and docpipe's
** integrity-check.  Run under AddressSanitizer (make asan), leaks are
** reported too.
**
** How: SQLite's allocator is wrapped (SQLITE_CONFIG_MALLOC) so that
** allocation number N and every one after it fail, for N = 1, 2, 3, ...
** until the script runs to its end without reaching N.  Each N is one test.
*/
#include "docpipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sqlite3_mem_methods realMem;
static int nCountdown = -1;     /* allocations left before failures; -1 off */
static int bFailed = 0;         /* a failure was injected in this run */

static int failNow(void){
  if( nCountdown<0 ) return 0;
  if( nCountdown==0 ){ bFailed = 1; return 1; }
  nCountdown--;
  return 0;
}
static void *faultMalloc(int n){ return failNow() ? 0 : realMem.xMalloc(n); }
static void *faultRealloc(void *p, int n){
  return failNow() ? 0 : realMem.xRealloc(p, n);
}
static void faultFree(void *p){ realMem.xFree(p); }
static int faultSize(void *p){ return realMem.xSize(p); }
static int faultRoundup(int n){ return realMem.xRoundup(n); }
static int faultInit(void *p){ return realMem.xInit(p); }
static void faultShutdown(void *p){ realMem.xShutdown(p); }

static const char *azScript[] = {
  "CREATE VIRTUAL TABLE d USING docpipe(dim=64, threshold=0.7, title TEXT)",
  "INSERT INTO d(body, title) VALUES ('In the beginning God created the heaven and the earth', 'a')",
  "INSERT INTO d(body, title) VALUES ('In the beginning God created the heaven and the earth!', 'b'),"
  " ('Call me Ishmael. Some years ago, never mind how long precisely', 'c'),"
  " ('東京タワーに行く 한국어 문장 ภาษาไทย', 'd'), ('', 'e')",
  "SELECT rowid, score FROM d WHERE d MATCH 'God created the heaven' AND k = 3 AND title <> 'x'",
  "SELECT count(*) FROM dedup_index('d')",
  "SELECT count(*) FROM dedup_index('SELECT rowid, embedding FROM d', 0.5, 'pairs')",
  "SELECT count(*) FROM dedup_index('d', 0.5, 'clusters', 'last')",
  "UPDATE d SET body = 'a completely new body of text for this row' WHERE rowid = 2",
  "UPDATE d SET title = 'renamed' WHERE rowid = 3",
  "DELETE FROM d WHERE rowid = 1",
  "BEGIN; INSERT INTO d(body) VALUES ('inside a transaction'); SAVEPOINT s;"
  " INSERT INTO d(body) VALUES ('undone'); ROLLBACK TO s; COMMIT",
  "INSERT INTO d(d) VALUES ('integrity-check')",
  "INSERT INTO d(d) VALUES ('rebuild')",
  "SELECT * FROM docpipe_latency('d')",
  "SELECT cosine(embed('a b c d e f'), embed('a b c d e g')), cosine('[1,2]', '[2,1]')",
  "SELECT count(*) FROM tokenize('Hello wide world, again and again', 'tokenize=shingle 2')",
};

/* The same for a set-kind table. */
static const char *azSetScript[] = {
  "CREATE VIRTUAL TABLE d USING docpipe(measure='jaccard', tokenize='shingle 2', title TEXT)",
  "INSERT INTO d(body, title) VALUES ('In the beginning God created the heaven and the earth', 'a')",
  "INSERT INTO d(body, title) VALUES ('In the beginning God created the heaven and the earth!', 'b'),"
  " ('Call me Ishmael. Some years ago, never mind how long precisely', 'c'),"
  " ('東京タワーに行く 한국어 문장 ภาษาไทย', 'd'), ('', 'e'),"
  /* tokens that normalize='nfkc' rewrites: NFD marks, case, a ligature,
  ** U+FDFA (one letter, 18 code points in NFKC: the buffers grow) */
  " ('Le re\xcc\x81sume\xcc\x81 STRA\xc3\x9f \xef\xac\x83 \xef\xb7\xba \xef\xb7\xba', 'f')",
  /* bodies of 64 bytes and more are stored as zstd frames (body.c): packed,
  ** unpacked through the cursor, docpipe_body() in a filter and length() */
  "INSERT INTO d(body, title) VALUES ('the long body of a document, long enough"
  " to be packed, the long body of a document, long enough to be packed', 'g'),"
  " ('the long body of a document, long enough to be packed, the long body of"
  " a document, long enough to be packed again', 'h')",
  "SELECT rowid, length(body) FROM d WHERE d MATCH 'the long body of a document'"
  " AND body LIKE '%again%'",
  "SELECT rowid FROM d WHERE body LIKE '%packed%' ORDER BY length(body)",
  "UPDATE d SET body = body || ' and more' WHERE title = 'g'",
  "SELECT rowid, score FROM d WHERE d MATCH 'God created the heaven' AND k = 3 AND title <> 'x'",
  "SELECT rowid, length(embedding) FROM d",
  "UPDATE d SET body = 'a completely new body of text for this row' WHERE rowid = 2",
  "UPDATE d SET title = 'renamed' WHERE rowid = 3",
  "DELETE FROM d WHERE rowid = 1",
  "BEGIN; INSERT INTO d(body) VALUES ('inside a transaction'); SAVEPOINT s;"
  " INSERT INTO d(body) VALUES ('undone'); ROLLBACK TO s; COMMIT",
  "INSERT INTO d(d) VALUES ('integrity-check')",
  "INSERT INTO d(d) VALUES ('rebuild')",
  "INSERT INTO d(d) VALUES ('merge')",
  "INSERT INTO d(d) VALUES ('optimize')",
  "SELECT count(*) FROM dedup_index('d')",
  "SELECT count(*) FROM dedup_index('d', 0.3, 'pairs')",
  "SELECT count(*) FROM dedup_index('d', 0.3, 'clusters', 'longest')",
  "SELECT set_similarity('a b c d e f', shingle_set('a b c d e g'), 'cosine')",
};

/* A set table that stores its sets (sets='stored', every table made
** before build c8097b5 of 2026-12-01): its own paths of adding, verifying, loading and
** checking sets. */
static const char *azStoredScript[] = {
  "CREATE VIRTUAL TABLE d USING docpipe(measure='cosine', tokenize='shingle 2', sets='stored')",
  "INSERT INTO d(body) VALUES ('In the beginning God created the heaven and the earth'),"
  " ('In the beginning God created the heaven and the earth!'), ('Call me Ishmael')",
  "SELECT rowid, score FROM d WHERE d MATCH 'God created the heaven' AND k = 3",
  "UPDATE d SET body = 'In the beginning God made the heaven' WHERE rowid = 3",
  "INSERT INTO d(d) VALUES ('integrity-check')",
  "SELECT count(*) FROM dedup_index('d', 0.3, 'pairs')",
};

/* Run script az[0..n) on test database zDb; returns 1 if every statement
** ran. */
static int runScript(const char *zDb, const char *const *azScript, size_t n){
  sqlite3 *db = 0;
  size_t i;
  int bAll = 1;
  if( sqlite3_open(zDb, &db)!=SQLITE_OK ){
    sqlite3_close(db);
    return 0;
  }
  if( sqlite3_docpipe_init(db, 0, 0)!=SQLITE_OK ){
    sqlite3_close(db);
    return 0;
  }
  for(i=0; i<n; i++){
    if( sqlite3_exec(db, azScript[i], 0, 0, 0)!=SQLITE_OK ){
      bAll = 0;
      sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
    }
  }
  sqlite3_close(db);
  /* reopen: the table is connected again and its index rebuilt */
  db = 0;
  if( sqlite3_open(zDb, &db)!=SQLITE_OK || sqlite3_docpipe_init(db, 0, 0) ){
    sqlite3_close(db);
    return 0;
  }
  if( sqlite3_exec(db, "INSERT INTO d(body) VALUES ('after reopening: Call me"
                   " Ishmael. Some years ago')", 0, 0, 0)!=SQLITE_OK ) bAll = 0;
  if( sqlite3_exec(db, "SELECT rowid FROM d WHERE d MATCH 'Call me Ishmael'",
                   0, 0, 0)!=SQLITE_OK ) bAll = 0;
  sqlite3_close(db);
  return bAll;
}

/* With allocations working: the database is sound. */
static int checkDb(const char *zDb, char *zWhy, int nWhy){
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  int bOk = 1;
  char *zErr = 0;
  zWhy[0] = 0;
  if( sqlite3_open(zDb, &db)!=SQLITE_OK || sqlite3_docpipe_init(db, 0, 0) ){
    snprintf(zWhy, nWhy, "cannot reopen");
    sqlite3_close(db);
    return 0;
  }
  if( sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW
   && strcmp((const char*)sqlite3_column_text(pStmt, 0), "ok")!=0 ){
    snprintf(zWhy, nWhy, "integrity_check: %s", sqlite3_column_text(pStmt, 0));
    bOk = 0;
  }
  sqlite3_finalize(pStmt);
  /* the table exists unless its CREATE failed */
  if( bOk && sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE name='d'",
                                -1, &pStmt, 0)==SQLITE_OK
      && sqlite3_step(pStmt)==SQLITE_ROW ){
    sqlite3_finalize(pStmt);
    pStmt = 0;
    if( sqlite3_exec(db, "INSERT INTO d(d) VALUES ('integrity-check')", 0, 0,
                     &zErr)!=SQLITE_OK ){
      snprintf(zWhy, nWhy, "docpipe integrity-check: %s", zErr ? zErr : "?");
      bOk = 0;
    }
    sqlite3_free(zErr);
  }
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  return bOk;
}

int main(void){
  static const struct { const char *const *az; size_t n; } aScript[] = {
    { azScript, sizeof(azScript)/sizeof(azScript[0]) },
    { azSetScript, sizeof(azSetScript)/sizeof(azSetScript[0]) },
    { azStoredScript, sizeof(azStoredScript)/sizeof(azStoredScript[0]) },
  };
  sqlite3_mem_methods faultMem;
  char zDb[64], zWhy[256];
  int n = 0, nTotal = 0, nPass = 0, nFail = 0;
  size_t iScript;
  snprintf(zDb, sizeof zDb, "/tmp/docpipe-oom-%d.db", (int)getpid());
  sqlite3_config(SQLITE_CONFIG_GETMALLOC, &realMem);
  faultMem = realMem;
  faultMem.xMalloc = faultMalloc;
  faultMem.xRealloc = faultRealloc;
  faultMem.xFree = faultFree;
  faultMem.xSize = faultSize;
  faultMem.xRoundup = faultRoundup;
  faultMem.xInit = faultInit;
  faultMem.xShutdown = faultShutdown;
  /* no lookaside: every allocation goes through the wrapper */
  sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0);
  sqlite3_config(SQLITE_CONFIG_MALLOC, &faultMem);
  sqlite3_initialize();
  for(iScript=0; iScript<sizeof(aScript)/sizeof(aScript[0]); iScript++){
    for(n=0; ; n++){
      int bAll;
      remove(zDb);
      bFailed = 0;
      nCountdown = n;
      bAll = runScript(zDb, aScript[iScript].az, aScript[iScript].n);
      nCountdown = -1;
      if( !bFailed ){
        if( !bAll ){
          nFail++;
          printf("! script %d fails without faults\n", (int)iScript+1);
        }
        break;
      }
      if( checkDb(zDb, zWhy, sizeof zWhy) ){
        nPass++;
      }else{
        nFail++;
        printf("! script %d, failure at allocation %d: %s\n", (int)iScript+1,
               n+1, zWhy);
      }
    }
    nTotal += n;
  }
  remove(zDb);
  printf("%d allocation failure points exercised\n", nTotal);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail ? 1 : 0;
}
