/*
** util.c — small helpers shared by the other files: error messages that
** name their function, array growth with checked sizes, the clock, and
** numbers read and written the same in every locale.
**
** Why the locale matters: a host program may call setlocale(LC_ALL, "")
** (Python's locale.setlocale, many GUIs), and then strtod() and printf's
** %g follow LC_NUMERIC: in de_DE.UTF-8 "0.8" is read as 0 followed by
** ".8" and 0.8 is written "0,8".  docpipe's numbers are SQL and JSON
** text, which always use '.', so every conversion runs in the "C" locale
** of the calling thread only (uselocale(), thread-safe; glibc hands out
** its static "C" locale object for newlocale(..., "C", 0), so this costs
** no allocation).  SQLite's own printf (sqlite3_mprintf) never looks at
** the locale and needs none of this.
*/
#define _GNU_SOURCE             /* sched_getaffinity, CPU_COUNT */
#include "docpipe.h"

#include <sched.h>

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
# include <sys/mman.h>
#endif

void dpResultError(sqlite3_context *ctx, const char *zFunc,
                   const char *zFmt, ...){
  va_list ap;
  char *zMsg;
  va_start(ap, zFmt);
  zMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  if( zMsg==0 ){
    sqlite3_result_error_nomem(ctx);
    return;
  }
  {
    char *zFull = sqlite3_mprintf("%s(): %s", zFunc, zMsg);
    if( zFull==0 ){
      sqlite3_result_error_nomem(ctx);
    }else{
      sqlite3_result_error(ctx, zFull, -1);
    }
    sqlite3_free(zFull);
  }
  sqlite3_free(zMsg);
}

void dpVtabErrorV(sqlite3_vtab *pVtab, const char *zPrefix,
                  const char *zFmt, va_list ap){
  char *zMsg = sqlite3_vmprintf(zFmt, ap);
  sqlite3_free(pVtab->zErrMsg);
  pVtab->zErrMsg = zMsg ? sqlite3_mprintf("%s%s", zPrefix, zMsg) : 0;
  sqlite3_free(zMsg);
}

void *dpLargeMalloc(sqlite3_uint64 n){
  return n<DP_LARGE ? sqlite3_malloc64(n) : malloc((size_t)n);
}

void dpHugePages(void *p, sqlite3_uint64 n){
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)1<<21;
  uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
  uintptr_t hi = ((uintptr_t)p + (uintptr_t)n) & ~(huge - 1);
  if( p && hi>lo ) madvise((void*)lo, (size_t)(hi - lo), MADV_HUGEPAGE);
#else
  (void)p; (void)n;
#endif
}
void dpLargeFree(void *p, sqlite3_uint64 n){
  if( n<DP_LARGE ) sqlite3_free(p);
  else free(p);
}

int dpGrow(void **pa, int *pnAlloc, int nNeed, size_t szElem){
  sqlite3_int64 nNew;
  void *aNew;
  if( nNeed<=*pnAlloc ) return SQLITE_OK;
  nNew = (sqlite3_int64)*pnAlloc * 2;
  if( nNew<nNeed ) nNew = nNeed;
  if( nNew<16 ) nNew = 16;
  if( nNew>0x7fffffff ) nNew = 0x7fffffff;
  if( nNew<nNeed ) return SQLITE_NOMEM;
  aNew = sqlite3_realloc64(*pa, (sqlite3_uint64)nNew * szElem);
  if( aNew==0 ) return SQLITE_NOMEM;
  *pa = aNew;
  *pnAlloc = (int)nNew;
  return SQLITE_OK;
}

void dpSortU64(uint64_t *a, uint64_t *aTmp, int n){
  uint64_t *src = a, *dst = aTmp;
  int pass, i;
  if( n<2 ) return;
  for(pass=0; pass<8; pass++){
    int aCnt[257];
    const int sh = pass*8;
    memset(aCnt, 0, sizeof(aCnt));
    for(i=0; i<n; i++) aCnt[((src[i]>>sh) & 0xff) + 1]++;
    if( aCnt[((src[0]>>sh) & 0xff) + 1]==n ) continue;  /* one digit: no move */
    for(i=0; i<256; i++) aCnt[i+1] += aCnt[i];
    for(i=0; i<n; i++) dst[aCnt[(src[i]>>sh) & 0xff]++] = src[i];
    { uint64_t *t = src; src = dst; dst = t; }
  }
  if( src!=a ) memcpy(a, src, sizeof(uint64_t)*(size_t)n);
}

sqlite3_int64 dpNowNs(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (sqlite3_int64)ts.tv_sec*1000000000 + ts.tv_nsec;
}

int dpTvfDisconnect(sqlite3_vtab *pVtab){
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

void *dpMallocZero(sqlite3_uint64 n){
  void *p = sqlite3_malloc64(n);
  if( p ) memset(p, 0, (size_t)n);
  return p;
}

char *dpStrFinish(sqlite3_str *p){
  int rc = sqlite3_str_errcode(p);
  char *z = sqlite3_str_finish(p);
  if( z==0 && rc==SQLITE_OK ) z = sqlite3_mprintf("%s", "");
  return z;
}

int dpTvfBestIndex(sqlite3_index_info *pInfo, int iFirstArg, int nArg,
                   double rCost){
  int aIdx[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };
  int i, n = 0;
  for(i=0; i<pInfo->nConstraint; i++){
    const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];
    int k = c->iColumn - iFirstArg;
    if( k<0 || k>=nArg || k>=8 ) continue;
    if( !c->usable ) return SQLITE_CONSTRAINT;
    if( c->op==SQLITE_INDEX_CONSTRAINT_EQ ) aIdx[k] = i;
  }
  pInfo->idxNum = 0;
  if( aIdx[0]<0 ){
    /* No first argument in this plan: SQLite may be planning one term of
    ** an OR.  Make it the last resort; xFilter says what is missing if it
    ** ever runs (idxNum bit 0 clear). */
    pInfo->estimatedCost = 1e99;
    return SQLITE_OK;
  }
  for(i=0; i<nArg && i<8; i++){
    if( aIdx[i]<0 ) continue;
    pInfo->aConstraintUsage[aIdx[i]].argvIndex = ++n;
    pInfo->aConstraintUsage[aIdx[i]].omit = 1;
    pInfo->idxNum |= 1<<i;
  }
  pInfo->estimatedCost = rCost;
  return SQLITE_OK;
}

double dpStrtod(const char *z, char **pzEnd){
  locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  locale_t old;
  double v;
  if( c==(locale_t)0 ){
    /* Cannot happen with glibc; elsewhere it leaves the host's locale. */
    return strtod(z, pzEnd);
  }
  old = uselocale(c);
  v = strtod(z, pzEnd);
  uselocale(old);
  freelocale(c);
  return v;
}

void dpFormatDouble(char *zBuf, int nBuf, double r){
  locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  if( c==(locale_t)0 ){
    /* as in dpStrtod(): the host's locale, with a ',' point put right */
    char *z;
    snprintf(zBuf, (size_t)nBuf, "%.17g", r);
    for(z=zBuf; *z; z++){ if( *z==',' ) *z = '.'; }
  }else{
    locale_t old = uselocale(c);
    snprintf(zBuf, (size_t)nBuf, "%.17g", r);
    uselocale(old);
    freelocale(c);
  }
}

int dpExecf(sqlite3 *db, char **pzErr, const char *zFmt, ...){
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

int dpShadowRename(sqlite3 *db, const char *zDb, const char *zOld,
                   const char *zNew, const char *zSuffix, char **pzErr){
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema"
                               " WHERE name='%q_%q'", zDb, zOld, zSuffix);
  int rc, bExists;
  if( zSql==0 ) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  bExists = rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW;
  sqlite3_finalize(pStmt);
  if( rc==SQLITE_OK && bExists ){
    rc = dpExecf(db, pzErr, "ALTER TABLE \"%w\".\"%w_%s\" RENAME TO \"%w_%s\"",
                 zDb, zOld, zSuffix, zNew, zSuffix);
  }
  return rc;
}

void dpConnRelease(void *pArg){
  DpConn *pConn = (DpConn*)pArg;
  if( pConn && --pConn->nRef==0 ) sqlite3_free(pConn);
}

int dpThreadCount(int nMax){
  cpu_set_t set;
  int nCpu = 1;
  if( !sqlite3_threadsafe() ) return 1;
  if( sched_getaffinity(0, sizeof(set), &set)==0 ) nCpu = CPU_COUNT(&set);
  if( nCpu<1 ) nCpu = 1;
  return nCpu>nMax ? nMax : nCpu;
}
/* docpipe_body() fails on a damaged packed body with SQLITE_CORRUPT_VTAB,
** like every other damage docpipe finds; but a statement of a connection
** without extended result codes (the default of the shell, Python, Tcl)
** reports it as plain SQLITE_CORRUPT, and plain SQLITE_CORRUPT returned
** from a virtual table's method inside a transaction makes SQLite refuse
** every later write, the DELETE that mends it and the COMMIT too.  The
** connection's extended code tells the two apart; SQLite's own corruption
** of a page keeps its code. */
int dpReadCode(sqlite3 *db, int rc){
  if( rc==SQLITE_CORRUPT && sqlite3_extended_errcode(db)==SQLITE_CORRUPT_VTAB ){
    return SQLITE_CORRUPT_VTAB;
  }
  return rc;
}

