/*
** setjoin.c — the all-pairs join of the set kind: every pair of stored
** shingle sets whose similarity (dpSetSimilarity, the table's measure)
** reaches a threshold t.  dedup_index() over a set table turns the pairs
** into its three modes (dedup.c); its 'first' mode then equals the
** table's own INSERT decisions, which use the same formula.
**
**   DpSetAll all;                      -- dpSetIndexLoadAll: every set
**   dpSetJoin(&all, DP_SET_JACCARD, 0.5, xPoll, pCtx, &aPair, &nPair);
**
** HOW (AllPairs prefix filtering, with PPJoin's shorter indexing prefix)
**
** Fix one global order of all hashes.  If |A n B| >= o, the first
** |A| - o + 1 hashes of A in that order and the first |B| - o + 1 of B
** share a hash (the smallest common hash is within both).  The sets are
** taken by increasing size, so when A is probed every indexed B has
** |B| <= |A| (ties by position), and a pair that qualifies has
**   jaccard: o >= t*|A|            (probe prefix of A)
**            o >= 2t/(1+t) * |B|   (index prefix of B: o >= t(|A|+|B|)/(1+t))
**   cosine:  o >= t^2*|A|          (o >= t*sqrt(|A||B|) and |B| >= o)
**            o >= t*|B|            (|A| >= |B|)
** each computed as ceil(bound * (1 - 1e-9)), a little below the true
** bound, so prefixes are at least as long as needed: no pair is lost to
** double rounding (setindex.c, "Exactness with doubles").  The size filter
** (jaccard: |B| >= t|A|; cosine: |B| >= t^2|A|) has the same margin.
** Every candidate is verified by merging the two sorted sets and computing
** dpSetSimilarity from the integer count, so a pair is reported exactly
** when a brute-force scan would report it.
**
** The order only decides how much work is done, never the answer.  Rare
** hashes first keeps the prefixes out of common phrases ("and it came to
** pass"), whose lists grow with the table.  Exact frequencies would need
** a sort of every hash (twice the sets' memory), so the order is (estimate,
** hash) with the estimate from a count-min sketch of one byte per counter,
** two counters per hash, about one counter per stored hash (capped at
** 2^27): deterministic, and good enough that common hashes come last.
**
** The index holds each set's index prefix as (32 low bits of the hash,
** position) in buckets on the top bits of the hash (about one posting per
** bucket), positions increasing within a bucket so a probe stops at its
** own position.  A 32-bit fingerprint that collides only adds a candidate,
** which verification drops.  Probing is split over the machine's cores in
** chunks of positions (threads, each with its own scratch and pairs; the
** sets and the index are read-only by then); the calling thread polls
** xPoll between its chunks, and a non-zero answer stops every thread.
**
** Memory (all in memory, for speed): the sets (8 bytes a hash), one byte
** a hash of estimates, 8 bytes a posting of index prefix (about a third of
** the hashes at jaccard 0.5) and 4 bytes a bucket; about 13 bytes per
** stored hash at t = 0.5, ~0.8 GB at 100k documents of ~600 shingles.
*/
#include "docpipe.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define JOIN_CHUNK       64       /* positions a thread takes at a time */
#define JOIN_MIN_THREADED 2048    /* fewer sets: one thread */
#define JOIN_MAX_THREADS 8
#define JOIN_SKETCH_MAX  27       /* log2 of the sketch's counters, at most */
#define JOIN_MARGIN      (1.0 - 1e-9)

typedef struct JoinShared JoinShared;
struct JoinShared {
  const DpSetAll *pAll;   /* the sets, by id */
  int eMeasure;           /* DP_SET_JACCARD or DP_SET_COSINE */
  double t;               /* threshold */
  int nRow;               /* non-empty sets */
  int *aRow;              /* position (by size, then id) -> set number */
  unsigned char *aEst;    /* per hash of pAll->aHash: its frequency estimate */
  int nDirBits;           /* buckets = 2^nDirBits, on the hash's top bits */
  sqlite3_int64 *aDir;    /* bucket b holds aPost[aDir[b] .. aDir[b+1]) */
  uint64_t *aPost;        /* (low 32 bits of hash) << 32 | position */
  int iNext;              /* next position not yet taken (atomic) */
  int bStop;              /* set (atomic) on error or interrupt: all stop */
};

typedef struct JoinWorker JoinWorker;
struct JoinWorker {
  JoinShared *s;
  int *aStamp;            /* per position: 1 + the probe that saw it last */
  uint64_t *aOrd;         /* scratch: a set's hashes in the global order */
  DpPair *aPair;          /* pairs found */
  int nPair, nPairAlloc;
  int rc;                 /* SQLITE_OK, NOMEM or what xPoll returned */
  int (*xPoll)(void*);    /* the calling thread's only */
  void *pPollCtx;
};

/* Smallest overlap a qualifying pair must have, as a bound below the true
** one (see the manual): f * n * (1 - 1e-9), rounded up, at least 1. */
static sqlite3_int64 joinOverlap(double f, sqlite3_int64 n){
  sqlite3_int64 o = (sqlite3_int64)ceil(f * (double)n * JOIN_MARGIN);
  return o<1 ? 1 : o;
}

/* Prefix lengths of a set of n hashes: probed, and indexed. */
static sqlite3_int64 joinProbeLen(const JoinShared *s, sqlite3_int64 n){
  double f = s->eMeasure==DP_SET_COSINE ? s->t*s->t : s->t;
  sqlite3_int64 l = n - joinOverlap(f, n) + 1;
  return l<0 ? 0 : (l>n ? n : l);
}
static sqlite3_int64 joinIndexLen(const JoinShared *s, sqlite3_int64 n){
  double f = s->eMeasure==DP_SET_COSINE ? s->t : 2.0*s->t/(1.0 + s->t);
  sqlite3_int64 l = n - joinOverlap(f, n) + 1;
  return l<0 ? 0 : (l>n ? n : l);
}

/* The two sketch counters of hash h. */
static void joinSlots(uint64_t h, int nBits, uint32_t *p1, uint32_t *p2){
  const uint32_t mask = ((uint32_t)1<<nBits) - 1;
  *p1 = (uint32_t)h & mask;
  *p2 = (uint32_t)(h>>32) & mask;
}

/* Estimates of every hash's frequency into s->aEst.  The counters are
** visited 16 hashes at a time after prefetches, so that misses overlap. */
static int joinEstimate(JoinShared *s){
  const uint64_t *aHash = s->pAll->aHash;
  const sqlite3_int64 nHash = s->pAll->aOff[s->pAll->n];
  int nBits = 16;
  unsigned char *aCnt;
  sqlite3_int64 i, j;
  while( nBits<JOIN_SKETCH_MAX && ((sqlite3_int64)1<<nBits)<nHash ) nBits++;
  aCnt = sqlite3_malloc64((sqlite3_uint64)1<<nBits);
  s->aEst = sqlite3_malloc64((sqlite3_uint64)nHash + 1);
  if( aCnt==0 || s->aEst==0 ){
    sqlite3_free(aCnt);
    return SQLITE_NOMEM;
  }
  memset(aCnt, 0, (size_t)1<<nBits);
  for(i=0; i<nHash; i+=16){
    sqlite3_int64 e = i+16<nHash ? i+16 : nHash;
    uint32_t a1[16], a2[16];
    for(j=i; j<e; j++){
      joinSlots(aHash[j], nBits, &a1[j-i], &a2[j-i]);
      __builtin_prefetch(&aCnt[a1[j-i]], 1);
      __builtin_prefetch(&aCnt[a2[j-i]], 1);
    }
    for(j=i; j<e; j++){
      if( aCnt[a1[j-i]]<255 ) aCnt[a1[j-i]]++;
      if( aCnt[a2[j-i]]<255 ) aCnt[a2[j-i]]++;
    }
  }
  for(i=0; i<nHash; i+=16){
    sqlite3_int64 e = i+16<nHash ? i+16 : nHash;
    uint32_t a1[16], a2[16];
    for(j=i; j<e; j++){
      joinSlots(aHash[j], nBits, &a1[j-i], &a2[j-i]);
      __builtin_prefetch(&aCnt[a1[j-i]]);
      __builtin_prefetch(&aCnt[a2[j-i]]);
    }
    for(j=i; j<e; j++){
      unsigned char c1 = aCnt[a1[j-i]], c2 = aCnt[a2[j-i]];
      s->aEst[j] = c1<c2 ? c1 : c2;
    }
  }
  sqlite3_free(aCnt);
  return SQLITE_OK;
}

/* Set number iSet's hashes in the global order (estimate, then hash) into
** aOrd: a counting sort by estimate, stable, of hashes already sorted. */
static void joinOrder(const JoinShared *s, int iSet, uint64_t *aOrd){
  const sqlite3_int64 i0 = s->pAll->aOff[iSet], n = s->pAll->aOff[iSet+1] - i0;
  const uint64_t *aHash = &s->pAll->aHash[i0];
  const unsigned char *aEst = &s->aEst[i0];
  int aStart[257];
  sqlite3_int64 i;
  memset(aStart, 0, sizeof(aStart));
  for(i=0; i<n; i++) aStart[aEst[i]+1]++;
  for(i=1; i<257; i++) aStart[i] += aStart[i-1];
  for(i=0; i<n; i++) aOrd[aStart[aEst[i]]++] = aHash[i];
}

/* Bucket of hash h. */
static uint32_t joinBucket(const JoinShared *s, uint64_t h){
  return (uint32_t)(h >> (64 - s->nDirBits));
}

/* The index: every set's index prefix, by bucket, positions ascending. */
static int joinIndex(JoinShared *s, uint64_t *aOrd){
  sqlite3_int64 nPost = 0, nBucket;
  int p, pass;
  for(p=0; p<s->nRow; p++){
    const int iSet = s->aRow[p];
    nPost += joinIndexLen(s, s->pAll->aOff[iSet+1] - s->pAll->aOff[iSet]);
  }
  s->nDirBits = 10;
  while( s->nDirBits<28 && ((sqlite3_int64)1<<s->nDirBits)<nPost ) s->nDirBits++;
  nBucket = (sqlite3_int64)1<<s->nDirBits;
  s->aDir = sqlite3_malloc64(sizeof(sqlite3_int64)*(sqlite3_uint64)(nBucket+1));
  s->aPost = sqlite3_malloc64(sizeof(uint64_t)*(sqlite3_uint64)(nPost+1));
  if( s->aDir==0 || s->aPost==0 ) return SQLITE_NOMEM;
  memset(s->aDir, 0, sizeof(sqlite3_int64)*(size_t)(nBucket+1));
  /* pass 0 counts postings per bucket (into aDir[b+1]); pass 1 places them,
  ** advancing aDir[b] from the bucket's start to its end */
  for(pass=0; pass<2; pass++){
    if( pass==1 ){
      sqlite3_int64 b;
      for(b=1; b<=nBucket; b++) s->aDir[b] += s->aDir[b-1];
    }
    for(p=0; p<s->nRow; p++){
      const int iSet = s->aRow[p];
      const sqlite3_int64 l = joinIndexLen(s,
          s->pAll->aOff[iSet+1] - s->pAll->aOff[iSet]);
      sqlite3_int64 i;
      joinOrder(s, iSet, aOrd);
      for(i=0; i<l; i++){
        uint32_t b = joinBucket(s, aOrd[i]);
        if( pass==0 ){
          s->aDir[b+1]++;
        }else{
          s->aPost[s->aDir[b]++] = (aOrd[i] << 32) | (uint32_t)p;
        }
      }
    }
  }
  /* each aDir[b] now holds bucket b's end, which is bucket b+1's start */
  memmove(&s->aDir[1], &s->aDir[0], sizeof(sqlite3_int64)*(size_t)nBucket);
  s->aDir[0] = 0;
  return SQLITE_OK;
}

/* |A n B| of two sorted sets. */
static sqlite3_int64 joinInter(const uint64_t *a, sqlite3_int64 n,
                               const uint64_t *b, sqlite3_int64 m){
  sqlite3_int64 i = 0, j = 0, k = 0;
  while( i<n && j<m ){
    if( a[i]<b[j] ) i++;
    else if( a[i]>b[j] ) j++;
    else { k++; i++; j++; }
  }
  return k;
}

static void joinAddPair(JoinWorker *w, int a, int b, double r){
  if( w->nPair>=w->nPairAlloc
   && dpGrow((void**)&w->aPair, &w->nPairAlloc, w->nPair+1, sizeof(DpPair)) ){
    w->rc = SQLITE_NOMEM;
    return;
  }
  w->aPair[w->nPair].i = a<b ? a : b;
  w->aPair[w->nPair].j = a<b ? b : a;
  w->aPair[w->nPair].r = r;
  w->nPair++;
}

/* Probe with the set at position p: its pairs with every earlier one. */
static void joinProbe(JoinWorker *w, int p){
  const JoinShared *s = w->s;
  const DpSetAll *pAll = s->pAll;
  const int iSet = s->aRow[p];
  const sqlite3_int64 n = pAll->aOff[iSet+1] - pAll->aOff[iSet];
  const uint64_t *aA = &pAll->aHash[pAll->aOff[iSet]];
  const sqlite3_int64 l = joinProbeLen(s, n);
  const double f = s->eMeasure==DP_SET_COSINE ? s->t*s->t : s->t;
  const double mMin = f * (double)n * JOIN_MARGIN;   /* size filter */
  sqlite3_int64 i;
  joinOrder(s, iSet, w->aOrd);
  for(i=0; i<l && w->rc==SQLITE_OK; i++){
    const uint64_t h = w->aOrd[i];
    const uint32_t b = joinBucket(s, h);
    sqlite3_int64 e;
    for(e=s->aDir[b]; e<s->aDir[b+1]; e++){
      const uint64_t post = s->aPost[e];
      const int q = (int)(uint32_t)post;
      int jSet;
      sqlite3_int64 m, k;
      if( q>=p ) break;                 /* later positions: they probe us */
      if( (post>>32)!=(h & 0xffffffff) || w->aStamp[q]==p+1 ) continue;
      w->aStamp[q] = p+1;
      jSet = s->aRow[q];
      m = pAll->aOff[jSet+1] - pAll->aOff[jSet];
      if( (double)m<mMin ) continue;
      k = joinInter(aA, n, &pAll->aHash[pAll->aOff[jSet]], m);
      if( k>0 ){
        double r = dpSetSimilarity(s->eMeasure, k, n, m);
        if( r>=s->t ) joinAddPair(w, iSet, jSet, r);
      }
    }
  }
}

/* Take chunks of positions until none is left or someone stops. */
static void *joinWork(void *pArg){
  JoinWorker *w = pArg;
  JoinShared *s = w->s;
  while( w->rc==SQLITE_OK && !__atomic_load_n(&s->bStop, __ATOMIC_RELAXED) ){
    int p0 = __atomic_fetch_add(&s->iNext, JOIN_CHUNK, __ATOMIC_RELAXED), p;
    if( p0>=s->nRow ) break;
    for(p=p0; p<p0+JOIN_CHUNK && p<s->nRow && w->rc==SQLITE_OK; p++){
      joinProbe(w, p);
    }
    if( w->rc==SQLITE_OK && w->xPoll ) w->rc = w->xPoll(w->pPollCtx);
  }
  if( w->rc!=SQLITE_OK ) __atomic_store_n(&s->bStop, 1, __ATOMIC_RELAXED);
  return 0;
}

/* Threads to use: one per core, at most JOIN_MAX_THREADS; one for a small
** input (no thread is started for it). */
static int joinThreads(int nRow){
  long nCpu = sysconf(_SC_NPROCESSORS_ONLN);
  if( nRow<JOIN_MIN_THREADED || nCpu<2 ) return 1;
  return nCpu>JOIN_MAX_THREADS ? JOIN_MAX_THREADS : (int)nCpu;
}

int dpSetJoin(const DpSetAll *pAll, int eMeasure, double t,
              int (*xPoll)(void*), void *pPollCtx,
              DpPair **paPair, int *pnPair){
  JoinShared s;
  JoinWorker aW[JOIN_MAX_THREADS];
  pthread_t aThread[JOIN_MAX_THREADS];
  int abStarted[JOIN_MAX_THREADS];
  int nThread = 1, i, rc = SQLITE_OK;
  sqlite3_int64 nMax = 0, nPair = 0;
  uint64_t *aKey = 0;
  *paPair = 0;
  *pnPair = 0;
  memset(&s, 0, sizeof(s));
  memset(aW, 0, sizeof(aW));
  memset(abStarted, 0, sizeof(abStarted));
  s.pAll = pAll;
  s.eMeasure = eMeasure;
  s.t = t;
  /* positions: non-empty sets by size, then id (an empty set pairs with
  ** nothing) */
  aKey = sqlite3_malloc64(sizeof(uint64_t)*2*((sqlite3_uint64)pAll->n+1));
  s.aRow = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)pAll->n+1));
  if( aKey==0 || s.aRow==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK ){
    for(i=0; i<pAll->n; i++){
      sqlite3_int64 n = pAll->aOff[i+1] - pAll->aOff[i];
      if( n>0 ) aKey[s.nRow++] = ((uint64_t)n << 32) | (uint32_t)i;
      if( n>nMax ) nMax = n;
    }
    dpSortU64(aKey, &aKey[pAll->n], s.nRow);
    for(i=0; i<s.nRow; i++) s.aRow[i] = (int)(uint32_t)aKey[i];
  }
  sqlite3_free(aKey);
  if( rc==SQLITE_OK ) rc = joinEstimate(&s);
  if( rc==SQLITE_OK ){
    nThread = joinThreads(s.nRow);
    for(i=0; i<nThread; i++){
      aW[i].s = &s;
      aW[i].aStamp = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)s.nRow+1));
      aW[i].aOrd = sqlite3_malloc64(sizeof(uint64_t)*((sqlite3_uint64)nMax+1));
      if( aW[i].aStamp==0 || aW[i].aOrd==0 ){ rc = SQLITE_NOMEM; break; }
      memset(aW[i].aStamp, 0, sizeof(int)*(size_t)s.nRow);
    }
  }
  if( rc==SQLITE_OK ) rc = joinIndex(&s, aW[0].aOrd);
  if( rc==SQLITE_OK ){
    aW[0].xPoll = xPoll;
    aW[0].pPollCtx = pPollCtx;
    for(i=1; i<nThread; i++){
      /* a thread that cannot start leaves its share to the others */
      abStarted[i] = pthread_create(&aThread[i], 0, joinWork, &aW[i])==0;
    }
    joinWork(&aW[0]);
    for(i=1; i<nThread; i++){
      if( abStarted[i] ) pthread_join(aThread[i], 0);
    }
    for(i=0; i<nThread && rc==SQLITE_OK; i++){
      rc = aW[i].rc;
      nPair += aW[i].nPair;
    }
  }
  if( rc==SQLITE_OK && nPair>0x7fffffff/(int)sizeof(DpPair) ) rc = SQLITE_TOOBIG;
  if( rc==SQLITE_OK && nPair>0 ){
    /* the first worker's array takes the others' pairs */
    int nAlloc = aW[0].nPairAlloc;
    if( dpGrow((void**)&aW[0].aPair, &nAlloc, (int)nPair, sizeof(DpPair)) ){
      rc = SQLITE_NOMEM;
    }else{
      for(i=1; i<nThread; i++){
        memcpy(&aW[0].aPair[aW[0].nPair], aW[i].aPair,
               sizeof(DpPair)*(size_t)aW[i].nPair);
        aW[0].nPair += aW[i].nPair;
      }
      *paPair = aW[0].aPair;
      *pnPair = aW[0].nPair;
      aW[0].aPair = 0;
    }
  }
  for(i=0; i<nThread; i++){
    sqlite3_free(aW[i].aStamp);
    sqlite3_free(aW[i].aOrd);
    sqlite3_free(aW[i].aPair);
  }
  sqlite3_free(s.aRow);
  sqlite3_free(s.aEst);
  sqlite3_free(s.aDir);
  sqlite3_free(s.aPost);
  return rc;
}
