/*
** dedup_bench.c — dedup_index() throughput, side by side with a cosine()
** self-join computing the same pairs, in one run.
**
**   dedup_bench DOCPIPE_SO VERSES_TXT N
**
** N documents of 2-5 KB made of random King James Bible verses (as in
** insert_bench.c, without planted copies), embedded once with embed() at
** 1024-d into a plain table v(id, e).  Then, on the first 2,000 rows, the
** self-join  SELECT count(*) FROM v a, v b WHERE a.id < b.id AND
** cosine(a.e, b.e) >= 0.8  and dedup_index(..., 'pairs') on the same rows;
** and dedup_index over all N rows in 'pairs' and 'first' modes.  Figures
** are pair comparisons per second (n(n-1)/2 over the elapsed time).
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void){
  struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec*1e-9;
}
static unsigned long long rs = 0x2545F4914F6CDD1DULL;
static unsigned rnd(unsigned n){ rs ^= rs<<13; rs ^= rs>>7; rs ^= rs<<17; return (unsigned)(rs % n); }

static void exec(sqlite3 *db, const char *z){
  char *e = 0;
  if( sqlite3_exec(db, z, 0, 0, &e) ){ fprintf(stderr, "%s: %s\n", z, e); exit(1); }
}

/* Seconds to run zSql to completion; *pCount gets column 0 of the last row. */
static double timed(sqlite3 *db, const char *zSql, long long *pCount){
  sqlite3_stmt *p; double t0 = now();
  if( sqlite3_prepare_v2(db, zSql, -1, &p, 0) ){ fprintf(stderr, "%s\n", sqlite3_errmsg(db)); exit(1); }
  while( sqlite3_step(p)==SQLITE_ROW ) *pCount = sqlite3_column_int64(p, 0);
  if( sqlite3_finalize(p) ){ fprintf(stderr, "%s\n", sqlite3_errmsg(db)); exit(1); }
  return now() - t0;
}

int main(int argc, char **argv){
  sqlite3 *db; sqlite3_stmt *pIns; char *zErr = 0;
  char **azV = 0; int nV = 0, nAlloc = 0, n, i;
  FILE *f; char *line = 0; size_t cap = 0; ssize_t len;
  if( argc<4 ){ fprintf(stderr, "usage: %s DOCPIPE_SO VERSES N\n", argv[0]); return 2; }
  n = atoi(argv[3]);
  f = fopen(argv[2], "rb");
  if( !f ){ perror(argv[2]); return 1; }
  while( (len = getline(&line, &cap, f))>0 ){
    char *z = strchr(line, ' '); if( !z ) continue;
    if( line[len-1]=='\n' ) line[len-1] = 0;
    if( nV==nAlloc ){ nAlloc = nAlloc ? nAlloc*2 : 1024; azV = realloc(azV, nAlloc*sizeof(char*)); }
    azV[nV++] = strdup(z+1);
  }
  fclose(f);
  sqlite3_open(":memory:", &db);
  sqlite3_enable_load_extension(db, 1);
  if( sqlite3_load_extension(db, argv[1], 0, &zErr) ){ fprintf(stderr, "%s\n", zErr); return 1; }
  exec(db, "CREATE TABLE v(id INTEGER PRIMARY KEY, e BLOB); BEGIN");
  sqlite3_prepare_v2(db, "INSERT INTO v VALUES (?1, embed(?2))", -1, &pIns, 0);
  for(i=1; i<=n; i++){
    char buf[8192]; size_t k = 0, target = 2000 + rnd(3000);
    while( k<target ){
      const char *s = azV[rnd(nV)]; size_t l = strlen(s);
      if( k + l + 2 >= sizeof buf ) break;
      memcpy(buf+k, s, l); k += l; buf[k++] = ' ';
    }
    buf[k] = 0;
    sqlite3_bind_int(pIns, 1, i);
    sqlite3_bind_text(pIns, 2, buf, -1, SQLITE_TRANSIENT);
    sqlite3_step(pIns); sqlite3_reset(pIns);
  }
  sqlite3_finalize(pIns);
  exec(db, "COMMIT");
  {
    long long c1 = 0, c2 = 0, c3 = 0, c4 = 0;
    const double sub = 2000.0, pairsSub = sub*(sub-1)/2, pairsAll = (double)n*(n-1)/2;
    double tJoin = timed(db, "SELECT count(*) FROM v a, v b WHERE a.id <= 2000 AND b.id <= 2000"
                             " AND a.id < b.id AND cosine(a.e, b.e) >= 0.8", &c1);
    double tSub = timed(db, "SELECT count(*) FROM dedup_index("
                            "'SELECT id, e FROM v WHERE id <= 2000', 0.8, 'pairs')", &c2);
    double tAll = timed(db, "SELECT count(*) FROM dedup_index('SELECT id, e FROM v', 0.8, 'pairs')", &c3);
    double tFirst = timed(db, "SELECT sum(is_duplicate) FROM dedup_index('SELECT id, e FROM v', 0.8)", &c4);
    sqlite3_stmt *p; const char *zSimd = "?";
    sqlite3_prepare_v2(db, "SELECT docpipe_simd()", -1, &p, 0);
    if( sqlite3_step(p)==SQLITE_ROW ) zSimd = strdup((const char*)sqlite3_column_text(p, 0));
    sqlite3_finalize(p);
    printf("## dedup_index() vs a cosine() self-join (1024-d, threshold 0.8, kernel path %s)\n\n", zSimd);
    printf("| what | rows | pairs found | seconds | M pair comparisons/s |\n|---|---|---|---|---|\n");
    printf("| cosine() self-join | 2000 | %lld | %.2f | %.1f |\n", c1, tJoin, pairsSub/tJoin/1e6);
    printf("| dedup_index pairs | 2000 | %lld | %.3f | %.1f |\n", c2, tSub, pairsSub/tSub/1e6);
    printf("| dedup_index pairs | %d | %lld | %.2f | %.1f |\n", n, c3, tAll, pairsAll/tAll/1e6);
    printf("| dedup_index first | %d | %lld duplicates | %.2f | %.1f |\n", n, c4, tFirst, pairsAll/tFirst/1e6);
    printf("\ndedup_index is %.0fx faster than the self-join on the same 2,000 rows.\n", tJoin/tSub);
  }
  sqlite3_close(db);
  return 0;
}
