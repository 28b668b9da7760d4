/*
** embed.c — features of a token list, feature hashing, L2 normalisation.
**
**   SELECT length(embed('the quick brown fox jumps over the lazy dog'));  -- 4096
**   SELECT hex(embed('hello world', 'dim=8 tokenize=words hashing=seed'));
**
** How it works: a feature is a run of nShingle consecutive tokens (all the
** tokens when there are fewer).  Each feature adds +1 or -1 to one of nDim
** buckets, both chosen from a 64-bit hash h of the feature:
**
**   hashing='signed' (default)  each token is hashed once with xxh3; a
**       shingle's hash mixes its tokens' hashes (combineHashes), so the cost
**       per feature does not grow with the token lengths; bucket = h % nDim,
**       sign from bit 63, independent of the bucket for any nDim.  Each
**       distinct feature counts once (the document is a SET of shingles):
**       a hash already seen in this document is skipped, found in a small
**       open-addressing table (DpTokens.aSet).  The cosine of two documents
**       is then close to the Ochiai coefficient |A&B|/sqrt(|A||B|) of their
**       shingle sets, and a file that repeats a short text many times does
**       not score high against it.
**   hashing='seed'  h = FNV-1a 64 of the feature's UTF-8 bytes (tokens joined
**       by one space), bucket = h % nDim, sign -1 when h & 1: the Go
**       prototype's rule.  At even nDim the sign equals bucket parity, so
**       this is unsigned counting; every occurrence counts, as in the
**       prototype; kept for cross-checks only.
**
** Bucket sums are accumulated as 32-bit integers (a feature count fits:
** there are fewer than 2^31 tokens), in the output array itself, so they
** stay exact for any document size; float32 sums would stop growing at
** 2^24.  The vector is then divided by its L2 norm (computed in double, as
** the prototype did in float64) and rounded to float32.  No feature → the
** zero vector, which is never a duplicate of anything.
*/
#include "docpipe.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t fnvAdd(uint64_t h, const unsigned char *p, size_t n){
  size_t i;
  for(i=0; i<n; i++){
    h ^= p[i];
    h *= FNV_PRIME;
  }
  return h;
}

int dpFeatureCount(int nTok, int nShingle){
  if( nTok==0 ) return 0;
  if( nTok<=nShingle ) return 1;
  return nTok - nShingle + 1;
}

/* Tokens [iFirst, iFirst+nLen) of feature iFeat. */
static void featureSpan(int nTok, int nShingle, int iFeat,
                        int *piFirst, int *pnLen){
  *piFirst = iFeat;
  *pnLen = nTok<nShingle ? nTok : nShingle;
}

char *dpFeatureText(const DpTokens *pTok, int nShingle, int iFeat){
  int iFirst, nLen, i;
  sqlite3_str *pStr = sqlite3_str_new(0);
  featureSpan(pTok->nTok, nShingle, iFeat, &iFirst, &nLen);
  for(i=iFirst; i<iFirst+nLen; i++){
    const DpToken *t = &pTok->aTok[i];
    if( i>iFirst ) sqlite3_str_appendchar(pStr, 1, ' ');
    sqlite3_str_append(pStr, pTok->zOut + t->iOut, t->nOut);
  }
  return sqlite3_str_finish(pStr);
}

/* FNV-1a of the feature's bytes, tokens joined by one space. */
static uint64_t seedFeatureHash(const DpTokens *pTok, int iFirst, int nLen){
  uint64_t h = FNV_OFFSET;
  int i;
  for(i=iFirst; i<iFirst+nLen; i++){
    const DpToken *t = &pTok->aTok[i];
    if( i>iFirst ) h = fnvAdd(h, (const unsigned char*)" ", 1);
    h = fnvAdd(h, (const unsigned char*)pTok->zOut + t->iOut, t->nOut);
  }
  return h;
}

void dpHashTokens(const DpOptions *pOpt, DpTokens *pTok){
  int i;
  if( pOpt->eHashing==DP_HASH_SEED ) return;   /* hashes whole features */
  for(i=0; i<pTok->nTok; i++){
    const DpToken *t = &pTok->aTok[i];
    pTok->aHash[i] = XXH3_64bits(pTok->zOut + t->iOut, t->nOut);
  }
}

/* Hash of a run of token hashes.  They are xxh3 outputs already, so a
** multiply-rotate chain (order-sensitive) and xxh3's final avalanche mix
** them well at a fraction of the cost of hashing their 8*n bytes again. */
static inline uint64_t combineHashes(const uint64_t *a, int n){
  uint64_t h = 0x9E3779B185EBCA87ULL ^ (uint64_t)n;
  int i;
  for(i=0; i<n; i++){
    h = XXH_rotl64(h ^ a[i], 31) * XXH_PRIME64_1;
  }
  return XXH3_avalanche(h);
}

static inline uint64_t featureHash(const DpOptions *pOpt,
                                   const DpTokens *pTok, int iFeat){
  int iFirst, nLen;
  featureSpan(pTok->nTok, pOpt->nShingle, iFeat, &iFirst, &nLen);
  if( pOpt->eHashing==DP_HASH_SEED ) return seedFeatureHash(pTok, iFirst, nLen);
  if( pOpt->nShingle==1 ) return pTok->aHash[iFirst];
  return combineHashes(&pTok->aHash[iFirst], nLen);
}

/* h % nDim, with a mask when nDim is a power of two (the usual case): a
** 64-bit division per feature is a visible share of the embed time. */
static inline int bucketOf(uint64_t h, int nDim){
  if( (nDim & (nDim-1))==0 ) return (int)(h & (uint64_t)(nDim-1));
  return (int)(h % (uint64_t)nDim);
}

static inline void bucketSign(const DpOptions *pOpt, uint64_t h,
                              int *piBucket, int *piSign){
  *piBucket = bucketOf(h, pOpt->nDim);
  if( pOpt->eHashing==DP_HASH_SEED ){
    *piSign = (h & 1) ? -1 : 1;
  }else{
    *piSign = (h >> 63) ? -1 : 1;
  }
}

void dpFeatureBucket(const DpOptions *pOpt, const DpTokens *pTok, int iFeat,
                     int *piBucket, int *piSign){
  bucketSign(pOpt, featureHash(pOpt, pTok, iFeat), piBucket, piSign);
}

/* Bucket sums live in the caller's float array as int32 bit patterns until
** the normalisation (same size, no extra memory); memcpy keeps the type
** punning defined and compiles to a plain load or store. */
static inline int32_t accGet(const float *a, int i){
  int32_t v;
  memcpy(&v, &a[i], sizeof(v));
  return v;
}
static inline void accSet(float *a, int i, int32_t v){
  memcpy(&a[i], &v, sizeof(v));
}

/* 1 the first time hash h is offered since the set was cleared, else 0.
** aSet has nMask+1 slots (a power of two, at least twice the number of
** features), 0 marks an empty slot; the hash 0 itself is tracked in
** *pbZero.  The slot comes from the high bits of h*phi, which are
** independent of the low bits that choose the bucket. */
static inline int setInsert(uint64_t *aSet, uint64_t nMask, int *pbZero,
                            uint64_t h){
  uint64_t i;
  if( h==0 ){
    if( *pbZero ) return 0;
    *pbZero = 1;
    return 1;
  }
  i = ((h * 0x9E3779B97F4A7C15ULL) >> 32) & nMask;
  while( aSet[i]!=0 ){
    if( aSet[i]==h ) return 0;
    i = (i + 1) & nMask;
  }
  aSet[i] = h;
  return 1;
}

int dpEmbedTokens(const DpOptions *pOpt, DpTokens *pTok, float *aOut){
  const int nDim = pOpt->nDim;
  const int nFeat = dpFeatureCount(pTok->nTok, pOpt->nShingle);
  const int bDistinct = pOpt->eHashing!=DP_HASH_SEED && !pOpt->bCountRepeats;
  uint64_t nMask = 0;
  int bZero = 0;
  int i;
  double ss = 0.0;

  memset(aOut, 0, sizeof(float)*(size_t)nDim);   /* int32 zeros too */
  if( nFeat==0 ) return SQLITE_OK;
  if( bDistinct && pTok->nSet<2*nFeat ){
    /* dpTokenize() with DP_TOK_SPLIT_WIDE sized the set already (nTok >= nFeat) */
    if( dpTokensReserveSet(pTok, nFeat) ) return SQLITE_NOMEM;
  }
  dpHashTokens(pOpt, pTok);
  if( bDistinct ){
    assert( (pTok->nSet & (pTok->nSet-1))==0 );
    nMask = (uint64_t)pTok->nSet - 1;
    memset(pTok->aSet, 0, sizeof(uint64_t)*(size_t)pTok->nSet);
  }
  for(i=0; i<nFeat; i++){
    int iBucket, iSign;
    uint64_t h = featureHash(pOpt, pTok, i);
    if( bDistinct && !setInsert(pTok->aSet, nMask, &bZero, h) ) continue;
    bucketSign(pOpt, h, &iBucket, &iSign);
    accSet(aOut, iBucket, accGet(aOut, iBucket) + iSign);
  }
  for(i=0; i<nDim; i++){
    double c = (double)accGet(aOut, i);
    ss += c*c;
  }
  if( ss>0.0 ){
    double rInv = 1.0 / sqrt(ss);
    for(i=0; i<nDim; i++) aOut[i] = (float)((double)accGet(aOut, i) * rInv);
  }
  /* else every sum cancelled out: the int32 zeros are float zeros */
  return SQLITE_OK;
}

int dpEmbedText(const DpOptions *pOpt, DpTokens *pTok,
                const unsigned char *z, int n, float *aOut,
                sqlite3_int64 *aStageNs){
  sqlite3_int64 t0 = aStageNs ? dpNowNs() : 0, t1 = 0;
  int rc = dpTokenize(pTok, z, n, dpTokenFlags(pOpt));
  if( aStageNs ) t1 = dpNowNs();
  if( rc==SQLITE_OK ) rc = dpEmbedTokens(pOpt, pTok, aOut);
  if( aStageNs ){
    /* a stage that ran takes at least 1 ns: 0 means "did not run" */
    sqlite3_int64 t2 = dpNowNs();
    aStageNs[DP_STAGE_TOKENIZE] += t1>t0 ? t1 - t0 : 1;
    aStageNs[DP_STAGE_EMBED] += t2>t1 ? t2 - t1 : 1;
  }
  return rc;
}

/* The scratch of dpEmbedText(): its tokens and their hash set. */
void dpEmbedScratchInit(DpTokens *pTok){ dpTokensInit(pTok); }
void dpEmbedScratchFree(DpTokens *pTok){ dpTokensFree(pTok); }

/**************************************************************************
** The set kind's features: the distinct 64-bit feature hashes of a text,
** sorted (setindex.c's input).  The same hashes as 'signed' embeds, so a
** set and a vector of one text come from the same features.
*/
int dpSetTokens(const DpOptions *pOpt, DpTokens *pTok, uint64_t **paHash,
                int *pnAlloc, int *pnHash){
  const int nFeat = dpFeatureCount(pTok->nTok, pOpt->nShingle);
  uint64_t *a;
  int i, n = 0;
  assert( pOpt->eHashing==DP_HASH_SIGNED );
  *pnHash = 0;
  if( nFeat==0 ) return SQLITE_OK;
  /* the hashes, then as many words of scratch for the sort (2*nFeat must
  ** fit in an int) */
  if( nFeat>0x3fffffff
   || dpGrow((void**)paHash, pnAlloc, 2*nFeat, sizeof(uint64_t)) ){
    return SQLITE_NOMEM;
  }
  a = *paHash;
  dpHashTokens(pOpt, pTok);
  for(i=0; i<nFeat; i++) a[i] = featureHash(pOpt, pTok, i);
  dpSortU64(a, &a[nFeat], nFeat);
  for(i=0; i<nFeat; i++){
    if( n==0 || a[i]!=a[n-1] ) a[n++] = a[i];
  }
  *pnHash = n;
  return SQLITE_OK;
}

int dpSetText(const DpOptions *pOpt, DpTokens *pTok,
              const unsigned char *z, int n, uint64_t **paHash, int *pnAlloc,
              int *pnHash, sqlite3_int64 *aStageNs){
  sqlite3_int64 t0 = aStageNs ? dpNowNs() : 0, t1 = 0;
  int rc = dpTokenize(pTok, z, n, dpTokenFlags(pOpt));
  if( aStageNs ) t1 = dpNowNs();
  if( rc==SQLITE_OK ) rc = dpSetTokens(pOpt, pTok, paHash, pnAlloc, pnHash);
  if( aStageNs ){
    sqlite3_int64 t2 = dpNowNs();
    aStageNs[DP_STAGE_TOKENIZE] += t1>t0 ? t1 - t0 : 1;
    aStageNs[DP_STAGE_EMBED] += t2>t1 ? t2 - t1 : 1;
  }
  return rc;
}
