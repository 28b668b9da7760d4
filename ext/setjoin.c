/*
** setjoin.c — the all-pairs join of the set kind: every pair of stored
** shingle sets whose similarity (dpSetSimilarity, the table's measure)
** reaches a threshold t.  dedup_index() over a set table turns the pairs
** into its three modes (dedup.c); its 'first' mode then equals the
** table's own INSERT decisions, which use the same formula.
**
**   DpSetAll all;                      -- dpSetIndexLoadAll: every set
**   dpSetJoin(&all, DP_SET_JACCARD, 0.5, 0, xPoll, pCtx, &aPair, &nPair);
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
** two counters per hash in one cache line (one miss per hash), about one
** counter per stored hash (capped at 2^27): deterministic, and good enough
** that common hashes come last.
**
** The index holds each set's index prefix as (32 low bits of the hash,
** position) in buckets on the top bits of the hash (about two postings per
** bucket), positions increasing within a bucket so a probe stops at its
** own position.  A 32-bit fingerprint that collides only adds a candidate,
** which verification drops.
**
** Threads: counting into the sketch, reading the estimates back and
** probing are split over the machine's cores (a thread each, at most
** JOIN_MAX_THREADS) in chunks taken from a shared counter; each thread has
** its own scratch and pairs, counts into a sketch of its own (summed
** after, saturating as one count would: the same sketch for any number of
** threads), and the sets, the sketch and the index are read-only when
** they read them.  Building the index stays on the calling thread.  The
** calling thread polls xPoll between its chunks (and in its own phases),
** and a non-zero answer stops every thread.  Below JOIN_MIN_THREADED sets no thread is started.
**
** Memory (all in memory, for speed): the sets (8 bytes a hash), one byte
** a hash of estimates, 8 bytes a posting of index prefix (about a third of
** the hashes at jaccard 0.5), 2 bytes a posting of directory, and the
** sketch (about one byte a hash, one per thread, freed before the index
** is built): about 13 bytes per stored hash at t = 0.5.
**
** MEASURED (dedup_index('docs') over word-bigram documents of ~667
** shingles, 2 shared vCPUs, 2026-11-29; bench/results/scale.md)
**
**   100k stored: 7.8 s, 1.0 GB peak resident (phases, with the other
**   core busy: loading the sets through SQLite 1.2 s from the page cache,
**   4.7 s when not in it; sketch 2.0, estimates 1.2, index 2.5, probes
**   3.3); the dense kind's dedup_index over the same table: 250 s
**   1M stored:   257 s, ~8.5 GB peak resident
**
**   1M stored, 2026-11-30 evening, one after the other on the same table
**   (load, sketch, estimates, index, probes):
**     before:                          285 s (26, 20, 10, 37, 190)
**     + huge pages (dpHugePages):      230 s ( 9, 17,  9, 26, 169)
**     + verification that stops early: 111 s (14, 17,  8, 26,  46)
**   (the loads differ by what the page cache held).  The probes verified
**   20.7M candidates for ~50k pairs: 30.4M of the 309M postings scanned
**   matched a fingerprint.  A candidate's merge now stops once what is
**   left of the shorter set cannot bring the overlap to what t needs
**   (joinPairOverlap), and its steps are branch-free.  Huge pages cut the
**   TLB misses of the sketch and index (random access over 128 MB and
**   1.8 GB) and the faults of first writing several GB.  Then a sketch
**   per thread, summed: the sketch 16.9 -> 7.9 and 8.1 s (two runs; the
**   whole join 122 s in the second, the index and probes 34 and 49 s
**   that time).
**
** Both equal the table's own decisions.  Tried and dropped (2026-11-30,
** 100k, sets in the page cache): counting into the sketch and building
** the index on both threads.  With atomic adds the index took 4.9 s
** instead of 2.5 (a locked add waits for its cache miss); with each
** thread owning a range of lines or buckets (every thread orders every
** set) the sketch took 1.6 s instead of 2.0 and the index 3.0 instead of
** 2.5: no gain on these two vCPUs (a sketch per thread, kept above, reads
** each hash once and writes only its own copy).  Also dropped
** (2026-11-30, 100k): a sketch of a sample of the sets, which would save
** most of its 2 s.  The order got worse where it matters, among shingles
** in a few documents:
** 29 s with one set in 8 counted, 62 s with one in 32, against 7.4 s
** (the same pairs every time).  Not done: a join that does not hold
** every set (partitioned or streamed, for sets that outgrow memory).
*/
#include "docpipe.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_CHUNK        64      /* positions a thread takes at a time */
#define JOIN_HASH_CHUNK   65536   /* hashes a thread estimates at a time */
#define JOIN_MIN_THREADED 2048    /* fewer sets: one thread */
#define JOIN_MAX_THREADS  8
#define JOIN_SKETCH_MAX   27      /* log2 of the sketch's counters, at most */
#define JOIN_MARGIN       (1.0 - 1e-9)
#define JOIN_MERGE_STEPS  32      /* merge steps between two bound tests */

typedef struct JoinShared JoinShared;
typedef struct JoinWorker JoinWorker;
struct JoinShared {
  const DpSetAll *pAll;   /* the sets, by id */
  int eMeasure;           /* DP_SET_JACCARD or DP_SET_COSINE */
  double t;               /* threshold */
  int nRow;               /* non-empty sets */
  int *aRow;              /* position (by size, then id) -> set number */
  unsigned char *aSketch; /* count-min sketch: 2^nSketchBits byte counters */
  int nSketchBits;
  unsigned char *aEst;    /* per hash of pAll->aHash: its frequency estimate */
  int nDirBits;           /* buckets = 2^nDirBits, on the hash's top bits */
  uint32_t *aDir;         /* bucket b holds aPost[aDir[b] .. aDir[b+1]) */
  uint64_t *aPost;        /* (low 32 bits of hash) << 32 | position */
  sqlite3_int64 nPost;    /* postings in aPost */
  /* aEst, aDir and aPost are dpLargeMalloc'd: several GB at 1M sets */
  sqlite3_int64 iNext;    /* next item not yet taken (atomic) */
  sqlite3_int64 nItem;    /* the running phase (joinRun): its items, */
  sqlite3_int64 nChunk;   /* ... how many a thread takes at a time, */
  void (*xChunk)(JoinWorker*, sqlite3_int64, sqlite3_int64); /* ... and
                          ** what it does with items [i0, i1) */
  int bStop;              /* set (atomic) on error or interrupt: all stop */
};

struct JoinWorker {
  JoinShared *s;
  int *aStamp;            /* per position: 1 + the probe that saw it last */
  uint64_t *aOrd;         /* scratch: a set's hashes in the global order */
  unsigned char *aSketch; /* the sketch it counts into: s->aSketch for the
                          ** calling thread, a copy of its own for others */
  DpPair *aPair;          /* pairs found (malloc: SQLite's allocator may
                          ** not be safe from two threads at once) */
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

/* The two sketch counters of hash h: in one 64-byte line (chosen by the
** hash's top bits), at two offsets (two other groups of its bits). */
static void joinSlots(uint64_t h, int nBits, uint32_t *p1, uint32_t *p2){
  const uint32_t line = (uint32_t)(h >> (64 - (nBits - 6))) << 6;
  *p1 = line | (uint32_t)(h & 63);
  *p2 = line | (uint32_t)((h >> 6) & 63);
}

/* Count hashes [i0, i1) into the sketch aCnt (16 at a time after
** prefetches, so that the cache misses overlap). */
static void joinSketchRange(const JoinShared *s, unsigned char *aCnt,
                            sqlite3_int64 i0, sqlite3_int64 i1){
  const uint64_t *aHash = s->pAll->aHash;
  const int nBits = s->nSketchBits;
  sqlite3_int64 i, j;
  for(i=i0; i<i1; i+=16){
    sqlite3_int64 e = i+16<i1 ? i+16 : i1;
    uint32_t a1[16], a2[16];
    for(j=i; j<e; j++){
      joinSlots(aHash[j], nBits, &a1[j-i], &a2[j-i]);
      __builtin_prefetch(&aCnt[a1[j-i]], 1);
    }
    for(j=i; j<e; j++){
      if( aCnt[a1[j-i]]<255 ) aCnt[a1[j-i]]++;
      if( aCnt[a2[j-i]]<255 ) aCnt[a2[j-i]]++;
    }
  }
}

/* The estimates of hashes [i0, i1) from the sketch into s->aEst. */
static void joinEstimate(JoinShared *s, sqlite3_int64 i0, sqlite3_int64 i1){
  const uint64_t *aHash = s->pAll->aHash;
  const unsigned char *aCnt = s->aSketch;
  sqlite3_int64 i, j;
  for(i=i0; i<i1; i+=16){
    sqlite3_int64 e = i+16<i1 ? i+16 : i1;
    uint32_t a1[16], a2[16];
    for(j=i; j<e; j++){
      joinSlots(aHash[j], s->nSketchBits, &a1[j-i], &a2[j-i]);
      __builtin_prefetch(&aCnt[a1[j-i]]);
    }
    for(j=i; j<e; j++){
      unsigned char c1 = aCnt[a1[j-i]], c2 = aCnt[a2[j-i]];
      s->aEst[j] = c1<c2 ? c1 : c2;
    }
  }
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

/* The index: every set's index prefix, by bucket, positions ascending;
** w's scratch, and its poll every 4,096 sets. */
static int joinIndex(JoinShared *s, JoinWorker *w){
  uint64_t *aOrd = w->aOrd;
  sqlite3_int64 nPost = 0, nBucket;
  int p, pass;
  for(p=0; p<s->nRow; p++){
    const int iSet = s->aRow[p];
    nPost += joinIndexLen(s, s->pAll->aOff[iSet+1] - s->pAll->aOff[iSet]);
  }
  if( nPost>=0xffffffff ) return SQLITE_TOOBIG;   /* 32-bit directory */
  s->nDirBits = 10;
  while( s->nDirBits<28 && ((sqlite3_int64)2<<s->nDirBits)<nPost ) s->nDirBits++;
  nBucket = (sqlite3_int64)1<<s->nDirBits;
  s->nPost = nPost;
  s->aDir = dpLargeMalloc(sizeof(uint32_t)*(sqlite3_uint64)(nBucket+1));
  s->aPost = dpLargeMalloc(sizeof(uint64_t)*(sqlite3_uint64)(nPost+1));
  if( s->aDir==0 || s->aPost==0 ) return SQLITE_NOMEM;
  dpHugePages(s->aDir, sizeof(uint32_t)*(sqlite3_uint64)(nBucket+1));
  dpHugePages(s->aPost, sizeof(uint64_t)*(sqlite3_uint64)(nPost+1));
  memset(s->aDir, 0, sizeof(uint32_t)*(size_t)(nBucket+1));
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
      if( (p & 4095)==4095 && w->xPoll ){
        int rc = w->xPoll(w->pPollCtx);
        if( rc ) return rc;
      }
    }
  }
  /* each aDir[b] now holds bucket b's end, which is bucket b+1's start */
  memmove(&s->aDir[1], &s->aDir[0], sizeof(uint32_t)*(size_t)nBucket);
  s->aDir[0] = 0;
  return SQLITE_OK;
}

/* The least overlap with which sets of n and m hashes can reach t:
** jaccard k/(n+m-k) >= t when k >= t(n+m)/(1+t), cosine k/sqrt(nm) >= t
** when k >= t*sqrt(nm); a little below the true bound, as joinOverlap, so
** that a pair whose computed similarity reaches t always has k >= it. */
static sqlite3_int64 joinPairOverlap(const JoinShared *s, sqlite3_int64 n,
                                     sqlite3_int64 m){
  const double b = s->eMeasure==DP_SET_COSINE
                 ? s->t * sqrt((double)n * (double)m)
                 : s->t / (1.0 + s->t) * (double)(n + m);
  const sqlite3_int64 o = (sqlite3_int64)ceil(b * JOIN_MARGIN);
  return o<1 ? 1 : o;
}

/* |A n B| of two sorted sets when it is at least o; else some count below
** o, returned as soon as what is left of the shorter side cannot bring
** the count to o (tested every JOIN_MERGE_STEPS steps; most candidates
** share a hash or two and end after about a third of the merge).  The
** steps are branch-free: which side advances is a comparison of random
** hashes, which a branch mispredicted about every other step.  Verifying
** 20M candidates was two thirds of dedup_index at 1M documents. */
static sqlite3_int64 joinInter(const uint64_t *a, sqlite3_int64 n,
                               const uint64_t *b, sqlite3_int64 m,
                               sqlite3_int64 o){
  sqlite3_int64 i = 0, j = 0, k = 0;
  for(;;){
    const sqlite3_int64 nLeft = n - i<m - j ? n - i : m - j;
    sqlite3_int64 e;
    if( nLeft==0 || k + nLeft<o ) return k;
    /* each step advances i or j or both: e <= nLeft steps stay in bounds */
    e = nLeft<JOIN_MERGE_STEPS ? nLeft : JOIN_MERGE_STEPS;
    while( e-- > 0 ){
      const uint64_t x = a[i], y = b[j];
      k += x==y;
      i += x<=y;
      j += y<=x;
    }
  }
}

static void joinAddPair(JoinWorker *w, int a, int b, double r){
  if( w->nPair>=w->nPairAlloc ){
    int nNew = w->nPairAlloc<1024 ? 1024 : w->nPairAlloc*2;
    DpPair *aNew = w->nPairAlloc>0x3fffffff ? 0
                 : realloc(w->aPair, sizeof(DpPair)*(size_t)nNew);
    if( aNew==0 ){ w->rc = SQLITE_NOMEM; return; }
    w->aPair = aNew;
    w->nPairAlloc = nNew;
  }
  w->aPair[w->nPair].i = a<b ? a : b;
  w->aPair[w->nPair].j = a<b ? b : a;
  w->aPair[w->nPair].r = r;
  w->nPair++;
}

/* Candidate q (an earlier position) of the set at position p (set number
** iSet, hashes aA[0..n)): verified once per probe, if its size can pass. */
static void joinCandidate(JoinWorker *w, int p, int iSet, const uint64_t *aA,
                          sqlite3_int64 n, double mMin, int q){
  const JoinShared *s = w->s;
  const DpSetAll *pAll = s->pAll;
  const int jSet = s->aRow[q];
  const sqlite3_int64 m = pAll->aOff[jSet+1] - pAll->aOff[jSet];
  sqlite3_int64 k, o;
  if( w->aStamp[q]==p+1 ) return;
  w->aStamp[q] = p+1;
  if( (double)m<mMin ) return;
  o = joinPairOverlap(s, n, m);
  k = joinInter(aA, n, &pAll->aHash[pAll->aOff[jSet]], m, o);
  if( k>=o ){
    double r = dpSetSimilarity(s->eMeasure, k, n, m);
    if( r>=s->t ) joinAddPair(w, iSet, jSet, r);
  }
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
  sqlite3_int64 i, i0;
  joinOrder(s, iSet, w->aOrd);
  for(i0=0; i0<l && w->rc==SQLITE_OK; i0+=16){
    /* 16 keys at a time: their directory entries, then their postings,
    ** are fetched before any is read, so that the cache misses overlap */
    const sqlite3_int64 i1 = i0+16<l ? i0+16 : l;
    uint32_t aB[16], aStart[16], aEnd[16];
    for(i=i0; i<i1; i++){
      aB[i-i0] = joinBucket(s, w->aOrd[i]);
      __builtin_prefetch(&s->aDir[aB[i-i0]]);
    }
    for(i=i0; i<i1; i++){
      aStart[i-i0] = s->aDir[aB[i-i0]];
      aEnd[i-i0] = s->aDir[aB[i-i0]+1];
      __builtin_prefetch(&s->aPost[aStart[i-i0]]);
    }
    for(i=i0; i<i1 && w->rc==SQLITE_OK; i++){
      const uint32_t fp = (uint32_t)w->aOrd[i];
      uint32_t e;
      for(e=aStart[i-i0]; e<aEnd[i-i0]; e++){
        const uint64_t post = s->aPost[e];
        const int q = (int)(uint32_t)post;
        if( q>=p ) break;               /* later positions: they probe us */
        if( (uint32_t)(post>>32)==fp ) joinCandidate(w, p, iSet, aA, n, mMin, q);
      }
    }
  }
}

/* A thread's share of a phase: take chunks from s->iNext until none is
** left or someone stops; the calling thread polls between its chunks. */
static void *joinShare(void *pArg){
  JoinWorker *w = pArg;
  JoinShared *s = w->s;
  const sqlite3_int64 nItem = s->nItem, nChunk = s->nChunk;
  while( w->rc==SQLITE_OK && !__atomic_load_n(&s->bStop, __ATOMIC_RELAXED) ){
    sqlite3_int64 i0 = __atomic_fetch_add(&s->iNext, nChunk, __ATOMIC_RELAXED);
    if( i0>=nItem ) break;
    s->xChunk(w, i0, i0+nChunk<nItem ? i0+nChunk : nItem);
    if( w->rc==SQLITE_OK && w->xPoll ) w->rc = w->xPoll(w->pPollCtx);
  }
  if( w->rc!=SQLITE_OK ) __atomic_store_n(&s->bStop, 1, __ATOMIC_RELAXED);
  return 0;
}

static void joinSketchChunk(JoinWorker *w, sqlite3_int64 i0, sqlite3_int64 i1){
  joinSketchRange(w->s, w->aSketch, i0, i1);
}
static void joinEstimateChunk(JoinWorker *w, sqlite3_int64 i0, sqlite3_int64 i1){
  joinEstimate(w->s, i0, i1);
}
static void joinProbeChunk(JoinWorker *w, sqlite3_int64 i0, sqlite3_int64 i1){
  sqlite3_int64 p;
  for(p=i0; p<i1 && w->rc==SQLITE_OK; p++) joinProbe(w, (int)p);
}

/* Items [0, nItem) of a phase, nChunk at a time, through xChunk, on
** aW[0..nThread) (joinShare): aW[0] on the calling thread, the others on
** threads of their own (one that cannot start leaves its share to the
** others); the first error of any of them. */
static int joinRun(JoinShared *s, JoinWorker *aW, int nThread,
                   sqlite3_int64 nItem, sqlite3_int64 nChunk,
                   void (*xChunk)(JoinWorker*, sqlite3_int64, sqlite3_int64)){
  pthread_t aThread[JOIN_MAX_THREADS];
  int abStarted[JOIN_MAX_THREADS];
  int i, rc = SQLITE_OK;
  s->iNext = 0;
  s->nItem = nItem;
  s->nChunk = nChunk;
  s->xChunk = xChunk;
  for(i=1; i<nThread; i++){
    abStarted[i] = pthread_create(&aThread[i], 0, joinShare, &aW[i])==0;
  }
  joinShare(&aW[0]);
  for(i=1; i<nThread; i++){
    if( abStarted[i] ) pthread_join(aThread[i], 0);
  }
  for(i=0; i<nThread && rc==SQLITE_OK; i++) rc = aW[i].rc;
  return rc;
}

/* The sketch of every hash (s->aSketch) and room for the estimates
** (s->aEst).  Each thread counts its share of the hashes into a sketch of
** its own, summed into the calling thread's after: a counter saturates at
** 255, and min(255, a + b) of two saturated counts is what one count of
** every hash gives, so the sketch, and the order, are the same for any
** number of threads. */
static int joinSketch(JoinShared *s, JoinWorker *aW, int nThread){
  const sqlite3_int64 nHash = s->pAll->aOff[s->pAll->n];
  int nBits = 16, i, rc = SQLITE_OK;
  size_t nCnt, j;
  while( nBits<JOIN_SKETCH_MAX && ((sqlite3_int64)1<<nBits)<nHash ) nBits++;
  s->nSketchBits = nBits;
  nCnt = (size_t)1<<nBits;
  s->aSketch = sqlite3_malloc64(nCnt);
  s->aEst = dpLargeMalloc((sqlite3_uint64)nHash + 1);
  aW[0].aSketch = s->aSketch;
  for(i=1; i<nThread; i++) aW[i].aSketch = sqlite3_malloc64(nCnt);
  for(i=0; i<nThread; i++){
    if( aW[i].aSketch==0 ){ rc = SQLITE_NOMEM; break; }
    dpHugePages(aW[i].aSketch, nCnt);
    memset(aW[i].aSketch, 0, nCnt);
  }
  if( s->aEst==0 ) rc = SQLITE_NOMEM;
  if( rc==SQLITE_OK ){
    dpHugePages(s->aEst, (sqlite3_uint64)nHash + 1);
    rc = joinRun(s, aW, nThread, nHash, JOIN_HASH_CHUNK, joinSketchChunk);
  }
  for(i=1; i<nThread; i++){
    const unsigned char *aOther = aW[i].aSketch;
    if( rc==SQLITE_OK ){
      for(j=0; j<nCnt; j++){
        const unsigned v = (unsigned)s->aSketch[j] + aOther[j];
        s->aSketch[j] = (unsigned char)(v<255 ? v : 255);
      }
    }
    sqlite3_free(aW[i].aSketch);
    aW[i].aSketch = 0;
  }
  aW[0].aSketch = 0;
  return rc;
}

/* Threads to use: one per core this process may run on, at most
** JOIN_MAX_THREADS; one for a small input (no thread is started for it),
** or when SQLite was built without threads. */
static int joinThreads(int nRow){
  return nRow<JOIN_MIN_THREADED ? 1 : dpThreadCount(JOIN_MAX_THREADS);
}

int dpSetJoin(const DpSetAll *pAll, int eMeasure, double t, int nThreadArg,
              int (*xPoll)(void*), void *pPollCtx,
              DpPair **paPair, int *pnPair){
  JoinShared s;
  JoinWorker aW[JOIN_MAX_THREADS];
  int nThread = 1, i, rc = SQLITE_OK;
  sqlite3_int64 nMax = 0, nPair = 0;
  uint64_t *aKey = 0;
  *paPair = 0;
  *pnPair = 0;
  memset(&s, 0, sizeof(s));
  memset(aW, 0, sizeof(aW));
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
  if( rc==SQLITE_OK ){
    nThread = nThreadArg>0 ? nThreadArg : joinThreads(s.nRow);
    if( nThread>JOIN_MAX_THREADS ) nThread = JOIN_MAX_THREADS;
    for(i=0; i<nThread; i++){
      aW[i].s = &s;
      aW[i].aStamp = sqlite3_malloc64(sizeof(int)*((sqlite3_uint64)s.nRow+1));
      aW[i].aOrd = sqlite3_malloc64(sizeof(uint64_t)*((sqlite3_uint64)nMax+1));
      if( aW[i].aStamp==0 || aW[i].aOrd==0 ){ rc = SQLITE_NOMEM; break; }
      memset(aW[i].aStamp, 0, sizeof(int)*(size_t)s.nRow);
    }
    aW[0].xPoll = xPoll;
    aW[0].pPollCtx = pPollCtx;
  }
  if( rc==SQLITE_OK ) rc = joinSketch(&s, aW, nThread);
  if( rc==SQLITE_OK ){
    rc = joinRun(&s, aW, nThread, s.pAll->aOff[s.pAll->n], JOIN_HASH_CHUNK,
                 joinEstimateChunk);
  }
  sqlite3_free(s.aSketch);
  s.aSketch = 0;
  if( rc==SQLITE_OK ) rc = joinIndex(&s, &aW[0]);
  if( rc==SQLITE_OK ) rc = joinRun(&s, aW, nThread, s.nRow, JOIN_CHUNK, joinProbeChunk);
  for(i=0; i<nThread && rc==SQLITE_OK; i++) nPair += aW[i].nPair;
  /* the caller frees the pairs with sqlite3_free (at most ~2 GB of them) */
  if( rc==SQLITE_OK && nPair>0x7ffff000/(int)sizeof(DpPair) ) rc = SQLITE_TOOBIG;
  if( rc==SQLITE_OK && nPair>0 ){
    DpPair *a = sqlite3_malloc64(sizeof(DpPair)*(sqlite3_uint64)nPair);
    if( a==0 ){
      rc = SQLITE_NOMEM;
    }else{
      for(nPair=0, i=0; i<nThread; i++){
        if( aW[i].nPair==0 ) continue;   /* its aPair may be NULL */
        memcpy(&a[nPair], aW[i].aPair, sizeof(DpPair)*(size_t)aW[i].nPair);
        nPair += aW[i].nPair;
      }
      *paPair = a;
      *pnPair = (int)nPair;
    }
  }
  for(i=0; i<nThread; i++){
    sqlite3_free(aW[i].aStamp);
    sqlite3_free(aW[i].aOrd);
    free(aW[i].aPair);
  }
  sqlite3_free(s.aRow);
  dpLargeFree(s.aEst, s.pAll->aOff[s.pAll->n] + 1);
  dpLargeFree(s.aDir, sizeof(uint32_t)*(((sqlite3_uint64)1<<s.nDirBits) + 1));
  dpLargeFree(s.aPost, sizeof(uint64_t)*((sqlite3_uint64)s.nPost + 1));
  return rc;
}
