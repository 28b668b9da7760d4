/*
** fuzz_sql.c — libFuzzer harness for argument handling and for a docpipe
** table whose shadow tables hold arbitrary content.
**
** The input is split at '\n' into fields.  Field 0 picks what to do:
**   a: cosine(f1, f2) with f1/f2 as blobs, and as text (JSON)
**   b: embed(f1, f2) and tokenize(f1, f2)
**   c: CREATE VIRTUAL TABLE t USING docpipe(f1) — f1's ',' separate args
**   d: dedup_index(f1, f2, f3, f4) with f1 as given (only SELECTs run)
**   e: a docpipe table with 3 documents, then f1..f4 written into its
**      shadow tables (config value, vector blob, docs body/decision,
**      stats latency blob), then reopened and used: SELECT, MATCH, INSERT,
**      UPDATE, integrity-check, dedup_index, docpipe_latency.
** Errors are expected; crashes, sanitizer reports and leaks are not.
*/
#include "docpipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXF 6

static void run(sqlite3 *db, const char *zSql, const char **az, const int *an,
                int nArg, int bBlob){
  sqlite3_stmt *p = 0;
  int i;
  if( sqlite3_prepare_v2(db, zSql, -1, &p, 0)!=SQLITE_OK ) return;
  for(i=0; i<nArg; i++){
    if( bBlob & (1<<i) ) sqlite3_bind_blob(p, i+1, az[i], an[i], SQLITE_STATIC);
    else sqlite3_bind_text(p, i+1, az[i], an[i], SQLITE_STATIC);
  }
  while( sqlite3_step(p)==SQLITE_ROW ){}
  sqlite3_finalize(p);
}

static sqlite3 *openDb(const char *zName){
  sqlite3 *db = 0;
  sqlite3_open_v2(zName, &db, SQLITE_OPEN_READWRITE|SQLITE_OPEN_CREATE
                  |SQLITE_OPEN_URI, 0);
  sqlite3_docpipe_init(db, 0, 0);
  return db;
}

int LLVMFuzzerTestOneInput(const unsigned char *aData, size_t nData){
  const char *az[MAXF];
  int an[MAXF], nF = 0, i;
  char *zBuf;
  sqlite3 *db;
  const char *zDb = "file:fuzzdb?mode=memory&cache=shared";
  if( nData>20000 ) return 0;
  zBuf = malloc(nData+1);
  memcpy(zBuf, aData, nData);
  zBuf[nData] = 0;
  az[0] = zBuf;
  for(i=0; i<(int)nData && nF<MAXF; i++){
    if( zBuf[i]=='\n' ){
      an[nF] = (int)(&zBuf[i] - az[nF]);
      nF++;
      if( nF<MAXF ) az[nF] = &zBuf[i+1];
    }
  }
  if( nF<MAXF ){ an[nF] = (int)(zBuf + nData - az[nF]); nF++; }
  for(i=nF; i<MAXF; i++){ az[i] = ""; an[i] = 0; }
  db = openDb(zDb);
  switch( an[0]>0 ? az[0][0] : 'a' ){
    case 'a':
      run(db, "SELECT cosine(?1, ?2)", az+1, an+1, 2, 3);
      run(db, "SELECT cosine(?1, ?2)", az+1, an+1, 2, 0);
      run(db, "SELECT cosine(?1, ?2)", az+1, an+1, 2, 1);
      break;
    case 'b':
      run(db, "SELECT embed(?1, ?2)", az+1, an+1, 2, 0);
      run(db, "SELECT * FROM tokenize(?1, ?2)", az+1, an+1, 2, 0);
      run(db, "SELECT embed(?1)", az+1, an+1, 1, 0);
      break;
    case 'c': {
      char *zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING docpipe(%.*s)",
                                   an[1], az[1]);
      sqlite3_exec(db, zSql, 0, 0, 0);
      sqlite3_free(zSql);
      sqlite3_exec(db, "INSERT INTO t(body) VALUES ('a b c d e f'), ('a b c d e g')", 0, 0, 0);
      sqlite3_exec(db, "SELECT * FROM t WHERE t MATCH 'a b c'", 0, 0, 0);
      sqlite3_exec(db, "DROP TABLE t", 0, 0, 0);
      break;
    }
    case 'd':
      sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS v(id INTEGER PRIMARY KEY, e BLOB);"
                   "INSERT INTO v(e) VALUES (embed('one two three four five six', 'dim=16')),"
                   " (embed('one two three four five seven', 'dim=16'))", 0, 0, 0);
      run(db, "SELECT * FROM dedup_index(?1, ?2, ?3, ?4)", az+1, an+1, 4, 0);
      run(db, "SELECT * FROM dedup_index('SELECT id, e FROM v', ?1, ?2, ?3)", az+2, an+2, 3, 0);
      sqlite3_exec(db, "DROP TABLE v", 0, 0, 0);
      break;
    default: {
      sqlite3 *db2;
      sqlite3_exec(db, "CREATE VIRTUAL TABLE s USING docpipe(dim=16, title TEXT);"
                   "INSERT INTO s(body, title) VALUES ('one two three four five six', 'a'),"
                   " ('one two three four five seven', 'b'), ('', 'c');"
                   "UPDATE s SET title = 'x' WHERE rowid = 2", 0, 0, 0);
      run(db, "UPDATE s_config SET v = ?1 WHERE k = (SELECT k FROM s_config"
              " ORDER BY k LIMIT 1 OFFSET length(?2) % 9)", az+1, an+1, 2, 0);
      run(db, "UPDATE s_vectors SET v = ?1 WHERE id = 1 + length(?2) % 3", az+2, an+2, 2, 1);
      run(db, "UPDATE s_docs SET body = ?1, is_duplicate = length(?1) % 3,"
              " duplicate_of = length(?2) % 5 WHERE id = 2", az+3, an+3, 2, 0);
      run(db, "UPDATE s_latency SET v = ?1", az+5, an+5, 1, 1);
      /* a second connection opens the damaged table from scratch */
      db2 = openDb(zDb);
      sqlite3_exec(db2, "SELECT * FROM s", 0, 0, 0);
      sqlite3_exec(db2, "SELECT rowid, score FROM s WHERE s MATCH 'one two three' AND k = 2", 0, 0, 0);
      sqlite3_exec(db2, "INSERT INTO s(body) VALUES ('one two three four five eight')", 0, 0, 0);
      sqlite3_exec(db2, "UPDATE s SET body = 'changed' WHERE rowid = 1", 0, 0, 0);
      sqlite3_exec(db2, "INSERT INTO s(s) VALUES ('integrity-check')", 0, 0, 0);
      sqlite3_exec(db2, "SELECT * FROM dedup_index('s')", 0, 0, 0);
      sqlite3_exec(db2, "SELECT * FROM docpipe_latency('s')", 0, 0, 0);
      sqlite3_exec(db2, "DELETE FROM s", 0, 0, 0);
      sqlite3_close(db2);
      sqlite3_exec(db, "DROP TABLE s", 0, 0, 0);
      break;
    }
  }
  sqlite3_close(db);
  free(zBuf);
  return 0;
}
