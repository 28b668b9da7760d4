/*
** hist.c — the latency histogram of stats.c against exact quantiles of a
** known sample, and its blob encoding round trip.
**
** The stated error: a quantile reported from the histogram is within 1/128
** (relative) of a value at that exact rank: buckets are 1/64 wide and the
** reported value is their midpoint; below 128 ns they are exact.  The
** maximum is exact.
*/
#include "docpipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nPass = 0, nFail = 0;

static void check(const char *zWhat, int bOk){
  if( bOk ) nPass++; else { nFail++; printf("! %s\n", zWhat); }
}

static int cmpU64(const void *a, const void *b){
  sqlite3_uint64 x = *(const sqlite3_uint64*)a, y = *(const sqlite3_uint64*)b;
  return (x>y) - (x<y);
}

int main(void){
  static const int aN[] = { 1, 2, 10, 1000, 100000 };
  static const double aQ[] = { 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0 };
  unsigned long long s = 12345;
  size_t t, k;
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
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail ? 1 : 0;
}
