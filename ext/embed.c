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
**       sign from bit 63, independent of the bucket for any nDim.
**   hashing='seed'  h = FNV-1a 64 of the feature's UTF-8 bytes (tokens joined
**       by one space), bucket = h % nDim, sign -1 when h & 1: the Go
**       prototype's rule.  At even nDim the sign equals bucket parity, so
**       this is unsigned counting; kept for cross-checks only.
**
** The vector is then divided by its L2 norm (computed in double, as the
** prototype did in float64) and rounded to float32.  No feature → the zero
** vector, which is never a duplicate of anything.
*/
#include "docpipe.h"

#include <math.h>
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

void dpEmbedTokens(const DpOptions *pOpt, DpTokens *pTok, float *aOut){
  const int nDim = pOpt->nDim;
  const int nFeat = dpFeatureCount(pTok->nTok, pOpt->nShingle);
  int i;
  double ss = 0.0;

  memset(aOut, 0, sizeof(float)*(size_t)nDim);
  if( nFeat==0 ) return;
  dpHashTokens(pOpt, pTok);
  for(i=0; i<nFeat; i++){
    int iBucket, iSign;
    float fOld;
    bucketSign(pOpt, featureHash(pOpt, pTok, i), &iBucket, &iSign);
    fOld = aOut[iBucket];
    aOut[iBucket] = fOld + (float)iSign;
    /* (x+s)^2 - x^2 = 2sx + 1: the sum of squares kept as we go, exact
    ** because bucket sums are small integers (exact in float and double). */
    ss += 2.0 * (double)iSign * (double)fOld + 1.0;
  }
  if( ss>0.0 ){
    /* One float multiply per bucket, eight per step so that -O2 turns each
    ** step into vector multiplies (nDim >= 8; the tail is scalar). */
    float fInv = (float)(1.0 / sqrt(ss));
    for(i=0; i+8<=nDim; i+=8){
      aOut[i]   *= fInv; aOut[i+1] *= fInv; aOut[i+2] *= fInv; aOut[i+3] *= fInv;
      aOut[i+4] *= fInv; aOut[i+5] *= fInv; aOut[i+6] *= fInv; aOut[i+7] *= fInv;
    }
    for(; i<nDim; i++) aOut[i] *= fInv;
  }
}

int dpEmbedText(const DpOptions *pOpt, DpTokens *pTok,
                const unsigned char *z, int n, float *aOut){
  int rc = dpTokenize(pTok, z, n, pOpt->eHashing!=DP_HASH_SEED);
  if( rc==SQLITE_OK ) dpEmbedTokens(pOpt, pTok, aOut);
  return rc;
}
