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

#include <string.h>

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

/*
** Dot product and squared norms in one pass.  xDot3 and xDot2 are the same
** inlined body (bNormB a constant in each copy), so dot and |a|^2 of xDot2
** are bit for bit those of xDot3, and |b|^2 of xDot3 is |b|^2 of
** xDot2(b, b): every path that scores a pair sums in one order (simd.c,
** dpCosine).  Three accumulators per sum: FMA latency is 4 cycles and two
** issue per cycle, so at least eight independent chains keep both units
** busy.  Written out by hand: arrays indexed in loops end up in memory.
*/
#define DOT_STEP(k) { \
  __m256 x = _mm256_loadu_ps(a+i+8*k), y = _mm256_loadu_ps(b+i+8*k); \
  d##k = _mm256_fmadd_ps(x, y, d##k); \
  na##k = _mm256_fmadd_ps(x, x, na##k); \
  if( bNormB ) nb##k = _mm256_fmadd_ps(y, y, nb##k); }

TARGET static inline __attribute__((always_inline)) void dotNorms(
  const float *a, const float *b, int n,
  float *pDot, float *pNormA, float *pNormB, const int bNormB
){
  __m256 d0 = _mm256_setzero_ps(), d1 = d0, d2 = d0;
  __m256 na0 = d0, na1 = d0, na2 = d0;
  __m256 nb0 = d0, nb1 = d0, nb2 = d0;
  int i = 0;
  for(; i+24<=n; i+=24){
    DOT_STEP(0) DOT_STEP(1) DOT_STEP(2)
  }
  for(; i+8<=n; i+=8){
    DOT_STEP(0)
  }
  if( i<n ){
    __m256i m = tailMask(n-i);
    __m256 x = _mm256_maskload_ps(a+i, m), y = _mm256_maskload_ps(b+i, m);
    d1 = _mm256_fmadd_ps(x, y, d1);
    na1 = _mm256_fmadd_ps(x, x, na1);
    if( bNormB ) nb1 = _mm256_fmadd_ps(y, y, nb1);
  }
  *pDot = hsum(_mm256_add_ps(_mm256_add_ps(d0, d1), d2));
  *pNormA = hsum(_mm256_add_ps(_mm256_add_ps(na0, na1), na2));
  if( bNormB ) *pNormB = hsum(_mm256_add_ps(_mm256_add_ps(nb0, nb1), nb2));
}

TARGET static void avx2Dot3(const float *a, const float *b, int n,
                            float *pDot, float *pNormA, float *pNormB){
  dotNorms(a, b, n, pDot, pNormA, pNormB, 1);
}

TARGET static void avx2Dot2(const float *a, const float *b, int n,
                            float *pDot, float *pNormA){
  dotNorms(a, b, n, pDot, pNormA, 0, 0);
}

#define SKETCH_TARGET __attribute__((target("avx2,fma,popcnt")))
#define SKETCH_NAME avx2SketchFilterWords
#include "simd_sketch.h"

/* Per-byte popcount of a 256-bit vector: a 16-entry table looked up with
** vpshufb for each nibble (AVX2 has no vector popcount instruction). */
TARGET static __m256i popcountBytes(__m256i v){
  const __m256i lut = _mm256_setr_epi8(0,1,1,2,1,2,2,3,1,2,2,3,2,3,3,4,
                                       0,1,1,2,1,2,2,3,1,2,2,3,2,3,3,4);
  const __m256i nib = _mm256_set1_epi8(0x0f);
  __m256i lo = _mm256_and_si256(v, nib);
  __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
  return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo),
                         _mm256_shuffle_epi8(lut, hi));
}

TARGET static uint64_t hsum64(__m256i v){
  __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v),
                            _mm256_extracti128_si256(v, 1));
  return (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1);
}

/* The same filter as simd_sketch.h, four words at a time: per-byte counts
** add up in byte lanes (at most 8 per step, flushed to 64-bit lanes with
** vpsadbw every 16 steps, before a byte can overflow).  Levels with no
** bucket cost nothing: the body is inlined once per number of levels in
** use (nLev, a constant in each copy), and most queries use two or three. */
TARGET static inline __attribute__((always_inline)) int sketchFilterLevels(
  const uint64_t *aSketch, const unsigned char *aFlag, int nEntry, int nWord,
  unsigned char mFlag, const DpQuerySketch *pQ, double rMin2, int *aOut,
  const int nLev
){
  const __m256i zero = _mm256_setzero_si256();
  int i, w, l, n = 0;
  for(i=0; i<nEntry; i++){
    const uint64_t *nz = aSketch + (size_t)i*2*nWord;
    const uint64_t *neg = nz + nWord;
    __m256i s[DP_LEVELS], b[DP_LEVELS];   /* 64-bit lanes, byte lanes */
    double r = 0.0;
    int nStep = 0;
    if( (aFlag[i] & mFlag)!=mFlag ) continue;
    _Pragma("GCC unroll 4") for(l=0; l<nLev; l++){ s[l] = zero; b[l] = zero; }
    for(w=0; w<nWord; w+=4){
      __m256i vNz = _mm256_loadu_si256((const __m256i*)(nz + w));
      __m256i vNeg = _mm256_loadu_si256((const __m256i*)(neg + w));
      __m256i vQn = _mm256_loadu_si256((const __m256i*)(pQ->aNeg + w));
      __m256i agree = _mm256_andnot_si256(_mm256_xor_si256(vNeg, vQn), vNz);
      _Pragma("GCC unroll 4") for(l=0; l<nLev; l++){
        __m256i lev = _mm256_loadu_si256((const __m256i*)(pQ->aLevel + (size_t)l*nWord + w));
        b[l] = _mm256_add_epi8(b[l], popcountBytes(_mm256_and_si256(agree, lev)));
      }
      if( ++nStep==16 || w+4>=nWord ){
        _Pragma("GCC unroll 4") for(l=0; l<nLev; l++){
          s[l] = _mm256_add_epi64(s[l], _mm256_sad_epu8(b[l], zero));
          b[l] = zero;
        }
        nStep = 0;
      }
    }
    for(l=0; l<nLev; l++) r += pQ->aHi[l] * (double)hsum64(s[l]);
    if( r>=rMin2 ) aOut[n++] = i;
  }
  return n;
}

TARGET static int avx2SketchFilter(
  const uint64_t *aSketch, const unsigned char *aFlag, int nEntry, int nWord,
  unsigned char mFlag, const DpQuerySketch *pQ, double rMin2, int *aOut
){
  int nLev = DP_LEVELS;
  if( nWord % 4 ){
    return avx2SketchFilterWords(aSketch, aFlag, nEntry, nWord, mFlag, pQ,
                                 rMin2, aOut);
  }
  while( nLev>1 && pQ->aHi[nLev-1]==0.0 ) nLev--;
  switch( nLev ){
    case 1: return sketchFilterLevels(aSketch, aFlag, nEntry, nWord, mFlag,
                                      pQ, rMin2, aOut, 1);
    case 2: return sketchFilterLevels(aSketch, aFlag, nEntry, nWord, mFlag,
                                      pQ, rMin2, aOut, 2);
    case 3: return sketchFilterLevels(aSketch, aFlag, nEntry, nWord, mFlag,
                                      pQ, rMin2, aOut, 3);
    default: return sketchFilterLevels(aSketch, aFlag, nEntry, nWord, mFlag,
                                       pQ, rMin2, aOut, 4);
  }
}

/* C = A * B^T for rows of n floats.  Register block of 4 rows of A by 2
** rows of B: eight accumulators (enough chains for two FMA units of
** latency 4), six loads per eight FMAs.  The caller keeps A and B tiles
** small enough to stay in L1/L2 (dedup.c). */
TARGET static void avx2DotBlock(const float *A, int nA, const float *B,
                                int nB, int n, float *C){
  int i, j, k;
  const int n8 = n & ~7;
  const __m256i mTail = tailMask(n - n8);
  for(i=0; i+4<=nA; i+=4){
    const float *a0 = A + (size_t)i*n, *a1 = a0 + n, *a2 = a1 + n, *a3 = a2 + n;
    for(j=0; j+2<=nB; j+=2){
      const float *b0 = B + (size_t)j*n, *b1 = b0 + n;
      __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
      __m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      __m256 x0, x1, x2, x3, y0, y1;
      for(k=0; k<n8; k+=8){
        y0 = _mm256_loadu_ps(b0+k); y1 = _mm256_loadu_ps(b1+k);
        x0 = _mm256_loadu_ps(a0+k); x1 = _mm256_loadu_ps(a1+k);
        /* keep each load in a register: folded into both FMAs as a memory
        ** operand it would be loaded twice, and loads are the bottleneck */
        __asm__("" : "+x"(x0), "+x"(x1));
        c00 = _mm256_fmadd_ps(x0, y0, c00); c01 = _mm256_fmadd_ps(x0, y1, c01);
        c10 = _mm256_fmadd_ps(x1, y0, c10); c11 = _mm256_fmadd_ps(x1, y1, c11);
        x2 = _mm256_loadu_ps(a2+k); x3 = _mm256_loadu_ps(a3+k);
        __asm__("" : "+x"(x2), "+x"(x3));
        c20 = _mm256_fmadd_ps(x2, y0, c20); c21 = _mm256_fmadd_ps(x2, y1, c21);
        c30 = _mm256_fmadd_ps(x3, y0, c30); c31 = _mm256_fmadd_ps(x3, y1, c31);
      }
      if( k<n ){
        y0 = _mm256_maskload_ps(b0+k, mTail); y1 = _mm256_maskload_ps(b1+k, mTail);
        x0 = _mm256_maskload_ps(a0+k, mTail); x1 = _mm256_maskload_ps(a1+k, mTail);
        c00 = _mm256_fmadd_ps(x0, y0, c00); c01 = _mm256_fmadd_ps(x0, y1, c01);
        c10 = _mm256_fmadd_ps(x1, y0, c10); c11 = _mm256_fmadd_ps(x1, y1, c11);
        x2 = _mm256_maskload_ps(a2+k, mTail); x3 = _mm256_maskload_ps(a3+k, mTail);
        c20 = _mm256_fmadd_ps(x2, y0, c20); c21 = _mm256_fmadd_ps(x2, y1, c21);
        c30 = _mm256_fmadd_ps(x3, y0, c30); c31 = _mm256_fmadd_ps(x3, y1, c31);
      }
      C[(size_t)i*nB + j] = hsum(c00);     C[(size_t)i*nB + j+1] = hsum(c01);
      C[(size_t)(i+1)*nB + j] = hsum(c10); C[(size_t)(i+1)*nB + j+1] = hsum(c11);
      C[(size_t)(i+2)*nB + j] = hsum(c20); C[(size_t)(i+2)*nB + j+1] = hsum(c21);
      C[(size_t)(i+3)*nB + j] = hsum(c30); C[(size_t)(i+3)*nB + j+1] = hsum(c31);
    }
    for(; j<nB; j++){
      const float *b0 = B + (size_t)j*n;
      C[(size_t)i*nB + j] = avx2Dot(a0, b0, n);
      C[(size_t)(i+1)*nB + j] = avx2Dot(a1, b0, n);
      C[(size_t)(i+2)*nB + j] = avx2Dot(a2, b0, n);
      C[(size_t)(i+3)*nB + j] = avx2Dot(a3, b0, n);
    }
  }
  for(; i<nA; i++){
    for(j=0; j<nB; j++){
      C[(size_t)i*nB + j] = avx2Dot(A + (size_t)i*n, B + (size_t)j*n, n);
    }
  }
}

/* f32 times int8: sixteen bytes widened to two vectors of floats a step. */
TARGET float dpAvx2DotI8(const float *q, const signed char *c, int n){
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  float r;
  int i = 0;
  for(; i+16<=n; i+=16){
    __m128i b = _mm_loadu_si128((const __m128i*)(c+i));
    __m256 f0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
    __m256 f1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8)));
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q+i), f0, s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(q+i+8), f1, s1);
  }
  r = hsum(_mm256_add_ps(s0, s1));
  for(; i<n; i++){
    float x;
    memcpy(&x, &q[i], sizeof x);      /* any alignment, as the loads above */
    r += x*(float)c[i];
  }
  return r;
}

const DpKernels dpKernelsAvx2 = {
  "avx2", avx2Dot, avx2Dot3, avx2Dot2, avx2SketchFilter, avx2DotBlock,
  dpAvx2DotI8
};
#endif
