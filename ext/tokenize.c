/*
** tokenize.c — Unicode tokens of a document.
**
**   SELECT token, start, end FROM tokenize('Ünïcode café, 東京タワー');
**
** How it works: the text is read as UTF-8, one code point at a time. Letters
** (Unicode categories Lu Ll Lt Lm Lo, from utf8proc) are lowercased with the
** simple case mapping (utf8proc_tolower) and appended to the current token;
** every other code point — digits, punctuation, marks, blanks — ends it.
** Bytes that are not valid UTF-8 end a token too: a document is never
** rejected for its encoding.  ASCII is handled without calling utf8proc,
** which is most of the work on English text.
**
** Scripts written without spaces between words would otherwise give one
** token per sentence.  With bSplitWide each letter of such a script is a
** token of its own, so shingles over them are character n-grams.  Which
** letters: East Asian wide letters (utf8proc_charwidth 2 and category Lo or
** Lm: Han, Hiragana, Katakana, Hangul) and the Southeast Asian scripts that
** have no word spaces and are not wide (Thai, Lao, Myanmar, Khmer: their
** Unicode blocks, listed in isUnspacedSea()).  Fullwidth Latin letters are
** Lu/Ll, so they still form words.
**
** Output: DpTokens.zOut holds every lowercased token back to back and
** DpTokens.aTok the spans, in zOut and in the input.  Buffers are reused
** from call to call.
*/
#include "docpipe.h"

#include <string.h>
#include <utf8proc.h>

void dpTokensInit(DpTokens *p){
  memset(p, 0, sizeof(*p));
}

void dpTokensFree(DpTokens *p){
  sqlite3_free(p->aTok);
  sqlite3_free(p->zOut);
  sqlite3_free(p->aHash);
  memset(p, 0, sizeof(*p));
}

/* Thai, Lao, Myanmar and Khmer blocks: scripts without word spaces whose
** letters are not East Asian wide. */
static int isUnspacedSea(utf8proc_int32_t c){
  return (c>=0x0E00 && c<=0x0EFF)      /* Thai, Lao */
      || (c>=0x1000 && c<=0x109F)      /* Myanmar */
      || (c>=0x1780 && c<=0x17FF);     /* Khmer */
}

static int isLetterCategory(utf8proc_category_t cat){
  return cat>=UTF8PROC_CATEGORY_LU && cat<=UTF8PROC_CATEGORY_LO;
}

/* 1 when the letter c stands alone as a token in split-wide mode. */
static int isUnspacedLetter(utf8proc_int32_t c, utf8proc_category_t cat){
  if( isUnspacedSea(c) ) return 1;
  return (cat==UTF8PROC_CATEGORY_LO || cat==UTF8PROC_CATEGORY_LM)
      && utf8proc_charwidth(c)==2;
}

/* Close the current token, if any, at input offset iEnd. */
static void endToken(DpTokens *p, int *pInTok, int iEnd){
  if( *pInTok ){
    DpToken *t = &p->aTok[p->nTok++];
    t->nOut = p->nOut - t->iOut;
    t->iEnd = iEnd;
    *pInTok = 0;
  }
}

/* Open a token at input offset iStart. The caller has made room in aTok. */
static void startToken(DpTokens *p, int *pInTok, int iStart){
  DpToken *t = &p->aTok[p->nTok];
  t->iOut = p->nOut;
  t->iStart = iStart;
  *pInTok = 1;
}

int dpTokenize(DpTokens *p, const unsigned char *z, int n, int bSplitWide){
  int i = 0;
  int inTok = 0;
  p->nTok = 0;
  p->nOut = 0;
  /* Tokens are separated by at least one byte, so there are at most n/2+1;
  ** a lowercased code point takes at most 4 UTF-8 bytes per input byte.
  ** Size both buffers once for the worst case so the loop never checks. */
  if( n/2 + 1 > p->nTokAlloc ){
    int nHashAlloc = p->nTokAlloc;
    if( dpGrow((void**)&p->aHash, &nHashAlloc, n/2 + 1, sizeof(uint64_t)) ){
      return SQLITE_NOMEM;
    }
  }
  if( dpGrow((void**)&p->aTok, &p->nTokAlloc, n/2 + 1, sizeof(DpToken))
   || n > (0x7fffffff-16)/4
   || dpGrow((void**)&p->zOut, &p->nOutAlloc, 4*n + 16, 1) ){
    return SQLITE_NOMEM;
  }
  while( i<n ){
    unsigned char c = z[i];
    if( c<0x80 ){
      /* ASCII fast path */
      if( (unsigned char)((c|0x20) - 'a') < 26 ){
        if( !inTok ) startToken(p, &inTok, i);
        p->zOut[p->nOut++] = (char)(c | 0x20);
      }else{
        endToken(p, &inTok, i);
      }
      i++;
    }else{
      utf8proc_int32_t cp = -1;
      utf8proc_ssize_t nb = utf8proc_iterate(z+i, n-i, &cp);
      if( nb<=0 || cp<0 ){
        /* invalid byte: a separator */
        endToken(p, &inTok, i);
        i++;
        continue;
      }else{
        utf8proc_category_t cat = utf8proc_category(cp);
        if( isLetterCategory(cat) ){
          int bAlone = bSplitWide && isUnspacedLetter(cp, cat);
          if( bAlone ) endToken(p, &inTok, i);
          if( !inTok ) startToken(p, &inTok, i);
          p->nOut += (int)utf8proc_encode_char(utf8proc_tolower(cp),
                                (utf8proc_uint8_t*)&p->zOut[p->nOut]);
          if( bAlone ) endToken(p, &inTok, i + (int)nb);
        }else{
          endToken(p, &inTok, i);
        }
        i += (int)nb;
      }
    }
  }
  endToken(p, &inTok, n);
  return SQLITE_OK;
}
