/*
** simd_avx2.c — the AVX2+FMA kernel row.
**
** Compiled without -mavx2: every function carries its own target attribute,
** so the rest of docpipe.so stays baseline x86-64 and this code runs only
** after simd.c has checked the CPU.  Loads are unaligned (SQLite blobs have
** no alignment) and the tail of any length is read with a masked load, so
** no byte past the end of either vector is touched.
*/
#include "docpipe.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))

/* Mask of the first r (0..8) lanes. */
TARGET static __m256i tailMask(int r){
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(r), idx);
}

TARGET static float hsum(__m256 v){
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

TARGET static float avx2Dot(const float *a, const float *b, int n){
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  int i = 0;
  for(; i+32<=n; i+=32){
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a+i),    _mm256_loadu_ps(b+i),    s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a+i+8),  _mm256_loadu_ps(b+i+8),  s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a+i+16), _mm256_loadu_ps(b+i+16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a+i+24), _mm256_loadu_ps(b+i+24), s3);
  }
  for(; i+8<=n; i+=8){
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a+i), _mm256_loadu_ps(b+i), s0);
  }
  if( i<n ){
    __m256i m = tailMask(n-i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a+i, m),
                         _mm256_maskload_ps(b+i, m), s1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

TARGET static void avx2Dot3(const float *a, const float *b, int n,
                            float *pDot, float *pNormA, float *pNormB){
  __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
  int i = 0;
  for(; i+16<=n; i+=16){
    __m256 x0 = _mm256_loadu_ps(a+i), y0 = _mm256_loadu_ps(b+i);
    __m256 x1 = _mm256_loadu_ps(a+i+8), y1 = _mm256_loadu_ps(b+i+8);
    d0 = _mm256_fmadd_ps(x0, y0, d0);  d1 = _mm256_fmadd_ps(x1, y1, d1);
    a0 = _mm256_fmadd_ps(x0, x0, a0);  a1 = _mm256_fmadd_ps(x1, x1, a1);
    b0 = _mm256_fmadd_ps(y0, y0, b0);  b1 = _mm256_fmadd_ps(y1, y1, b1);
  }
  for(; i<n; i+=8){
    __m256i m = tailMask(n-i);
    __m256 x = _mm256_maskload_ps(a+i, m), y = _mm256_maskload_ps(b+i, m);
    d0 = _mm256_fmadd_ps(x, y, d0);
    a0 = _mm256_fmadd_ps(x, x, a0);
    b0 = _mm256_fmadd_ps(y, y, b0);
  }
  *pDot = hsum(_mm256_add_ps(d0, d1));
  *pNormA = hsum(_mm256_add_ps(a0, a1));
  *pNormB = hsum(_mm256_add_ps(b0, b1));
}

const DpKernels dpKernelsAvx2 = { "avx2", avx2Dot, avx2Dot3 };
#endif
