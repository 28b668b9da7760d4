/*
** docpipe.c — entry point of the extension.
**
**   .load ./dist/docpipe
**   SELECT docpipe_version(), docpipe_simd();
**
** sqlite3_docpipe_init is the only symbol docpipe.so exports.  It chooses
** the kernel row once (simd.c) and registers every function and module; a
** failure names what could not be registered.  Loading docpipe again on a
** connection that has it (a second load_extension(), or an explicit call
** after sqlite3_auto_extension) does nothing and succeeds.
*/
#include "docpipe.h"

#include <string.h>

SQLITE_EXTENSION_INIT1

/* Every function and module, in one place; *pzErrMsg names what failed.
** The SQL functions come last, so that docpipe_version() being callable
** means the modules are registered too (isRegistered). */
static int registerAll(sqlite3 *db, char **pzErrMsg){
  int rc;
  DpConn *pConn;
  pConn = sqlite3_malloc64(sizeof(*pConn));
  if( pConn==0 ) return SQLITE_NOMEM;
  memset(pConn, 0, sizeof(*pConn));   /* every field, nSvptChanges too */
  pConn->nRef = 2;            /* one for each module below */
  /* docpipe_body() first: the table's reads of packed bodies call it */
  rc = dpRegisterBody(db);
  if( rc!=SQLITE_OK ){
    sqlite3_free(pConn);
    *pzErrMsg = sqlite3_mprintf("docpipe: cannot register docpipe_body (%s)",
                                sqlite3_errstr(rc));
    return rc;
  }
  rc = dpRegisterDedup(db, pConn);
  if( rc!=SQLITE_OK ){
    dpConnRelease(pConn);     /* the module's own reference went with it */
    *pzErrMsg = sqlite3_mprintf("docpipe: cannot register dedup_index (%s)",
                                sqlite3_errstr(rc));
    return rc;
  }
  rc = dpRegisterVtab(db, pConn);
  if( rc!=SQLITE_OK ){
    *pzErrMsg = sqlite3_mprintf("docpipe: cannot register the docpipe module"
                                " (%s)", sqlite3_errstr(rc));
    return rc;
  }
  rc = dpRegisterStats(db);
  if( rc!=SQLITE_OK ){
    *pzErrMsg = sqlite3_mprintf("docpipe: cannot register docpipe_latency"
                                " (%s)", sqlite3_errstr(rc));
    return rc;
  }
  rc = dpRegisterFuncs(db);
  if( rc!=SQLITE_OK ){
    *pzErrMsg = sqlite3_mprintf("docpipe: cannot register its SQL functions"
                                " (%s)", sqlite3_errstr(rc));
    return rc;
  }
  return SQLITE_OK;
}

/* True if docpipe is registered on db already.  Registering again would
** replace every function, which SQLite refuses while a statement runs
** ("database is locked": the SELECT load_extension(...) itself runs), and
** would give the modules a second DpConn.  The probe reads no schema.  A
** failed probe leaves its "no such function" as the connection's error,
** which sqlite3_open() would take for a failed automatic extension: an
** empty sqlite3_exec() clears it. */
static int isRegistered(sqlite3 *db){
  sqlite3_stmt *pProbe = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT docpipe_version()", -1, &pProbe, 0);
  sqlite3_finalize(pProbe);
  if( rc!=SQLITE_OK ) sqlite3_exec(db, "", 0, 0, 0);
  return rc==SQLITE_OK;
}


#ifdef _WIN32
__declspec(dllexport)
#endif
__attribute__((visibility("default")))
int sqlite3_docpipe_init(sqlite3 *db, char **pzErrMsg,
                         const sqlite3_api_routines *pApi){
  int rc;
  char *zIgnored = 0;
  SQLITE_EXTENSION_INIT2(pApi);
  /* a static caller (sqlite3_auto_extension, tests) may pass no pointer */
  if( pzErrMsg==0 ) pzErrMsg = &zIgnored;
  if( dpKernels==0 ){
    char *zErr = 0;
    rc = dpSimdInit(&zErr);
    if( rc!=SQLITE_OK ){
      *pzErrMsg = zErr;
      return rc;
    }
  }
  if( isRegistered(db) ) return SQLITE_OK;
  rc = registerAll(db, pzErrMsg);
  sqlite3_free(zIgnored);
  return rc;
}

