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

/* Word-bigram text from the verses: the benchmarks' second corpus.  The
** verses are read as one stream of words; a document starts at a random
** word and each next word is the word after a random occurrence of the
** current one.  Its 5-shingles are mostly its own, with the common phrases
** of real text ("and it came to pass") shared Zipf-like between documents,
** unlike verse mixes, whose every verse is copied into many documents. */
static const char **azWord;   /* the stream, one pointer per word */
static int *aWordLen;         /* length of each word */
static int nWord;
static int *aOccStart, *aOcc; /* per word id: its positions in the stream */
static int *aWordId;

static unsigned wordHash(const char *z, int n){
  unsigned h = 2166136261u;
  int i;
  for(i=0; i<n; i++){ h ^= (unsigned char)z[i]; h *= 16777619u; }
  return h;
}

__attribute__((unused)) static void loadMarkov(void){
  int i, nAlloc = 0, nId = 0, nSlot = 1<<17;   /* KJV: ~30k distinct words */
  int *aSlot = malloc(sizeof(int)*nSlot), *aCount;
  for(i=0; i<nSlot; i++) aSlot[i] = -1;
  for(i=0; i<nVerse; i++){
    const char *z = azVerse[i];
    while( *z ){
      const char *w = z;
      while( *z && *z!=' ' ) z++;
      if( z>w ){
        if( nWord==nAlloc ){
          nAlloc = nAlloc ? 2*nAlloc : 65536;
          azWord = realloc(azWord, nAlloc*sizeof(char*));
          aWordLen = realloc(aWordLen, nAlloc*sizeof(int));
        }
        azWord[nWord] = w;
        aWordLen[nWord++] = (int)(z - w);
      }
      while( *z==' ' ) z++;
    }
  }
  /* word ids through an open-addressing table on the word text */
  aWordId = malloc(sizeof(int)*nWord);
  for(i=0; i<nWord; i++){
    unsigned h = wordHash(azWord[i], aWordLen[i]) & (unsigned)(nSlot-1);
    while( aSlot[h]>=0 ){
      int j = aSlot[h];
      if( aWordLen[j]==aWordLen[i] && memcmp(azWord[j], azWord[i], aWordLen[i])==0 ) break;
      h = (h+1) & (unsigned)(nSlot-1);
    }
    if( aSlot[h]<0 ){
      if( ++nId>nSlot/2 ){ fprintf(stderr, "verses.h: too many words\n"); exit(1); }
      aSlot[h] = i;
    }
    aWordId[i] = aSlot[h];             /* id: the first position of the word */
  }
  aCount = calloc((size_t)nWord + 1, sizeof(int));
  aOccStart = calloc((size_t)nWord + 1, sizeof(int));
  aOcc = malloc(sizeof(int)*nWord);
  for(i=0; i<nWord; i++) aCount[aWordId[i]]++;
  for(i=0; i<nWord; i++) aOccStart[i+1] = aOccStart[i] + aCount[i];
  for(i=0; i<nWord; i++) aCount[i] = 0;
  for(i=0; i<nWord; i++){
    int id = aWordId[i];
    aOcc[aOccStart[id] + aCount[id]++] = i;
  }
  free(aCount); free(aSlot);
}

/* About nTarget bytes of bigram text (new malloc'd string). */
__attribute__((unused)) static char *markovText(size_t nTarget, unsigned (*xRnd)(void*, unsigned),
                        void *pRnd){
  char *zOut = malloc(nTarget + 256);
  size_t n = 0;
  int pos = (int)xRnd(pRnd, (unsigned)nWord);
  while( n<nTarget ){
    int id, nOcc;
    memcpy(zOut+n, azWord[pos], (size_t)aWordLen[pos]);
    n += (size_t)aWordLen[pos];
    zOut[n++] = ' ';
    id = aWordId[pos];
    nOcc = aOccStart[id+1] - aOccStart[id];
    pos = aOcc[aOccStart[id] + (int)xRnd(pRnd, (unsigned)nOcc)] + 1;
    if( pos>=nWord ) pos = 0;
  }
  zOut[n] = 0;
  return zOut;
}
#endif
