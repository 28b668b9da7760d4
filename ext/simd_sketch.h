/*
** simd_sketch.h — the sketch filter of index.c, compiled once per kernel
** row.  simd.c, simd_avx2.c and simd_avx512.c each define SKETCH_TARGET
** (a target attribute, or nothing) and SKETCH_NAME, then include this file,
** so the one loop is built with the popcount instruction where the CPU has
** one (every AVX2 CPU does) and with the portable builtin elsewhere.
**
** For entries [0, nEntry) whose flags include all bits of mFlag, compute
** s = sum_l aHi[l] * popcount(NZ & ~(NEG ^ qNEG) & LEVEL_l) (see index.c
** for why sqrt(s) bounds the cosine) and write the position of every entry
** with s >= rMin2 to aOut.  Returns how many were written.
*/
static SKETCH_TARGET int SKETCH_NAME(
  const uint64_t *aSketch, const unsigned char *aFlag, int nEntry, int nWord,
  unsigned char mFlag, const DpQuerySketch *pQ, double rMin2, int *aOut
){
  const uint64_t *qNeg = pQ->aNeg;
  const uint64_t *l0 = pQ->aLevel, *l1 = l0 + nWord;
  const uint64_t *l2 = l1 + nWord, *l3 = l2 + nWord;
  int i, w, n = 0;
  for(i=0; i<nEntry; i++){
    const uint64_t *nz = aSketch + (size_t)i*2*nWord;
    const uint64_t *neg = nz + nWord;
    int c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    if( (aFlag[i] & mFlag)!=mFlag ) continue;
    for(w=0; w<nWord; w++){
      uint64_t agree = nz[w] & ~(neg[w] ^ qNeg[w]);
      c0 += __builtin_popcountll(agree & l0[w]);
      c1 += __builtin_popcountll(agree & l1[w]);
      c2 += __builtin_popcountll(agree & l2[w]);
      c3 += __builtin_popcountll(agree & l3[w]);
    }
    if( pQ->aHi[0]*c0 + pQ->aHi[1]*c1 + pQ->aHi[2]*c2 + pQ->aHi[3]*c3 >= rMin2 ){
      aOut[n++] = i;
    }
  }
  return n;
}
