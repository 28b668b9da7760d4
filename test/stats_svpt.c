/*
** stats_svpt.c — a docpipe table first written inside nested savepoints.
**
** SQLite tells a virtual table that joins a transaction inside savepoints
** of the innermost savepoint only (sqlite3VtabBegin), yet ROLLBACK TO an
** outer one reaches the table too.  The statement it undoes must leave no
** %_stats row, whatever the level rolled back to.
**
** Every allocation is filled with 0x7f bytes before SQLite or docpipe sees
** it, so memory read before it is written holds a large number, the same
** on every run (a plain run would mostly read zeros and pass by luck).
*/
#include "docpipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nPass = 0, nFail = 0;

static void check(const char *zWhat, int bOk){
  if( bOk ) nPass++; else { nFail++; printf("! %s\n", zWhat); }
}

/* SQLite's allocator, new bytes filled with 0x7f. */
static sqlite3_mem_methods defaultMem;
static void *poisonMalloc(int n){
  void *p = defaultMem.xMalloc(n);
  if( p ) memset(p, 0x7f, (size_t)n);
  return p;
}
static void *poisonRealloc(void *pOld, int n){
  int nOld = pOld ? defaultMem.xSize(pOld) : 0;
  char *p = defaultMem.xRealloc(pOld, n);
  if( p && n>nOld ) memset(p + nOld, 0x7f, (size_t)(n - nOld));
  return p;
}

static int exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  int rc = sqlite3_exec(db, zSql, 0, 0, &zErr);
  if( rc!=SQLITE_OK ){
    printf("! %s: %s\n", zSql, zErr);
    nFail++;
  }
  sqlite3_free(zErr);
  return rc;
}

static sqlite3_int64 one(sqlite3 *db, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  sqlite3_int64 v = -1;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    v = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return v;
}

int main(void){
  static const char *const azTo[] = { "a", "b", "c", "d", "e" };
  sqlite3 *db = 0;
  sqlite3_mem_methods m;
  size_t i;
  sqlite3_config(SQLITE_CONFIG_GETMALLOC, &defaultMem);
  m = defaultMem;
  m.xMalloc = poisonMalloc;
  m.xRealloc = poisonRealloc;
  sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
  if( sqlite3_open(":memory:", &db)!=SQLITE_OK
   || sqlite3_docpipe_init(db, 0, 0)!=SQLITE_OK ){
    printf("! cannot open a database with docpipe\n");
    return 1;
  }
  exec(db, "CREATE TABLE plain(x)");
  /* a new table for each level: its first transaction is the one that
  ** joins inside the savepoints */
  for(i=0; i<sizeof(azTo)/sizeof(azTo[0]); i++){
    char *zSql = sqlite3_mprintf(
        "CREATE VIRTUAL TABLE sv_%s USING docpipe(dim=64);"
        "BEGIN;"
        "  INSERT INTO plain VALUES (1);"
        "  SAVEPOINT a; SAVEPOINT b; SAVEPOINT c; SAVEPOINT d; SAVEPOINT e;"
        "    INSERT INTO sv_%s(body) VALUES ('undone');"
        "  ROLLBACK TO %s;"
        "  INSERT INTO sv_%s(body) VALUES ('kept');"
        "COMMIT;", azTo[i], azTo[i], azTo[i], azTo[i]);
    char *zCount = sqlite3_mprintf(
        "SELECT (SELECT count(*) FROM sv_%s WHERE body = 'undone')"
        " + 10 * (SELECT count(*) FROM sv_%s_stats WHERE sql LIKE '%%undone%%')"
        " + 100 * (SELECT count(*) FROM sv_%s_stats WHERE sql LIKE '%%kept%%')",
        azTo[i], azTo[i], azTo[i]);
    char zWhat[100];
    snprintf(zWhat, sizeof zWhat, "ROLLBACK TO %s: the undone INSERT leaves"
             " no row, the next one does", azTo[i]);
    if( zSql && zCount && exec(db, zSql)==SQLITE_OK ){
      check(zWhat, one(db, zCount)==100);
    }else{
      check(zWhat, 0);
    }
    sqlite3_free(zSql);
    sqlite3_free(zCount);
  }
  sqlite3_close(db);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail ? 1 : 0;
}
