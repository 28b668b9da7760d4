/*
** tokenize.c — Unicode tokens of a document.
**
**   SELECT token, start, end FROM tokenize('Ünïcode café, 東京タワー');
**
** How it works: the text is read as UTF-8, one code point at a time. Letters
** (Unicode categories Lu Ll Lt Lm Lo, from utf8proc) are appended to the
** current token; every other code point — digits, punctuation, blanks —
** ends it.  With DP_TOK_NFKC (normalize='nfkc', the default) a word's
** marks and joiners stay in it and each token is put in NFKC with full
** case folding (see tokNormalize); without it (tables made before, and
** hashing='seed') letters are lowercased with the simple case mapping
** (utf8proc_tolower) and marks end a token too.
** Bytes that are not valid UTF-8 end a token too: a document is never
** rejected for its encoding.  ASCII is handled without calling utf8proc,
** which is most of the work on English text; runs of sixteen ASCII bytes
** are classified at once with SSE2 (see the loop).
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
** Output: DpTokens.zOut holds the lowercased bytes of every token (with
** whatever lies between tokens, which no span covers) and DpTokens.aTok the
** spans, in zOut and in the input.  It also sizes embed.c's scratch for
** these tokens (aHash, aSet), so that embedding them cannot fail.  Buffers
** are reused from call to call.
*/
#include "docpipe.h"

#include <string.h>
#include <utf8proc.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void dpTokensInit(DpTokens *p){
  memset(p, 0, sizeof(*p));
}

void dpTokensFree(DpTokens *p){
  sqlite3_free(p->aTok);
  sqlite3_free(p->zOut);
  sqlite3_free(p->aHash);
  sqlite3_free(p->aSet);
  sqlite3_free(p->aNorm);
  memset(p, 0, sizeof(*p));
}

int dpTokensReserveSet(DpTokens *p, int nFeat){
  /* a power of two at least twice nFeat, so the set is at most half full;
  ** nFeat < 2^29 (at most one per two bytes of a text SQLite can hold) */
  int nSet = 16;
  while( nSet < 2*nFeat ) nSet *= 2;
  if( dpGrow((void**)&p->aSet, &p->nSetAlloc, nSet, sizeof(uint64_t)) ){
    return SQLITE_NOMEM;
  }
  p->nSet = nSet;
  return SQLITE_OK;
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

static inline int isAsciiLetter(unsigned char c){
  return (unsigned char)((c|0x20) - 'a') < 26;
}

/* normalize='nfkc' (DP_TOK_NFKC).  A word's combining marks (Mn, Mc, Me:
** accents written as separate code points, the vowel signs and viramas of
** Indic scripts, Arabic harakat) and the joiners written inside words
** (soft hyphen, ZWNJ, ZWJ, word joiner) stay in the word instead of
** ending it, and each token is put in NFKC with full case folding, so
** that the same word typed in NFC or NFD, in any case (Greek final sigma
** too), in fullwidth or with ligatures, gives the same token.  A letter
** whose normal form is one code point that composes with nothing is
** written in that form as it is read (normLetter: most letters, upper
** case too); a token holding anything else (a mark, a joiner, a letter of
** several code points or a jamo) is rewritten whole when it ends
** (tokNormalize). */
static int isMarkCategory(utf8proc_category_t cat){
  return cat==UTF8PROC_CATEGORY_MN || cat==UTF8PROC_CATEGORY_MC
      || cat==UTF8PROC_CATEGORY_ME;
}
static int isWordJoiner(utf8proc_int32_t c){
  return c==0x00AD || c==0x200C || c==0x200D || c==0x2060;
}
/* Halfwidth katakana and Hangul: narrow letters that NFKC makes wide, so
** with DP_TOK_SPLIT_WIDE they stand alone as their wide forms do; their
** voiced sound marks (Lm, U+FF9E-FF9F) join the letter before, as the
** combining marks they become. */
static int isHalfwidthLetter(utf8proc_int32_t c){
  return c>=0xFF66 && c<=0xFFDC && c!=0xFF9E && c!=0xFF9F;
}
static int isHalfwidthSoundMark(utf8proc_int32_t c){
  return c==0xFF9E || c==0xFF9F;
}
/* Conjoining Hangul vowels and final consonants: they compose with the
** leading consonant before them (NFD Korean, as macOS writes it), so
** they join an open alone letter as marks do. */
static int isJamoFollower(utf8proc_int32_t c){
  return (c>=0x1160 && c<=0x11FF) || (c>=0xD7B0 && c<=0xD7FF);
}
/* Any conjoining jamo: leading consonants too (U+1100-115F). */
static int isConjoiningJamo(utf8proc_int32_t c){
  return (c>=0x1100 && c<=0x115F) || isJamoFollower(c);
}

/* The options of the normal form: NFKC with full case folding, default
** ignorable code points dropped. */
#define DP_NFKC_OPT (UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE \
                     | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE)

/* The letter c of a token, as its normal form when that is one code point
** that composes with nothing around it (most letters of any script, upper
** case too), else c itself and *pbNeedNorm set: the token is normalized
** whole when it ends.  The normal form of c alone is computed exactly
** (utf8proc, as for a token) and kept for the last 256 letters met, by
** their low byte (text in one script repeats its letters: utf8proc's case
** mapping for every letter was slower than this). */
static utf8proc_int32_t normLetter(DpTokens *p, utf8proc_int32_t c,
                                   int *pbNeedNorm){
  int h = c & 255;
  if( p->aFoldKey[h]!=c ){
    utf8proc_uint8_t aU[4];
    utf8proc_int32_t aN[32];
    utf8proc_ssize_t nU = utf8proc_encode_char(c, aU), nN;
    utf8proc_int32_t v = -1;
    nN = utf8proc_decompose(aU, nU, aN, 32, DP_NFKC_OPT);
    if( nN>0 && nN<=32 ) nN = utf8proc_normalize_utf32(aN, nN, DP_NFKC_OPT);
    if( nN==1 && utf8proc_get_property(aN[0])->combining_class==0
     && !isConjoiningJamo(aN[0]) ){
      v = aN[0];
    }
    p->aFoldKey[h] = c;
    p->aFoldVal[h] = v;
  }
  if( p->aFoldVal[h]<0 ){
    *pbNeedNorm = 1;
    return c;
  }
  return p->aFoldVal[h];
}

/* Rewrite the token p->zOut[iFrom..*piEnd) in NFKC with case folding
** (default-ignorable code points dropped), keeping room in zOut for
** nRest more input bytes; *piEnd becomes its new end. */
static int tokNormalize(DpTokens *p, int iFrom, int *piEnd, int nRest){
  const utf8proc_option_t opt = DP_NFKC_OPT;
  utf8proc_ssize_t nCp, nByte;
  for(;;){
    nCp = utf8proc_decompose((const utf8proc_uint8_t*)&p->zOut[iFrom],
                             *piEnd - iFrom, (utf8proc_int32_t*)p->aNorm,
                             p->nNormAlloc, opt);
    if( nCp<0 ) return SQLITE_CORRUPT;      /* the token is valid UTF-8 */
    /* room for one more: utf8proc_reencode ends what it writes with a
    ** NUL, past the last code point when they all take 4 bytes (and at
    ** aNorm[0] when none is left: a token of ignorables only) */
    if( nCp<p->nNormAlloc ) break;
    if( nCp>0x7fffffff/8
     || dpGrow((void**)&p->aNorm, &p->nNormAlloc, (int)nCp + 1,
               sizeof(int32_t)) ){
      return SQLITE_NOMEM;
    }
  }
  /* composes, then writes UTF-8 over the code points (at most 4 bytes
  ** each, so in place) */
  nByte = utf8proc_reencode((utf8proc_int32_t*)p->aNorm, nCp, opt);
  if( nByte<0 ) return SQLITE_CORRUPT;
  if( (sqlite3_int64)iFrom + nByte + 4*(sqlite3_int64)nRest + 16 > 0x7fffffff
   || dpGrow((void**)&p->zOut, &p->nOutAlloc,
             (int)(iFrom + nByte + 4*(sqlite3_int64)nRest + 16), 1) ){
    return SQLITE_NOMEM;
  }
  memcpy(&p->zOut[iFrom], p->aNorm, (size_t)nByte);
  *piEnd = iFrom + (int)nByte;
  return SQLITE_OK;
}

int dpTokenize(DpTokens *p, const unsigned char *z, int n, int mFlags){
  const int bSplitWide = (mFlags & DP_TOK_SPLIT_WIDE)!=0;
  const int bNorm = (mFlags & DP_TOK_NFKC)!=0;
  int i = 0;
  int nTok = 0;            /* tokens closed so far */
  int nOut = 0;            /* bytes written to zOut */
  int inTok = 0;           /* 1 while a token is open */
  int curStart = 0;        /* input offset of the open token */
  int curOut = 0;          /* zOut offset of the open token */
  int bNeedNorm = 0;       /* bNorm: the open token must be normalized */
  int bAloneOpen = 0;      /* bNorm: the open token is a letter standing
                           ** alone (split-wide), open for its marks */
  DpToken *aTok;
  char *zOut;
  /* Tokens are separated by at least one byte, so there are at most n/2+1;
  ** zOut receives at most 4 bytes per input byte (a lowercased code point
  ** is at most 4 UTF-8 bytes; the block path copies 1 for 1).  Size both
  ** buffers once for the worst case so the loop never checks (a token
  ** that normalization lengthens makes room for the rest itself). */
  p->nTok = 0;
  p->nOut = 0;
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
  aTok = p->aTok;
  zOut = p->zOut;

#define START_TOKEN(iAt, iOutAt) \
  if( !inTok ){ curStart = (iAt); curOut = (iOutAt); inTok = 1; }
  /* a token to normalize ends at nOut (the block path is not taken while
  ** one is open); one that normalizes to nothing (only ignorables) is
  ** dropped */
#define END_TOKEN(iAt, iOutAt) \
  if( inTok ){ int nEnd_ = (iOutAt); \
               if( bNeedNorm ){ \
                 int rcN_ = tokNormalize(p, curOut, &nEnd_, n - (iAt)); \
                 if( rcN_ ) return rcN_; \
                 zOut = p->zOut; nOut = nEnd_; bNeedNorm = 0; } \
               if( nEnd_>curOut ){ DpToken *t = &aTok[nTok++]; \
                 t->iOut = curOut; t->nOut = nEnd_ - curOut; \
                 t->iStart = curStart; t->iEnd = (iAt); } \
               inTok = 0; bAloneOpen = 0; }

  while( i<n ){
    unsigned char c = z[i];
#if defined(__SSE2__)
    /* Sixteen ASCII bytes at a time (SSE2 is part of x86-64): the block is
    ** copied to zOut with letters lowercased, and token boundaries come
    ** from the bit mask of letters, one step per boundary rather than a
    ** data-dependent branch per byte.  Separators copied along are never
    ** inside a token's span, so they do no harm.  Not while a token to
    ** normalize (or an alone letter) is open: it must end at nOut. */
    if( c<0x80 && i+16<=n && !bNeedNorm && !bAloneOpen ){
      __m128i v = _mm_loadu_si128((const __m128i*)(z+i));
      if( _mm_movemask_epi8(v)==0 ){
        /* (c|0x20) - 'a' < 26, as a signed compare after moving 'a' to -128 */
        __m128i x = _mm_add_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)),
                                 _mm_set1_epi8((char)(0x80 - 'a')));
        __m128i isL = _mm_cmplt_epi8(x, _mm_set1_epi8((char)(-128 + 26)));
        unsigned mL = (unsigned)_mm_movemask_epi8(isL);
        unsigned mPrev = ((mL << 1) | (unsigned)inTok) & 0xFFFF;
        unsigned mStart = mL & ~mPrev;
        unsigned mEnd = ~mL & mPrev & 0xFFFF;
        unsigned mEvent = mStart | mEnd;
        _mm_storeu_si128((__m128i*)(zOut+nOut),
            _mm_or_si128(v, _mm_and_si128(isL, _mm_set1_epi8(0x20))));
        while( mEvent ){
          int b = __builtin_ctz(mEvent);
          if( (mStart >> b) & 1 ){
            START_TOKEN(i+b, nOut+b);
          }else{
            END_TOKEN(i+b, nOut+b);
          }
          mEvent &= mEvent - 1;
        }
        inTok = (int)(mL >> 15);
        i += 16;
        nOut += 16;
        continue;
      }
    }
#endif
    if( c<0x80 ){
      if( isAsciiLetter(c) ){
        if( bAloneOpen ){ END_TOKEN(i, nOut); }
        START_TOKEN(i, nOut);
        zOut[nOut++] = (char)(c | 0x20);
      }else{
        END_TOKEN(i, nOut);
      }
      i++;
    }else{
      utf8proc_int32_t cp = -1;
      utf8proc_ssize_t nb = utf8proc_iterate(z+i, n-i, &cp);
      if( nb<=0 || cp<0 ){
        /* invalid byte: a separator */
        END_TOKEN(i, nOut);
        i++;
      }else{
        utf8proc_category_t cat = utf8proc_category(cp);
        if( bNorm && inTok && (isMarkCategory(cat) || isWordJoiner(cp)
                               || isHalfwidthSoundMark(cp)
                               || (bAloneOpen && isJamoFollower(cp))) ){
          /* a mark (or joiner) of the open word, or the vowel or final
          ** consonant of a Hangul syllable written in jamo: normalized
          ** with it */
          nOut += (int)utf8proc_encode_char(cp, (utf8proc_uint8_t*)&zOut[nOut]);
          bNeedNorm = 1;
        }else if( isLetterCategory(cat) && !(bNorm && isHalfwidthSoundMark(cp)) ){
          int bAlone = bSplitWide && (isUnspacedLetter(cp, cat)
                                      || (bNorm && isHalfwidthLetter(cp)));
          if( bAlone || bAloneOpen ){ END_TOKEN(i, nOut); }
          START_TOKEN(i, nOut);
          if( bNorm ){
            nOut += (int)utf8proc_encode_char(normLetter(p, cp, &bNeedNorm),
                                              (utf8proc_uint8_t*)&zOut[nOut]);
            bAloneOpen = bAlone;       /* closed by the next non-mark */
          }else{
            nOut += (int)utf8proc_encode_char(utf8proc_tolower(cp),
                                              (utf8proc_uint8_t*)&zOut[nOut]);
            if( bAlone ){ END_TOKEN(i + (int)nb, nOut); }
          }
        }else{
          END_TOKEN(i, nOut);
        }
        i += (int)nb;
      }
    }
  }
  END_TOKEN(n, nOut);
#undef START_TOKEN
#undef END_TOKEN
  p->nTok = nTok;
  p->nOut = nOut;

  /* embed.c's set of distinct features, which hashing='signed' needs (the
  ** callers split wide letters exactly for that hashing): sized here so
  ** that embedding these tokens cannot fail. */
  if( bSplitWide && dpTokensReserveSet(p, nTok) ){
    p->nTok = 0;
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}
