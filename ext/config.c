/*
** config.c — the option syntax shared by every docpipe entry point.
**
**   SELECT embed('some text', 'dim=256, tokenize=words, hashing=seed');
**   CREATE VIRTUAL TABLE docs USING docpipe(dim=512, threshold=0.9,
**                                           on_duplicate='ignore', title TEXT);
**
** How it works: an option is one word "key=value"; the value may be quoted
** with '...' or "..." (doubling the quote inside it).  embed() and tokenize()
** take a list of such words separated by commas or spaces; the virtual table
** gets them one per CREATE argument.  Keys and values are matched without
** regard to case.  Unknown keys, bad values and a key given twice are errors
** that name them: an option silently ignored (or silently overridden) is a
** setting the user believes in and does not get.  Numbers are read in the
** "C" locale whatever the host program set (dpStrtod).
**
**   key           values                         group
**   dim           integer 8..8192                 embed
**   tokenize      words | shingle N (1..16)       embed
**   hashing       signed | seed                   embed
**   threshold     real in (0, 1]; default 0.5     table
**                 with measure='jaccard', else 0.65
**   on_duplicate  keep | ignore | abort           table
**   stats         on | off                        table
**   stats_keep    integer 1..1000000000           table
**   measure       vector | jaccard | cosine       table
**   normalize     nfkc | none                     embed
**   sets          body | stored                   table (set kind)
**   compress      zstd | none                     table
**
** measure chooses the table's kind: 'jaccard' (the default) and 'cosine'
** decide by the exact Jaccard or cosine of the documents' shingle sets (the
** set kind, setindex.c); 'vector' by the cosine of hashed shingle vectors
** (the dense kind, index.c).  dim and hashing are the dense kind's own
** options: a CREATE that gives one without measure gets 'vector', as it
** did before the set kind became the default (2026-12).  A table keeps
** its kind: the set kind's is stored in %_config, and a table without
** 'measure' there is a vector table (storage.c).
**
** normalize='nfkc' (tokens in NFKC with case folding, tokenize.c) is the
** default of functions and new tables since 2026-12 (dpOptionsFinish),
** except with hashing='seed', whose vectors are the prototype's.  Only a
** table that normalizes stores it; one without the key (all made before)
** keeps the tokenizer of then, 'none', so its stored sets and vectors and
** its later documents are tokenized alike.
**
** sets='body' (the default of new set tables since 2026-12) stores no
** document's set: a set is made again from the stored body when one is
** needed (a candidate verified, dedup_index, integrity-check), so the file
** holds the text and the postings, not the text and ~1.7x its size in
** 64-bit hashes as well.  'stored' keeps each set in %_sets (a verify reads
** it instead of tokenizing the body again).  Only a 'body' table stores the
** key, beside the tokenizer it was made with (storage.c); one without the
** key (all made before) stores its sets.
**
** compress='zstd' (the default of new tables since 2026-12) stores each
** body as a zstd frame (body.c), about half its bytes; 'none' as it came.
** Only a compressing table stores the key; one without it (all made
** before) reads its bodies as they are.
*/
#include "docpipe.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ASCII blanks: isspace() would follow the host program's locale. */
#define dpIsBlank(c) ((c)==' ' || (c)=='\t' || (c)=='\n' || (c)=='\r' \
                      || (c)=='\f' || (c)=='\v')

/* In this leaf, beside dpTokenFlags, so that storage.c can record it:
** the tokenizer's rules (tokenize.c, embed.c), utf8proc's Unicode data
** and utf8proc's own version (its fixes may change a normal form within
** one Unicode version). */
void dpTokenizerId(char *zBuf, int nBuf){
  sqlite3_snprintf(nBuf, zBuf, "docpipe %d, Unicode %s, utf8proc %s",
                   DP_TOKENIZER_VERSION, utf8proc_unicode_version(),
                   utf8proc_version());
}

int dpTokenFlags(const DpOptions *p){
  return (p->eHashing!=DP_HASH_SEED ? DP_TOK_SPLIT_WIDE : 0)
       | (p->bNormalize ? DP_TOK_NFKC : 0);
}

void dpOptionsDefault(DpOptions *p){
  memset(p, 0, sizeof(*p));     /* every field, also ones added later */
  p->nDim = DP_DIM_DEFAULT;
  p->nShingle = DP_SHINGLE_DEFAULT;
  p->eHashing = DP_HASH_SIGNED;
  p->rThreshold = DP_THRESHOLD_DEFAULT;
  p->eOnDup = DP_ONDUP_KEEP;
  p->bStats = 1;
  p->nStatsKeep = DP_STATS_KEEP_DEFAULT;
  p->mSet = 0;
}

/* Copy of z[0..n) with surrounding blanks removed and one level of quotes
** undone; NULL on OOM. */
static char *dequoteWord(const char *z, int n){
  char *zOut;
  int i, j;
  while( n>0 && dpIsBlank(z[0]) ){ z++; n--; }
  while( n>0 && dpIsBlank(z[n-1]) ) n--;
  zOut = sqlite3_malloc64((sqlite3_int64)n + 1);
  if( zOut==0 ) return 0;
  if( n>=2 && (z[0]=='\'' || z[0]=='"') && z[n-1]==z[0] ){
    char q = z[0];
    for(i=1, j=0; i<n-1; i++){
      zOut[j++] = z[i];
      if( z[i]==q && i+1<n-1 && z[i+1]==q ) i++;
    }
    zOut[j] = 0;
  }else{
    memcpy(zOut, z, n);
    zOut[n] = 0;
  }
  return zOut;
}

/* Parse a whole decimal integer; 1 on success. */
static int parseInt(const char *z, long *pOut){
  char *zEnd = 0;
  long v;
  if( *z==0 ) return 0;
  v = strtol(z, &zEnd, 10);
  if( zEnd==z || *zEnd!=0 ) return 0;
  *pOut = v;
  return 1;
}

static int parseReal(const char *z, double *pOut){
  char *zEnd = 0;
  double v;
  if( *z==0 ) return 0;
  v = dpStrtod(z, &zEnd);
  if( zEnd==z || *zEnd!=0 ) return 0;
  *pOut = v;
  return 1;
}

/* An option of two values: *pb = 1 for zOne, 0 for zZero, else an error
** naming both. */
static int parseTwoWay(const char *zKey, const char *zVal, const char *zOne,
                       const char *zZero, int *pb, char **pzErr){
  if( sqlite3_stricmp(zVal, zOne)==0 ){
    *pb = 1;
  }else if( sqlite3_stricmp(zVal, zZero)==0 ){
    *pb = 0;
  }else{
    *pzErr = sqlite3_mprintf("option %s must be '%s' or '%s', not '%s'", zKey,
                             zOne, zZero, zVal);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* Every key, in the order of the table above; bit i of DpOptions.mSet is
** set once azKey[i] has been applied. */
static const char *const azKey[] = {
  "dim", "tokenize", "hashing", "threshold", "on_duplicate", "stats",
  "stats_keep", "measure", "normalize", "sets", "compress"
};

/* Position of zKey in azKey[], or -1. */
static int keyIndex(const char *zKey){
  int i;
  for(i=0; i<(int)(sizeof(azKey)/sizeof(azKey[0])); i++){
    if( sqlite3_stricmp(zKey, azKey[i])==0 ) return i;
  }
  return -1;
}

/* Apply key=value. zKey and zVal are already dequoted. */
static int applyOption(DpOptions *p, int mGroups, const char *zKey,
                       const char *zVal, char **pzErr){
  long iv;
  double rv;
  if( sqlite3_stricmp(zKey, "dim")==0 && (mGroups & DP_OPT_EMBED) ){
    if( !parseInt(zVal, &iv) || iv<DP_DIM_MIN || iv>DP_DIM_MAX ){
      *pzErr = sqlite3_mprintf("option dim must be an integer from %d to %d,"
                               " not '%s'", DP_DIM_MIN, DP_DIM_MAX, zVal);
      return SQLITE_ERROR;
    }
    p->nDim = (int)iv;
    return SQLITE_OK;
  }
  if( sqlite3_stricmp(zKey, "tokenize")==0 && (mGroups & DP_OPT_EMBED) ){
    if( sqlite3_stricmp(zVal, "words")==0 ){
      p->nShingle = 1;
      return SQLITE_OK;
    }
    if( sqlite3_strnicmp(zVal, "shingle", 7)==0 ){
      const char *zN = zVal + 7;
      while( dpIsBlank(*zN) ) zN++;
      if( *zN==0 ){
        p->nShingle = DP_SHINGLE_DEFAULT;
        return SQLITE_OK;
      }
      if( zN>zVal+7 && parseInt(zN, &iv) && iv>=1 && iv<=DP_SHINGLE_MAX ){
        p->nShingle = (int)iv;
        return SQLITE_OK;
      }
    }
    *pzErr = sqlite3_mprintf("option tokenize must be 'words' or 'shingle N'"
                             " with N from 1 to %d, not '%s'",
                             DP_SHINGLE_MAX, zVal);
    return SQLITE_ERROR;
  }
  if( sqlite3_stricmp(zKey, "hashing")==0 && (mGroups & DP_OPT_EMBED) ){
    if( sqlite3_stricmp(zVal, "signed")==0 ){
      p->eHashing = DP_HASH_SIGNED;
    }else if( sqlite3_stricmp(zVal, "seed")==0 ){
      p->eHashing = DP_HASH_SEED;
    }else{
      *pzErr = sqlite3_mprintf("option hashing must be 'signed' or 'seed',"
                               " not '%s'", zVal);
      return SQLITE_ERROR;
    }
    return SQLITE_OK;
  }
  if( sqlite3_stricmp(zKey, "normalize")==0 && (mGroups & DP_OPT_EMBED) ){
    return parseTwoWay("normalize", zVal, "nfkc", "none", &p->bNormalize,
                       pzErr);
  }
  if( sqlite3_stricmp(zKey, "threshold")==0 && (mGroups & DP_OPT_TABLE) ){
    if( !parseReal(zVal, &rv) || !(rv>0.0 && rv<=1.0) ){
      *pzErr = sqlite3_mprintf("option threshold must be a number in (0, 1],"
                               " not '%s'", zVal);
      return SQLITE_ERROR;
    }
    p->rThreshold = rv;
    return SQLITE_OK;
  }
  if( sqlite3_stricmp(zKey, "on_duplicate")==0 && (mGroups & DP_OPT_TABLE) ){
    if( sqlite3_stricmp(zVal, "keep")==0 ){
      p->eOnDup = DP_ONDUP_KEEP;
    }else if( sqlite3_stricmp(zVal, "ignore")==0 ){
      p->eOnDup = DP_ONDUP_IGNORE;
    }else if( sqlite3_stricmp(zVal, "abort")==0 ){
      p->eOnDup = DP_ONDUP_ABORT;
    }else{
      *pzErr = sqlite3_mprintf("option on_duplicate must be 'keep', 'ignore'"
                               " or 'abort', not '%s'", zVal);
      return SQLITE_ERROR;
    }
    return SQLITE_OK;
  }
  if( sqlite3_stricmp(zKey, "stats")==0 && (mGroups & DP_OPT_TABLE) ){
    return parseTwoWay("stats", zVal, "on", "off", &p->bStats, pzErr);
  }
  if( sqlite3_stricmp(zKey, "stats_keep")==0 && (mGroups & DP_OPT_TABLE) ){
    if( !parseInt(zVal, &iv) || iv<1 || iv>1000000000 ){
      *pzErr = sqlite3_mprintf("option stats_keep must be an integer from 1"
                               " to 1000000000, not '%s'", zVal);
      return SQLITE_ERROR;
    }
    p->nStatsKeep = (int)iv;
    return SQLITE_OK;
  }
  if( sqlite3_stricmp(zKey, "measure")==0 && (mGroups & DP_OPT_TABLE) ){
    if( sqlite3_stricmp(zVal, "vector")==0 ){
      p->eMeasure = DP_MEASURE_VECTOR;
    }else if( sqlite3_stricmp(zVal, "jaccard")==0 ){
      p->eMeasure = DP_MEASURE_JACCARD;
    }else if( sqlite3_stricmp(zVal, "cosine")==0 ){
      p->eMeasure = DP_MEASURE_COSINE;
    }else{
      *pzErr = sqlite3_mprintf("option measure must be 'vector', 'jaccard' or"
                               " 'cosine', not '%s'", zVal);
      return SQLITE_ERROR;
    }
    return SQLITE_OK;
  }
  if( sqlite3_stricmp(zKey, "sets")==0 && (mGroups & DP_OPT_TABLE) ){
    return parseTwoWay("sets", zVal, "body", "stored", &p->bSetsFromBody,
                       pzErr);
  }
  if( sqlite3_stricmp(zKey, "compress")==0 && (mGroups & DP_OPT_TABLE) ){
    return parseTwoWay("compress", zVal, "zstd", "none", &p->bCompress, pzErr);
  }
  if( sqlite3_stricmp(zKey, "threshold")==0
   || sqlite3_stricmp(zKey, "sets")==0
   || sqlite3_stricmp(zKey, "compress")==0
   || sqlite3_stricmp(zKey, "measure")==0
   || sqlite3_stricmp(zKey, "on_duplicate")==0
   || sqlite3_stricmp(zKey, "stats")==0
   || sqlite3_stricmp(zKey, "stats_keep")==0 ){
    *pzErr = sqlite3_mprintf("option %s applies to docpipe tables only", zKey);
  }else{
    *pzErr = sqlite3_mprintf("unknown option '%s'", zKey);
  }
  return SQLITE_ERROR;
}

int dpOptionsApply(DpOptions *p, int mGroups, const char *zWord,
                   char **pzErr){
  const char *zEq = strchr(zWord, '=');
  char *zKey, *zVal;
  int rc;
  *pzErr = 0;
  if( zEq==0 ) return SQLITE_EMPTY;
  zKey = dequoteWord(zWord, (int)(zEq - zWord));
  zVal = dequoteWord(zEq+1, (int)strlen(zEq+1));
  if( zKey==0 || zVal==0 ){
    rc = SQLITE_NOMEM;
  }else{
    int iKey = keyIndex(zKey);
    if( iKey>=0 && (p->mSet & (1u<<iKey)) ){
      *pzErr = sqlite3_mprintf("option %s is given more than once",
                               azKey[iKey]);
      rc = SQLITE_ERROR;
    }else{
      rc = applyOption(p, mGroups, zKey, zVal, pzErr);
      if( rc==SQLITE_OK && iKey>=0 ) p->mSet |= 1u<<iKey;
    }
  }
  sqlite3_free(zKey);
  sqlite3_free(zVal);
  return rc;
}

/* 1 when the blank run at z is followed by a new "key=..." word: the next
** run of non-blank characters holds an '=' (or is followed by one). Blanks
** around '=' and inside a value such as "shingle 3" stay in their word. */
static int blankStartsNewWord(const char *zStart, const char *z){
  const char *y = z, *w;
  const char *zPrev = z;
  while( dpIsBlank(*y) ) y++;
  if( *y=='=' || *y==0 || *y==',' ) return 0;
  while( zPrev>zStart && dpIsBlank(zPrev[-1]) ) zPrev--;
  if( zPrev>zStart && zPrev[-1]=='=' ) return 0;
  for(w=y; *w && *w!=',' && !dpIsBlank(*w); w++){
    if( *w=='=' ) return 1;
  }
  while( dpIsBlank(*w) ) w++;
  return *w=='=';
}

/* Parse a list of key=value words separated by commas or blanks. */
int dpOptionsParse(DpOptions *p, int mGroups, const char *zList,
                   char **pzErr){
  int rc = SQLITE_OK;
  const char *z = zList;
  *pzErr = 0;
  while( rc==SQLITE_OK && *z ){
    const char *zStart;
    char q = 0;
    char *zWord;
    while( *z==',' || dpIsBlank(*z) ) z++;
    if( *z==0 ) break;
    zStart = z;
    for(; *z; z++){
      if( q ){
        if( *z==q ){
          if( z[1]==q ){ z++; continue; }
          q = 0;
        }
      }else if( *z=='\'' || *z=='"' ){
        q = *z;
      }else if( *z==',' ){
        break;
      }else if( dpIsBlank(*z) && blankStartsNewWord(zStart, z) ){
        break;
      }
    }
    zWord = sqlite3_mprintf("%.*s", (int)(z - zStart), zStart);
    if( zWord==0 ) return SQLITE_NOMEM;
    rc = dpOptionsApply(p, mGroups, zWord, pzErr);
    if( rc==SQLITE_EMPTY ){
      *pzErr = sqlite3_mprintf("expected key=value, not '%s'", zWord);
      rc = SQLITE_ERROR;
    }
    sqlite3_free(zWord);
  }
  return rc;
}

char *dpOptionsTokenizeText(const DpOptions *p){
  if( p->nShingle==1 ) return sqlite3_mprintf("words");
  return sqlite3_mprintf("shingle %d", p->nShingle);
}

const char *dpOptionsHashingText(const DpOptions *p){
  return p->eHashing==DP_HASH_SEED ? "seed" : "signed";
}

const char *dpOptionsMeasureText(const DpOptions *p){
  switch( p->eMeasure ){
    case DP_MEASURE_JACCARD: return "jaccard";
    case DP_MEASURE_COSINE:  return "cosine";
    default:                 return "vector";
  }
}

/* normalize: 'nfkc' unless given, or hashing='seed' (whose vectors are
** the prototype's, made from the text as it is). */
void dpOptionsFinish(DpOptions *p){
  if( (p->mSet & (1u<<keyIndex("normalize")))==0 ){
    p->bNormalize = p->eHashing!=DP_HASH_SEED;
  }
}

void dpOptionsTableDefaults(DpOptions *p){
  dpOptionsFinish(p);
  if( (p->mSet & (1u<<keyIndex("measure")))==0 ){
    /* dim and hashing are options of the dense kind only: naming one
    ** chooses it, as tables made before the set kind was the default */
    p->eMeasure = (p->mSet & ((1u<<keyIndex("dim"))|(1u<<keyIndex("hashing"))))
                  ? DP_MEASURE_VECTOR : DP_MEASURE_JACCARD;
  }
  if( p->eMeasure==DP_MEASURE_JACCARD
   && (p->mSet & (1u<<keyIndex("threshold")))==0 ){
    p->rThreshold = DP_THRESHOLD_JACCARD;
  }
  if( (p->mSet & (1u<<keyIndex("sets")))==0 ){
    p->bSetsFromBody = p->eMeasure!=DP_MEASURE_VECTOR;
  }
  if( (p->mSet & (1u<<keyIndex("compress")))==0 ) p->bCompress = 1;
}

int dpOptionsGiven(const DpOptions *p, const char *zKey){
  int i = keyIndex(zKey);
  return i>=0 && (p->mSet & (1u<<i))!=0;
}

int dpOptionsIsSet(const DpOptions *p){
  return p->eMeasure!=DP_MEASURE_VECTOR;
}

const char *dpOptionsOnDupText(const DpOptions *p){
  switch( p->eOnDup ){
    case DP_ONDUP_IGNORE: return "ignore";
    case DP_ONDUP_ABORT:  return "abort";
    default:              return "keep";
  }
}
