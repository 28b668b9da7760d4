/*
** simd_avx512.c — the AVX-512F kernel row.
**
** Same contract as simd_avx2.c: per-function target attributes, unaligned
** loads, and a masked load for the tail (lanes past the end are neither read
** nor able to fault).
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

TARGET static void avx512Dot3(const float *a, const float *b, int n,
                              float *pDot, float *pNormA, float *pNormB){
  __m512 d = _mm512_setzero_ps(), na = _mm512_setzero_ps();
  __m512 nb = _mm512_setzero_ps();
  int i = 0;
  for(; i+16<=n; i+=16){
    __m512 x = _mm512_loadu_ps(a+i), y = _mm512_loadu_ps(b+i);
    d = _mm512_fmadd_ps(x, y, d);
    na = _mm512_fmadd_ps(x, x, na);
    nb = _mm512_fmadd_ps(y, y, nb);
  }
  if( i<n ){
    __mmask16 m = tailMask(n-i);
    __m512 x = _mm512_maskz_loadu_ps(m, a+i), y = _mm512_maskz_loadu_ps(m, b+i);
    d = _mm512_fmadd_ps(x, y, d);
    na = _mm512_fmadd_ps(x, x, na);
    nb = _mm512_fmadd_ps(y, y, nb);
  }
  *pDot = _mm512_reduce_add_ps(d);
  *pNormA = _mm512_reduce_add_ps(na);
  *pNormB = _mm512_reduce_add_ps(nb);
}

TARGET static void avx512Dot2(const float *a, const float *b, int n,
                              float *pDot, float *pNormA){
  __m512 d0 = _mm512_setzero_ps(), d1 = d0, na0 = d0, na1 = d0;
  int i = 0;
  for(; i+32<=n; i+=32){
    __m512 x0 = _mm512_loadu_ps(a+i), y0 = _mm512_loadu_ps(b+i);
    __m512 x1 = _mm512_loadu_ps(a+i+16), y1 = _mm512_loadu_ps(b+i+16);
    d0 = _mm512_fmadd_ps(x0, y0, d0);  na0 = _mm512_fmadd_ps(x0, x0, na0);
    d1 = _mm512_fmadd_ps(x1, y1, d1);  na1 = _mm512_fmadd_ps(x1, x1, na1);
  }
  for(; i<n; i+=16){
    __mmask16 m = n-i>=16 ? (__mmask16)0xFFFF : tailMask(n-i);
    __m512 x = _mm512_maskz_loadu_ps(m, a+i), y = _mm512_maskz_loadu_ps(m, b+i);
    d0 = _mm512_fmadd_ps(x, y, d0);
    na0 = _mm512_fmadd_ps(x, x, na0);
  }
  *pDot = _mm512_reduce_add_ps(_mm512_add_ps(d0, d1));
  *pNormA = _mm512_reduce_add_ps(_mm512_add_ps(na0, na1));
}

#define SKETCH_TARGET __attribute__((target("avx512f,popcnt")))
#define SKETCH_NAME avx512SketchFilter
#include "simd_sketch.h"

const DpKernels dpKernelsAvx512 = {
  "avx512", avx512Dot, avx512Dot3, avx512Dot2, avx512SketchFilter
};
#endif
