/*
** funcs.c — the scalar SQL functions and the tokenize() table function.
**
**   SELECT cosine(embed('the cat sat on the mat'), embed('the cat sat on a mat'));
**   SELECT cosine('[1, 0, 0]', '[0.5, 0.5, 0]');
**   SELECT token, start, end FROM tokenize('Hello, wide world', 'tokenize=words');
**   SELECT docpipe_version(), docpipe_simd();
**
** How it works: a vector is a float32 blob (little-endian, as docpipe stores
** them) or a JSON array of numbers.  Blobs are read in place — the kernels
** take unaligned pointers — so cosine() of two stored vectors copies
** nothing.  The score is dpCosine()'s (simd.c), the one the table and
** dedup_index() compute, and vectors it cannot score (NaN/Inf elements, a
** norm outside [1e-15, 1e15]) are errors, as they are for the table.  They
** are found without a separate pass: the kernel's squared norms prove the
** common case, and only otherwise is a vector scanned to say what is wrong.
** Numbers in JSON are read the same in every locale (dpStrtod).
**
** tokenize() is an eponymous table-valued function over hidden columns
** (text, options); its rows are the features embed() would hash: tokens, or
** shingles when the option says so, with their byte span in the input and
** the bucket and sign they add to.
*/
#include "docpipe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Name of a value's type, for messages. */
static const char *typeName(int eType){
  switch( eType ){
    case SQLITE_INTEGER: return "integer";
    case SQLITE_FLOAT:   return "real";
    case SQLITE_TEXT:    return "text";
    case SQLITE_BLOB:    return "blob";
    default:             return "null";
  }
}

/* 1 when z[0..zEnd) holds only characters of a JSON number: strtod also
** reads hex ("0x10", "-0x1p3"), "inf" and "nan", which JSON has not. */
static int isJsonNumberText(const char *z, const char *zEnd){
  for(; z<zEnd; z++){
    if( !((*z>='0' && *z<='9') || *z=='-' || *z=='+' || *z=='.'
          || *z=='e' || *z=='E') ){
      return 0;
    }
  }
  return 1;
}

/* Parse a JSON array of numbers into a new float array. */
static int parseJsonVector(const char *z, float **paOut, int *pnDim,
                           char **pzErr){
  float *a = 0;
  int n = 0, nAlloc = 0;
  const char *p = z;
  while( *p==' ' || *p=='\t' || *p=='\n' || *p=='\r' ) p++;
  if( *p!='[' ){
    *pzErr = sqlite3_mprintf("text is not a JSON array of numbers");
    return SQLITE_ERROR;
  }
  p++;
  for(;;){
    char *zEnd = 0;
    double v;
    while( *p==' ' || *p=='\t' || *p=='\n' || *p=='\r' ) p++;
    if( *p==']' && n==0 ){ p++; break; }
    v = dpStrtod(p, &zEnd);
    if( zEnd==p || (*p!='-' && (*p<'0' || *p>'9'))
     || !isJsonNumberText(p, zEnd) ){
      sqlite3_free(a);
      *pzErr = sqlite3_mprintf("JSON array element %d is not a number", n);
      return SQLITE_ERROR;
    }
    if( !isfinite(v) || !isfinite((float)v) ){
      sqlite3_free(a);
      *pzErr = sqlite3_mprintf("element %d is not a finite float32", n);
      return SQLITE_ERROR;
    }
    if( dpGrow((void**)&a, &nAlloc, n+1, sizeof(float)) ){
      sqlite3_free(a);
      return SQLITE_NOMEM;
    }
    a[n++] = (float)v;
    p = zEnd;
    while( *p==' ' || *p=='\t' || *p=='\n' || *p=='\r' ) p++;
    if( *p==',' ){ p++; continue; }
    if( *p==']' ){ p++; break; }
    sqlite3_free(a);
    *pzErr = sqlite3_mprintf("malformed JSON array after element %d", n-1);
    return SQLITE_ERROR;
  }
  while( *p==' ' || *p=='\t' || *p=='\n' || *p=='\r' ) p++;
  if( *p ){
    sqlite3_free(a);
    *pzErr = sqlite3_mprintf("text after the end of the JSON array");
    return SQLITE_ERROR;
  }
  if( n==0 ){
    sqlite3_free(a);
    *pzErr = sqlite3_mprintf("empty vector");
    return SQLITE_ERROR;
  }
  *paOut = a;
  *pnDim = n;
  return SQLITE_OK;
}

/*
** Vector argument: *pa points into the blob (no copy) or to a parsed JSON
** array that is also returned in *paFree (sqlite3_free it).  Messages name
** the argument but not the function.
*/
static int vectorArg(sqlite3_value *pVal, int iArg, const float **pa,
                     int *pnDim, float **paFree, char **pzErr){
  int eType = sqlite3_value_type(pVal);
  *paFree = 0;
  if( eType==SQLITE_BLOB ){
    int nByte = sqlite3_value_bytes(pVal);
    const void *p = sqlite3_value_blob(pVal);
    if( nByte==0 ){
      *pzErr = sqlite3_mprintf("argument %d is an empty vector", iArg);
      return SQLITE_ERROR;
    }
    if( nByte % 4 ){
      *pzErr = sqlite3_mprintf("argument %d: blob of %d bytes is not a float32"
                               " vector (length not a multiple of 4)",
                               iArg, nByte);
      return SQLITE_ERROR;
    }
    if( p==0 ) return SQLITE_NOMEM;
    *pa = (const float*)p;
    *pnDim = nByte/4;
    return SQLITE_OK;
  }
  if( eType==SQLITE_TEXT ){
    const char *z = (const char*)sqlite3_value_text(pVal);
    char *zErr = 0;
    int rc;
    if( z==0 ) return SQLITE_NOMEM;
    rc = parseJsonVector(z, paFree, pnDim, &zErr);
    if( rc==SQLITE_ERROR ){
      *pzErr = sqlite3_mprintf("argument %d: %s", iArg, zErr);
      sqlite3_free(zErr);
    }
    *pa = *paFree;
    return rc;
  }
  *pzErr = sqlite3_mprintf("argument %d must be a float32 blob or a JSON"
                           " array, not %s", iArg, typeName(eType));
  return SQLITE_ERROR;
}

int dpVectorFromValue(sqlite3_value *pVal, float **paOut, int *pnDim,
                      char **pzErr){
  const float *a = 0;
  float *aFree = 0;
  int rc = vectorArg(pVal, 1, &a, pnDim, &aFree, pzErr);
  if( rc!=SQLITE_OK ) return rc;
  if( aFree==0 ){
    aFree = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)*pnDim);
    if( aFree==0 ) return SQLITE_NOMEM;
    memcpy(aFree, a, sizeof(float)*(size_t)*pnDim);
  }
  *paOut = aFree;
  return SQLITE_OK;
}

/* Index of the first non-finite element of a (read unaligned), or -1. */
static int firstNonFinite(const float *a, int n){
  int i;
  for(i=0; i<n; i++){
    float f;
    memcpy(&f, &a[i], sizeof f);
    if( !isfinite(f) ) return i;
  }
  return -1;
}

/*
** Squared norm of vector argument iArg when it is a bound parameter, kept
** as auxdata: in "cosine(v, ?1)" over many rows only v changes, so |?1|^2
** is summed once per statement (dpNormSq) and each row runs the two-sum
** kernel (dpCosineNorm, the same double as dpCosine).  Returns 0 (nothing
** cached) for other arguments, or without memory.
*/
static int boundNorm(sqlite3_context *ctx, sqlite3_value **argv, int iArg,
                     const float *a, int n, float *pNorm){
  float *pCached;
  if( !sqlite3_value_frombind(argv[iArg]) ) return 0;
  pCached = (float*)sqlite3_get_auxdata(ctx, iArg);
  if( pCached==0 ){
    pCached = sqlite3_malloc64(sizeof(float));
    if( pCached==0 ) return 0;
    *pCached = dpNormSq(a, n);
    *pNorm = *pCached;
    sqlite3_set_auxdata(ctx, iArg, pCached, sqlite3_free);
    return 1;
  }
  *pNorm = *pCached;
  return 1;
}

/* cosine(a, b) */
static void cosineFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  const float *a = 0, *b = 0;
  float *aFree = 0, *bFree = 0;
  int nA = 0, nB = 0;
  char *zErr = 0;
  int rc;
  (void)argc;
  if( sqlite3_value_type(argv[0])==SQLITE_NULL
   || sqlite3_value_type(argv[1])==SQLITE_NULL ){
    return;   /* NULL in, NULL out */
  }
  rc = vectorArg(argv[0], 1, &a, &nA, &aFree, &zErr);
  if( rc==SQLITE_OK ) rc = vectorArg(argv[1], 2, &b, &nB, &bFree, &zErr);
  if( rc==SQLITE_OK && nA!=nB ){
    zErr = sqlite3_mprintf("vectors have different dimensions (%d and %d)",
                           nA, nB);
    rc = SQLITE_ERROR;
  }
  if( rc==SQLITE_OK ){
    /* dpCosine() or, with a bound argument's norm cached, dpCosineNorm():
    ** the same double either way, and the one the table computes. */
    int eNone = DP_SCORE_OK;
    double r;
    float nNorm;
    if( boundNorm(ctx, argv, 1, b, nB, &nNorm) ){
      r = dpCosineNorm(a, b, nA, nNorm, &eNone);
    }else if( boundNorm(ctx, argv, 0, a, nA, &nNorm) ){
      r = dpCosineNorm(b, a, nA, nNorm, &eNone);
      if( eNone==DP_SCORE_BAD_A ) eNone = DP_SCORE_BAD_B;   /* swapped */
      else if( eNone==DP_SCORE_BAD_B ) eNone = DP_SCORE_BAD_A;
    }else{
      r = dpCosine(a, b, nA, &eNone);
    }
    if( eNone==DP_SCORE_OK ){
      sqlite3_result_double(ctx, r);
    }else if( eNone!=DP_SCORE_ZERO ){
      /* a vector the table would refuse too (dpVectorScorable) */
      const float *v = eNone==DP_SCORE_BAD_A ? a : b;
      int iArg = eNone==DP_SCORE_BAD_A ? 1 : 2;
      int iBad = firstNonFinite(v, nA);
      const char *zWhy = 0;
      if( iBad>=0 ){
        zErr = sqlite3_mprintf("argument %d has a non-finite value (NaN or"
                               " Inf) at element %d", iArg, iBad);
      }else{
        dpVectorScorable(v, nA, &zWhy);
        zErr = sqlite3_mprintf("argument %d cannot be scored: %s", iArg,
                               zWhy ? zWhy : "?");
      }
      rc = zErr ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    /* else a zero vector: NULL, there is no angle */
  }
  if( rc==SQLITE_NOMEM ){
    sqlite3_result_error_nomem(ctx);
  }else if( rc!=SQLITE_OK ){
    dpResultError(ctx, "cosine", "%s", zErr);
  }
  sqlite3_free(zErr);
  sqlite3_free(aFree);
  sqlite3_free(bFree);
}

/* Options of argument iArg into *pOut, parsed once per statement and kept
** as auxdata.  Returns 0 after setting the error on ctx. */
static int optionsArg(sqlite3_context *ctx, sqlite3_value **argv, int argc,
                      int iArg, const char *zFunc, DpOptions *pOut){
  const DpOptions *pCached;
  DpOptions *pCopy;
  char *zErr = 0;
  int rc;
  dpOptionsDefault(pOut);
  if( iArg>=argc ){
    dpOptionsFinish(pOut);
    return 1;
  }
  pCached = (const DpOptions*)sqlite3_get_auxdata(ctx, iArg);
  if( pCached ){
    *pOut = *pCached;
    return 1;
  }
  if( sqlite3_value_type(argv[iArg])!=SQLITE_TEXT ){
    dpResultError(ctx, zFunc, "options must be text such as 'dim=512',"
                  " not %s", typeName(sqlite3_value_type(argv[iArg])));
    return 0;
  }
  rc = dpOptionsParse(pOut, DP_OPT_EMBED,
                      (const char*)sqlite3_value_text(argv[iArg]), &zErr);
  dpOptionsFinish(pOut);
  if( rc!=SQLITE_OK ){
    if( rc==SQLITE_NOMEM ) sqlite3_result_error_nomem(ctx);
    else dpResultError(ctx, zFunc, "%s", zErr);
    sqlite3_free(zErr);
    return 0;
  }
  /* Caching is an optimisation: without memory for it, parse again next row. */
  pCopy = sqlite3_malloc64(sizeof(*pCopy));
  if( pCopy ){
    *pCopy = *pOut;
    sqlite3_set_auxdata(ctx, iArg, pCopy, sqlite3_free);
  }
  return 1;
}

/* embed(text [, options]) */
static void embedFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  DpOptions opt;
  DpTokens tok;
  float *aVec;
  int eType = sqlite3_value_type(argv[0]);
  int rc;
  if( eType==SQLITE_NULL ) return;
  if( eType!=SQLITE_TEXT ){
    dpResultError(ctx, "embed", "argument 1 must be text, not %s",
                  typeName(eType));
    return;
  }
  if( !optionsArg(ctx, argv, argc, 1, "embed", &opt) ) return;
  aVec = sqlite3_malloc64(sizeof(float)*(sqlite3_int64)opt.nDim);
  if( aVec==0 ){
    sqlite3_result_error_nomem(ctx);
    return;
  }
  dpTokensInit(&tok);
  {
    const unsigned char *zText = sqlite3_value_text(argv[0]);
    int nText = sqlite3_value_bytes(argv[0]);   /* after _text(): see docs */
    rc = zText ? dpEmbedText(&opt, &tok, zText, nText, aVec, 0) : SQLITE_NOMEM;
  }
  dpTokensFree(&tok);
  if( rc!=SQLITE_OK ){
    sqlite3_free(aVec);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_blob(ctx, aVec, (int)sizeof(float)*opt.nDim, sqlite3_free);
}

/**************************************************************************
** The set kind's references: shingle_set(text [, options]) and
** set_similarity(a, b, measure [, options]).
*/
/* The set of argument iArg: text is tokenized and hashed (dpSetText), a
** blob is a set as shingle_set() returns it (8-byte little-endian hashes,
** strictly increasing).  0 after setting an error. */
static int setArg(sqlite3_context *ctx, const char *zFunc, sqlite3_value *pArg,
                  int iArg, const DpOptions *pOpt, DpTokens *pTok,
                  uint64_t **paHash, int *pnAlloc, int *pnHash){
  int rc = SQLITE_OK, i;
  if( sqlite3_value_type(pArg)==SQLITE_BLOB ){
    const unsigned char *a = sqlite3_value_blob(pArg);
    int n = sqlite3_value_bytes(pArg);
    if( n%8 ){
      dpResultError(ctx, zFunc, "argument %d: a set blob has 8 bytes per"
                    " hash, not %d bytes", iArg, n);
      return 0;
    }
    *pnHash = n/8;
    if( dpGrow((void**)paHash, pnAlloc, n/8, sizeof(uint64_t)) ){
      sqlite3_result_error_nomem(ctx);
      return 0;
    }
    for(i=0; i<n/8; i++){
      uint64_t h = 0;
      int j;
      for(j=7; j>=0; j--) h = (h<<8) | a[i*8+j];
      (*paHash)[i] = h;
      if( i>0 && h<=(*paHash)[i-1] ){
        dpResultError(ctx, zFunc, "argument %d: a set blob's hashes must be"
                      " strictly increasing (hash %d is not)", iArg, i);
        return 0;
      }
    }
    return 1;
  }
  if( sqlite3_value_type(pArg)!=SQLITE_TEXT ){
    dpResultError(ctx, zFunc, "argument %d must be text or a set blob, not %s",
                  iArg, typeName(sqlite3_value_type(pArg)));
    return 0;
  }
  {
    const unsigned char *z = sqlite3_value_text(pArg);
    int n = sqlite3_value_bytes(pArg);
    rc = z ? dpSetText(pOpt, pTok, z, n, paHash, pnAlloc, pnHash, 0)
           : SQLITE_NOMEM;
  }
  if( rc!=SQLITE_OK ){
    sqlite3_result_error_nomem(ctx);
    return 0;
  }
  return 1;
}

/* Options of the set functions: the embed group, but hashing='signed'. */
static int setOptionsArg(sqlite3_context *ctx, sqlite3_value **argv, int argc,
                         int iArg, const char *zFunc, DpOptions *pOpt){
  if( !optionsArg(ctx, argv, argc, iArg, zFunc, pOpt) ) return 0;
  if( pOpt->eHashing!=DP_HASH_SIGNED ){
    dpResultError(ctx, zFunc, "hashing='seed' does not make shingle sets");
    return 0;
  }
  return 1;
}

/* shingle_set(text [, options]): the distinct shingle hashes of a text,
** sorted, as 8-byte little-endian integers: the set a measure='jaccard' or
** 'cosine' table stores for that body. */
static void shingleSetFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  DpOptions opt;
  DpTokens tok;
  uint64_t *aHash = 0;
  int nAlloc = 0, nHash = 0, i, j;
  unsigned char *aOut;
  if( sqlite3_value_type(argv[0])==SQLITE_NULL ) return;
  if( sqlite3_value_type(argv[0])!=SQLITE_TEXT ){
    dpResultError(ctx, "shingle_set", "argument 1 must be text, not %s",
                  typeName(sqlite3_value_type(argv[0])));
    return;
  }
  if( !setOptionsArg(ctx, argv, argc, 1, "shingle_set", &opt) ) return;
  dpTokensInit(&tok);
  if( setArg(ctx, "shingle_set", argv[0], 1, &opt, &tok, &aHash, &nAlloc,
             &nHash) ){
    aOut = sqlite3_malloc64((sqlite3_uint64)nHash*8 + 1);
    if( aOut==0 ){
      sqlite3_result_error_nomem(ctx);
    }else{
      for(i=0; i<nHash; i++){
        for(j=0; j<8; j++) aOut[i*8+j] = (unsigned char)(aHash[i] >> (8*j));
      }
      sqlite3_result_blob(ctx, aOut, nHash*8, sqlite3_free);
    }
  }
  dpTokensFree(&tok);
  sqlite3_free(aHash);
}

/* set_similarity(a, b, measure [, options]): the exact Jaccard or cosine
** of two shingle sets (texts, or blobs from shingle_set()), computed as the
** set kind's decisions compute it (dpSetSimilarity). */
static void setSimilarityFunc(sqlite3_context *ctx, int argc,
                              sqlite3_value **argv){
  DpOptions opt;
  DpTokens tok;
  uint64_t *aA = 0, *aB = 0;
  int nAllocA = 0, nAllocB = 0, nA = 0, nB = 0, eMeasure;
  const char *zMeasure = (const char*)sqlite3_value_text(argv[2]);
  if( sqlite3_value_type(argv[0])==SQLITE_NULL
   || sqlite3_value_type(argv[1])==SQLITE_NULL ) return;
  if( zMeasure && sqlite3_stricmp(zMeasure, "jaccard")==0 ){
    eMeasure = DP_SET_JACCARD;
  }else if( zMeasure && sqlite3_stricmp(zMeasure, "cosine")==0 ){
    eMeasure = DP_SET_COSINE;
  }else{
    dpResultError(ctx, "set_similarity", "argument 3 must be 'jaccard' or"
                  " 'cosine'");
    return;
  }
  if( !setOptionsArg(ctx, argv, argc, 3, "set_similarity", &opt) ) return;
  dpTokensInit(&tok);
  if( setArg(ctx, "set_similarity", argv[0], 1, &opt, &tok, &aA, &nAllocA, &nA)
   && setArg(ctx, "set_similarity", argv[1], 2, &opt, &tok, &aB, &nAllocB, &nB) ){
    sqlite3_int64 nInter = 0;
    int i = 0, j = 0;
    while( i<nA && j<nB ){
      if( aA[i]<aB[j] ) i++;
      else if( aA[i]>aB[j] ) j++;
      else { nInter++; i++; j++; }
    }
    sqlite3_result_double(ctx, dpSetSimilarity(eMeasure, nInter, nA, nB));
  }
  dpTokensFree(&tok);
  sqlite3_free(aA);
  sqlite3_free(aB);
}

static void versionFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  (void)argc; (void)argv;
  sqlite3_result_text(ctx, DOCPIPE_VERSION, -1, SQLITE_STATIC);
}

static void simdFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  (void)argc; (void)argv;
  sqlite3_result_text(ctx, dpKernels->zName, -1, SQLITE_STATIC);
}

/**************************************************************************
** tokenize(text [, options]) — eponymous table-valued function.
*/
typedef struct TokVtab TokVtab;
struct TokVtab {
  sqlite3_vtab base;      /* base class, must be first */
};

typedef struct TokCursor TokCursor;
struct TokCursor {
  sqlite3_vtab_cursor base; /* base class, must be first */
  DpOptions opt;            /* options of this scan */
  DpTokens tok;             /* tokens of the text */
  int nFeat;                /* features (rows) in this scan */
  int iFeat;                /* current row, 0-based */
};

#define TOK_COL_TOKEN   0
#define TOK_COL_START   1
#define TOK_COL_END     2
#define TOK_COL_BUCKET  3
#define TOK_COL_SIGN    4
#define TOK_COL_TEXT    5   /* hidden: argument 1 */
#define TOK_COL_OPTIONS 6   /* hidden: argument 2 */

static int tokConnect(sqlite3 *db, void *pAux, int argc,
                      const char *const *argv, sqlite3_vtab **ppVtab,
                      char **pzErr){
  TokVtab *p;
  int rc;
  (void)pAux; (void)argc; (void)argv; (void)pzErr;
  *ppVtab = 0;
  rc = sqlite3_declare_vtab(db,
      "CREATE TABLE x(token TEXT, start INTEGER, end INTEGER, bucket INTEGER,"
      " sign INTEGER, text HIDDEN, options HIDDEN)");
  if( rc!=SQLITE_OK ) return rc;
  p = dpMallocZero(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *ppVtab = &p->base;
  return SQLITE_OK;
}

/* idxNum bit 1: text given (argv[0]); bit 2: options given (next argv). */
static int tokBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo){
  (void)pVtab;
  return dpTvfBestIndex(pInfo, TOK_COL_TEXT, 2, 100.0);
}

static int tokOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCur){
  TokCursor *p = dpMallocZero(sizeof(*p));
  (void)pVtab;
  if( p==0 ) return SQLITE_NOMEM;
  dpTokensInit(&p->tok);
  *ppCur = &p->base;
  return SQLITE_OK;
}

static int tokClose(sqlite3_vtab_cursor *pCur){
  TokCursor *p = (TokCursor*)pCur;
  dpTokensFree(&p->tok);
  sqlite3_free(p);
  return SQLITE_OK;
}

static int tokSetError(sqlite3_vtab_cursor *pCur, const char *zFmt, ...){
  va_list ap;
  va_start(ap, zFmt);
  dpVtabErrorV(pCur->pVtab, "tokenize(): ", zFmt, ap);
  va_end(ap);
  return SQLITE_ERROR;
}

static int tokFilter(sqlite3_vtab_cursor *pCur, int idxNum,
                     const char *idxStr, int argc, sqlite3_value **argv){
  TokCursor *p = (TokCursor*)pCur;
  int rc;
  (void)idxStr; (void)argc;
  p->nFeat = 0;
  p->iFeat = 0;
  dpOptionsDefault(&p->opt);
  if( (idxNum & 1)==0 ) return tokSetError(pCur, "the text argument is required");
  if( idxNum & 2 ){
    char *zErr = 0;
    if( sqlite3_value_type(argv[1])!=SQLITE_TEXT ){
      return tokSetError(pCur, "options must be text such as 'dim=512'");
    }
    rc = dpOptionsParse(&p->opt, DP_OPT_EMBED,
                        (const char*)sqlite3_value_text(argv[1]), &zErr);
    if( rc!=SQLITE_OK ){
      if( zErr ) rc = tokSetError(pCur, "%s", zErr);
      sqlite3_free(zErr);
      return rc;
    }
  }
  dpOptionsFinish(&p->opt);
  switch( sqlite3_value_type(argv[0]) ){
    case SQLITE_NULL: return SQLITE_OK;       /* no rows */
    case SQLITE_TEXT: break;
    default: return tokSetError(pCur, "argument 1 must be text");
  }
  {
    const unsigned char *zText = sqlite3_value_text(argv[0]);
    int nText = sqlite3_value_bytes(argv[0]);   /* after _text(): see docs */
    if( zText==0 ) return SQLITE_NOMEM;
    rc = dpTokenize(&p->tok, zText, nText, dpTokenFlags(&p->opt));
  }
  if( rc!=SQLITE_OK ) return rc;
  dpHashTokens(&p->opt, &p->tok);
  p->nFeat = dpFeatureCount(p->tok.nTok, p->opt.nShingle);
  return SQLITE_OK;
}

static int tokNext(sqlite3_vtab_cursor *pCur){
  ((TokCursor*)pCur)->iFeat++;
  return SQLITE_OK;
}

static int tokEof(sqlite3_vtab_cursor *pCur){
  TokCursor *p = (TokCursor*)pCur;
  return p->iFeat>=p->nFeat;
}

static int tokColumn(sqlite3_vtab_cursor *pCur, sqlite3_context *ctx,
                     int iCol){
  TokCursor *p = (TokCursor*)pCur;
  int nLen = p->tok.nTok < p->opt.nShingle ? p->tok.nTok : p->opt.nShingle;
  const DpToken *pFirst = &p->tok.aTok[p->iFeat];
  const DpToken *pLast = &p->tok.aTok[p->iFeat + nLen - 1];
  int iBucket, iSign;
  switch( iCol ){
    case TOK_COL_TOKEN: {
      char *z = dpFeatureText(&p->tok, p->opt.nShingle, p->iFeat);
      if( z==0 ) return SQLITE_NOMEM;
      sqlite3_result_text(ctx, z, -1, sqlite3_free);
      break;
    }
    case TOK_COL_START: sqlite3_result_int(ctx, pFirst->iStart); break;
    case TOK_COL_END:   sqlite3_result_int(ctx, pLast->iEnd); break;
    case TOK_COL_BUCKET:
    case TOK_COL_SIGN:
      dpFeatureBucket(&p->opt, &p->tok, p->iFeat, &iBucket, &iSign);
      sqlite3_result_int(ctx, iCol==TOK_COL_BUCKET ? iBucket : iSign);
      break;
    default: break;   /* hidden columns read back as NULL */
  }
  return SQLITE_OK;
}

static int tokRowid(sqlite3_vtab_cursor *pCur, sqlite3_int64 *pRowid){
  *pRowid = ((TokCursor*)pCur)->iFeat + 1;
  return SQLITE_OK;
}

static const sqlite3_module tokenizeModule = {
  .iVersion    = 0,
  .xCreate     = 0,          /* eponymous only: no CREATE VIRTUAL TABLE */
  .xConnect    = tokConnect,
  .xBestIndex  = tokBestIndex,
  .xDisconnect = dpTvfDisconnect,
  .xOpen       = tokOpen,
  .xClose      = tokClose,
  .xFilter     = tokFilter,
  .xNext       = tokNext,
  .xEof        = tokEof,
  .xColumn     = tokColumn,
  .xRowid      = tokRowid,
};

/**************************************************************************
** Registration.
*/
int dpRegisterFuncs(sqlite3 *db){
  static const struct {
    const char *zName;
    int nArg;
    int mFlags;
    void (*xFunc)(sqlite3_context*, int, sqlite3_value**);
  } aFunc[] = {
    /* Pure functions of their arguments: safe in indexes, CHECKs, views. */
    { "cosine",          2, SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, cosineFunc },
    { "embed",           1, SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, embedFunc },
    { "embed",           2, SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, embedFunc },
    { "shingle_set",     1, SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, shingleSetFunc },
    { "shingle_set",     2, SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, shingleSetFunc },
    { "set_similarity",  3, SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, setSimilarityFunc },
    { "set_similarity",  4, SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, setSimilarityFunc },
    { "docpipe_version", 0, SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, versionFunc },
    /* Not deterministic across processes: DOCPIPE_SIMD may differ. */
    { "docpipe_simd",    0, SQLITE_INNOCUOUS,                      simdFunc },
  };
  int rc = SQLITE_OK;
  size_t i;
  for(i=0; rc==SQLITE_OK && i<sizeof(aFunc)/sizeof(aFunc[0]); i++){
    rc = sqlite3_create_function(db, aFunc[i].zName, aFunc[i].nArg,
                                 SQLITE_UTF8|aFunc[i].mFlags, 0,
                                 aFunc[i].xFunc, 0, 0);
  }
  if( rc==SQLITE_OK ){
    rc = sqlite3_create_module(db, "tokenize", &tokenizeModule, 0);
  }
  return rc;
}
