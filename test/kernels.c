/*
** kernels.c — every kernel path this CPU has against the scalar reference.
**
** For each path and each length 1..4096, at byte offsets 0..3 from float
** alignment (SQLite blobs have no alignment), dot and dot3 must agree
** with a double-precision sum.  Tolerance, from the standard bound on a
** float sum of n products in any order: |err| <= n * 2^-24 * sum|a_i*b_i|
** (per kernel), plus 1e-30 for sums of tiny values.  Each vector also ends
** right before a page that cannot be read, so a tail that reads one float
** too far crashes the test.
**
** On each path xDot2 must sum exactly as xDot3 does (same floats, bit for
** bit: dpCosine and dpCosineNorm rely on it), and dpCosine must be one
** double however it is asked for (either order, |b|^2 cached or not),
** within n * 2^-24 * (1 + sum|a_i*b_i| / (|a| |b|)) of a double-precision
** cosine, never outside [-1, 1], and must refuse the vectors
** dpVectorScorable refuses.
**
** Prints "N passed, N failed"; a test is one (path, kernel, offset) over all
** lengths.
*/
#include "docpipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NMAX 4096

static int nPass = 0, nFail = 0;

/* Buffer of nByte readable bytes followed by an unreadable page. */
static unsigned char *guardedBuffer(size_t nByte, size_t *pnMap){
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  size_t nData = (nByte + pg - 1) / pg * pg;
  unsigned char *p = mmap(0, nData + pg, PROT_READ|PROT_WRITE,
                          MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
  if( p==MAP_FAILED ){ perror("mmap"); exit(2); }
  if( mprotect(p + nData, pg, PROT_NONE) ){ perror("mprotect"); exit(2); }
  *pnMap = nData + pg;
  return p + nData;   /* end of readable memory */
}

static float randf(unsigned *s){
  *s = *s * 1103515245u + 12345u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* 64 random bits: three steps of randf's generator, the top 24, 24 and
** 16 bits of each. */
static uint64_t rand64(unsigned *s){
  uint64_t a, b, c;
  *s = *s * 1103515245u + 12345u; a = *s >> 8;
  *s = *s * 1103515245u + 12345u; b = *s >> 8;
  *s = *s * 1103515245u + 12345u; c = *s >> 16;
  return a << 40 | b << 16 | c;
}

static int within(double got, double ref, double bound){
  return fabs(got - ref) <= bound;
}

static int sameBits(float x, float y){
  return memcmp(&x, &y, sizeof x)==0;
}

static int sameBitsD(double x, double y){
  return memcmp(&x, &y, sizeof x)==0;
}

static void check(const char *zWhat, const char *zPath, const char *zOff,
                  int bOk, int nBad){
  if( bOk ){
    nPass++;
  }else{
    nFail++;
    printf("! %s on %s at offset %s: first bad length %d\n",
           zWhat, zPath, zOff, nBad);
  }
}

int main(void){
  const DpKernels *aPath[4];
  int nPath = dpSimdAvailable(aPath, 4);
  size_t nMapA, nMapB;
  unsigned char *pEndA = guardedBuffer(NMAX*4 + 64, &nMapA);
  unsigned char *pEndB = guardedBuffer(NMAX*4 + 64, &nMapB);
  static float src[2][NMAX];
  unsigned seed = 42;
  int iPath, i;
  /* Gap in bytes between the end of a vector and the guard page. */
  static const int aOff[] = { 0, 1, 2, 3 };

  for(i=0; i<NMAX; i++){ src[0][i] = randf(&seed); src[1][i] = randf(&seed); }
  printf("kernel paths: ");
  for(iPath=0; iPath<nPath; iPath++) printf("%s ", aPath[iPath]->zName);
  printf("\n");

  for(iPath=0; iPath<nPath; iPath++){
    const DpKernels *k = aPath[iPath];
    size_t o;
    for(o=0; o<sizeof(aOff)/sizeof(aOff[0]); o++){
      int badDot = 0, badDot3 = 0, badDot2 = 0, badSame = 0, n;
      char zOff[16];
      snprintf(zOff, sizeof zOff, "%d bytes", aOff[o]);
      for(n=1; n<=NMAX; n++){
        /* Both vectors end aOff bytes before the guard page: at offset 0 a
        ** read past the end faults; other offsets leave the start off float
        ** alignment, and the 16/32/64-byte alignment varies with n. */
        unsigned char *pa = pEndA - (size_t)n*4 - (size_t)aOff[o];
        unsigned char *pb = pEndB - (size_t)n*4 - (size_t)aOff[o];
        double ref = 0, refAbs = 0, refA = 0, refB = 0, bound;
        float d, d3, na, nb, d2, na2;
        int j;
        memcpy(pa, src[0], (size_t)n*4);
        memcpy(pb, src[1], (size_t)n*4);
        for(j=0; j<n; j++){
          double x = src[0][j], y = src[1][j];
          ref += x*y; refAbs += fabs(x*y); refA += x*x; refB += y*y;
        }
        bound = (double)n * ldexp(1.0, -24) * refAbs + 1e-30;
        d = k->xDot((const float*)pa, (const float*)pb, n);
        k->xDot3((const float*)pa, (const float*)pb, n, &d3, &na, &nb);
        k->xDot2((const float*)pa, (const float*)pb, n, &d2, &na2);
        if( !badDot && !within(d, ref, bound) ) badDot = n;
        if( !badDot2 && !( within(d2, ref, bound)
                        && within(na2, refA, (double)n*ldexp(1.0,-24)*refA + 1e-30)) ){
          badDot2 = n;
        }
        if( !badSame ){
          /* one summation order: xDot2's dot and |a|^2 are xDot3's, xDot2(b,
          ** b) gives xDot3's |b|^2, and swapping a and b swaps the norms */
          float dBB, nbB, dS, naS, nbS;
          k->xDot2((const float*)pb, (const float*)pb, n, &dBB, &nbB);
          k->xDot3((const float*)pb, (const float*)pa, n, &dS, &naS, &nbS);
          if( !sameBits(d2, d3) || !sameBits(na2, na) || !sameBits(nbB, nb)
           || !sameBits(dS, d3) || !sameBits(naS, nb) || !sameBits(nbS, na) ){
            badSame = n;
          }
        }
        if( !badDot3 && !( within(d3, ref, bound)
                        && within(na, refA, (double)n*ldexp(1.0,-24)*refA + 1e-30)
                        && within(nb, refB, (double)n*ldexp(1.0,-24)*refB + 1e-30)) ){
          badDot3 = n;
        }
      }
      check("dot", k->zName, zOff, badDot==0, badDot);
      check("dot3", k->zName, zOff, badDot3==0, badDot3);
      check("dot2", k->zName, zOff, badDot2==0, badDot2);
      check("dot2 sums as dot3", k->zName, zOff, badSame==0, badSame);
    }
  }

  /* xDotBlock: every pair of an nA x nB block equals that path's xDot
  ** within the same bound, for block shapes that hit every tail. */
  for(iPath=0; iPath<nPath; iPath++){
    const DpKernels *k = aPath[iPath];
    static const int aN[] = { 1, 7, 8, 9, 31, 64, 100, 1024, 1031 };
    int bad = 0;
    size_t t;
    for(t=0; t<sizeof(aN)/sizeof(aN[0]) && !bad; t++){
      int n = aN[t], nA, nB;
      for(nA=1; nA<=9 && !bad; nA++){
        for(nB=1; nB<=7 && !bad; nB++){
          static float A[9*1031], B[7*1031], C[9*7];
          int i, j;
          for(i=0; i<nA*n; i++) A[i] = randf(&seed);
          for(i=0; i<nB*n; i++) B[i] = randf(&seed);
          k->xDotBlock(A, nA, B, nB, n, C);
          for(i=0; i<nA && !bad; i++){
            for(j=0; j<nB && !bad; j++){
              double ref = 0, refAbs = 0;
              int e;
              for(e=0; e<n; e++){
                ref += (double)A[i*n+e]*B[j*n+e];
                refAbs += fabs((double)A[i*n+e]*B[j*n+e]);
              }
              if( !within(C[i*nB+j], ref, n*ldexp(1.0,-24)*refAbs + 1e-30) ){
                bad = 1;
                printf("! dotblock on %s: n=%d %dx%d pair (%d,%d)\n",
                       k->zName, n, nA, nB, i, j);
              }
            }
          }
        }
      }
    }
    if( bad ) nFail++; else nPass++;
  }

  /* xDotI8: f32 times int8 against a double reference, every length to
  ** 1100 (the AVX2 loop takes 16 bytes a step, then a scalar tail). */
  for(iPath=0; iPath<nPath; iPath++){
    const DpKernels *k = aPath[iPath];
    static float q[1100];
    static signed char c[1100];
    int n, bad = 0;
    for(n=0; n<1100; n++){
      q[n] = randf(&seed);
      c[n] = (signed char)((int)(randf(&seed)*127.0f));
    }
    for(n=1; n<=1100 && !bad; n++){
      double ref = 0, refAbs = 0;
      int e;
      for(e=0; e<n; e++){ ref += (double)q[e]*c[e]; refAbs += fabs((double)q[e]*c[e]); }
      if( !within(k->xDotI8(q, c, n), ref, n*ldexp(1.0,-24)*refAbs + 1e-30) ){
        bad = n;
        printf("! dotI8 on %s: length %d\n", k->zName, n);
      }
    }
    if( bad ) nFail++; else nPass++;
  }

  /* dpCosine on each path: one double whichever way it is asked for, close
  ** to a double-precision cosine, clamped, and refusing what
  ** dpVectorScorable refuses. */
  for(iPath=0; iPath<nPath; iPath++){
    static const int aN[] = { 1, 2, 7, 8, 9, 23, 24, 25, 31, 32, 33, 37, 64,
                              100, 255, 300, 1000, 1024, 1031, 4096 };
    static float a[NMAX], b[NMAX];
    int badSame = 0, badRef = 0, badClamp = 0, badRule = 0, nOver = 0;
    size_t t;
    int j, e1, e2, e3, e4;
    dpKernels = aPath[iPath];
    for(t=0; t<sizeof(aN)/sizeof(aN[0]); t++){
      int n = aN[t], rep;
      for(rep=0; rep<20; rep++){
        double ref = 0, refAbs = 0, refA = 0, refB = 0, r1, r2, r3, r4, tol;
        float c = 0.25f + 4.0f*(randf(&seed)+1.0f)/2.0f;
        for(j=0; j<n; j++){ a[j] = randf(&seed); b[j] = randf(&seed); }
        for(j=0; j<n; j++){
          ref += (double)a[j]*b[j]; refAbs += fabs((double)a[j]*b[j]);
          refA += (double)a[j]*a[j]; refB += (double)b[j]*b[j];
        }
        if( refA==0.0 || refB==0.0 ) continue;
        r1 = dpCosine(a, b, n, &e1);
        r2 = dpCosine(b, a, n, &e2);
        r3 = dpCosineNorm(a, b, n, dpNormSq(b, n), &e3);
        r4 = dpCosineNorm(b, a, n, dpNormSq(a, n), &e4);
        if( e1 || e2 || e3 || e4 || !sameBitsD(r1, r2) || !sameBitsD(r1, r3)
         || !sameBitsD(r1, r4) ){
          if( !badSame ) printf("! cosine on %s: n=%d %.17g %.17g %.17g %.17g\n",
                                aPath[iPath]->zName, n, r1, r2, r3, r4);
          badSame = 1;
        }
        ref = ref / sqrt(refA*refB);
        tol = 1.01 * n * ldexp(1.0, -24) * (1.0 + refAbs/sqrt(refA*refB)) + 1e-15;
        if( !within(r1, ref, tol) ){
          if( !badRef ) printf("! cosine on %s: n=%d %.17g, reference %.17g\n",
                               aPath[iPath]->zName, n, r1, ref);
          badRef = 1;
        }
        /* parallel and anti-parallel: b = c*a, then -b */
        for(j=0; j<n; j++) b[j] = a[j]*c;
        r1 = dpCosine(a, b, n, &e1);
        r3 = dpCosineNorm(a, b, n, dpNormSq(b, n), &e3);
        {
          float d, na, nb;
          aPath[iPath]->xDot3(a, b, n, &d, &na, &nb);
          if( (double)d / sqrt((double)na*nb) > 1.0 ) nOver++;
        }
        if( e1 || e3 || r1>1.0 || r3>1.0 || r1<0.999 ) badClamp = 1;
        for(j=0; j<n; j++) b[j] = -b[j];
        r1 = dpCosine(a, b, n, &e1);
        r3 = dpCosineNorm(b, a, n, dpNormSq(a, n), &e3);
        if( e1 || e3 || r1<-1.0 || r3<-1.0 || r1>-0.999 ) badClamp = 1;
      }
    }
    if( badClamp ) printf("! cosine on %s: outside [-1, 1] for parallel vectors"
                          " (%d of the unclamped quotients are > 1)\n",
                          aPath[iPath]->zName, nOver);
    /* the rule: all finite, |v| 0 or in [1e-15, 1e15], in double */
    {
      static const struct { float x; int n; int bOk; } aRule[] = {
        { 1.0f, 8, 1 }, { 0.0f, 8, 1 }, { 1e20f, 8, 0 }, { 1e-30f, 8, 0 },
        { 3e14f, 8, 1 }, { 4e14f, 8, 0 },       /* |v| 8.5e14, 1.13e15 */
        { 5e-16f, 8, 1 }, { 3e-16f, 8, 0 },     /* |v| 1.41e-15, 8.5e-16 */
        { 1e15f, 1, 1 }, { 1.1e15f, 1, 0 },     /* float(1e15) < 1e15 */
        { 1e-23f, 4096, 0 }, { 1e-16f, 4096, 1 },  /* |v| 6.4e-22, 6.4e-15 */
      };
      const char *zWhy = 0;
      for(t=0; t<sizeof(aRule)/sizeof(aRule[0]); t++){
        int n = aRule[t].n, bOk, eWant;
        for(j=0; j<n; j++){ a[j] = aRule[t].x; b[j] = randf(&seed); }
        bOk = dpVectorScorable(a, n, &zWhy);
        eWant = !aRule[t].bOk ? DP_SCORE_BAD_A
              : aRule[t].x==0.0f ? DP_SCORE_ZERO : DP_SCORE_OK;
        dpCosine(a, b, n, &e1);
        dpCosineNorm(b, a, n, dpNormSq(a, n), &e2);
        e2 = e2==DP_SCORE_BAD_B ? DP_SCORE_BAD_A : e2;
        if( bOk!=aRule[t].bOk || e1!=eWant || e2!=eWant
         || (bOk ? zWhy!=0 : zWhy==0) ){
          printf("! rule on %s: %g x %d: scorable %d, dpCosine %d %d\n",
                 aPath[iPath]->zName, aRule[t].x, n, bOk, e1, e2);
          badRule = 1;
        }
      }
      a[3] = 0.0f; a[5] = NAN;
      if( dpVectorScorable(a, 8, &zWhy) || zWhy==0
       || strcmp(zWhy, "it has a non-finite value (NaN or Inf)")!=0 ){
        badRule = 1;
        printf("! rule on %s: NaN accepted\n", aPath[iPath]->zName);
      }
    }
    if( badSame || badRef || badClamp || badRule ) nFail++; else nPass++;
  }

  /* xSketchFilter on each path against sums computed here: every entry's
  ** s = sum_l aHi[l] * popcount(NZ & ~(NEG ^ qNEG) & LEVEL_l) is found with
  ** integer popcounts, and the weights are powers of two so each s is exact
  ** in double whatever order the kernel adds it in; the filter must return
  ** exactly the entries with s >= rMin2, in order, for thresholds equal to
  ** entries' own s (ties are kept).  One to four levels in use (the AVX2 path
  ** has a copy per number of levels), word counts around the 4- and 8-word
  ** strides and past 64 words (where byte counts are flushed), flag masks,
  ** and an all-ones entry that would overflow a byte lane flushed late. */
  {
    enum { NENTRY = 40, NWORD_MAX = 130 };
    static const int aWord[] = { 1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 63, 64,
                                 65, 68, 100, 128, 130 };
    static uint64_t aSk[NENTRY*2*NWORD_MAX], aNeg[NWORD_MAX];
    static uint64_t aLev[DP_LEVELS*NWORD_MAX];
    static unsigned char aFlag[NENTRY];
    static double aS[NENTRY];
    static const double aWeight[] = { 1.0, 0.5, 0.25, 0.125 };
    for(iPath=0; iPath<nPath; iPath++){
      const DpKernels *k = aPath[iPath];
      int bad = 0;
      size_t t;
      for(t=0; t<sizeof(aWord)/sizeof(aWord[0]) && !bad; t++){
        int nWord = aWord[t], nUsed, mFlag, e, w, l;
        for(nUsed=1; nUsed<=DP_LEVELS && !bad; nUsed++){
          DpQuerySketch q;
          q.aNeg = aNeg; q.aLevel = aLev;
          for(l=0; l<DP_LEVELS; l++) q.aHi[l] = l<nUsed ? aWeight[l] : 0.0;
          for(w=0; w<(int)(sizeof aSk/sizeof aSk[0]); w++){
            aSk[w] = rand64(&seed);
          }
          for(w=0; w<NWORD_MAX; w++){
            aNeg[w] = rand64(&seed);
          }
          /* levels are disjoint bucket sets: word bits dealt to levels;
          ** with one level in use it has every bucket, so the all-ones
          ** entry adds 8 to each byte lane a step (a flush later than
          ** every 16 steps would overflow one at 128 words) */
          for(w=0; w<nWord; w++){
            uint64_t r = rand64(&seed), r2 = rand64(&seed);
            if( nUsed==1 ){ r = ~(uint64_t)0; r2 = ~(uint64_t)0; }
            aLev[0*nWord + w] = r & r2;
            aLev[1*nWord + w] = r & ~r2;
            aLev[2*nWord + w] = ~r & r2;
            aLev[3*nWord + w] = ~r & ~r2;
          }
          /* entry 0: every bucket set and agreeing in sign */
          for(w=0; w<nWord; w++){ aSk[w] = ~(uint64_t)0; aSk[nWord + w] = aNeg[w]; }
          for(e=0; e<NENTRY; e++){
            const uint64_t *nz = aSk + (size_t)e*2*nWord, *neg = nz + nWord;
            aFlag[e] = (unsigned char)(rand64(&seed) >> 13 & 3);
            aS[e] = 0.0;
            for(l=0; l<nUsed; l++){
              long c = 0;
              for(w=0; w<nWord; w++){
                c += __builtin_popcountll(nz[w] & ~(neg[w] ^ aNeg[w])
                                         & aLev[(size_t)l*nWord + w]);
              }
              aS[e] += aWeight[l] * (double)c;
            }
          }
          for(mFlag=0; mFlag<4 && !bad; mFlag++){
            int iThr;
            for(iThr=0; iThr<NENTRY && !bad; iThr+=7){
              int aOut[NENTRY], aWant[NENTRY], nOut, nWant = 0;
              double rMin2 = aS[iThr];
              for(e=0; e<NENTRY; e++){
                if( (aFlag[e] & mFlag)==mFlag && aS[e]>=rMin2 ) aWant[nWant++] = e;
              }
              nOut = k->xSketchFilter(aSk, aFlag, NENTRY, nWord,
                                      (unsigned char)mFlag, &q, rMin2, aOut);
              if( nOut!=nWant
               || memcmp(aOut, aWant, sizeof(int)*(size_t)nWant)!=0 ){
                printf("! sketch filter on %s: %d words, %d levels, flags %d,"
                       " threshold %g: %d entries, want %d\n", k->zName,
                       nWord, nUsed, mFlag, rMin2, nOut, nWant);
                bad = 1;
              }
            }
          }
        }
      }
      if( bad ) nFail++; else nPass++;
    }
  }

  /* The scalar row is always there and the chosen row is one of the rows. */
  {
    char *zErr = 0;
    int rc = dpSimdInit(&zErr);
    int bFound = 0;
    for(iPath=0; iPath<nPath; iPath++) bFound |= (aPath[iPath]==dpKernels);
    if( rc==SQLITE_OK && nPath>=1 && aPath[0]==&dpKernelsScalar && bFound ){
      nPass++;
    }else{
      nFail++;
      printf("! dispatch: rc=%d %s\n", rc, zErr ? zErr : "");
    }
    sqlite3_free(zErr);
  }

  munmap(pEndA - (nMapA - (size_t)sysconf(_SC_PAGESIZE)), nMapA);
  munmap(pEndB - (nMapB - (size_t)sysconf(_SC_PAGESIZE)), nMapB);
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail ? 1 : 0;
}
