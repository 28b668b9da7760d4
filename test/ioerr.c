/*
** ioerr.c — I/O errors injected by a VFS shim: the Nth write, sync or
** truncate and every one after it fail, for N = 1, 2, ... until a script
** of docpipe writes runs without reaching N; in WAL and rollback-journal
** modes.  After each run the database, reopened without faults, must pass
** PRAGMA integrity_check and docpipe's integrity-check, hold every document
** whose statement succeeded, hold each statement's documents all or none,
** and carry the decisions a replay (dedup_index) gives.
*/
#include "docpipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sqlite3_vfs *pReal;        /* the default VFS */
static int nCountdown = -1;       /* writes/syncs left before faults; -1 off */
static int bFaulted = 0;

typedef struct FaultFile FaultFile;
struct FaultFile {
  sqlite3_file base;              /* base class, must be first */
  sqlite3_file *pReal;            /* the real file, allocated after us */
};

static int fault(void){
  if( nCountdown<0 ) return 0;
  if( nCountdown==0 ){ bFaulted = 1; return 1; }
  nCountdown--;
  return 0;
}

#define REAL(f) (((FaultFile*)(f))->pReal)
static int fClose(sqlite3_file *f){ return REAL(f)->pMethods->xClose(REAL(f)); }
static int fRead(sqlite3_file *f, void *p, int n, sqlite3_int64 o){
  return REAL(f)->pMethods->xRead(REAL(f), p, n, o);
}
static int fWrite(sqlite3_file *f, const void *p, int n, sqlite3_int64 o){
  if( fault() ) return SQLITE_IOERR_WRITE;
  return REAL(f)->pMethods->xWrite(REAL(f), p, n, o);
}
static int fTruncate(sqlite3_file *f, sqlite3_int64 n){
  if( fault() ) return SQLITE_IOERR_TRUNCATE;
  return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int fSync(sqlite3_file *f, int flags){
  if( fault() ) return SQLITE_IOERR_FSYNC;
  return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int fSize(sqlite3_file *f, sqlite3_int64 *p){ return REAL(f)->pMethods->xFileSize(REAL(f), p); }
static int fLock(sqlite3_file *f, int l){ return REAL(f)->pMethods->xLock(REAL(f), l); }
static int fUnlock(sqlite3_file *f, int l){ return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int fCheck(sqlite3_file *f, int *p){ return REAL(f)->pMethods->xCheckReservedLock(REAL(f), p); }
static int fCtrl(sqlite3_file *f, int op, void *p){ return REAL(f)->pMethods->xFileControl(REAL(f), op, p); }
static int fSector(sqlite3_file *f){ return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int fDev(sqlite3_file *f){ return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int fShmMap(sqlite3_file *f, int i, int n, int b, void volatile **pp){
  return REAL(f)->pMethods->xShmMap(REAL(f), i, n, b, pp);
}
static int fShmLock(sqlite3_file *f, int o, int n, int fl){ return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void fShmBarrier(sqlite3_file *f){ REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int fShmUnmap(sqlite3_file *f, int d){ return REAL(f)->pMethods->xShmUnmap(REAL(f), d); }

static const sqlite3_io_methods faultIo = {
  2, fClose, fRead, fWrite, fTruncate, fSync, fSize, fLock, fUnlock, fCheck,
  fCtrl, fSector, fDev, fShmMap, fShmLock, fShmBarrier, fShmUnmap, 0, 0
};

static int vOpen(sqlite3_vfs *v, const char *z, sqlite3_file *f, int fl, int *pOut){
  FaultFile *p = (FaultFile*)f;
  int rc;
  (void)v;
  p->pReal = (sqlite3_file*)&p[1];
  rc = pReal->xOpen(pReal, z, p->pReal, fl, pOut);
  f->pMethods = rc==SQLITE_OK && p->pReal->pMethods ? &faultIo : 0;
  return rc;
}
static int vDelete(sqlite3_vfs *v, const char *z, int s){ (void)v; return pReal->xDelete(pReal, z, s); }
static int vAccess(sqlite3_vfs *v, const char *z, int f, int *p){ (void)v; return pReal->xAccess(pReal, z, f, p); }
static int vFull(sqlite3_vfs *v, const char *z, int n, char *o){ (void)v; return pReal->xFullPathname(pReal, z, n, o); }
static int vRand(sqlite3_vfs *v, int n, char *o){ (void)v; return pReal->xRandomness(pReal, n, o); }
static int vSleep(sqlite3_vfs *v, int n){ (void)v; return pReal->xSleep(pReal, n); }
static int vTime(sqlite3_vfs *v, double *p){ (void)v; return pReal->xCurrentTime(pReal, p); }
static int vErr(sqlite3_vfs *v, int n, char *z){ (void)v; return pReal->xGetLastError(pReal, n, z); }

static sqlite3_vfs faultVfs = {
  1, 0, 0, 0, "faulty", 0, vOpen, vDelete, vAccess, vFull, 0, 0, 0, 0,
  vRand, vSleep, vTime, vErr, 0, 0, 0, 0
};

/* Inserts only, so that a replay in rowid order must give the stored
** decisions (UPDATE and DELETE are covered by the out-of-memory test).
** Statement i inserts aRows[i] documents tagged i. */
#define N_STMT 6
static const char *azStmt[N_STMT] = {
  "INSERT INTO d(body, tag) VALUES ('In the beginning God created the heaven and the earth, and the earth was void', 0)",
  "INSERT INTO d(body, tag) VALUES ('In the beginning God created the heaven and the earth, and the earth was empty', 1),"
  " ('Call me Ishmael. Some years ago, never mind how long precisely, having little money', 1)",
  "INSERT INTO d(body, tag) SELECT 'generated document ' || value || ' with words words words', 2 FROM json_each('[1,2,3,4,5,6]')",
  "INSERT INTO d(body, tag) VALUES ('Call me Ishmael. Some years ago, never mind how long precisely, having little money!', 3)",
  "INSERT INTO d(body, tag) VALUES ('It was the best of times, it was the worst of times, it was the age of wisdom', 4)",
  "INSERT INTO d(body, tag) VALUES ('It was the best of times, it was the worst of times, it was the age of wisdom.', 5)",
};
static const int aRows[N_STMT] = { 1, 2, 6, 1, 1, 1 };

static int check(const char *zDb, const int *aOk, char *zWhy, int nWhy){
  sqlite3 *db = 0;
  sqlite3_stmt *p = 0;
  char *zErr = 0;
  int bOk = 1, i;
  zWhy[0] = 0;
  sqlite3_open(zDb, &db);
  sqlite3_docpipe_init(db, 0, 0);
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &p, 0);
  if( sqlite3_step(p)!=SQLITE_ROW || strcmp((const char*)sqlite3_column_text(p, 0), "ok") ){
    snprintf(zWhy, nWhy, "integrity_check: %s", sqlite3_column_text(p, 0));
    bOk = 0;
  }
  sqlite3_finalize(p);
  if( bOk && sqlite3_exec(db, "INSERT INTO d(d) VALUES ('integrity-check')", 0, 0, &zErr) ){
    snprintf(zWhy, nWhy, "docpipe integrity-check: %s", zErr);
    bOk = 0;
  }
  sqlite3_free(zErr);
  /* inserts that succeeded are there; each insert all or nothing */
  for(i=0; bOk && i<N_STMT; i++){
    int n;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM d WHERE tag = ?1", -1, &p, 0);
    sqlite3_bind_int(p, 1, i);
    sqlite3_step(p);
    n = sqlite3_column_int(p, 0);
    sqlite3_finalize(p);
    if( aOk[i] ? n!=aRows[i] : (n!=0 && n!=aRows[i]) ){
      snprintf(zWhy, nWhy, "statement %d (%s): %d rows", i, aOk[i] ? "ok" : "failed", n);
      bOk = 0;
    }
  }
  if( bOk ){
    /* decisions equal a replay in rowid order */
    sqlite3_prepare_v2(db, "SELECT count(*) FROM d JOIN dedup_index('d') x ON x.id = d.rowid"
        " WHERE x.is_duplicate IS NOT d.is_duplicate OR x.duplicate_of IS NOT d.duplicate_of", -1, &p, 0);
    if( sqlite3_step(p)!=SQLITE_ROW || sqlite3_column_int(p, 0)!=0 ){
      snprintf(zWhy, nWhy, "decisions differ from a replay");
      bOk = 0;
    }
    sqlite3_finalize(p);
  }
  sqlite3_close(db);
  return bOk;
}

int main(void){
  static const char *azMode[] = { "wal", "delete" };
  char zDb[64], zWhy[256];
  int m, nPass = 0, nFail = 0, nTotal = 0;
  pReal = sqlite3_vfs_find(0);
  faultVfs.szOsFile = (int)sizeof(FaultFile) + pReal->szOsFile;
  faultVfs.mxPathname = pReal->mxPathname;
  sqlite3_vfs_register(&faultVfs, 0);
  snprintf(zDb, sizeof zDb, "/tmp/docpipe-ioerr-%d.db", (int)getpid());
  for(m=0; m<2; m++){
    int n;
    for(n=0; ; n++){
      sqlite3 *db = 0;
      int aOk[N_STMT], i;
      char zSql[160];
      char zF[96];
      remove(zDb);
      snprintf(zF, sizeof zF, "%s-wal", zDb); remove(zF);
      snprintf(zF, sizeof zF, "%s-journal", zDb); remove(zF);
      /* the table is made without faults; the script runs with them */
      sqlite3_open(zDb, &db);
      sqlite3_docpipe_init(db, 0, 0);
      snprintf(zSql, sizeof zSql, "PRAGMA journal_mode=%s; CREATE VIRTUAL TABLE d"
               " USING docpipe(dim=64, threshold=0.75, tag INTEGER)", azMode[m]);
      sqlite3_exec(db, zSql, 0, 0, 0);
      sqlite3_close(db);
      sqlite3_open_v2(zDb, &db, SQLITE_OPEN_READWRITE, "faulty");
      sqlite3_docpipe_init(db, 0, 0);
      bFaulted = 0;
      nCountdown = n;
      for(i=0; i<N_STMT; i++) aOk[i] = sqlite3_exec(db, azStmt[i], 0, 0, 0)==SQLITE_OK;
      nCountdown = -1;
      sqlite3_close(db);
      if( !bFaulted ) break;
      nTotal++;
      if( check(zDb, aOk, zWhy, sizeof zWhy) ){
        nPass++;
      }else{
        nFail++;
        printf("! %s, fault at write/sync %d: %s\n", azMode[m], n+1, zWhy);
      }
    }
  }
  remove(zDb);
  printf("%d I/O fault points exercised\n", nTotal);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail ? 1 : 0;
}
