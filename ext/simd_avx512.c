/*
** simd_avx512.c — the AVX-512F kernel row.
**
** Same contract as simd_avx2.c: per-function target attributes, unaligned
** loads, and a masked load for the tail (lanes past the end are neither read
** nor able to fault).  The loops have the same shape as simd_avx2.c's on
** purpose: each instruction set gets its own copy of each kernel (the
** intrinsics differ), as xxHash keeps one per ISA.
*/
#include "docpipe.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f")))

TARGET static __mmask16 tailMask(int r){
  return (__mmask16)((1u << r) - 1u);
}

TARGET static float avx512Dot(const float *a, const float *b, int n){
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  int i = 0;
  for(; i+64<=n; i+=64){
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a+i),    _mm512_loadu_ps(b+i),    s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a+i+16), _mm512_loadu_ps(b+i+16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a+i+32), _mm512_loadu_ps(b+i+32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a+i+48), _mm512_loadu_ps(b+i+48), s3);
  }
  for(; i+16<=n; i+=16){
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a+i), _mm512_loadu_ps(b+i), s0);
  }
  if( i<n ){
    __mmask16 m = tailMask(n-i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a+i),
                         _mm512_maskz_loadu_ps(m, b+i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1),
                                            _mm512_add_ps(s2, s3)));
}

/* Dot product and squared norms, one accumulator each; xDot3 and xDot2
** are one inlined body, so they sum in the same order (see simd_avx2.c). */
TARGET static inline __attribute__((always_inline)) void dotNorms(
  const float *a, const float *b, int n,
  float *pDot, float *pNormA, float *pNormB, const int bNormB
){
  __m512 d = _mm512_setzero_ps(), na = _mm512_setzero_ps();
  __m512 nb = _mm512_setzero_ps();
  int i = 0;
  for(; i+16<=n; i+=16){
    __m512 x = _mm512_loadu_ps(a+i), y = _mm512_loadu_ps(b+i);
    d = _mm512_fmadd_ps(x, y, d);
    na = _mm512_fmadd_ps(x, x, na);
    if( bNormB ) nb = _mm512_fmadd_ps(y, y, nb);
  }
  if( i<n ){
    __mmask16 m = tailMask(n-i);
    __m512 x = _mm512_maskz_loadu_ps(m, a+i), y = _mm512_maskz_loadu_ps(m, b+i);
    d = _mm512_fmadd_ps(x, y, d);
    na = _mm512_fmadd_ps(x, x, na);
    if( bNormB ) nb = _mm512_fmadd_ps(y, y, nb);
  }
  *pDot = _mm512_reduce_add_ps(d);
  *pNormA = _mm512_reduce_add_ps(na);
  if( bNormB ) *pNormB = _mm512_reduce_add_ps(nb);
}

TARGET static void avx512Dot3(const float *a, const float *b, int n,
                              float *pDot, float *pNormA, float *pNormB){
  dotNorms(a, b, n, pDot, pNormA, pNormB, 1);
}

TARGET static void avx512Dot2(const float *a, const float *b, int n,
                              float *pDot, float *pNormA){
  dotNorms(a, b, n, pDot, pNormA, 0, 0);
}

#define SKETCH_TARGET __attribute__((target("avx512f,popcnt")))
#define SKETCH_NAME avx512SketchFilter
#include "simd_sketch.h"

/* C = A * B^T: 4 rows of A by 2 rows of B, as in simd_avx2.c, sixteen
** floats a step, masked tail. */
TARGET static void avx512DotBlock(const float *A, int nA, const float *B,
                                  int nB, int n, float *C){
  int i, j, k;
  for(i=0; i+4<=nA; i+=4){
    const float *a0 = A + (size_t)i*n, *a1 = a0 + n, *a2 = a1 + n, *a3 = a2 + n;
    for(j=0; j+2<=nB; j+=2){
      const float *b0 = B + (size_t)j*n, *b1 = b0 + n;
      __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
      __m512 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      for(k=0; k<n; k+=16){
        __mmask16 m = n-k>=16 ? (__mmask16)0xFFFF : tailMask(n-k);
        __m512 y0 = _mm512_maskz_loadu_ps(m, b0+k), y1 = _mm512_maskz_loadu_ps(m, b1+k);
        __m512 x0 = _mm512_maskz_loadu_ps(m, a0+k), x1 = _mm512_maskz_loadu_ps(m, a1+k);
        __m512 x2 = _mm512_maskz_loadu_ps(m, a2+k), x3 = _mm512_maskz_loadu_ps(m, a3+k);
        c00 = _mm512_fmadd_ps(x0, y0, c00); c01 = _mm512_fmadd_ps(x0, y1, c01);
        c10 = _mm512_fmadd_ps(x1, y0, c10); c11 = _mm512_fmadd_ps(x1, y1, c11);
        c20 = _mm512_fmadd_ps(x2, y0, c20); c21 = _mm512_fmadd_ps(x2, y1, c21);
        c30 = _mm512_fmadd_ps(x3, y0, c30); c31 = _mm512_fmadd_ps(x3, y1, c31);
      }
      C[(size_t)i*nB + j] = _mm512_reduce_add_ps(c00);
      C[(size_t)i*nB + j+1] = _mm512_reduce_add_ps(c01);
      C[(size_t)(i+1)*nB + j] = _mm512_reduce_add_ps(c10);
      C[(size_t)(i+1)*nB + j+1] = _mm512_reduce_add_ps(c11);
      C[(size_t)(i+2)*nB + j] = _mm512_reduce_add_ps(c20);
      C[(size_t)(i+2)*nB + j+1] = _mm512_reduce_add_ps(c21);
      C[(size_t)(i+3)*nB + j] = _mm512_reduce_add_ps(c30);
      C[(size_t)(i+3)*nB + j+1] = _mm512_reduce_add_ps(c31);
    }
    for(; j<nB; j++){
      const float *b0 = B + (size_t)j*n;
      C[(size_t)i*nB + j] = avx512Dot(a0, b0, n);
      C[(size_t)(i+1)*nB + j] = avx512Dot(a1, b0, n);
      C[(size_t)(i+2)*nB + j] = avx512Dot(a2, b0, n);
      C[(size_t)(i+3)*nB + j] = avx512Dot(a3, b0, n);
    }
  }
  for(; i<nA; i++){
    for(j=0; j<nB; j++){
      C[(size_t)i*nB + j] = avx512Dot(A + (size_t)i*n, B + (size_t)j*n, n);
    }
  }
}

const DpKernels dpKernelsAvx512 = {
  "avx512", avx512Dot, avx512Dot3, avx512Dot2, avx512SketchFilter,
  avx512DotBlock, dpAvx2DotI8
};
#endif
