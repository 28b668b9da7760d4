/*
** query.c — scoring a MATCH query shorter than the table's shingle size.
**
**   CREATE VIRTUAL TABLE docs USING docpipe();        -- 5-word shingles
**   SELECT rowid, score FROM docs WHERE docs MATCH 'God created the heaven';
**
** A query of fewer words than the shingle size has no shingle in common
** with any document (its one feature is all of its words), so its cosine
** with every document would be 0.  Such a query is scored by its words
** instead: its "runs" are its distinct runs of consecutive words of every
** length (each word, each pair of neighbours, ..., the whole query), and a
** document's score is the fraction of those runs that occur in it.  The
** whole phrase gives 1.0; all the words but never two together give
** 2/(n+1) for an n-word query; none of them gives 0 (not a hit).
**
** How it works.  The runs are kept as 64-bit hashes (FNV-1a over the
** lowercased token bytes with a separator byte between tokens) in a small
** sorted array (at most 15*16/2 = 120 runs).  Scoring a document tokenizes
** its body with the table's tokenizer and hashes every run of up to n
** tokens starting at each position: O(tokens * n).  So a short query reads
** every body (it is a scan, not an index lookup); the README says so.
*/
#include "docpipe.h"

#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

struct DpShortQuery {
  int nWord;              /* tokens in the query (fewer than the shingle size) */
  int mTokFlags;          /* tokenizer flags of the table */
  int nRun;               /* distinct runs in aRun */
  uint64_t *aRun;         /* their hashes, sorted */
  unsigned char *aSeen;   /* per run: found in the document being scored */
};

/* Hash of the run of nLen tokens starting at token iFirst. */
static uint64_t runHash(const DpTokens *pTok, int iFirst, int nLen){
  uint64_t h = FNV_OFFSET;
  int i, j;
  for(i=iFirst; i<iFirst+nLen; i++){
    const DpToken *t = &pTok->aTok[i];
    for(j=0; j<t->nOut; j++){
      h ^= (unsigned char)pTok->zOut[t->iOut + j];
      h *= FNV_PRIME;
    }
    h ^= 0xff;            /* never a byte of UTF-8: separates tokens */
    h *= FNV_PRIME;
  }
  return h;
}

static int cmpU64(const void *a, const void *b){
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return (x>y) - (x<y);
}

/* Position of h in p->aRun, or -1. */
static int findRun(const DpShortQuery *p, uint64_t h){
  int lo = 0, hi = p->nRun - 1;
  while( lo<=hi ){
    int mid = lo + (hi-lo)/2;
    if( p->aRun[mid]==h ) return mid;
    if( p->aRun[mid]<h ) lo = mid+1; else hi = mid-1;
  }
  return -1;
}

void dpShortQueryFree(DpShortQuery *p){
  if( p==0 ) return;
  sqlite3_free(p->aRun);
  sqlite3_free(p->aSeen);
  sqlite3_free(p);
}

int dpShortQueryNew(const DpOptions *pOpt, const DpTokens *pTok,
                    DpShortQuery **pp){
  DpShortQuery *p;
  int i, m, nRun = 0;
  *pp = 0;
  if( pOpt->nShingle<=1 ) return SQLITE_OK;
  if( pTok->nTok==0 || pTok->nTok>=pOpt->nShingle ) return SQLITE_OK;
  p = dpMallocZero(sizeof(*p));
  if( p==0 ) return SQLITE_NOMEM;
  p->nWord = pTok->nTok;
  p->mTokFlags = dpTokenFlags(pOpt);
  p->aRun = sqlite3_malloc64(sizeof(uint64_t) * p->nWord * (p->nWord+1) / 2);
  p->aSeen = sqlite3_malloc64(p->nWord * (p->nWord+1) / 2);
  if( p->aRun==0 || p->aSeen==0 ){
    dpShortQueryFree(p);
    return SQLITE_NOMEM;
  }
  for(m=1; m<=p->nWord; m++){
    for(i=0; i+m<=p->nWord; i++) p->aRun[nRun++] = runHash(pTok, i, m);
  }
  qsort(p->aRun, (size_t)nRun, sizeof(uint64_t), cmpU64);
  for(i=0; i<nRun; i++){
    if( p->nRun==0 || p->aRun[p->nRun-1]!=p->aRun[i] ){
      p->aRun[p->nRun++] = p->aRun[i];
    }
  }
  *pp = p;
  return SQLITE_OK;
}

int dpShortQueryScore(DpShortQuery *p, DpTokens *pTok,
                      const unsigned char *z, int n, double *prScore){
  int rc, i, m, nFound = 0;
  *prScore = 0.0;
  if( z==0 ) return SQLITE_OK;
  rc = dpTokenize(pTok, z, n, p->mTokFlags);
  if( rc!=SQLITE_OK ) return rc;
  memset(p->aSeen, 0, (size_t)p->nRun);
  for(i=0; i<pTok->nTok && nFound<p->nRun; i++){
    for(m=1; m<=p->nWord && i+m<=pTok->nTok; m++){
      int j = findRun(p, runHash(pTok, i, m));
      if( j<0 ) break;    /* a longer run holds this one: not there either */
      if( !p->aSeen[j] ){
        p->aSeen[j] = 1;
        nFound++;
      }
    }
  }
  *prScore = (double)nFound / (double)p->nRun;
  return SQLITE_OK;
}
