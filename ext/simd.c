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

static float scalarDot(const float *a, const float *b, int n){
  float s = 0.0f;
  int i;
  for(i=0; i<n; i++) s += a[i]*b[i];
  return s;
}

static void scalarDot3(const float *a, const float *b, int n,
                       float *pDot, float *pNormA, float *pNormB){
  float d = 0.0f, na = 0.0f, nb = 0.0f;
  int i;
  for(i=0; i<n; i++){
    d += a[i]*b[i];
    na += a[i]*a[i];
    nb += b[i]*b[i];
  }
  *pDot = d;
  *pNormA = na;
  *pNormB = nb;
}

static void scalarDot2(const float *a, const float *b, int n,
                       float *pDot, float *pNormA){
  float d = 0.0f, na = 0.0f;
  int i;
  for(i=0; i<n; i++){
    d += a[i]*b[i];
    na += a[i]*a[i];
  }
  *pDot = d;
  *pNormA = na;
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
  for(i=0; i<n; i++) s += q[i]*(float)c[i];
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

double dpCosine(const float *a, const float *b, int n, int *pbZero){
  float d, na, nb;
  double r;
  dpKernels->xDot3(a, b, n, &d, &na, &nb);
  if( na==0.0f || nb==0.0f ){
    *pbZero = 1;
    return 0.0;
  }
  *pbZero = 0;
  r = (double)d / sqrt((double)na * (double)nb);
  if( r>1.0 ) r = 1.0;
  if( r<-1.0 ) r = -1.0;
  return r;
}
