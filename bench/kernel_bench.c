/*
** kernel_bench.c — kernels, tokenizer and cosine() per-row cost, measured
** side by side in one run.  Run through `make bench-kernel`.
**
**   kernel_bench DOCPIPE_SO DOCS_JSONL [VEC0_SO]
**
** 1. One 1024-d pair in L1 for every kernel path this CPU has.
** 2. Tokenizer MB/s on English text (King James Bible passages from the
**    seed-compat fixture), on the same text transliterated letter by letter
**    into Cyrillic (2-byte UTF-8) and into Han characters (3-byte, one
**    token each), and the whole embed pipeline (tokenize + 5-shingles +
**    hash + normalise) per 2 KB English document.
** 3. SELECT sum(f(v, ?1)) over 20,000 rows of 1024-d f32 blobs, for f =
**    a C function returning a constant (SQLite's own per-row cost, the
**    floor), docpipe's cosine() and sqlite-vec's vec_distance_cosine();
**    rounds interleaved, median of 7.
*/
#include "docpipe.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double nowSec(void){ return (double)dpNowNs() * 1e-9; }

static int cmpDouble(const void *a, const void *b){
  double x = *(const double*)a, y = *(const double*)b;
  return (x>y) - (x<y);
}
static double median(double *a, int n){
  qsort(a, (size_t)n, sizeof(double), cmpDouble);
  return a[n/2];
}

/* All bodies of the fixture, joined by newlines (English, mostly). */
static char *readBodies(sqlite3 *db, const char *zPath, int *pn){
  sqlite3_stmt *pStmt;
  sqlite3_str *pStr = sqlite3_str_new(0);
  {
    FILE *f = fopen(zPath, "rb");
    char *zLine = 0;
    size_t nCap = 0;
    ssize_t n;
    if( f==0 ){ perror(zPath); exit(1); }
    sqlite3_prepare_v2(db, "SELECT json_extract(?1, '$.body')", -1, &pStmt, 0);
    while( (n = getline(&zLine, &nCap, f))>0 ){
      sqlite3_bind_text(pStmt, 1, zLine, (int)n, SQLITE_STATIC);
      if( sqlite3_step(pStmt)==SQLITE_ROW ){
        sqlite3_str_appendall(pStr, (const char*)sqlite3_column_text(pStmt, 0));
        sqlite3_str_appendchar(pStr, 1, '\n');
      }
      sqlite3_reset(pStmt);
    }
    free(zLine);
    fclose(f);
    sqlite3_finalize(pStmt);
  }
  *pn = sqlite3_str_length(pStr);
  return sqlite3_str_finish(pStr);
}

/* Map each ASCII letter to a code point base+(letter-'a') (other bytes
** kept), UTF-8 encoded: a same-shaped text in another script. */
static char *transliterate(const char *z, int n, int base, int *pnOut){
  sqlite3_str *p = sqlite3_str_new(0);
  int i;
  for(i=0; i<n; i++){
    unsigned char c = (unsigned char)z[i];
    if( (unsigned char)((c|0x20)-'a')<26 ){
      int cp = base + ((c|0x20)-'a');
      char buf[4];
      if( cp<0x800 ){
        buf[0] = (char)(0xC0 | (cp>>6)); buf[1] = (char)(0x80 | (cp & 0x3F));
        sqlite3_str_append(p, buf, 2);
      }else{
        buf[0] = (char)(0xE0 | (cp>>12)); buf[1] = (char)(0x80 | ((cp>>6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        sqlite3_str_append(p, buf, 3);
      }
    }else if( c<0x80 ){
      sqlite3_str_appendchar(p, 1, (char)c);
    }
  }
  *pnOut = sqlite3_str_length(p);
  return sqlite3_str_finish(p);
}

static double tokenizeMBs(const char *z, int n, int mFlags){
  DpTokens tok;
  double a[5];
  int r;
  dpTokensInit(&tok);
  for(r=0; r<5; r++){
    double t0 = nowSec();
    dpTokenize(&tok, (const unsigned char*)z, n, mFlags);
    a[r] = (double)n / (nowSec() - t0) / 1e6;
  }
  dpTokensFree(&tok);
  return median(a, 5);
}

static void constFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  (void)argc; (void)argv;
  sqlite3_result_double(ctx, 0.5);
}

static double timeQuery(sqlite3 *db, const char *zSql, const void *pVec,
                        int nByte){
  sqlite3_stmt *pStmt = 0;
  double t0;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)!=SQLITE_OK ){
    fprintf(stderr, "%s: %s\n", zSql, sqlite3_errmsg(db));
    exit(1);
  }
  sqlite3_bind_blob(pStmt, 1, pVec, nByte, SQLITE_STATIC);
  t0 = nowSec();
  while( sqlite3_step(pStmt)==SQLITE_ROW ){}
  t0 = nowSec() - t0;
  sqlite3_finalize(pStmt);
  return t0;
}

int main(int argc, char **argv){
  const char *zDocpipe, *zDocs, *zVec = 0;
  sqlite3 *db;
  char *zErr = 0;
  const DpKernels *aPath[4];
  int nPath, i, r;
  enum { DIM = 1024, NROW = 20000, NROUND = 11 };
  static float va[DIM], vb[DIM];

  if( argc<3 ){
    fprintf(stderr, "usage: %s DOCPIPE_SO DOCS_JSONL [VEC0_SO]\n", argv[0]);
    return 2;
  }
  zDocpipe = argv[1]; zDocs = argv[2];
  if( argc>3 ) zVec = argv[3];
  dpSimdInit(&zErr);

  /* 1. one pair in L1 per kernel path */
  for(i=0; i<DIM; i++){ va[i] = sinf((float)i); vb[i] = cosf((float)i*0.7f); }
  nPath = dpSimdAvailable(aPath, 4);
  printf("## Kernels: one 1024-d pair in L1 (ns per call, median of 5)\n\n");
  printf("| path | dot | dot + one norm (cosine vs a bound vector) | dot + two norms (cosine) |\n|---|---|---|---|\n");
  for(i=0; i<nPath; i++){
    double aDot[5], aDot2[5], aDot3[5];
    volatile float sink = 0;
    for(r=0; r<5; r++){
      int k, nIter = 200000;
      double t0 = nowSec();
      float d, na, nb;
      for(k=0; k<nIter; k++){ sink = aPath[i]->xDot(va, vb, DIM); }
      aDot[r] = (nowSec() - t0) / nIter * 1e9;
      t0 = nowSec();
      for(k=0; k<nIter; k++){
        aPath[i]->xDot3(va, vb, DIM, &d, &na, &nb);
        sink = d;
      }
      aDot3[r] = (nowSec() - t0) / nIter * 1e9;
      t0 = nowSec();
      for(k=0; k<nIter; k++){
        aPath[i]->xDot2(va, vb, DIM, &d, &na);
        sink = d;
      }
      aDot2[r] = (nowSec() - t0) / nIter * 1e9;
    }
    printf("| %s | %.1f | %.1f | %.1f |\n", aPath[i]->zName, median(aDot, 5),
           median(aDot2, 5), median(aDot3, 5));
    (void)sink;
  }

  /* 2. tokenizer and pipeline */
  sqlite3_open(":memory:", &db);
  {
    int nEn, nCyr, nHan;
    char *zEn = readBodies(db, zDocs, &nEn);
    char *zCyr = transliterate(zEn, nEn, 0x430, &nCyr);   /* а..ъ */
    char *zHan = transliterate(zEn, nEn, 0x4E00, &nHan);  /* 一.. */
    DpOptions opt;
    DpTokens tok;
    float *aVec = malloc(sizeof(float)*DIM);
    double aUs[5];
    int nDoc = 0;
    printf("\n## Tokenizer (MB/s of input, median of 5, one core)\n\n");
    printf("| text | bytes | MB/s, normalize=nfkc | MB/s, normalize=none |\n"
           "|---|---|---|---|\n");
    {
      const int mNfkc = DP_TOK_SPLIT_WIDE|DP_TOK_NFKC, mNone = DP_TOK_SPLIT_WIDE;
      printf("| English (KJV) | %d | %.0f | %.0f |\n", nEn,
             tokenizeMBs(zEn, nEn, mNfkc), tokenizeMBs(zEn, nEn, mNone));
      printf("| Cyrillic transliteration | %d | %.0f | %.0f |\n", nCyr,
             tokenizeMBs(zCyr, nCyr, mNfkc), tokenizeMBs(zCyr, nCyr, mNone));
      printf("| Han transliteration (one token per letter) | %d | %.0f | %.0f |\n",
             nHan, tokenizeMBs(zHan, nHan, mNfkc), tokenizeMBs(zHan, nHan, mNone));
    }

    dpOptionsDefault(&opt);
    dpTokensInit(&tok);
    for(r=0; r<5; r++){
      double t0 = nowSec();
      int off;
      nDoc = 0;
      for(off=0; off+2048<=nEn; off+=2048){
        dpEmbedText(&opt, &tok, (const unsigned char*)zEn+off, 2048, aVec, 0);
        nDoc++;
      }
      aUs[r] = (nowSec() - t0) / nDoc * 1e6;
    }
    printf("\nEmbed pipeline, default options (5-shingles, signed, 1024-d):"
           " %.2f us per 2 KB English document (%d documents, median of 5)\n",
           median(aUs, 5), nDoc);
    dpTokensFree(&tok);
    free(aVec);
    sqlite3_free(zEn); sqlite3_free(zCyr); sqlite3_free(zHan);
  }

  /* 3. per-row cost in SQL */
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, zDocpipe, 0, &zErr) ){
    fprintf(stderr, "load %s: %s\n", zDocpipe, zErr); return 1;
  }
  if( zVec && sqlite3_load_extension(db, zVec, 0, &zErr) ){
    fprintf(stderr, "load %s: %s\n", zVec, zErr); return 1;
  }
  sqlite3_create_function(db, "const2", 2, SQLITE_UTF8|SQLITE_DETERMINISTIC,
                          0, constFunc, 0, 0);
  {
    sqlite3_stmt *pIns;
    float v[DIM];
    unsigned s = 7;
    double aFloor[NROUND], aCos[NROUND], aVecT[NROUND];
    double floorNs, cosNs, vecNs = 0;
    sqlite3_exec(db, "CREATE TABLE t(v BLOB); BEGIN", 0, 0, 0);
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?1)", -1, &pIns, 0);
    for(r=0; r<NROW; r++){
      for(i=0; i<DIM; i++){ s = s*1103515245u + 12345u; v[i] = (float)((s>>8)&0xffff)/32768.0f - 1.0f; }
      sqlite3_bind_blob(pIns, 1, v, sizeof v, SQLITE_TRANSIENT);
      sqlite3_step(pIns); sqlite3_reset(pIns);
    }
    sqlite3_finalize(pIns);
    sqlite3_exec(db, "COMMIT", 0, 0, 0);
    for(r=0; r<NROUND; r++){
      aFloor[r] = timeQuery(db, "SELECT sum(const2(v, ?1)) FROM t", v, sizeof v);
      aCos[r] = timeQuery(db, "SELECT sum(cosine(v, ?1)) FROM t", v, sizeof v);
      if( zVec ){
        aVecT[r] = timeQuery(db, "SELECT sum(vec_distance_cosine(v, ?1)) FROM t",
                             v, sizeof v);
      }
    }
    floorNs = median(aFloor, NROUND) / NROW * 1e9;
    cosNs = median(aCos, NROUND) / NROW * 1e9;
    if( zVec ) vecNs = median(aVecT, NROUND) / NROW * 1e9;
    printf("\n## SELECT sum(f(v, ?1)) over %d rows of %d-d f32 blobs"
           " (ns per row, median of %d interleaved rounds; kernel path %s)\n\n",
           NROW, DIM, NROUND, dpKernels->zName);
    printf("| f | ns/row | above floor | whole query vs cosine() |\n|---|---|---|---|\n");
    printf("| constant C function (floor) | %.0f | 0 | |\n", floorNs);
    printf("| docpipe cosine() | %.0f | %.0f | 1.00 |\n", cosNs, cosNs - floorNs);
    if( zVec ){
      printf("| sqlite-vec vec_distance_cosine() | %.0f | %.0f | %.2fx slower |\n",
             vecNs, vecNs - floorNs, vecNs / cosNs);
    }
  }
  sqlite3_close(db);
  return 0;
}
