/*
** insert_bench.c — insert throughput of a docpipe table as it grows, and
** nearest-document query latency, measured in one run.
**
**   insert_bench DOCPIPE_SO VERSES_TXT NDOCS [VEC0_SO [VECTOR_SO]]
**
** Corpus: documents of 2-5 KB of real English text, each made of random
** verses of the King James Bible (Debian bible-kjv, one verse per line);
** one document in ten is instead a near-copy of an earlier document with
** 5 % of its words replaced (planted near-duplicates).  Deterministic.
**
** Inserts go through SQL, one connection, one transaction per 1,000
** documents, into a WAL database file.  For each batch it reports docs/s;
** the table prints the batches that start at 1k, 10k, 100k stored
** documents.  Then: nearest-document queries (k = 10) over the whole table,
** against a brute-force cosine() scan in SQL of the same table, and, when
** VEC0_SO is given, against sqlite-vec's vec0 KNN over the same vectors.
*/
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec*1e-9;
}

static unsigned long long rngState = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n){
  rngState ^= rngState << 13; rngState ^= rngState >> 7; rngState ^= rngState << 17;
  return (unsigned)(rngState % n);
}

#include "verses.h"

static unsigned rndCb(void *pUnused, unsigned n){ (void)pUnused; return rnd(n); }

/* Document i into a new malloc'd string; aDoc keeps earlier ones. */
static char *makeDoc(char **aDoc, int i){
  if( i>0 && rnd(10)==0 ){
    /* near-copy: 5 % of words replaced by words of a random verse */
    return nearCopy(aDoc[rnd(i)], rndCb, 0);
  }else{
    size_t target = 2000 + rnd(3000), n = 0;
    char *zOut = malloc(target + 2048);
    while( n<target ){
      const char *v = azVerse[rnd(nVerse)];
      size_t len = strlen(v);
      if( n + len + 1 > target + 2000 ) break;
      memcpy(zOut+n, v, len); n += len;
      zOut[n++] = ' ';
    }
    zOut[n] = 0;
    return zOut;
  }
}

static void exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr) ){
    fprintf(stderr, "%s: %s\n", zSql, zErr); exit(1);
  }
}

static int cmpD(const void *a, const void *b){
  double x = *(const double*)a, y = *(const double*)b; return (x>y)-(x<y);
}

/* Median ms of nQ runs of zSql with ?1 bound to the text of aDoc[...]. */
static double queryMs(sqlite3 *db, const char *zSql, char **aDoc, int nDoc,
                      int bBlobArg, int nQ){
  sqlite3_stmt *pStmt, *pEmb = 0;
  double a[64];
  int q;
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) ){
    fprintf(stderr, "%s: %s\n", zSql, sqlite3_errmsg(db)); exit(1);
  }
  if( bBlobArg ) sqlite3_prepare_v2(db, "SELECT embed(?1)", -1, &pEmb, 0);
  for(q=0; q<nQ; q++){
    const char *zQ = aDoc[(q*7919) % nDoc];
    double t0;
    if( bBlobArg ){
      sqlite3_bind_text(pEmb, 1, zQ, -1, SQLITE_STATIC);
      sqlite3_step(pEmb);
      sqlite3_bind_blob(pStmt, 1, sqlite3_column_blob(pEmb, 0),
                        sqlite3_column_bytes(pEmb, 0), SQLITE_TRANSIENT);
      sqlite3_reset(pEmb);
    }else{
      sqlite3_bind_text(pStmt, 1, zQ, -1, SQLITE_STATIC);
    }
    t0 = now();
    while( sqlite3_step(pStmt)==SQLITE_ROW ){}
    a[q] = (now() - t0) * 1e3;
    sqlite3_reset(pStmt);
  }
  sqlite3_finalize(pStmt);
  sqlite3_finalize(pEmb);
  qsort(a, nQ, sizeof(double), cmpD);
  return a[nQ/2];
}

int main(int argc, char **argv){
  sqlite3 *db;
  sqlite3_stmt *pIns;
  char *zErr = 0;
  char **aDoc;
  int nDoc, i;
  const char *zDb = "build/bench/insert.db";
  double aRate[1024]; int nBatch = 0;
  double tAll0;
  if( argc<4 ){ fprintf(stderr, "usage: %s DOCPIPE_SO VERSES NDOCS [VEC0_SO]\n", argv[0]); return 2; }
  loadVerses(argv[2]);
  nDoc = atoi(argv[3]);
  aDoc = malloc(sizeof(char*)*nDoc);
  for(i=0; i<nDoc; i++) aDoc[i] = makeDoc(aDoc, i);

  remove(zDb);
  { char z[256]; snprintf(z, sizeof z, "%s-wal", zDb); remove(z); }
  sqlite3_open(zDb, &db);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, argv[1], 0, &zErr) ){ fprintf(stderr, "%s\n", zErr); return 1; }
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
           "CREATE VIRTUAL TABLE docs USING docpipe(dim=1024, threshold=0.8)");
  sqlite3_prepare_v2(db, "INSERT INTO docs(body) VALUES (?1)", -1, &pIns, 0);
  tAll0 = now();
  for(i=0; i<nDoc; ){
    int n = nDoc - i < 1000 ? nDoc - i : 1000, j;
    double t0 = now();
    exec(db, "BEGIN");
    for(j=0; j<n; j++, i++){
      sqlite3_bind_text(pIns, 1, aDoc[i], -1, SQLITE_STATIC);
      if( sqlite3_step(pIns)!=SQLITE_DONE ){ fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db)); return 1; }
      sqlite3_reset(pIns);
    }
    exec(db, "COMMIT");
    aRate[nBatch++] = n / (now() - t0);
  }
  if( getenv("INSERT_CSV") ){
    /* every batch, for the plot of throughput against index size */
    FILE *f = fopen(getenv("INSERT_CSV"), "w");
    if( f ){
      for(i=0; i<nBatch; i++) fprintf(f, "%d %.1f\n", i*1000, aRate[i]);
      fclose(f);
    }
  }
  printf("## Insert throughput (docs/s, one transaction per 1,000 documents of 2-5 KB)\n\n");
  printf("| stored documents before the batch | docs/s |\n|---|---|\n");
  for(i=0; i<nBatch; i++){
    int at = i*1000;
    if( at==0 || at==1000 || at==10000 || at==30000 || at==100000 || i==nBatch-1 ){
      printf("| %d | %.0f |\n", at, aRate[i]);
    }
  }
  {
    sqlite3_stmt *p;
    int nDup = 0;
    struct rusage ru;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM docs WHERE is_duplicate", -1, &p, 0);
    if( sqlite3_step(p)==SQLITE_ROW ) nDup = sqlite3_column_int(p, 0);
    sqlite3_finalize(p);
    getrusage(RUSAGE_SELF, &ru);
    printf("\n%d documents in %.1f s (%.0f docs/s overall), %d flagged near-duplicates;"
           " peak RSS %.0f MB (corpus text included)\n",
           nDoc, now() - tAll0, nDoc / (now() - tAll0), nDup, ru.ru_maxrss/1024.0);
  }
  sqlite3_finalize(pIns);

  /* Queries: docpipe MATCH against the peers on the same vectors, at
  ** several table sizes (the first N documents), all in this run. */
  {
    static const int aN[] = { 10000, 30000, 100000 };
    const char *zVector = argc>5 ? argv[5] : 0;
    FILE *fLat = getenv("QUERY_CSV") ? fopen(getenv("QUERY_CSV"), "w") : 0;
    size_t t;
    if( argc>4 && sqlite3_load_extension(db, argv[4], 0, &zErr) ){
      fprintf(stderr, "%s\n", zErr); return 1;
    }
    if( zVector && sqlite3_load_extension(db, zVector, 0, &zErr) ){
      fprintf(stderr, "%s\n", zErr); return 1;
    }
    printf("\n## Nearest documents, k = 10, 1024-d, exact unless noted (ms per query, median;"
           " the first N documents of the run)\n\n");
    printf("| N | docpipe MATCH | sqlite-vec vec0 | sqlite-vector full scan | sqlite-vector"
           " quantized scan (approximate) | SQL ORDER BY cosine() |\n|---|---|---|---|---|---|\n");
    for(t=0; t<sizeof(aN)/sizeof(aN[0]); t++){
      int n = aN[t] < nDoc ? aN[t] : nDoc;
      char zSql[512];
      double tMatch, tBrute, tVec = -1, tFull = -1, tQuant = -1;
      const char *zTab = "docs";
      if( n<nDoc ){
        /* a docpipe table of the first n documents, from the stored vectors */
        snprintf(zSql, sizeof zSql, "DROP TABLE IF EXISTS dq; CREATE VIRTUAL TABLE dq"
                 " USING docpipe(dim=1024, stats=off); INSERT INTO dq(rowid, body, embedding)"
                 " SELECT rowid, '', embedding FROM docs WHERE rowid <= %d", n);
        exec(db, zSql);
        zTab = "dq";
      }
      snprintf(zSql, sizeof zSql, "SELECT rowid, score FROM %s WHERE %s MATCH ?1 AND k = 10", zTab, zTab);
      tMatch = queryMs(db, zSql, aDoc, n, 1, 21);
      snprintf(zSql, sizeof zSql, "DROP TABLE IF EXISTS pv; CREATE TABLE pv(id INTEGER PRIMARY KEY, v BLOB);"
               " INSERT INTO pv SELECT rowid, embedding FROM docs WHERE rowid <= %d", n);
      exec(db, zSql);
      tBrute = queryMs(db, "SELECT id, cosine(v, ?1) AS s FROM pv ORDER BY s DESC LIMIT 10",
                       aDoc, n, 1, 5);
      if( argc>4 ){
        exec(db, "DROP TABLE IF EXISTS vv; CREATE VIRTUAL TABLE vv USING vec0(embedding float[1024]"
                 " distance_metric=cosine); INSERT INTO vv(rowid, embedding) SELECT id, v FROM pv");
        tVec = queryMs(db, "SELECT rowid, distance FROM vv WHERE embedding MATCH ?1 AND k = 10",
                       aDoc, n, 1, 21);
      }
      if( zVector ){
        exec(db, "SELECT vector_init('pv', 'v', 'type=FLOAT32,dimension=1024,distance=COSINE')");
        tFull = queryMs(db, "SELECT rowid, distance FROM vector_full_scan('pv', 'v', ?1, 10)",
                        aDoc, n, 1, 21);
        exec(db, "SELECT vector_quantize('pv', 'v')");
        tQuant = queryMs(db, "SELECT rowid, distance FROM vector_quantize_scan('pv', 'v', ?1, 10)",
                         aDoc, n, 1, 21);
      }
      printf("| %d | %.2f | %.2f (%.1fx) | %.2f (%.1fx) | %.2f (%.1fx) | %.2f (%.1fx) |\n", n,
             tMatch, tVec, tVec/tMatch, tFull, tFull/tMatch, tQuant, tQuant/tMatch,
             tBrute, tBrute/tMatch);
      if( fLat ) fprintf(fLat, "%d %.3f %.3f %.3f %.3f %.3f\n", n, tMatch, tVec, tFull, tQuant, tBrute);
      if( n==nDoc ) break;
    }
    if( fLat ) fclose(fLat);
    printf("\n(x): times slower than docpipe MATCH in the same run; -1 when the peer was not given.\n");
  }
  /* Statistics overhead: the same documents into a table with stats=on
  ** and one with stats=off, batches of 500 alternating, both in this run. */
  {
    int nStat = nDoc < 20000 ? nDoc : 20000, b;
    double tOn = 0, tOff = 0;
    sqlite3_stmt *pOn, *pOff;
    exec(db, "CREATE VIRTUAL TABLE son USING docpipe(dim=1024, stats=on);"
             "CREATE VIRTUAL TABLE soff USING docpipe(dim=1024, stats=off)");
    sqlite3_prepare_v2(db, "INSERT INTO son(body) VALUES (?1)", -1, &pOn, 0);
    sqlite3_prepare_v2(db, "INSERT INTO soff(body) VALUES (?1)", -1, &pOff, 0);
    for(b=0; b<nStat; b+=500){
      int k, e = b+500 < nStat ? b+500 : nStat, r;
      for(r=0; r<2; r++){
        /* alternate which table goes first, so neither always has a warm cache */
        sqlite3_stmt *pS = ((b/500 + r) & 1) ? pOff : pOn;
        double t0 = now();
        exec(db, "BEGIN");
        for(k=b; k<e; k++){
          sqlite3_bind_text(pS, 1, aDoc[k], -1, SQLITE_STATIC);
          sqlite3_step(pS); sqlite3_reset(pS);
        }
        exec(db, "COMMIT");
        if( pS==pOn ) tOn += now() - t0; else tOff += now() - t0;
      }
    }
    sqlite3_finalize(pOn); sqlite3_finalize(pOff);
    printf("\n## Statistics overhead: %d documents into each of two tables, batches of 500 alternating\n\n", nStat);
    printf("| table | docs/s |\n|---|---|\n| stats=off | %.0f |\n| stats=on | %.0f |\n",
           nStat/tOff, nStat/tOn);
    printf("\nOne INSERT per document: stats=on costs %+.1f %% of insert throughput.\n",
           (tOn/tOff - 1.0)*100.0);
    /* the same with one INSERT ... SELECT statement per batch of 500 */
    exec(db, "DELETE FROM son; DELETE FROM soff; CREATE TEMP TABLE src(i INTEGER PRIMARY KEY, body TEXT)");
    {
      sqlite3_stmt *pSrc;
      sqlite3_prepare_v2(db, "INSERT INTO src(body) VALUES (?1)", -1, &pSrc, 0);
      for(b=0; b<nStat; b++){
        sqlite3_bind_text(pSrc, 1, aDoc[b], -1, SQLITE_STATIC);
        sqlite3_step(pSrc); sqlite3_reset(pSrc);
      }
      sqlite3_finalize(pSrc);
    }
    tOn = tOff = 0;
    for(b=0; b<nStat; b+=500){
      int r;
      for(r=0; r<2; r++){
        int bOn = ((b/500 + r) & 1)==0;
        char zSql[160];
        double t0 = now();
        snprintf(zSql, sizeof zSql, "INSERT INTO %s(body) SELECT body FROM src"
                 " WHERE i > %d AND i <= %d", bOn ? "son" : "soff", b, b+500);
        exec(db, zSql);
        if( bOn ) tOn += now() - t0; else tOff += now() - t0;
      }
    }
    printf("INSERT ... SELECT of 500 documents: stats=on costs %+.1f %%.\n",
           (tOn/tOff - 1.0)*100.0);
  }
  sqlite3_close(db);
  return 0;
}
