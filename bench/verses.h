/*
** verses.h — the benchmarks' text: King James Bible verses (Debian
** bible-kjv, "Book1:1 text" per line), loaded into azVerse[0..nVerse).
** Included by insert_bench.c and scale_bench.c (each a program of one file).
*/
#ifndef VERSES_H
#define VERSES_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char **azVerse; static int nVerse;

static void loadVerses(const char *zPath){
  FILE *f = fopen(zPath, "rb");
  char *zLine = 0; size_t nCap = 0; ssize_t n;
  int nAlloc = 0;
  if( !f ){ perror(zPath); exit(1); }
  while( (n = getline(&zLine, &nCap, f))>0 ){
    char *z = strchr(zLine, ' ');     /* the text after the reference */
    if( !z ) continue;
    if( zLine[n-1]=='\n' ) zLine[n-1] = 0;
    if( nVerse==nAlloc ){ nAlloc = nAlloc ? 2*nAlloc : 1024; azVerse = realloc(azVerse, nAlloc*sizeof(char*)); }
    azVerse[nVerse++] = strdup(z+1);
  }
  free(zLine); fclose(f);
}

/* A near-copy of zSrc (new malloc'd string): each word replaced, with
** probability 1/20, by the first word of a random verse.  xRnd(pRnd, n)
** draws a number below n. */
static char *nearCopy(const char *zSrc, unsigned (*xRnd)(void*, unsigned),
                      void *pRnd){
  char *zOut = malloc(strlen(zSrc)*2 + 64), *o = zOut;
  const char *z = zSrc;
  while( *z ){
    const char *w = z;
    while( *z && *z!=' ' ) z++;
    if( xRnd(pRnd, 20)==0 ){
      const char *v = azVerse[xRnd(pRnd, nVerse)];
      const char *e = strchr(v, ' ');
      size_t len = e ? (size_t)(e - v) : strlen(v);
      memcpy(o, v, len); o += len;
    }else{
      memcpy(o, w, (size_t)(z - w)); o += z - w;
    }
    while( *z==' ' ) *o++ = *z++;
  }
  *o = 0;
  return zOut;
}
#endif
