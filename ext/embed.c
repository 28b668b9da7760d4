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
**   hashing='signed' (default)  h = xxh3 of the feature; bucket = h % nDim,
**       sign from bit 63, independent of the bucket for any nDim.  A token
**       is hashed once; a shingle's hash is xxh3 over the nShingle token
**       hashes, so the cost per feature does not grow with nShingle.
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

static inline uint64_t featureHash(const DpOptions *pOpt,
                                   const DpTokens *pTok, int iFeat){
  int iFirst, nLen;
  featureSpan(pTok->nTok, pOpt->nShingle, iFeat, &iFirst, &nLen);
  if( pOpt->eHashing==DP_HASH_SEED ) return seedFeatureHash(pTok, iFirst, nLen);
  if( pOpt->nShingle==1 ) return pTok->aHash[iFirst];
  return XXH3_64bits(&pTok->aHash[iFirst], sizeof(uint64_t)*(size_t)nLen);
}

static inline void bucketSign(const DpOptions *pOpt, uint64_t h,
                              int *piBucket, int *piSign){
  *piBucket = (int)(h % (uint64_t)pOpt->nDim);
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
    bucketSign(pOpt, featureHash(pOpt, pTok, i), &iBucket, &iSign);
    aOut[iBucket] += (float)iSign;
  }
  /* Bucket sums are small integers, held exactly in float. */
  for(i=0; i<nDim; i++) ss += (double)aOut[i] * (double)aOut[i];
  if( ss>0.0 ){
    double norm = sqrt(ss);
    for(i=0; i<nDim; i++) aOut[i] = (float)((double)aOut[i] / norm);
  }
}

int dpEmbedText(const DpOptions *pOpt, DpTokens *pTok,
                const unsigned char *z, int n, float *aOut){
  int rc = dpTokenize(pTok, z, n, pOpt->eHashing!=DP_HASH_SEED);
  if( rc==SQLITE_OK ) dpEmbedTokens(pOpt, pTok, aOut);
  return rc;
}
