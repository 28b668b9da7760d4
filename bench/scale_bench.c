/*
** scale_bench.c — both table kinds as they grow, through SQL, in one run.
**
**   scale_bench DOCPIPE_SO VERSES_TXT KIND NDOCS DBFILE [CORPUS]
**     KIND: jaccard | cosine | vector
**     CORPUS: markov (default) | verses
**     NDOCS 0: measure DBFILE's table as it is; +N: insert N more
**       documents into it (the corpus goes on from its last id), then
**       measure, docs/s over all N (N rounded up to whole batches of
**       1,000): builds side by side on copies of one large table
**   make bench-scale        (SCALE_SET=1000000 SCALE_VECTOR=100000)
**   SCALE_MMAP=bytes        every connection sets PRAGMA mmap_size (SQLite
**                           maps at most SQLITE_MAX_MMAP_SIZE: 2 GB in
**                           Debian's build)
**   SCALE_SECURE_DELETE=on|fast|off   ... and PRAGMA secure_delete
**   SCALE_PAGE_SIZE=bytes   PRAGMA page_size of a new file
**   SCALE_INSERT_ONLY=1     with +N: no reading of the table before (its
**                           text and planted copies) nor measures after,
**                           only the docs/s of the N inserts (and of
**                           their last 10 batches): a new
**                           connection's bulk insert, as a daily job makes
**                           one, from a cold OS cache if one drops it first
**   SCALE_OPTIONS=text      more options for the new table, after the
**                           kind's, e.g. "compress='none'"
**   SCALE_OPTIMIZE=1        a set table, after the last row: 'optimize'
**                           (every run merged into one, as after a bulk
**                           load), its time ("| optimize" row), then the
**                           row's figures again ("KIND, optimized")
**
** Corpus: documents of 2-5 KB made from the King James Bible (Debian
** bible-kjv); 5 % are near-copies of an earlier original with 5 % of
** their words replaced (planted near-duplicates).  Document i is made from
** its own seed, so the corpus is the same for every kind and nothing is
** held in memory.  Two ways to make an original:
**   markov  word-bigram text (verses.h): most 5-shingles are the
**           document's own, common phrases are shared, as in real text;
**   verses  random whole verses: at n documents each verse is in about
**           n * 25 / 31,000 of them (16 at 20k, 800 at 1M), so every
**           document shares whole passages with hundreds of others: the
**           worst case for an index of shingles.
**
** Inserts go through SQL on one connection, one transaction per 1,000
** documents, WAL, into a file.  At each checkpoint (10k, 20k, 50k, 100k,
** 200k, 500k, 1M, ... up to NDOCS) it prints one Markdown row:
**   docs/s over the last 10 batches; then a new connection: its first
**   INSERT (open + decide + store + commit, ms), sqlite3_memory_used() after
**   it and after a first MATCH (MB), that first MATCH (ms), the median of
**   20 later MATCH top-10 queries (ms), the file size against the text
**   inserted so far; and planted copies flagged / planted so far.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now(void){
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec*1e-9;
}

typedef struct Rng { unsigned long long s; } Rng;
static unsigned rnd(Rng *r, unsigned n){
  r->s ^= r->s << 13; r->s ^= r->s >> 7; r->s ^= r->s << 17;
  return (unsigned)(r->s % n);
}
static Rng seedOf(long long i, unsigned long long salt){
  Rng r;
  unsigned long long z = (unsigned long long)i * 0x9E3779B97F4A7C15ULL + salt;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  r.s = (z ^ (z >> 31)) | 1;
  return r;
}

#include "verses.h"

/* Is document i (1-based) a planted copy? Of which original? */
static int copyOf(long long i, long long *piSrc){
  Rng r = seedOf(i, 1);
  if( i<=100 || rnd(&r, 100)>=5 ) return 0;
  *piSrc = 1 + (long long)rnd(&r, (unsigned)(i-1));
  return 1;
}

static int bMarkov = 1;      /* originals are bigram text, else verse mixes */

static unsigned rndCb(void *pRng, unsigned n){ return rnd((Rng*)pRng, n); }

static char *original(long long i){
  Rng r = seedOf(i, 2);
  size_t target = 2000 + rnd(&r, 3000), n = 0;
  char *zOut;
  if( bMarkov ) return markovText(target, rndCb, &r);
  zOut = malloc(target + 2048);
  while( n<target ){
    const char *v = azVerse[rnd(&r, nVerse)];
    size_t len = strlen(v);
    memcpy(zOut+n, v, len); n += len;
    zOut[n++] = ' ';
  }
  zOut[n] = 0;
  return zOut;
}

/* Document i; *pbCopy when it is a planted copy. */
static char *makeDoc(long long i, int *pbCopy){
  long long iSrc;
  char *zSrc, *zOut;
  Rng r;
  *pbCopy = 0;
  if( !copyOf(i, &iSrc) ) return original(i);
  while( copyOf(iSrc, &iSrc) ){}          /* copy an original */
  *pbCopy = 1;
  zSrc = original(iSrc);
  r = seedOf(i, 3);
  zOut = nearCopy(zSrc, rndCb, &r);
  free(zSrc);
  return zOut;
}

static void exec(sqlite3 *db, const char *zSql){
  char *zErr = 0;
  if( sqlite3_exec(db, zSql, 0, 0, &zErr) ){
    fprintf(stderr, "%s: %s\n", zSql, zErr); exit(1);
  }
}

static sqlite3 *openDb(const char *zSo, const char *zFile){
  sqlite3 *db;
  char *zErr = 0;
  if( sqlite3_open(zFile, &db) ){ fprintf(stderr, "open %s\n", zFile); exit(1); }
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, zSo, 0, &zErr) ){ fprintf(stderr, "%s\n", zErr); exit(1); }
  if( getenv("SCALE_PAGE_SIZE") ){
    /* SCALE_PAGE_SIZE=bytes: the page size of a new file (before WAL) */
    char zSql[64];
    snprintf(zSql, sizeof zSql, "PRAGMA page_size=%d",
             atoi(getenv("SCALE_PAGE_SIZE")));
    exec(db, zSql);
  }
  exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
           " PRAGMA cache_size=-65536");
  if( getenv("SCALE_MMAP") ){
    /* SCALE_MMAP=bytes: SQLite reads pages through a memory map instead of
    ** copying them with read() (PRAGMA mmap_size) */
    char zSql[64];
    snprintf(zSql, sizeof zSql, "PRAGMA mmap_size=%lld",
             atoll(getenv("SCALE_MMAP")));
    exec(db, zSql);
  }
  if( getenv("SCALE_SECURE_DELETE") ){
    /* SCALE_SECURE_DELETE=on|fast|off: PRAGMA secure_delete (Debian's
    ** SQLite is built with it on) */
    char zSql[64];
    snprintf(zSql, sizeof zSql, "PRAGMA secure_delete=%.10s",
             getenv("SCALE_SECURE_DELETE"));
    exec(db, zSql);
  }
  return db;
}

static void insertDoc(sqlite3_stmt *pIns, const char *zDoc){
  sqlite3_bind_text(pIns, 1, zDoc, -1, SQLITE_STATIC);
  if( sqlite3_step(pIns)!=SQLITE_DONE ){
    fprintf(stderr, "insert: %s\n", sqlite3_errmsg(sqlite3_db_handle(pIns)));
    exit(1);
  }
  sqlite3_reset(pIns);
}

/* Peak resident memory of this process in MB (VmHWM), and its reset
** (writing 5 to clear_refs): dedup_index's join takes its big arrays from
** malloc(), which sqlite3_memory_used() does not see. */
static double peakRssMb(void){
  FILE *f = fopen("/proc/self/status", "r");
  char zLine[256];
  double kb = 0;
  while( f && fgets(zLine, sizeof zLine, f) ){
    if( strncmp(zLine, "VmHWM:", 6)==0 ) kb = atof(zLine + 6);
  }
  if( f ) fclose(f);
  return kb / 1e3;
}
static void peakRssReset(void){
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if( f ){ fputs("5", f); fclose(f); }
}

static int cmpD(const void *a, const void *b){
  double x = *(const double*)a, y = *(const double*)b; return (x>y)-(x<y);
}

static double fileMb(const char *zFile){
  struct stat st;
  char zWal[4096];
  double n = 0;
  if( stat(zFile, &st)==0 ) n += st.st_size;
  snprintf(zWal, sizeof zWal, "%s-wal", zFile);
  if( stat(zWal, &st)==0 ) n += st.st_size;
  return n / 1e6;
}

/* The figures of one table size on new connections: the first INSERT
** (its time and memory), the first MATCH, the median of 20 MATCH top-10,
** the file; printed as a row.  Returns the connection of the MATCHes. */
static sqlite3 *measureRow(const char *zSo, const char *zFile,
                           const char *zKind, long long iEnd,
                           long long *piNext, long long *pnText, double rate,
                           long long nFound, long long nPlanted){
  double tIns, tMatch, aQ[20], mb1, mb2;
  char zRate[32] = "—";      /* docs/s: none for a table only measured */
  int k;
  sqlite3_stmt *pQ, *pIns;
  sqlite3 *db;
  char *zDoc;
  int bCopy;
  long long iNext = *piNext;
  /* a new connection: its first INSERT (its own transaction) */
  {
    sqlite3_int64 m0 = sqlite3_memory_used();
    double t1;
    zDoc = makeDoc(iNext, &bCopy);          /* made before the clock */
    *pnText += (long long)strlen(zDoc);
    t1 = now();
    db = openDb(zSo, zFile);
    sqlite3_prepare_v2(db, "INSERT INTO docs(body) VALUES(?1)", -1, &pIns, 0);
    insertDoc(pIns, zDoc);
    free(zDoc);
    sqlite3_finalize(pIns);
    tIns = (now() - t1) * 1e3;
    mb1 = (sqlite3_memory_used() - m0) / 1e6;
    iNext++;
    /* a new connection's first MATCH */
    sqlite3_close(db);
    m0 = sqlite3_memory_used();
    db = openDb(zSo, zFile);
    sqlite3_prepare_v2(db, "SELECT rowid, score FROM docs WHERE docs MATCH ?1"
                           " AND k = 10", -1, &pQ, 0);
    zDoc = makeDoc(iEnd/2, &bCopy);
    t1 = now();
    sqlite3_bind_text(pQ, 1, zDoc, -1, SQLITE_TRANSIENT);
    while( sqlite3_step(pQ)==SQLITE_ROW ){}
    sqlite3_reset(pQ);
    tMatch = (now() - t1) * 1e3;
    mb2 = (sqlite3_memory_used() - m0) / 1e6;
    free(zDoc);
    for(k=0; k<20; k++){
      zDoc = makeDoc(1 + (long long)k * (iEnd/20), &bCopy);
      t1 = now();
      sqlite3_bind_text(pQ, 1, zDoc, -1, SQLITE_TRANSIENT);
      while( sqlite3_step(pQ)==SQLITE_ROW ){}
      sqlite3_reset(pQ);
      aQ[k] = (now() - t1) * 1e3;
      free(zDoc);
    }
    sqlite3_finalize(pQ);
    qsort(aQ, 20, sizeof(double), cmpD);
  }
  if( rate>0 ) snprintf(zRate, sizeof zRate, "%.0f", rate);
  printf("| %s | %lld | %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.0f | %.2f | %lld / %lld |\n",
         zKind, iEnd, zRate, tIns, mb1, tMatch, mb2, aQ[10],
         fileMb(zFile), fileMb(zFile)*1e6/(double)*pnText, nFound, nPlanted);
  fflush(stdout);
  *piNext = iNext;
  return db;
}

int main(int argc, char **argv){
  static const long long aCheck[] = { 10000, 20000, 50000, 100000, 200000,
                                      500000, 1000000, 2000000 };
  const char *zSo, *zKind, *zFile;
  long long nDoc, i, nText = 0, nPlanted = 0, nFound = 0, iNext = 1;
  int iCheck = 0, bMore, bInsertOnly, nBatchDone = 0;
  double aBatch[10] = {0}, tAll = 0;
  sqlite3 *db;
  sqlite3_stmt *pIns, *pDup;
  char zSql[512];
  if( argc<6 || (argc>6 && strcmp(argv[6], "markov")!=0
                          && strcmp(argv[6], "verses")!=0) ){
    fprintf(stderr, "usage: %s DOCPIPE_SO VERSES KIND NDOCS DBFILE"
            " [markov|verses [nodedup]]\n"
            "  NDOCS 0: measure DBFILE as a run left it (docs/s 0), then"
            " dedup_index\n"
            "  NDOCS +N: insert N more documents into DBFILE's table, then"
            " measure\n", argv[0]);
    return 2;
  }
  zSo = argv[1]; zKind = argv[3]; zFile = argv[5];
  bMore = argv[4][0]=='+';
  nDoc = atoll(argv[4] + bMore);
  if( bMore && nDoc<=0 ){
    fprintf(stderr, "%s: +N needs N > 0 (got %s)\n", argv[0], argv[4]);
    return 2;
  }
  bMarkov = argc<=6 || strcmp(argv[6], "markov")==0;
  bInsertOnly = bMore && getenv("SCALE_INSERT_ONLY")!=0;
  loadVerses(argv[2]);
  if( bMarkov ) loadMarkov();
  if( nDoc==0 || bMore ){
    /* an existing table (another build of docpipe, say): its size, text
    ** and planted copies found, from the rows and copyOf() */
    sqlite3_stmt *pQ;
    long long iMax = 0;
    db = openDb(zSo, zFile);
    sqlite3_prepare_v2(db, bInsertOnly ? "SELECT max(id), 0, 0 FROM docs_docs"
                           : "SELECT rowid, length(CAST(body AS BLOB)),"
                             " is_duplicate FROM docs", -1, &pQ, 0);
    while( sqlite3_step(pQ)==SQLITE_ROW ){
      long long iId = sqlite3_column_int64(pQ, 0), iSrc;
      nText += sqlite3_column_int64(pQ, 1);
      if( copyOf(iId, &iSrc) ){
        nPlanted++;
        nFound += sqlite3_column_int(pQ, 2);
      }
      if( iId>iMax ) iMax = iId;
    }
    sqlite3_finalize(pQ);
    sqlite3_close(db);
    iNext = iMax + 1;
    printf("| kind | stored | docs/s | new conn: 1st INSERT ms | MB after it | 1st MATCH ms | MB after it | MATCH top-10 ms | file MB | file / text | planted found |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    if( bMore ){
      /* go on from the last document, every row of the run to come */
      nDoc += iMax;
      db = openDb(zSo, zFile);
      while( iCheck<(int)(sizeof(aCheck)/sizeof(aCheck[0]))
             && aCheck[iCheck]<=iMax ) iCheck++;
    }else{
      db = measureRow(zSo, zFile, zKind, iMax, &iNext, &nText, 0.0, nFound,
                      nPlanted);
    }
  }else{
    remove(zFile);
    snprintf(zSql, sizeof zSql, "%s-wal", zFile); remove(zSql);
    snprintf(zSql, sizeof zSql, "%s-shm", zFile); remove(zSql);
    db = openDb(zSo, zFile);
    {
      /* SCALE_OPTIONS: more table options, e.g. "compress='none'" */
      const char *zMore = getenv("SCALE_OPTIONS");
      snprintf(zSql, sizeof zSql, "CREATE VIRTUAL TABLE docs USING"
               " docpipe(measure='%s', stats=off%s%s)", zKind,
               zMore ? ", " : "", zMore ? zMore : "");
      exec(db, zSql);
    }
    printf("| kind | stored | docs/s | new conn: 1st INSERT ms | MB after it | 1st MATCH ms | MB after it | MATCH top-10 ms | file MB | file / text | planted found |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  }
  fflush(stdout);
  {
    while( iNext<=nDoc ){
      double t0;
      long long iEnd = iNext + 999;
      char *azBatch[1000];
      int abCopy[1000];
      /* the batch is made before the clock starts: only docpipe is timed */
      for(i=iNext; i<=iEnd; i++){
        azBatch[i-iNext] = makeDoc(i, &abCopy[i-iNext]);
        nText += (long long)strlen(azBatch[i-iNext]);
      }
      t0 = now();
      sqlite3_prepare_v2(db, "INSERT INTO docs(body) VALUES(?1)", -1, &pIns, 0);
      sqlite3_prepare_v2(db, "SELECT is_duplicate FROM docs WHERE rowid=?1", -1, &pDup, 0);
      exec(db, "BEGIN");
      for(i=iNext; i<=iEnd; i++){
        insertDoc(pIns, azBatch[i-iNext]);
        if( abCopy[i-iNext] ){
          nPlanted++;
          sqlite3_bind_int64(pDup, 1, sqlite3_last_insert_rowid(db));
          if( sqlite3_step(pDup)==SQLITE_ROW && sqlite3_column_int(pDup, 0) ) nFound++;
          sqlite3_reset(pDup);
        }
      }
      exec(db, "COMMIT");
      for(i=0; i<1000; i++) free(azBatch[i]);
      sqlite3_finalize(pIns);
      sqlite3_finalize(pDup);
      aBatch[nBatchDone % 10] = now() - t0;
      tAll += now() - t0;
      nBatchDone++;
      iNext = iEnd + 1;
      if( (iCheck<(int)(sizeof(aCheck)/sizeof(aCheck[0])) && iEnd>=aCheck[iCheck])
       || (bMore && iNext>nDoc) ){
        double tSum = 0;
        int k, nBatch = nBatchDone<10 ? nBatchDone : 10;
        for(k=0; k<nBatch; k++) tSum += aBatch[k];
        /* +N: the rate over all N, whose merges are the same for every
        ** build from one table (the last 10 batches may hold a merge's
        ** bulk or none of it) */
        if( bMore && iNext>nDoc ){ nBatch = nBatchDone; tSum = tAll; }
        if( bInsertOnly ){
          /* and over the last 10 batches: the rate once the new
          ** connection has read what its first inserts needed */
          double tLast = 0;
          int nLast = nBatchDone<10 ? nBatchDone : 10;
          for(k=0; k<nLast; k++) tLast += aBatch[k];
          printf("| %s, insert only | +%d | %.0f | last %d batches %.0f |\n",
                 zKind, nBatch*1000, nBatch*1000.0/tSum, nLast, nLast*1000.0/tLast);
          sqlite3_close(db);
          return 0;
        }
        sqlite3_close(db);
        db = measureRow(zSo, zFile, zKind, iEnd, &iNext, &nText,
                        nBatch*1000.0/tSum, nFound, nPlanted);
        if( iCheck<(int)(sizeof(aCheck)/sizeof(aCheck[0])) && iEnd>=aCheck[iCheck] ) iCheck++;
      }
    }
  }
  if( argc<=7 || strcmp(argv[7], "nodedup")!=0 ){
    /* dedup_index('docs') in mode 'first' over the whole table, on a new
    ** connection: its time, its memory, and its duplicates against the
    ** table's (the same rule over documents inserted in id order, so
    ** they must be equal).  Printed as a "| dedup ..." row. */
    sqlite3_stmt *pQ;
    long long nDedup = 0, nTable = 0;
    double t1, tDedup;
    sqlite3_int64 m0;
    sqlite3_close(db);
    db = openDb(zSo, zFile);
    m0 = sqlite3_memory_used();
    sqlite3_memory_highwater(1);
    peakRssReset();
    t1 = now();
    sqlite3_prepare_v2(db, "SELECT count(*) FILTER (WHERE is_duplicate)"
                           " FROM dedup_index('docs')", -1, &pQ, 0);
    if( sqlite3_step(pQ)!=SQLITE_ROW ){
      fprintf(stderr, "dedup_index: %s\n", sqlite3_errmsg(db)); exit(1);
    }
    nDedup = sqlite3_column_int64(pQ, 0);
    sqlite3_finalize(pQ);
    tDedup = now() - t1;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM docs WHERE is_duplicate", -1,
                       &pQ, 0);
    if( sqlite3_step(pQ)==SQLITE_ROW ) nTable = sqlite3_column_int64(pQ, 0);
    sqlite3_finalize(pQ);
    printf("| dedup %s | %lld | %.1f | %.0f | %.0f | %lld / %lld |\n", zKind,
           iNext-1, tDedup, (sqlite3_memory_highwater(0) - m0)/1e6,
           peakRssMb(), nTable, nDedup);
  }
  if( getenv("SCALE_OPTIMIZE") && strcmp(zKind, "vector")!=0 ){
    /* 'optimize' merges every run of the index into one, as a user does
    ** after a bulk load; then the same figures on that one run (after
    ** dedup_index, whose figures stay those of the table as loaded) */
    char zRow[64];
    double t1, tOpt;
    long long nStored = iNext - 1;
    sqlite3_close(db);
    db = openDb(zSo, zFile);
    t1 = now();
    exec(db, "INSERT INTO docs(docs) VALUES('optimize')");
    tOpt = now() - t1;
    sqlite3_close(db);
    snprintf(zRow, sizeof zRow, "%s, optimized", zKind);
    db = measureRow(zSo, zFile, zRow, nStored, &iNext, &nText, 0.0, nFound,
                    nPlanted);
    printf("| optimize %s | %lld | %.1f s |\n", zKind, nStored, tOpt);
    fflush(stdout);
  }
  sqlite3_close(db);
  return 0;
}
