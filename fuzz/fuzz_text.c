/*
** fuzz_text.c — libFuzzer harness for the tokenizer, the embedder and the
** option parser, on arbitrary bytes.
**
** Byte 0 chooses the options (shingle size, hashing, dimension), the rest
** is the text.  Checked: token spans lie inside the input and in order,
** the vector is finite with norm 1 or 0 (always 0 without tokens).  The
** whole input, as a string, also goes through the option parser.
*/
#include "docpipe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *aData, size_t nData){
  static const int aDim[] = { 8, 9, 64, 100, 1024, 8192 };
  DpOptions opt;
  DpTokens tok;
  float *aVec;
  char *zErr = 0, *zCopy;
  int i, n;
  double ss = 0.0;
  if( nData<1 || nData>100000 ) return 0;
  if( dpKernels==0 ){ char *z = 0; dpSimdInit(&z); sqlite3_free(z); }
  dpOptionsDefault(&opt);
  opt.nShingle = 1 + (aData[0] & 15);
  opt.eHashing = (aData[0] & 16) ? DP_HASH_SEED : DP_HASH_SIGNED;
  opt.nDim = aDim[(aData[0] >> 5) % 6];
  aVec = malloc(sizeof(float)*(size_t)opt.nDim);
  dpTokensInit(&tok);
  n = (int)nData - 1;
  if( dpEmbedText(&opt, &tok, aData+1, n, aVec)==SQLITE_OK ){
    for(i=0; i<tok.nTok; i++){
      const DpToken *t = &tok.aTok[i];
      if( t->iStart<0 || t->iEnd>n || t->iStart>=t->iEnd ) abort();
      if( i>0 && t->iStart<tok.aTok[i-1].iEnd ) abort();
      if( t->nOut<=0 || t->iOut+t->nOut>tok.nOut ) abort();
    }
    for(i=0; i<opt.nDim; i++){
      if( !isfinite(aVec[i]) ) abort();
      ss += (double)aVec[i]*aVec[i];
    }
    /* norm 1, or 0: no token, or features that cancel out (+1 and -1 in
    ** one bucket) */
    if( ss!=0.0 && fabs(ss-1.0)>1e-4 ) abort();
    if( tok.nTok==0 && ss!=0.0 ) abort();
  }
  dpTokensFree(&tok);
  free(aVec);
  /* the option parser on the raw bytes */
  zCopy = malloc(nData+1);
  memcpy(zCopy, aData, nData);
  zCopy[nData] = 0;
  dpOptionsDefault(&opt);
  dpOptionsParse(&opt, DP_OPT_EMBED|DP_OPT_TABLE, zCopy, &zErr);
  if( opt.nDim<DP_DIM_MIN || opt.nDim>DP_DIM_MAX || opt.nShingle<1
   || opt.nShingle>DP_SHINGLE_MAX || !(opt.rThreshold>0 && opt.rThreshold<=1) ){
    abort();
  }
  sqlite3_free(zErr);
  free(zCopy);
  return 0;
}
