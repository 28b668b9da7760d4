/*
** index.c — the in-memory search structure of one docpipe table.
**
**   INSERT INTO docs(body) VALUES ('...');       -- dpIndexBest, dpIndexAdd
**   SELECT rowid, score FROM docs WHERE docs MATCH 'text' AND k = 5;
**                                                -- dpIndexNearest
**
** How it works: every stored document with a non-zero vector has one entry:
** its rowid, a flag saying whether it takes part in near-duplicate
** decisions (it does unless it was itself flagged a duplicate), and its
** vector in one contiguous float array, nDim floats per entry, in the order
** the entries were added.  The structure is a cache: vtab.c fills it from
** the shadow tables when it is first needed and throws it away when a
** transaction rolls back or another connection commits, so it never has to
** undo anything itself.
**
** Scores are dpCosine()'s, the cosine exactly as the SQL function cosine()
** computes it (dot and both squared norms from one pass of the chosen
** kernel, then d / sqrt(na*nb) in double; the query's |q|^2 is summed once
** and dpCosineNorm() gives the same double), so a brute-force reference
** written with cosine() in SQL gives the same decisions bit for bit.
**
** dpIndexBest does not compute that score for every entry.  Each entry
** also has a sketch (see "Sketches" below) from which an upper bound of
** its cosine with the query follows in a few popcounts; only entries whose
** bound reaches the threshold are scored exactly.  The bound is rigorous,
** so the decision is the one a full scan makes.
*/
#include "docpipe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/**************************************************************************
** Sketches.
**
** For a stored vector v and the query q (any real vectors):
**
**   cos(q, v) = sum_i q_i v_i / (|q| |v|)
**            <= sum_{i in P} |q_i| |v_i| / (|q| |v|)
**
** where P is the set of buckets where v_i != 0 and sign(v_i) = sign(q_i):
** the other terms are zero or negative.  By Cauchy-Schwarz over P,
**
**   sum_{i in P} |q_i| |v_i| <= sqrt(sum_{i in P} q_i^2) * |v|
**
** so cos(q, v) <= sqrt(sum_{i in P} q_i^2) / |q|.
**
** The sketch of v is two bit sets: NZ (v_i != 0) and NEG (v_i < 0).  For
** the query we precompute its own bit sets, split by magnitude into
** DP_LEVELS levels: level l holds the buckets whose q_i^2/|q|^2 lies in
** (lo_l, hi_l], and we keep hi_l.  Then
**
**   sum_{i in P} q_i^2 / |q|^2 <= sum_l hi_l * popcount(P & LEVEL_l)
**
** and P = NZ_v & ~(NEG_v ^ NEG_q) & NZ_q.  Each step only rounds up (hi_l is
** the largest value of its level, popcounts are exact, and the bound is
** compared with a margin, dpScoreSlack(), larger than the float rounding of
** the exact score), so an entry whose bound is below the
** threshold cannot reach it, and skipping it changes no decision.
**
** Embeddings from embed() are normalised bucket counts, so q takes very
** few distinct magnitudes (counts 1, 2, 3, ...) and the levels are nearly
** exact.  A 1024-d sketch is 256 bytes against 4096 for the vector, so a
** scan reads 16 times less memory.
*/

/* Bits per sketch word and words per sketch half. */
#define WORD_BITS 64
static int sketchWords(int nDim){ return (nDim + WORD_BITS - 1) / WORD_BITS; }

void dpIndexInit(DpIndex *p, int nDim){
  memset(p, 0, sizeof(*p));
  p->nDim = nDim;
  p->nWord = sketchWords(nDim);
}

void dpIndexClear(DpIndex *p){
  p->nEntry = 0;
}

void dpIndexFree(DpIndex *p){
  sqlite3_free(p->aId);
  sqlite3_free(p->aFlag);
  sqlite3_free(p->aVec);
  sqlite3_free(p->aSketch);
  sqlite3_free(p->aCount);
  sqlite3_free(p->aScale);
  dpIndexInit(p, p->nDim);
}

/* Make room for one more entry. */
static int growEntries(DpIndex *p){
  int nNew;
  sqlite3_int64 nVecBytes, nSkBytes;
  void *pNew;
  if( p->nEntry < p->nAlloc ) return SQLITE_OK;
  if( p->nAlloc > 0x3fffffff ) return SQLITE_NOMEM;
  nNew = p->nAlloc ? p->nAlloc*2 : 64;
  nVecBytes = (sqlite3_int64)nNew * p->nDim * (sqlite3_int64)sizeof(float);
  nSkBytes = (sqlite3_int64)nNew * 2 * p->nWord * (sqlite3_int64)sizeof(uint64_t);
  pNew = sqlite3_realloc64(p->aId, (sqlite3_uint64)nNew * sizeof(sqlite3_int64));
  if( pNew==0 ) return SQLITE_NOMEM;
  p->aId = pNew;
  pNew = sqlite3_realloc64(p->aFlag, (sqlite3_uint64)nNew);
  if( pNew==0 ) return SQLITE_NOMEM;
  p->aFlag = pNew;
  pNew = sqlite3_realloc64(p->aVec, (sqlite3_uint64)nVecBytes);
  if( pNew==0 ) return SQLITE_NOMEM;
  p->aVec = pNew;
  pNew = sqlite3_realloc64(p->aSketch, (sqlite3_uint64)nSkBytes);
  if( pNew==0 ) return SQLITE_NOMEM;
  p->aSketch = pNew;
  pNew = sqlite3_realloc64(p->aCount, (sqlite3_uint64)nNew * p->nDim);
  if( pNew==0 ) return SQLITE_NOMEM;
  p->aCount = pNew;
  pNew = sqlite3_realloc64(p->aScale, (sqlite3_uint64)nNew * sizeof(float));
  if( pNew==0 ) return SQLITE_NOMEM;
  p->aScale = pNew;
  p->nAlloc = nNew;
  return SQLITE_OK;
}

/* NZ and NEG bit sets of v into aNz[nWord], aNeg[nWord]. */
static void sketchOf(const float *v, int nDim, uint64_t *aNz, uint64_t *aNeg){
  int nWord = sketchWords(nDim), i;
  memset(aNz, 0, sizeof(uint64_t)*(size_t)nWord);
  memset(aNeg, 0, sizeof(uint64_t)*(size_t)nWord);
  for(i=0; i<nDim; i++){
    uint64_t bit = (uint64_t)1 << (i % WORD_BITS);
    if( v[i]!=0.0f ) aNz[i/WORD_BITS] |= bit;
    if( v[i]<0.0f ) aNeg[i/WORD_BITS] |= bit;
  }
}

/*
** The count copy.  Vectors made by embed() are bucket counts times one
** float: v_i = c_i * m with small integers c_i.  When v is of that form
** (|c_i| <= 127, each v_i within 1e-6 relative of c_i * m), keep c as int8
** and m/|v|: a nearest-document scan then reads a quarter of the bytes.
** Returns 1 and fills aC, *pScale when it is; 0 otherwise (then the entry
** is scored from its f32 vector).
*/
static int countsOf(const float *v, int nDim, signed char *aC, float *pScale){
  double m = 0.0, ss = 0.0;
  int i;
  for(i=0; i<nDim; i++){
    double a = v[i]<0 ? -(double)v[i] : (double)v[i];
    if( a>0.0 && (m==0.0 || a<m) ) m = a;
    ss += (double)v[i]*v[i];
  }
  if( m==0.0 ) return 0;
  for(i=0; i<nDim; i++){
    double c = (double)v[i] / m;
    double r;
    /* before the cast: a double out of range of long is undefined (a
    ** vector may span 1e-40 to 1e15 and still be scorable) */
    if( c>127.5 || c<-127.5 ) return 0;
    r = c<0 ? -(double)(long)(-c+0.5) : (double)(long)(c+0.5);
    if( r>127.0 || r<-127.0 ) return 0;
    if( (double)v[i] - r*m > 1e-6*m*(r<0?-r:r) + 1e-30
     || r*m - (double)v[i] > 1e-6*m*(r<0?-r:r) + 1e-30 ){
      return 0;
    }
    aC[i] = (signed char)r;
  }
  *pScale = (float)(m / sqrt(ss));
  return 1;
}

int dpIndexAdd(DpIndex *p, sqlite3_int64 iId, const float *aVec,
               int bIndexed){
  int rc = growEntries(p);
  uint64_t *pSk;
  if( rc!=SQLITE_OK ) return rc;
  p->aId[p->nEntry] = iId;
  p->aFlag[p->nEntry] = bIndexed ? DP_ENTRY_INDEXED : 0;
  memcpy(&p->aVec[(sqlite3_int64)p->nEntry * p->nDim], aVec,
         sizeof(float)*(size_t)p->nDim);
  pSk = &p->aSketch[(sqlite3_int64)p->nEntry * 2 * p->nWord];
  sketchOf(aVec, p->nDim, pSk, pSk + p->nWord);
  if( countsOf(aVec, p->nDim, &p->aCount[(sqlite3_int64)p->nEntry * p->nDim],
               &p->aScale[p->nEntry]) ){
    p->aFlag[p->nEntry] |= DP_ENTRY_COUNTS;
  }
  p->nEntry++;
  return SQLITE_OK;
}

int dpIndexFind(const DpIndex *p, sqlite3_int64 iId){
  int i;
  for(i=0; i<p->nEntry; i++){
    if( p->aId[i]==iId ) return i;
  }
  return -1;
}

/* Remove entry iId if present: the last entry moves into its place (the
** order of entries carries no meaning; ties are broken by rowid). */
int dpIndexRemove(DpIndex *p, sqlite3_int64 iId){
  int i = dpIndexFind(p, iId);
  int iLast = p->nEntry - 1;
  if( i<0 ) return 0;
  if( i!=iLast ){
    p->aId[i] = p->aId[iLast];
    p->aFlag[i] = p->aFlag[iLast];
    memcpy(&p->aVec[(sqlite3_int64)i * p->nDim],
           &p->aVec[(sqlite3_int64)iLast * p->nDim],
           sizeof(float)*(size_t)p->nDim);
    memcpy(&p->aSketch[(sqlite3_int64)i * 2 * p->nWord],
           &p->aSketch[(sqlite3_int64)iLast * 2 * p->nWord],
           sizeof(uint64_t)*2*(size_t)p->nWord);
    memcpy(&p->aCount[(sqlite3_int64)i * p->nDim],
           &p->aCount[(sqlite3_int64)iLast * p->nDim], (size_t)p->nDim);
    p->aScale[i] = p->aScale[iLast];
  }
  p->nEntry--;
  return 1;
}

/* 1 when hit (s1, id1) ranks before (s2, id2): higher score, then lower id. */
static int ranksBefore(double s1, sqlite3_int64 id1,
                       double s2, sqlite3_int64 id2){
  return s1>s2 || (s1==s2 && id1<id2);
}

/* Split q's non-zero buckets into levels by q_i^2/|q|^2.  Level l takes
** values above aHi[0]/4^(l+1)... geometrically from the largest, the last
** level takes everything below.  Returns 0 when q is all zeros. */
static int querySketch(const float *q, int nDim, int nWord,
                       DpQuerySketch *pQs){
  double ss = 0.0, rMax = 0.0;
  int i, l;
  for(i=0; i<nDim; i++){
    double x = (double)q[i]*q[i];
    ss += x;
    if( x>rMax ) rMax = x;
  }
  if( ss==0.0 ) return 0;
  memset(pQs->aNeg, 0, sizeof(uint64_t)*(size_t)nWord);
  memset(pQs->aLevel, 0, sizeof(uint64_t)*(size_t)nWord*DP_LEVELS);
  for(l=0; l<DP_LEVELS; l++) pQs->aHi[l] = 0.0;
  for(i=0; i<nDim; i++){
    double x = (double)q[i]*q[i];
    uint64_t bit = (uint64_t)1 << (i % WORD_BITS);
    double lim = rMax;
    if( x==0.0 ) continue;
    if( q[i]<0.0f ) pQs->aNeg[i/WORD_BITS] |= bit;
    /* level l: (rMax/4^(l+1), rMax/4^l]; the last level has no floor */
    for(l=0; l<DP_LEVELS-1; l++){
      if( x > lim*0.25 ) break;
      lim *= 0.25;
    }
    pQs->aLevel[(size_t)l*nWord + i/WORD_BITS] |= bit;
    if( x/ss > pQs->aHi[l] ) pQs->aHi[l] = x/ss;
  }
  return 1;
}

/* Entries scanned per call of the sketch filter: bounds the candidate
** buffer and keeps the sketches of a chunk warm for the exact re-check. */
#define FILTER_CHUNK 4096

int dpIndexBest(DpIndex *p, const float *q, double rThreshold,
                sqlite3_int64 *piId, double *prScore){
  DpQuerySketch qs;
  uint64_t *aBuf;
  int *aCand;
  int iChunk, bFound = 0;
  sqlite3_int64 iBest = 0;
  double rBest = 0.0;
  const int nWord = p->nWord;
  const double rMin = rThreshold - dpScoreSlack(p->nDim);
  /* bound >= rMin  <=>  bound^2 >= rMin^2, when rMin > 0 */
  const double rMin2 = rMin>0.0 ? rMin*rMin : -1.0;
  const float nq = dpNormSq(q, p->nDim);
  *piId = 0;
  *prScore = 0.0;
  if( !dpVectorScorable(q, p->nDim, 0) ) return SQLITE_DONE;
  aBuf = sqlite3_malloc64(sizeof(uint64_t)*(sqlite3_int64)nWord*(DP_LEVELS+1)
                          + sizeof(int)*FILTER_CHUNK);
  if( aBuf==0 ) return SQLITE_NOMEM;
  qs.aNeg = aBuf;
  qs.aLevel = aBuf + nWord;
  aCand = (int*)(aBuf + (size_t)nWord*(DP_LEVELS+1));
  if( querySketch(q, p->nDim, nWord, &qs) ){
    for(iChunk=0; iChunk<p->nEntry; iChunk+=FILTER_CHUNK){
      int nChunk = p->nEntry - iChunk;
      int nCand, j;
      if( nChunk>FILTER_CHUNK ) nChunk = FILTER_CHUNK;
      nCand = dpKernels->xSketchFilter(
          &p->aSketch[(sqlite3_int64)iChunk * 2 * nWord], &p->aFlag[iChunk],
          nChunk, nWord, DP_ENTRY_INDEXED, &qs, rMin2, aCand);
      for(j=0; j<nCand; j++){
        int i = iChunk + aCand[j];
        int eNone = 0;
        double r = dpCosineNorm(&p->aVec[(sqlite3_int64)i * p->nDim], q,
                                p->nDim, nq, &eNone);
        if( eNone==DP_SCORE_OK && r>=rThreshold
         && (!bFound || ranksBefore(r, p->aId[i], rBest, iBest)) ){
          bFound = 1;
          iBest = p->aId[i];
          rBest = r;
        }
      }
    }
  }
  sqlite3_free(aBuf);
  *piId = iBest;
  *prScore = rBest;
  return bFound ? SQLITE_ROW : SQLITE_DONE;
}

/* Min-heap of the k best hits so far; the root is the worst of them. */
static void heapSiftDown(DpHit *a, int n, int i){
  for(;;){
    int l = 2*i+1, r = l+1, w = i;
    if( l<n && ranksBefore(a[w].rScore, a[w].iId, a[l].rScore, a[l].iId) ) w = l;
    if( r<n && ranksBefore(a[w].rScore, a[w].iId, a[r].rScore, a[r].iId) ) w = r;
    if( w==i ) return;
    { DpHit t = a[i]; a[i] = a[w]; a[w] = t; }
    i = w;
  }
}

static void heapSiftUp(DpHit *a, int i){
  while( i>0 ){
    int up = (i-1)/2;
    if( !ranksBefore(a[up].rScore, a[up].iId, a[i].rScore, a[i].iId) ) return;
    { DpHit t = a[i]; a[i] = a[up]; a[up] = t; }
    i = up;
  }
}

static int cmpHit(const void *pa, const void *pb){
  const DpHit *a = pa, *b = pb;
  if( ranksBefore(a->rScore, a->iId, b->rScore, b->iId) ) return -1;
  if( ranksBefore(b->rScore, b->iId, a->rScore, a->iId) ) return 1;
  return 0;
}

/* Push (r, id) into the k-best min-heap aHit of *pnHit entries. */
static void heapOffer(DpHit *aHit, int *pnHit, int nCap, double r,
                      sqlite3_int64 iId){
  if( *pnHit<nCap ){
    aHit[*pnHit].iId = iId;
    aHit[*pnHit].rScore = r;
    heapSiftUp(aHit, *pnHit);
    (*pnHit)++;
  }else if( ranksBefore(r, iId, aHit[0].rScore, aHit[0].iId) ){
    aHit[0].iId = iId;
    aHit[0].rScore = r;
    heapSiftDown(aHit, *pnHit, 0);
  }
}

/*
** Nearest documents in two passes, exact all the same.  Pass 1 gives every
** entry an approximate score: from its int8 counts when it has them (a
** quarter of the bytes of the f32 vector), its exact score otherwise.
** Each approximate score is within S = 2*dpScoreSlack() of the exact one.
** If A is the k-th largest approximate score, k entries have exact score
** >= A - S, so the k-th exact score r_k >= A - S, and every entry of the
** exact top k has approximate score >= r_k - S >= A - 2S.  Pass 2 scores
** exactly just the entries at or above A - 2S (and rMin - S), which
** therefore contain the answer, ties included.
*/
int dpIndexNearest(DpIndex *p, const float *q, int k, double rMin,
                   int (*xAccept)(void*, sqlite3_int64), void *pAcceptCtx,
                   DpHit **paHit, int *pnHit){
  const int nDim = p->nDim;
  const double rS = 2.0 * dpScoreSlack(nDim);
  DpHit *aHit = 0, *aTop = 0;
  double *aAppr = 0;
  float *aQn = 0;
  int nHit = 0, nTop = 0, i, rc = SQLITE_OK;
  int nCap = k < p->nEntry ? k : p->nEntry;
  double ss = 0.0, rCut;
  float nq;
  *paHit = 0;
  *pnHit = 0;
  if( nCap<=0 || !dpVectorScorable(q, nDim, 0) ) return SQLITE_OK;
  for(i=0; i<nDim; i++) ss += (double)q[i]*q[i];
  if( ss==0.0 ) return SQLITE_OK;
  nq = dpNormSq(q, nDim);
  aHit = sqlite3_malloc64(sizeof(DpHit)*(sqlite3_int64)nCap);
  aTop = sqlite3_malloc64(sizeof(DpHit)*(sqlite3_int64)nCap);
  aAppr = sqlite3_malloc64(sizeof(double)*(sqlite3_int64)p->nEntry);
  aQn = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)nDim);
  if( !aHit || !aTop || !aAppr || !aQn ){
    rc = SQLITE_NOMEM;
    goto nearest_out;
  }
  for(i=0; i<nDim; i++) aQn[i] = (float)((double)q[i] / sqrt(ss));

  /* pass 1: approximate scores, and the k best of them */
  for(i=0; i<p->nEntry; i++){
    double a;
    if( xAccept && !xAccept(pAcceptCtx, p->aId[i]) ){
      aAppr[i] = -HUGE_VAL;
      continue;
    }
    if( p->aFlag[i] & DP_ENTRY_COUNTS ){
      a = (double)dpKernels->xDotI8(aQn, &p->aCount[(sqlite3_int64)i * nDim],
                                    nDim) * p->aScale[i];
    }else{
      int eNone = 0;
      a = dpCosineNorm(&p->aVec[(sqlite3_int64)i * nDim], q, nDim, nq, &eNone);
      if( eNone!=DP_SCORE_OK ) a = -HUGE_VAL;
    }
    aAppr[i] = a;
    if( a>-HUGE_VAL ) heapOffer(aTop, &nTop, nCap, a, p->aId[i]);
  }
  rCut = nTop<nCap ? -HUGE_VAL : aTop[0].rScore - 2.0*rS;
  if( rCut<rMin - rS ) rCut = rMin - rS;

  /* pass 2: exact scores of the candidates */
  for(i=0; i<p->nEntry; i++){
    int eNone = 0;
    double r;
    if( !(aAppr[i]>-HUGE_VAL) || aAppr[i]<rCut ) continue;
    r = dpCosineNorm(&p->aVec[(sqlite3_int64)i * nDim], q, nDim, nq, &eNone);
    if( eNone!=DP_SCORE_OK || r<rMin ) continue;
    heapOffer(aHit, &nHit, nCap, r, p->aId[i]);
  }
  qsort(aHit, (size_t)nHit, sizeof(DpHit), cmpHit);

nearest_out:
  sqlite3_free(aTop);
  sqlite3_free(aAppr);
  sqlite3_free(aQn);
  if( rc!=SQLITE_OK ){
    sqlite3_free(aHit);
    return rc;
  }
  *paHit = aHit;
  *pnHit = nHit;
  return SQLITE_OK;
}
