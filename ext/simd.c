/*
** simd.c — the kernel dispatch table and the scalar reference kernels.
**
**   SELECT docpipe_simd();     -- 'avx2' on a machine with AVX2+FMA
**   $ DOCPIPE_SIMD=scalar sqlite3 ...   -- force the reference path
**
** How it works: each ISA has one DpKernels row (scalar here, AVX2+FMA in
** simd_avx2.c, AVX-512F in simd_avx512.c).  The baseline build has no -mavx2;
** the vector rows are compiled per function with target attributes, so one
** docpipe.so runs on any x86-64 and picks its row once, at load, from the
** CPU's features (__builtin_cpu_supports checks OS support of the wider
** registers too).  DOCPIPE_SIMD=scalar|avx2|avx512 forces a row; asking for
** one the CPU cannot run is a load error, not a crash.  dpKernels is the only
** mutable global of docpipe and is written only here.
**
** The scalar kernels are the reference the tests compare against: one
** float accumulator, in index order, nothing clever.
*/
#include "docpipe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const DpKernels *dpKernels = 0;

/* Element i of a float array at any alignment (vectors are read in place
** from SQLite blobs): memcpy is the defined way, and compiles to a plain
** load. */
static inline float ldf(const float *a, int i){
  float f;
  memcpy(&f, (const char*)a + sizeof(float)*(size_t)i, sizeof f);
  return f;
}

static float scalarDot(const float *a, const float *b, int n){
  float s = 0.0f;
  int i;
  for(i=0; i<n; i++) s += ldf(a, i)*ldf(b, i);
  return s;
}

/* Dot and squared norms in index order; xDot3 and xDot2 are one inlined
** body, so they sum identically (see simd_avx2.c). */
static inline __attribute__((always_inline)) void scalarDotNorms(
  const float *a, const float *b, int n,
  float *pDot, float *pNormA, float *pNormB, const int bNormB
){
  float d = 0.0f, na = 0.0f, nb = 0.0f;
  int i;
  for(i=0; i<n; i++){
    float x = ldf(a, i), y = ldf(b, i);
    d += x*y;
    na += x*x;
    if( bNormB ) nb += y*y;
  }
  *pDot = d;
  *pNormA = na;
  if( bNormB ) *pNormB = nb;
}

static void scalarDot3(const float *a, const float *b, int n,
                       float *pDot, float *pNormA, float *pNormB){
  scalarDotNorms(a, b, n, pDot, pNormA, pNormB, 1);
}

static void scalarDot2(const float *a, const float *b, int n,
                       float *pDot, float *pNormA){
  scalarDotNorms(a, b, n, pDot, pNormA, 0, 0);
}

static void scalarDotBlock(const float *A, int nA, const float *B, int nB,
                           int n, float *C){
  int i, j;
  for(i=0; i<nA; i++){
    for(j=0; j<nB; j++){
      C[(size_t)i*nB + j] = scalarDot(A + (size_t)i*n, B + (size_t)j*n, n);
    }
  }
}

static float scalarDotI8(const float *q, const signed char *c, int n){
  float s = 0.0f;
  int i;
  for(i=0; i<n; i++) s += ldf(q, i)*(float)c[i];
  return s;
}

#define SKETCH_TARGET
#define SKETCH_NAME scalarSketchFilter
#include "simd_sketch.h"

const DpKernels dpKernelsScalar = {
  "scalar", scalarDot, scalarDot3, scalarDot2, scalarSketchFilter,
  scalarDotBlock, scalarDotI8
};

/* 1 when this CPU (and OS) can run row p. */
static int cpuCanRun(const DpKernels *p){
  if( p==&dpKernelsScalar ) return 1;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if( p==&dpKernelsAvx2 ){
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  if( p==&dpKernelsAvx512 ){
    return __builtin_cpu_supports("avx512f");
  }
#endif
  return 0;
}

/* Every row built into this binary, widest last. */
static const DpKernels *const aAllRows[] = {
  &dpKernelsScalar,
#if defined(__x86_64__) || defined(__i386__)
  &dpKernelsAvx2,
  &dpKernelsAvx512,
#endif
};
#define N_ROWS ((int)(sizeof(aAllRows)/sizeof(aAllRows[0])))

int dpSimdAvailable(const DpKernels **aOut, int nMax){
  int i, n = 0;
  for(i=0; i<N_ROWS && n<nMax; i++){
    if( cpuCanRun(aAllRows[i]) ) aOut[n++] = aAllRows[i];
  }
  return n;
}

int dpSimdInit(char **pzErr){
  const char *zForce = getenv("DOCPIPE_SIMD");
  int i;
  *pzErr = 0;
  if( zForce && zForce[0] ){
    for(i=0; i<N_ROWS; i++){
      if( strcmp(zForce, aAllRows[i]->zName)==0 ) break;
    }
    if( i==N_ROWS ){
      *pzErr = sqlite3_mprintf("docpipe: DOCPIPE_SIMD='%s' is not a kernel"
                               " path (scalar, avx2, avx512)", zForce);
      return SQLITE_ERROR;
    }
    if( !cpuCanRun(aAllRows[i]) ){
      *pzErr = sqlite3_mprintf("docpipe: DOCPIPE_SIMD='%s' but this CPU"
                               " cannot run it", zForce);
      return SQLITE_ERROR;
    }
    dpKernels = aAllRows[i];
    return SQLITE_OK;
  }
  for(i=N_ROWS-1; i>=0; i--){
    if( cpuCanRun(aAllRows[i]) ){
      dpKernels = aAllRows[i];
      break;
    }
  }
  return SQLITE_OK;
}

/**************************************************************************
** Scoring: the one cosine (see docpipe.h).
*/

int dpVectorScorable(const float *a, int n, const char **pzWhy){
  double ss = 0.0;
  int i;
  for(i=0; i<n; i++){
    float f;
    memcpy(&f, &a[i], sizeof f);      /* blobs are not aligned */
    if( !isfinite(f) ){
      if( pzWhy ) *pzWhy = "it has a non-finite value (NaN or Inf)";
      return 0;
    }
    ss += (double)f*f;
  }
  if( ss>DP_NORM_MAX*DP_NORM_MAX ){
    if( pzWhy ) *pzWhy = "its L2 norm is above 1e15";
    return 0;
  }
  if( ss>0.0 && ss<DP_NORM_MIN*DP_NORM_MIN ){
    if( pzWhy ) *pzWhy = "its L2 norm is below 1e-15 (and not 0)";
    return 0;
  }
  if( pzWhy ) *pzWhy = 0;
  return 1;
}

/* 1 when the kernel's float |v|^2 proves v scorable without looking at
** its elements: inside [1e-29, 1e29] (false for NaN and Inf), the sum of
** n <= 2^20 squares is within 1/16 relative of the exact one, so the
** double |v|^2 is inside [1e-30, 1e30] too. */
static int normProvesScorable(float ns, int n){
  return n<=(1<<20) && ns>=1e-29f && ns<=1e29f;
}

/* 1 when a vector known to be scorable is all zeros. */
static int vectorIsZero(const float *a, int n){
  int i;
  for(i=0; i<n; i++){
    float f;
    memcpy(&f, &a[i], sizeof f);
    if( f!=0.0f ) return 0;
  }
  return 1;
}

/* The cosine from the kernel's sums: the one place where it is computed. */
static double cosineOf(const float *a, const float *b, int n,
                       float d, float na, float nb, int *peNone){
  double r;
  if( !normProvesScorable(na, n) || !normProvesScorable(nb, n) ){
    /* rare: decide by the exact rule, the same on every kernel path */
    if( !dpVectorScorable(a, n, 0) ){ *peNone = DP_SCORE_BAD_A; return 0.0; }
    if( !dpVectorScorable(b, n, 0) ){ *peNone = DP_SCORE_BAD_B; return 0.0; }
    if( vectorIsZero(a, n) || vectorIsZero(b, n) ){
      *peNone = DP_SCORE_ZERO;
      return 0.0;
    }
  }
  *peNone = DP_SCORE_OK;
  r = (double)d / sqrt((double)na * (double)nb);
  /* Rounding can take |r| past 1 (parallel vectors); there is no such
  ** angle, so clamp. */
  if( r>1.0 ) r = 1.0;
  if( r<-1.0 ) r = -1.0;
  return r;
}

double dpCosine(const float *a, const float *b, int n, int *peNone){
  float d, na, nb;
  dpKernels->xDot3(a, b, n, &d, &na, &nb);
  return cosineOf(a, b, n, d, na, nb, peNone);
}

float dpNormSq(const float *a, int n){
  float d, na;
  dpKernels->xDot2(a, a, n, &d, &na);
  return na;
}

double dpCosineNorm(const float *a, const float *b, int n, float nb,
                    int *peNone){
  float d, na;
  dpKernels->xDot2(a, b, n, &d, &na);
  return cosineOf(a, b, n, d, na, nb, peNone);
}

/* Margin added to a fast score or bound before it is compared with the
** threshold: more than the float rounding of the exact score, whose dot
** and norms each err by at most nDim * 2^-24 relative (the standard bound
** for a float sum). */
double dpScoreSlack(int nDim){ return 4.0 * nDim * ldexp(1.0, -24) + 1e-6; }
