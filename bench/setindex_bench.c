/*
** setindex_bench.c — the set kind's index (ext/setindex.c) under insert load.
**
**   build/setindex_bench N DB
**   make bench-setindex                 (N = 100000 by default)
**   SETINDEX_BENCH_PHASES=1   also print time per call and index counters
**   SETINDEX_BENCH_MMAP=n     PRAGMA mmap_size=n on every connection
**
** Inserts N documents in transactions of 1,000, each decided as the table
** will: dpSetIndexBest(jaccard, 0.5), then dpSetIndexAdd(kept = no match),
** dpSetIndexSync before COMMIT.  A document is a set of 350-650 distinct
** 64-bit hashes (mean ~500): 90 % unique to it, 10 % drawn from 50,000
** common features with Zipf(1) frequencies (phrases such as "and it came
** to pass"); 5 % of documents are planted near-copies of an earlier
** original with 1-5 % of their features replaced.
**
** At each checkpoint (10k, 100k, 1M, ... up to N) it prints: docs/s over the
** last 10,000 inserts, the run count, then closes the connection and opens
** a new one to time its first insert (open + best + add + commit),
** sqlite3_memory_used() and VmRSS, and the file size.  At the end it
** checks 40 decisions (20 near-copies, 20 fresh documents) against a
** brute-force scan of %_sets.  Output is Markdown rows.
*/
#include "docpipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NCOMMON 50000
#define TXN 1000

static double nowSec(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec*1e-9;
}

static uint64_t mix(uint64_t z){
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double aZipfCdf[NCOMMON];
static uint64_t aCommon[NCOMMON];

static void zipfInit(void){
  double s = 0;
  int i;
  for(i=0; i<NCOMMON; i++){ s += 1.0/(i+1); aZipfCdf[i] = s; }
  for(i=0; i<NCOMMON; i++){ aZipfCdf[i] /= s; aCommon[i] = mix(0xC0FFEEull + i); }
}
static uint64_t zipfDraw(uint64_t r){
  double u = (double)(r >> 11) * (1.0/9007199254740992.0);
  int lo = 0, hi = NCOMMON-1;
  while( lo<hi ){ int mid = (lo+hi)/2; if( aZipfCdf[mid]<u ) lo = mid+1; else hi = mid; }
  return aCommon[lo];
}

static int cmpU64(const void *a, const void *b){
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return (x>y) - (x<y);
}
static int normalize(uint64_t *a, int n){
  int i, j = 0;
  qsort(a, n, sizeof(uint64_t), cmpU64);
  for(i=0; i<n; i++){ if( j==0 || a[i]!=a[j-1] ) a[j++] = a[i]; }
  return j;
}

/* Is document i a planted copy, and of which original? */
static int copySource(sqlite3_int64 i, sqlite3_int64 *piSrc){
  uint64_t r = mix((uint64_t)i * 31 + 7);
  if( i<100 || (r % 100)>=5 ) return 0;
  do{
    *piSrc = (sqlite3_int64)(mix(r) % (uint64_t)i);
    r = mix(r);
  }while( copySource(*piSrc, &(sqlite3_int64){0}) );
  return 1;
}

/* The set of an original document i. */
static int originalSet(sqlite3_int64 i, uint64_t *a){
  uint64_t r = mix((uint64_t)i ^ 0xABCDEF);
  int n = 350 + (int)(r % 301), k;
  for(k=0; k<n; k++){
    uint64_t x = mix(r + (uint64_t)k*0x9E3779B97F4A7C15ull);
    a[k] = (x % 10)==0 ? zipfDraw(mix(x)) : mix(x ^ 0x5555);
  }
  return normalize(a, n);
}

/* The set of document i (original or planted copy); salt varies copies. */
static int docSet(sqlite3_int64 i, uint64_t *a, uint64_t salt){
  sqlite3_int64 iSrc;
  if( copySource(i, &iSrc) || salt ){
    int n, k, nChange;
    uint64_t r = mix((uint64_t)i * 977 + salt);
    if( salt ) iSrc = (sqlite3_int64)(r % (uint64_t)i);
    if( salt ){ sqlite3_int64 x; while( copySource(iSrc, &x) ) iSrc = x; }
    n = originalSet(iSrc, a);
    nChange = (int)(n * (1 + r % 5) / 100);
    for(k=0; k<nChange; k++){
      a[mix(r + k) % (uint64_t)n] = mix(r ^ (uint64_t)(k + 1) ^ 0x7777);
    }
    return normalize(a, n);
  }
  return originalSet(i, a);
}

static sqlite3_int64 vmRssKb(void){
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  sqlite3_int64 v = 0;
  if( !f ) return 0;
  while( fgets(line, sizeof(line), f) ){
    if( strncmp(line, "VmRSS:", 6)==0 ) v = atoll(line + 6);
  }
  fclose(f);
  return v;
}

static sqlite3_int64 fileSize(const char *z){
  struct stat st;
  return stat(z, &st)==0 ? (sqlite3_int64)st.st_size : 0;
}

static int openDb(const char *zPath, sqlite3 **pDb, DpSetIndex **pp, int bCreate){
  char *zErr = 0;
  int rc = sqlite3_open(zPath, pDb);
  if( rc==SQLITE_OK ){
    sqlite3_exec(*pDb, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                       "PRAGMA cache_size=-65536;", 0, 0, 0);
    if( getenv("SETINDEX_BENCH_MMAP") ){   /* e.g. 4294967296 */
      char *z = sqlite3_mprintf("PRAGMA mmap_size=%s", getenv("SETINDEX_BENCH_MMAP"));
      sqlite3_exec(*pDb, z, 0, 0, 0);
      sqlite3_free(z);
    }
    rc = dpSetIndexOpen(*pDb, "main", "t", bCreate, pp, &zErr);
  }
  if( rc ){
    fprintf(stderr, "open: %d %s\n", rc, zErr ? zErr : sqlite3_errmsg(*pDb));
  }
  sqlite3_free(zErr);
  return rc;
}

static double tBest, tAdd, tSync, tCommit;   /* seconds in each call */
static double tBestCpu;                       /* CPU seconds in best */
static double cpuSec(void){
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec*1e-9;
}
static int insertDoc(DpSetIndex *p, sqlite3_int64 id, const uint64_t *a, int n,
                     int *pbDup){
  DpSetHit h;
  int bFound = 0;
  double t = nowSec(), t2, c = cpuSec();
  int rc = dpSetIndexBest(p, a, n, DP_SET_JACCARD, 0.5, 0, 0, &h, &bFound);
  t2 = nowSec(); tBest += t2 - t;
  tBestCpu += cpuSec() - c;
  if( rc==SQLITE_OK ) rc = dpSetIndexAdd(p, id, a, n, !bFound);
  tAdd += nowSec() - t2;
  if( rc ) fprintf(stderr, "insert %lld: %d %s\n", id, rc, dpSetIndexErrmsg(p));
  *pbDup = bFound;
  return rc;
}

int main(int argc, char **argv){
  sqlite3_int64 N = argc>1 ? atoll(argv[1]) : 100000;
  const char *zPath = argc>2 ? argv[2] : "build/bench/setindex.db";
  sqlite3 *db = 0;
  DpSetIndex *p = 0;
  static uint64_t a[2000];
  sqlite3_int64 i, nDup = 0, nPlanted = 0, nPlantedFound = 0, nFeat = 0;
  sqlite3_int64 iCheck = 10000;
  double t0, tWin = 0, tIdx = 0, cWin = 0;
  int rc;
  char zWal[512];

  zipfInit();
  snprintf(zWal, sizeof(zWal), "%s-wal", zPath);
  unlink(zPath); unlink(zWal);
  if( openDb(zPath, &db, &p, 1) ) return 1;
  printf("| stored | docs/s, last 10k (with generation) | runs | first insert, new connection (ms) | open (ms) | memory_used (MB) | VmRSS (MB) | file (MB) | file / (8 B x features) | file / text (~6 B/feature) |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|\n");
  fflush(stdout);
  t0 = nowSec();
  for(i=1; i<=N; i++){
    int n, bDup;
    sqlite3_int64 iSrc;
    double tA;
    if( i==iCheck - 9999 || (iCheck==10000 && i==1) ){
      tWin = nowSec(); tIdx = 0;
      tBest = tAdd = tSync = tCommit = tBestCpu = 0;
      cWin = cpuSec();
    }
    n = docSet(i, a, 0);
    nFeat += n;
    tA = nowSec();
    if( (i-1) % TXN==0 ) sqlite3_exec(db, "BEGIN", 0, 0, 0);
    rc = insertDoc(p, i, a, n, &bDup);
    if( rc ) return 1;
    nDup += bDup;
    if( copySource(i, &iSrc) ){ nPlanted++; nPlantedFound += bDup; }
    if( i % TXN==0 || i==N ){
      double t = nowSec();
      rc = dpSetIndexSync(p);
      if( rc ){ fprintf(stderr, "sync: %s\n", dpSetIndexErrmsg(p)); return 1; }
      tSync += nowSec() - t; t = nowSec();
      sqlite3_exec(db, "COMMIT", 0, 0, 0);
      tCommit += nowSec() - t;
    }
    tIdx += nowSec() - tA;
    if( i==iCheck || i==N ){
      double nWin = (double)(i==iCheck ? 10000 : (i - (iCheck - 10000)));
      double rate = nWin / tIdx, rateWall = nWin / (nowSec() - tWin);
      DpSetIndexStat st;
      double tOpen, tFirst;
      sqlite3_int64 nMem, nRss, nFile;
      int bDup2;
      dpSetIndexInfo(p, &st);
      sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", 0, 0, 0);
      dpSetIndexClose(p);
      sqlite3_close(db);
      nFile = fileSize(zPath) + fileSize(zWal);
      /* a new connection: open, then its first insert (its own txn) */
      tOpen = nowSec();
      if( openDb(zPath, &db, &p, 0) ) return 1;
      tOpen = nowSec() - tOpen;
      tFirst = nowSec();
      sqlite3_exec(db, "BEGIN", 0, 0, 0);
      n = docSet(N + 1000000 + i, a, 0);
      rc = insertDoc(p, N + 1000000 + i, a, n, &bDup2);
      if( rc==SQLITE_OK ) rc = dpSetIndexSync(p);
      sqlite3_exec(db, "ROLLBACK", 0, 0, 0);   /* keep the table as it was */
      dpSetIndexRollback(p);
      tFirst = nowSec() - tFirst;
      nMem = sqlite3_memory_used();
      nRss = vmRssKb();
      printf("| %lld | %.0f (%.0f) | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n",
             i, rate, rateWall, st.nRun, (tOpen + tFirst)*1000, tOpen*1000, nMem/1048576.0,
             nRss/1024.0, nFile/1048576.0, (double)nFile/(8.0*nFeat),
             (double)nFile/(6.0*nFeat));
      if( getenv("SETINDEX_BENCH_PHASES") ){
        printf("  (since open: %lld filter rows read, %lld posting lists read, %lld sets verified, %lld probes; %lld of %lld blocks cached, %.1f MB)\n",
               st.nFilterRead, st.nListRead, st.nVerify, st.nProbe, st.nBlockCached, st.nBlock, st.nMemBytes/1048576.0);
        printf("  (per document in the window: best %.0f us (CPU %.0f us), add %.0f us, sync+merge %.0f us, commit %.0f us; CPU of the process %.0f us)\n",
               tBest/nWin*1e6, tBestCpu/nWin*1e6, tAdd/nWin*1e6, tSync/nWin*1e6,
               tCommit/nWin*1e6, (cpuSec() - cWin)/nWin*1e6);
      }
      tBest = tAdd = tSync = tCommit = 0;
      fflush(stdout);
      iCheck *= 10;
      if( iCheck>N && i<N ) iCheck = N;
    }
  }
  printf("\n%lld documents, %lld features (%.0f per document), %.1f s; "
         "%lld duplicates found, planted near-copies found %lld of %lld\n",
         N, nFeat, (double)nFeat/N, nowSec() - t0, nDup, nPlantedFound, nPlanted);

  /* cross-check 40 decisions against a brute-force scan of %_sets */
  {
    enum { NQ = 40 };
    static uint64_t aq[NQ][2000];
    int anq[NQ], q, nAgree = 0;
    sqlite3_int64 aBestId[NQ];
    double aBest[NQ];
    DpSetHit aHit[NQ];
    int abFound[NQ];
    sqlite3_stmt *pScan;
    double tScan;
    /* query features -> (query, position) through a sorted array */
    typedef struct QF { uint64_t h; int q; } QF;
    QF *aQf;
    int nQf = 0, *aInter;
    for(q=0; q<NQ; q++){
      anq[q] = docSet(N + 2000000 + q, aq[q], q<NQ/2 ? (uint64_t)q + 1 : 0);
      aBestId[q] = -1; aBest[q] = -1;
      sqlite3_exec(db, "BEGIN; SELECT 1 FROM t_pruns LIMIT 1;", 0, 0, 0);
      rc = dpSetIndexBest(p, aq[q], anq[q], DP_SET_JACCARD, 0.5, 0, 0, &aHit[q], &abFound[q]);
      sqlite3_exec(db, "COMMIT", 0, 0, 0);
      if( rc ){ fprintf(stderr, "best: %s\n", dpSetIndexErrmsg(p)); return 1; }
      nQf += anq[q];
    }
    aQf = malloc(sizeof(QF)*nQf);
    aInter = calloc(NQ, sizeof(int));
    nQf = 0;
    for(q=0; q<NQ; q++){
      int k;
      for(k=0; k<anq[q]; k++){ aQf[nQf].h = aq[q][k]; aQf[nQf].q = q; nQf++; }
    }
    qsort(aQf, nQf, sizeof(QF), cmpU64);   /* h first: sorts by hash */
    tScan = nowSec();
    sqlite3_prepare_v2(db, "SELECT id, kept, n, h FROM t_sets", -1, &pScan, 0);
    while( sqlite3_step(pScan)==SQLITE_ROW ){
      sqlite3_int64 id = sqlite3_column_int64(pScan, 0);
      int kept = sqlite3_column_int(pScan, 1), m = sqlite3_column_int(pScan, 2), k;
      const unsigned char *b = sqlite3_column_blob(pScan, 3);
      if( !kept || m==0 ) continue;
      memset(aInter, 0, sizeof(int)*NQ);
      for(k=0; k<m; k++){
        uint64_t h;
        int lo = 0, hi = nQf;
        memcpy(&h, &b[k*8], 8);
        while( lo<hi ){ int mid = (lo+hi)/2; if( aQf[mid].h<h ) lo = mid+1; else hi = mid; }
        for(; lo<nQf && aQf[lo].h==h; lo++) aInter[aQf[lo].q]++;
      }
      for(q=0; q<NQ; q++){
        if( aInter[q]>0 ){
          double s = (double)aInter[q] / (double)(anq[q] + m - aInter[q]);
          if( s>=0.5 && (s>aBest[q] || (s==aBest[q] && id<aBestId[q])) ){
            aBest[q] = s; aBestId[q] = id;
          }
        }
      }
    }
    sqlite3_finalize(pScan);
    for(q=0; q<NQ; q++){
      int bRef = aBestId[q]>=0;
      if( bRef==abFound[q] && (!bRef || (aHit[q].iId==aBestId[q] && aHit[q].rSim==aBest[q])) ){
        nAgree++;
      }else{
        printf("MISMATCH query %d: index %d %lld %.17g, scan %lld %.17g\n", q,
               abFound[q], aHit[q].iId, aHit[q].rSim, aBestId[q], aBest[q]);
      }
    }
    printf("cross-check: %d of %d decisions equal a brute-force scan of %%_sets "
           "(scan %.1f s)\n", nAgree, NQ, nowSec() - tScan);
    free(aQf);
    free(aInter);
  }
  dpSetIndexClose(p);
  sqlite3_close(db);
  return 0;
}
