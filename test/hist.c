/*
** hist.c — the latency histogram of stats.c against exact quantiles of a
** known sample, and its blob encoding round trip.
**
** The stated error: a quantile reported from the histogram is within 1/128
** (relative) of a value at that exact rank: buckets are 1/64 wide and the
** reported value is their midpoint; below 128 ns they are exact.  The
** maximum is exact.
**
** The edges: a latency in the last bucket (from 127 * 2^38 ns, about 9.7
** hours, where every larger value lands too) survives packing and
** dpHistEncode; samples all equal give that value at every quantile (never
** the bucket's midpoint above it); a histogram whose
** buckets hold fewer values than its count says (a damaged blob that
** docpipe_latency() merged) answers its exact maximum; a record that
** cannot grow its sample array (out of memory) still adds every
** document's stage times, 1 ns ones included, to its totals.
**
** Then the memory a connection that never writes spends on statistics:
** each MATCH leaves a record waiting for a write transaction that never
** comes; only the newest stats_keep of them are kept, so memory stops
** growing (sqlite3_memory_used, measured after 200 and after 4,000 queries
** on a read-only connection).
*/
#include "docpipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int nPass = 0, nFail = 0;

static void check(const char *zWhat, int bOk){
  if( bOk ) nPass++; else { nFail++; printf("! %s\n", zWhat); }
}

static int cmpU64(const void *a, const void *b){
  sqlite3_uint64 x = *(const sqlite3_uint64*)a, y = *(const sqlite3_uint64*)b;
  return (x>y) - (x<y);
}

static void exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr)!=SQLITE_OK ){
    printf("! %s: %s\n", zSql, zErr);
    nFail++;
  }
  sqlite3_free(zErr);
}

/* SQLite's allocator, failing every allocation while bFailMalloc is set. */
static sqlite3_mem_methods defaultMem;
static int bFailMalloc = 0;
static void *failMalloc(int n){
  return bFailMalloc ? 0 : defaultMem.xMalloc(n);
}
static void *failRealloc(void *p, int n){
  return bFailMalloc ? 0 : defaultMem.xRealloc(p, n);
}
static void installFailMalloc(void){
  sqlite3_mem_methods m;
  sqlite3_config(SQLITE_CONFIG_GETMALLOC, &defaultMem);
  m = defaultMem;
  m.xMalloc = failMalloc;
  m.xRealloc = failRealloc;
  sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
}

/* Stage latencies in the last bucket: two in its own range (from
** 127 * 2^38 ns, about 9.7 hours, to 2^45) and one far past it, which
** lands there too.  The packed record reads back with the exact maximum,
** and the median, in that bucket, is within 1/128 of the value at its
** rank.  (Past 2^45 ns the 1/128 bound no longer holds: the bucket's
** midpoint is reported.) */
static void lastBucket(void){
  static const sqlite3_uint64 aV[] = {
    ((sqlite3_uint64)127 << 38) + 5000000000ULL,
    ((sqlite3_uint64)127 << 38) + 6000000000ULL,
    (sqlite3_uint64)1 << 62,
  };
  DpStatRec *r = dpStatOpen(0, DP_KIND_INSERT);
  DpHist *aOut = calloc(DP_N_STAGE, sizeof(DpHist));
  size_t k;
  int st, bOk = r!=0 && aOut!=0;
  for(k=0; bOk && k<sizeof(aV)/sizeof(aV[0]); k++){
    sqlite3_int64 aNs[DP_N_STAGE];
    for(st=0; st<DP_N_STAGE; st++) aNs[st] = (sqlite3_int64)aV[k];
    dpStatDocument(r, aNs);
  }
  bOk = bOk && dpStatClose(r)==SQLITE_OK
     && dpHistMergeBlob(aOut, r->pBlob, r->nBlob);
  for(st=0; bOk && st<DP_N_STAGE; st++){
    sqlite3_uint64 p50 = dpHistQuantile(&aOut[st], 0.5);
    bOk = aOut[st].nCount==3
       && aOut[st].aCount[DP_HIST_BUCKETS-1]==3
       && aOut[st].nMax==aV[2]
       && aOut[st].nSum==aV[0] + aV[1] + aV[2]
       && fabs((double)p50 - (double)aV[1]) <= (double)aV[1]/128.0;
  }
  check("latencies in the last bucket pack and unpack; median within 1/128",
        bOk);
  /* and the same histograms through dpHistEncode and back */
  {
    DpHist *aBack = calloc(DP_N_STAGE, sizeof(DpHist));
    void *pBlob = 0;
    int nBlob = 0;
    bOk = bOk && aBack!=0 && dpHistEncode(aOut, &pBlob, &nBlob)==SQLITE_OK
       && dpHistMergeBlob(aBack, pBlob, nBlob)
       && memcmp(aOut, aBack, sizeof(DpHist)*DP_N_STAGE)==0;
    check("histograms with the last bucket: encode, merge, the same", bOk);
    sqlite3_free(pBlob);
    free(aBack);
  }
  dpStatFree(r);
  free(aOut);
}

/* Every sample the same value: every quantile is that value, never more
** (200 ns is in a bucket 2 ns wide whose midpoint is 201). */
static void allEqual(void){
  DpHist *h = calloc(1, sizeof(DpHist));
  static const double aQ[] = { 0.01, 0.5, 0.95, 0.99, 1.0 };
  size_t k;
  int i, bOk = h!=0;
  for(i=0; bOk && i<50; i++) dpHistAdd(h, 200);
  for(k=0; bOk && k<sizeof(aQ)/sizeof(aQ[0]); k++){
    bOk = dpHistQuantile(h, aQ[k])==200;
  }
  check("50 samples of 200 ns: every quantile is 200", bOk);
  free(h);
}

/* A histogram whose count is more than its buckets hold: every quantile
** not found in the buckets is the exact maximum. */
static void countAboveBuckets(void){
  DpHist *h = calloc(1, sizeof(DpHist));
  const sqlite3_uint64 nMax = (sqlite3_uint64)1 << 50;
  if( h==0 ){ check("calloc", 0); return; }
  h->aCount[dpHistBucket(100)] = 1;
  h->nCount = 3;
  h->nSum = 100 + 2*nMax;
  h->nMax = nMax;
  check("count above the buckets' total: p50 is the maximum",
        dpHistQuantile(h, 0.5)==nMax && dpHistQuantile(h, 0.01)==100);
  /* buckets above the maximum (a damaged blob): no quantile above it */
  memset(h, 0, sizeof(*h));
  h->aCount[5] = 2;
  h->nCount = 2;
  h->nSum = 10;
  h->nMax = 0;
  check("buckets above a maximum of 0: p50 is 0", dpHistQuantile(h, 0.5)==0);
  free(h);
}

/* Out of memory when the samples outgrow their inline storage: the
** document's sample is lost, its stage times still count in the totals
** (a stage that ran took at least 1 ns: dpTsClock). */
static void totalsWithoutMemory(void){
  static const sqlite3_int64 aKept[DP_N_STAGE] = { 10, 20, 30, 40 };
  static const sqlite3_int64 aLost[DP_N_STAGE] = { 1, 1, 7, 0 };
  DpStatRec *r = dpStatOpen(0, DP_KIND_INSERT);
  int k, bOk = r!=0;
  for(k=0; bOk && k<4; k++) dpStatDocument(r, aKept);   /* inline: 4 */
  if( bOk ){
    bFailMalloc = 1;
    dpStatDocument(r, aLost);
    dpStatDocument(r, aLost);
    bFailMalloc = 0;
    bOk = r->nSample==4
       && r->aStageNs[DP_STAGE_TOKENIZE]==4*10 + 2*1
       && r->aStageNs[DP_STAGE_EMBED]==4*20 + 2*1
       && r->aStageNs[DP_STAGE_SEARCH]==4*30 + 2*7
       && r->aStageNs[DP_STAGE_STORE]==4*40;
  }
  check("out of memory for samples: every document still in the totals", bOk);
  dpStatFree(r);
}

/* Run n MATCH queries on db; the memory in use afterwards. */
static sqlite3_int64 queries(sqlite3 *db, int n){
  sqlite3_stmt *pStmt = 0;
  int i;
  sqlite3_prepare_v2(db, "SELECT rowid FROM q WHERE q MATCH ?1", -1, &pStmt, 0);
  for(i=0; i<n; i++){
    sqlite3_bind_text(pStmt, 1, i%2 ? "alpha beta" : "gamma delta", -1,
                      SQLITE_STATIC);
    while( sqlite3_step(pStmt)==SQLITE_ROW ){}
    sqlite3_reset(pStmt);
  }
  sqlite3_finalize(pStmt);
  return sqlite3_memory_used();
}

static void readOnlyMemory(void){
  const char *zTmp = getenv("TMPDIR");
  char zDb[512];
  sqlite3 *db = 0, *ro = 0;
  sqlite3_int64 nAfter200, nAfter4000;
  char zWhat[160];
  snprintf(zDb, sizeof zDb, "%s/docpipe-hist-%d.db", zTmp ? zTmp : "/tmp",
           (int)getpid());
  remove(zDb);
  sqlite3_open(zDb, &db);
  sqlite3_docpipe_init(db, 0, 0);
  exec(db, "CREATE VIRTUAL TABLE q USING docpipe(dim=64, stats_keep=50);"
           "INSERT INTO q(body) VALUES ('alpha beta gamma'), ('gamma delta'),"
           " ('delta epsilon alpha')");
  sqlite3_close(db);
  sqlite3_open_v2(zDb, &ro, SQLITE_OPEN_READONLY, 0);
  sqlite3_docpipe_init(ro, 0, 0);
  nAfter200 = queries(ro, 200);
  nAfter4000 = queries(ro, 3800);
  snprintf(zWhat, sizeof zWhat, "read-only connection: memory after 4,000"
           " queries (%lld) within 16 KB of after 200 (%lld)",
           (long long)nAfter4000, (long long)nAfter200);
  check(zWhat, nAfter4000 - nAfter200 < 16384);
  sqlite3_close(ro);
  remove(zDb);
}

int main(void){
  /* 20 and 40: q*n lands exactly on a rank below n (p95 of 20 is the
  ** 19th value, not the max) */
  static const int aN[] = { 1, 2, 10, 20, 40, 1000, 100000 };
  static const double aQ[] = { 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0 };
  unsigned long long s = 12345;
  size_t t, k;
  installFailMalloc();           /* before SQLite initializes */
  for(t=0; t<sizeof(aN)/sizeof(aN[0]); t++){
    int n = aN[t], i, bOk = 1;
    sqlite3_uint64 *a = malloc(sizeof(*a)*(size_t)n);
    DpHist *h = calloc(1, sizeof(DpHist));
    char zWhat[128];
    for(i=0; i<n; i++){
      /* log-uniform from 1 ns to about 10 s */
      s = s*6364136223846793005ULL + 1442695040888963407ULL;
      a[i] = (sqlite3_uint64)exp((double)(s>>11) / 9007199254740992.0 * 23.0);
      dpHistAdd(h, a[i]);
    }
    qsort(a, (size_t)n, sizeof(*a), cmpU64);
    for(k=0; k<sizeof(aQ)/sizeof(aQ[0]); k++){
      sqlite3_uint64 nRank = (sqlite3_uint64)ceil(aQ[k] * n);
      sqlite3_uint64 exact = a[(nRank ? nRank : 1) - 1];
      sqlite3_uint64 got = dpHistQuantile(h, aQ[k]);
      if( fabs((double)got - (double)exact) > (double)exact/128.0 + 0.5 ){
        bOk = 0;
        printf("  n=%d q=%g exact %llu got %llu\n", n, aQ[k],
               (unsigned long long)exact, (unsigned long long)got);
      }
    }
    snprintf(zWhat, sizeof zWhat, "quantiles of %d values within 1/128", n);
    check(zWhat, bOk);
    snprintf(zWhat, sizeof zWhat, "exact max, count and sum of %d values", n);
    {
      sqlite3_uint64 sum = 0;
      for(i=0; i<n; i++) sum += a[i];
      check(zWhat, h->nMax==a[n-1] && h->nCount==(sqlite3_uint64)n && h->nSum==sum);
    }
    /* encode all stages, merge into empty histograms: the same counts */
    {
      DpHist *aIn = calloc(DP_N_STAGE, sizeof(DpHist));
      DpHist *aOut = calloc(DP_N_STAGE, sizeof(DpHist));
      void *pBlob = 0;
      int nBlob = 0, st;
      for(st=0; st<DP_N_STAGE; st++) memcpy(&aIn[st], h, sizeof(DpHist));
      aIn[1].nCount = 0; memset(aIn[1].aCount, 0, sizeof(aIn[1].aCount));
      aIn[1].nSum = aIn[1].nMax = 0;
      snprintf(zWhat, sizeof zWhat, "blob round trip, %d values", n);
      check(zWhat, dpHistEncode(aIn, &pBlob, &nBlob)==SQLITE_OK
                && dpHistMergeBlob(aOut, pBlob, nBlob)
                && memcmp(aIn, aOut, sizeof(DpHist)*DP_N_STAGE)==0);
      snprintf(zWhat, sizeof zWhat, "truncated blob rejected, %d values", n);
      check(zWhat, nBlob>1 && !dpHistMergeBlob(aOut, pBlob, nBlob-1));
      sqlite3_free(pBlob);
      free(aIn); free(aOut);
    }
    free(a); free(h);
  }
  /* bucket edges: every value maps into its bucket's range */
  {
    int bOk = 1;
    sqlite3_uint64 v;
    for(v=1; v<((sqlite3_uint64)1<<40); v = v + v/7 + 1){
      int b = dpHistBucket(v);
      sqlite3_uint64 mid = dpHistValue(b);
      if( fabs((double)mid - (double)v) > (double)v/128.0 + 0.5 ) bOk = 0;
    }
    check("bucket midpoints within 1/128 of every value", bOk);
  }
  /* a statement's record: samples added in falling order, in adjacent
  ** buckets, come back bucket by bucket after packing (the sort and the
  ** delta coding of dpStatClose) */
  {
    DpStatRec *r = dpStatOpen(0, DP_KIND_INSERT);
    DpHist *aOut = calloc(DP_N_STAGE, sizeof(DpHist));
    const int b0 = dpHistBucket(1000000);
    int k, st, bOk = r!=0 && aOut!=0;
    for(k=0; bOk && k<12; k++){
      sqlite3_int64 aNs[DP_N_STAGE];
      for(st=0; st<DP_N_STAGE; st++){
        aNs[st] = (sqlite3_int64)dpHistValue(b0 - k - (k%3==2) + st);
      }
      dpStatDocument(r, aNs);
    }
    bOk = bOk && dpStatClose(r)==SQLITE_OK
       && dpHistMergeBlob(aOut, r->pBlob, r->nBlob);
    for(st=0; bOk && st<DP_N_STAGE; st++){
      DpHist want;
      memset(&want, 0, sizeof(want));
      for(k=0; k<12; k++) want.aCount[b0 - k - (k%3==2) + st]++;
      bOk = aOut[st].nCount==12
         && memcmp(aOut[st].aCount, want.aCount, sizeof(want.aCount))==0;
    }
    check("a record's samples in falling, adjacent buckets pack and unpack", bOk);
    dpStatFree(r);
    free(aOut);
  }
  lastBucket();
  allEqual();
  countAboveBuckets();
  totalsWithoutMemory();
  readOnlyMemory();
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail ? 1 : 0;
}
