/*
** docpipe.c — entry point of the extension.
**
**   .load ./dist/docpipe
**   SELECT docpipe_version(), docpipe_simd();
**
** sqlite3_docpipe_init is the only symbol docpipe.so exports.  It chooses
** the kernel row once (simd.c) and registers every function and module; a
** failure names what could not be registered.
*/
#include "docpipe.h"

SQLITE_EXTENSION_INIT1

/* Every function and module, in one place; *pzErrMsg names what failed. */
static int registerAll(sqlite3 *db, char **pzErrMsg){
  int rc;
  DpConn *pConn;
  rc = dpRegisterFuncs(db);
  if( rc!=SQLITE_OK ){
    *pzErrMsg = sqlite3_mprintf("docpipe: cannot register its SQL functions"
                                " (%s)", sqlite3_errstr(rc));
    return rc;
  }
  if( rc==SQLITE_OK ) rc = dpRegisterStats(db);
  if( rc!=SQLITE_OK ){
    *pzErrMsg = sqlite3_mprintf("docpipe: cannot register docpipe_latency"
                                " (%s)", sqlite3_errstr(rc));
    return rc;
  }
  pConn = sqlite3_malloc64(sizeof(*pConn));
  if( pConn==0 ) return SQLITE_NOMEM;
  pConn->pTables = 0;
  pConn->nRef = 2;            /* one for each module below */
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
  return SQLITE_OK;
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
  rc = registerAll(db, pzErrMsg);
  sqlite3_free(zIgnored);
  return rc;
}

