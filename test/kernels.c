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

static int within(double got, double ref, double bound){
  return fabs(got - ref) <= bound;
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
      int badDot = 0, badDot3 = 0, badDot2 = 0, n;
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
        if( !badDot3 && !( within(d3, ref, bound)
                        && within(na, refA, (double)n*ldexp(1.0,-24)*refA + 1e-30)
                        && within(nb, refB, (double)n*ldexp(1.0,-24)*refB + 1e-30)) ){
          badDot3 = n;
        }
      }
      check("dot", k->zName, zOff, badDot==0, badDot);
      check("dot3", k->zName, zOff, badDot3==0, badDot3);
      check("dot2", k->zName, zOff, badDot2==0, badDot2);
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
