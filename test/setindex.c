/*
** setindex.c — the set kind's index (ext/setindex.c) against a brute-force
** reference.
**
** The reference is a model held here: every stored document's set and
** kept flag.  Its best and nearest scan the whole model computing
**   jaccard = (double)i / (double)(n + m - i),  cosine = (double)i / sqrt((double)n*m)
** and every decision of the index must equal it exactly (same ids, same
** doubles).  Cases:
**   1.x  boundaries: equal sets, subsets, similarity exactly at the
**        threshold (jaccard 2/4, cosine 4/sqrt(4*16), 1/10 against the
**        double 0.1, 1/3), empty and one-hash sets, hashes that share
**        their 40-bit posting key
**   2.x  random documents decided as the table will (best, then add kept
**        unless a duplicate), removes, re-added ids, random best and
**        nearest queries, in transactions of a real file database with
**        savepoints rolled back in the middle of a batch, whole
**        transactions rolled back, merges in small steps, 'optimize'
**        (every run into one) at random points
**   3.x  reopen: a new connection gives the same decisions
**   4.x  two connections: one commits, the other sees it
**   5.x  integrity-check after every phase; damaged shadow rows give
**        SQLITE_CORRUPT_VTAB (never a crash: run under ASan with
**        make test-setindex-asan), random byte flips do not crash
**   6.x  out of memory at allocation N (and after it, or at N alone), for
**        every N: calls fail, the transaction rolls back, and the stored
**        index stays consistent (leaks reported under ASan); the
**        integrity check out of memory
**        at allocation N answers SQLITE_NOMEM, never damage
**   7.x  shadow names, rename and drop, the similarity of disjoint sets,
**        hand-made damage that the integrity check must name precisely,
**        the tiered merge policy (runs per level after each commit), a
**        ranking whose candidates are summed in the middle of the probe,
**        ids whose postings are varints of 7 to 9 bytes, small runs that
**        merge beside a large merge under way, runs an insert's estimate
**        leaves out for keys found elsewhere asked by the probe
**   8.x  fence and run rows damaged by hand (a key of 2^40, a delta of 0,
**        a block of no pair or of 2^31, a row that starts at or below the
**        row before, a first key past 2^40 that a delta wraps back, a
**        run of no block): named as such on open; two
**        hashes one apart are a sound set, swapped they are out of order
**   9.1  dpSortU64 (the sort of a document's hashes) against qsort
**  10.x  dpSetJoin (dedup_index over a set table) against every pair
**        compared, threads forced, a poll that stops it, out of memory
**  11.x  runs of blocks as builds before 2026-12 wrote them
**  12.x  fence groups: runs of old fence rows (4,096 blocks, no summary)
**        read whole and rewritten in groups by later merges, a merge
**        begun in old rows finished in them; a new connection reads a
**        group when a probe lands in it; another connection's commits and
**        rollbacks; damaged summary and group rows refused (at open, or
**        by the searches that need them and integrity-check), not
**        answered wrong (for these damages: a fence moved within its
**        group's order is seen only by integrity-check, as before)
**  13.x  runs an insert's estimate leaves out (keys found maybe in an
**        earlier run or pending, cold runs), asked by the probe: new
**        connections, few runs' answers kept, another connection's commits
** Prints "N passed, N failed" last.  SETINDEX_ONLY=57 runs only sections
** 5 and 7 (2 runs 2.x to 4.x; b runs 11.x, g 12.x, l 13.x).
*/
#include "docpipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int nPass = 0, nFail = 0;
static int nCheckQuiet = 0;   /* checks folded into one pass per case */

static const char *zMode = "";  /* "sets='body': " while 2.x-4.x run so */

static void ok(const char *zName, int bOk, const char *zWhy){
  if( bOk ){
    nPass++;
  }else{
    nFail++;
    printf("! %s%s: %s\n", zMode, zName, zWhy ? zWhy : "failed");
  }
}

/* ---- random numbers ---- */
static uint64_t rngState = 0x1234567;
static uint64_t rnd(void){
  uint64_t z = (rngState += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static int rndInt(int n){ return (int)(rnd() % (uint64_t)n); }

/* ---- the model ---- */
#define MAXDOC 4000
typedef struct Doc Doc;
struct Doc {
  int bUsed;
  int bKept;
  int n;
  uint64_t *a;
};
typedef struct Model Model;
struct Model { Doc aDoc[MAXDOC]; };

static void modelFree(Model *m){
  int i;
  for(i=0; i<MAXDOC; i++){ free(m->aDoc[i].a); m->aDoc[i].a = 0; m->aDoc[i].bUsed = 0; }
}
static void modelCopy(Model *dst, const Model *src){
  int i;
  modelFree(dst);
  for(i=0; i<MAXDOC; i++){
    dst->aDoc[i] = src->aDoc[i];
    if( src->aDoc[i].bUsed ){
      dst->aDoc[i].a = malloc(sizeof(uint64_t)*(src->aDoc[i].n+1));
      memcpy(dst->aDoc[i].a, src->aDoc[i].a, sizeof(uint64_t)*src->aDoc[i].n);
    }else{
      dst->aDoc[i].a = 0;
    }
  }
}
/* A random id no document of m has. */
static int modelFreeId(const Model *m){
  int id;
  do{ id = 1 + rndInt(MAXDOC-1); }while( m->aDoc[id].bUsed );
  return id;
}
static void modelPut(Model *m, int id, const uint64_t *a, int n, int bKept){
  Doc *d = &m->aDoc[id];
  free(d->a);
  d->a = malloc(sizeof(uint64_t)*(n+1));
  memcpy(d->a, a, sizeof(uint64_t)*n);
  d->n = n;
  d->bKept = bKept;
  d->bUsed = 1;
}

static int inter(const uint64_t *a, int n, const uint64_t *b, int m){
  int i = 0, j = 0, c = 0;
  while( i<n && j<m ){
    if( a[i]<b[j] ) i++;
    else if( a[i]>b[j] ) j++;
    else { c++; i++; j++; }
  }
  return c;
}
static double refSim(int eMeasure, int i, int n, int m){
  if( eMeasure==DP_SET_COSINE ) return (double)i / sqrt((double)n * (double)m);
  return (double)i / (double)(n + m - i);
}
static int better(const DpSetHit *a, const DpSetHit *b){
  return a->rSim>b->rSim || (a->rSim==b->rSim && a->iId<b->iId);
}
/* Reference nearest: k best with i>=1 and sim>=rMin. */
static int refNearest(const Model *m, const uint64_t *a, int n, int eMeasure,
                      int k, double rMin, int bKeptOnly, int iSkip,
                      DpSetHit *aHit){
  int nHit = 0, id;
  for(id=0; id<MAXDOC; id++){
    const Doc *d = &m->aDoc[id];
    DpSetHit h;
    int c, j;
    if( !d->bUsed || (bKeptOnly && !d->bKept) || id==iSkip || d->n==0 || n==0 ) continue;
    c = inter(a, n, d->a, d->n);
    if( c==0 ) continue;
    h.iId = id; h.rSim = refSim(eMeasure, c, n, d->n); h.nInter = c; h.nSize = d->n;
    if( !(h.rSim>=rMin) ) continue;
    if( nHit==k && !better(&h, &aHit[k-1]) ) continue;
    j = nHit<k ? nHit++ : k-1;
    while( j>0 && better(&h, &aHit[j-1]) ){ aHit[j] = aHit[j-1]; j--; }
    aHit[j] = h;
  }
  return nHit;
}

/* ---- the index under test ---- */
typedef struct Conn Conn;
struct Conn { sqlite3 *db; DpSetIndex *p; };

static char zPath[256];

/* sets='body' (bBodyMode): the index stores no set and asks srcSetOf for
** one.  The table would make it from the document's body; here it is
** kept in a table src of the same database (written by addDoc beside
** each add), so it rolls back with the index's rows. */
static int bBodyMode = 0;
static uint64_t *aSrcBuf = 0;
static int nSrcBuf = 0;
static int srcSetOf(void *pCtx, sqlite3_int64 iId, const uint64_t **paHash,
                    int *pnHash, char **pzErr){
  sqlite3 *db = (sqlite3*)pCtx;
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT h FROM src WHERE id=?", -1, &pStmt, 0);
  *paHash = 0;
  *pnHash = 0;
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iId);
    if( sqlite3_step(pStmt)==SQLITE_ROW ){
      int n = sqlite3_column_bytes(pStmt, 0) / 8;
      if( n>nSrcBuf ){
        aSrcBuf = realloc(aSrcBuf, sizeof(uint64_t)*n);
        nSrcBuf = n;
      }
      if( n>0 ) memcpy(aSrcBuf, sqlite3_column_blob(pStmt, 0), 8*(size_t)n);
      *paHash = aSrcBuf;
      *pnHash = n;
    }else{
      *pzErr = sqlite3_mprintf("no source of document %lld", iId);
      rc = SQLITE_CORRUPT_VTAB;
    }
  }
  sqlite3_finalize(pStmt);
  return rc;
}
static int addDoc(Conn *c, sqlite3_int64 iId, const uint64_t *a, int n,
                  int bKept){
  int rc = dpSetIndexAdd(c->p, iId, a, n, bKept);
  if( rc==SQLITE_OK && bBodyMode ){
    sqlite3_stmt *pStmt = 0;
    rc = sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO src VALUES(?, ?)",
                            -1, &pStmt, 0);
    if( rc==SQLITE_OK ){
      sqlite3_bind_int64(pStmt, 1, iId);
      sqlite3_bind_blob(pStmt, 2, a, 8*n, SQLITE_TRANSIENT);
      sqlite3_step(pStmt);
      rc = sqlite3_finalize(pStmt);
    }
  }
  return rc;
}

static int connOpen(Conn *c, int bCreate){
  char *zErr = 0;
  int rc = sqlite3_open(zPath, &c->db);
  if( rc==SQLITE_OK ) sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", 0, 0, 0);
  if( rc==SQLITE_OK && bBodyMode ){
    rc = sqlite3_exec(c->db, "CREATE TABLE IF NOT EXISTS src(id INTEGER"
                      " PRIMARY KEY, h BLOB)", 0, 0, 0);
  }
  if( rc==SQLITE_OK ) rc = dpSetIndexOpen(c->db, "main", "t", bCreate, &c->p, &zErr);
  if( rc==SQLITE_OK && bBodyMode ) dpSetIndexSetSource(c->p, srcSetOf, c->db);
  if( rc ) printf("open: %d %s\n", rc, zErr ? zErr : sqlite3_errmsg(c->db));
  sqlite3_free(zErr);
  return rc;
}
static void connClose(Conn *c){
  dpSetIndexClose(c->p);
  sqlite3_close(c->db);
  c->p = 0; c->db = 0;
}
static int exec(Conn *c, const char *zSql){
  int rc = sqlite3_exec(c->db, zSql, 0, 0, 0);
  if( rc ) printf("exec %s: %s\n", zSql, sqlite3_errmsg(c->db));
  return rc;
}
/* COMMIT as the table will: sync first (xSync). */
static int commit(Conn *c){
  int rc = dpSetIndexSync(c->p);
  if( rc ){ printf("sync: %s\n", dpSetIndexErrmsg(c->p)); return rc; }
  return exec(c, "COMMIT");
}

/* Compare best (threshold t) of the index with the model for set a. */
static int compareBest(Conn *c, const Model *m, const uint64_t *a, int n,
                       int eMeasure, double t, int iSkip, char *zWhy){
  DpSetHit aRef[1], hit;
  int nRef, bFound = 0, rc;
  sqlite3_int64 iSkip64 = iSkip;
  nRef = refNearest(m, a, n, eMeasure, 1, t, 1, iSkip, aRef);
  rc = dpSetIndexBest(c->p, a, n, eMeasure, t, &iSkip64, iSkip>=0, &hit, &bFound);
  if( rc ){ sprintf(zWhy, "best rc=%d %s", rc, dpSetIndexErrmsg(c->p)); return 0; }
  if( bFound!=(nRef>0) || (bFound && (hit.iId!=aRef[0].iId || hit.rSim!=aRef[0].rSim)) ){
    sprintf(zWhy, "best(n=%d, m=%d, t=%.17g): index %s %lld %.17g, reference %s %lld %.17g",
            n, eMeasure, t, bFound ? "found" : "none", bFound ? hit.iId : -1LL,
            bFound ? hit.rSim : 0.0, nRef ? "found" : "none",
            nRef ? aRef[0].iId : -1LL, nRef ? aRef[0].rSim : 0.0);
    return 0;
  }
  return 1;
}

/* Compare nearest (k, above t - 0.3) of the index with the model for set
** a. */
static int compareNearest(Conn *c, const Model *m, const uint64_t *a, int n,
                          int eMeasure, double t, int k, int bKeptOnly,
                          int iSkip, char *zWhy){
  DpSetHit aRef[16], aGot[16];
  int nRef, nGot = 0, rc, i;
  sqlite3_int64 iSkip64 = iSkip;
  if( k>16 ) k = 16;
  nRef = refNearest(m, a, n, eMeasure, k, t>0.3 ? t-0.3 : 0.0, bKeptOnly, iSkip, aRef);
  rc = dpSetIndexNearest(c->p, a, n, eMeasure, k, t>0.3 ? t-0.3 : 0.0, bKeptOnly,
                         &iSkip64, iSkip>=0, aGot, &nGot);
  if( rc ){ sprintf(zWhy, "nearest rc=%d %s", rc, dpSetIndexErrmsg(c->p)); return 0; }
  if( nGot!=nRef ){
    sprintf(zWhy, "nearest k=%d: %d hits, reference %d", k, nGot, nRef);
    return 0;
  }
  for(i=0; i<nGot; i++){
    if( aGot[i].iId!=aRef[i].iId || aGot[i].rSim!=aRef[i].rSim ){
      sprintf(zWhy, "nearest hit %d (k=%d, rMin=%g, kept %d, measure %d, n=%d): %lld %.17g, reference %lld %.17g (i=%lld m=%lld)", i, k, t>0.3 ? t-0.3 : 0.0, bKeptOnly, eMeasure, n,
              aGot[i].iId, aGot[i].rSim, aRef[i].iId, aRef[i].rSim, aRef[i].nInter, aRef[i].nSize);
      if( getenv("SETINDEX_DEBUG") ){
        int j;
        for(j=0; j<nRef; j++) printf("  ref %lld %.17g i=%lld m=%lld | got %lld %.17g\n", aRef[j].iId, aRef[j].rSim, aRef[j].nInter, aRef[j].nSize, j<nGot ? aGot[j].iId : -1, j<nGot ? aGot[j].rSim : 0);
        int rcI = dpSetIndexIntegrity(c->p);
        printf("  integrity %d %s\n", rcI, dpSetIndexErrmsg(c->p));
      }
      return 0;
    }
  }
  return 1;
}

/* Compare best and nearest of the index with the model for set a: best
** first for sets of an even size, nearest first for odd ones (a search
** of k = 1 caches the filters it reads, so each order leaves the other
** search a different cache: a k > 1 search first meets uncached filters,
** as a MATCH on a new connection does). */
static int compareQuery(Conn *c, const Model *m, const uint64_t *a, int n,
                        int eMeasure, double t, int k, int bKeptOnly,
                        int iSkip, char *zWhy){
  if( n & 1 ){
    return compareNearest(c, m, a, n, eMeasure, t, k, bKeptOnly, iSkip, zWhy)
        && compareBest(c, m, a, n, eMeasure, t, iSkip, zWhy);
  }
  return compareBest(c, m, a, n, eMeasure, t, iSkip, zWhy)
      && compareNearest(c, m, a, n, eMeasure, t, k, bKeptOnly, iSkip, zWhy);
}

/* ---- random sets ---- */
static uint64_t aKeyPool[3000];
static int bFreshHashes = 0;   /* 12.x: every new hash random (many keys,
                               ** so runs of many blocks) */
static uint64_t makeHash(void){
  /* a posting key from a pool, low bits small: distinct hashes often
  ** share a key (the 40-bit truncation) */
  if( bFreshHashes ) return rnd();
  return (aKeyPool[rndInt(3000)] << 24) | (uint64_t)rndInt(3);
}
static int cmpU64(const void *a, const void *b){
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return (x>y) - (x<y);
}
static int normalize(uint64_t *a, int n){
  int i, j = 0;
  qsort(a, n, sizeof(uint64_t), cmpU64);
  for(i=0; i<n; i++){ if( j==0 || a[i]!=a[j-1] ) a[j++] = a[i]; }
  return j;
}
/* A new set: fresh, or derived from a stored one (copy, subset, superset,
** small change), or tiny. */
static int makeSet(const Model *m, uint64_t *a, int nMax){
  int kind = rndInt(10), n = 0, i;
  int src = -1;
  for(i=0; i<20 && src<0; i++){
    int id = rndInt(MAXDOC);
    if( m->aDoc[id].bUsed && m->aDoc[id].n>0 ) src = id;
  }
  if( kind<=3 || src<0 ){
    int want = rndInt(10)==0 ? rndInt(3) : 20 + rndInt(nMax - 20);
    for(i=0; i<want; i++) a[n++] = makeHash();
    if( rndInt(5)==0 ) for(i=0; i<want && i<30; i++) a[i] = rnd();  /* rare hashes */
  }else{
    const Doc *d = &m->aDoc[src];
    for(i=0; i<d->n && n<nMax; i++){
      if( kind==4 && rndInt(3)==0 ) continue;                /* subset */
      if( kind==5 && rndInt(20)==0 ){ a[n++] = makeHash(); continue; }
      a[n++] = d->a[i];
    }
    if( kind==6 ) for(i=0; i<5 && n<nMax; i++) a[n++] = makeHash(); /* superset */
    if( kind==7 && n>0 ) n = 1 + rndInt(n);                   /* prefix */
  }
  return normalize(a, n);
}

/* ---- 1.x boundaries ---- */
static void testBoundaries(void){
  Conn c;
  Model *m = calloc(1, sizeof(Model));
  char zWhy[512];
  static const struct { double t; int eMeasure; } aCase[] = {
    {0.5, DP_SET_JACCARD}, {0.5000000001, DP_SET_JACCARD}, {0.1, DP_SET_JACCARD},
    {1.0/3, DP_SET_JACCARD}, {1.0, DP_SET_JACCARD}, {0.5, DP_SET_COSINE},
    {0.7, DP_SET_COSINE}, {1.0, DP_SET_COSINE}, {1e-9, DP_SET_JACCARD},
    {0.0, DP_SET_COSINE}, {1.5, DP_SET_JACCARD},
  };
  uint64_t A[64], B[64];
  int i, j, bAll = 1;
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("1.0 open", 0, "open"); return; }
  exec(&c, "BEGIN");
  /* id 1: {1,2,4} with A={1,2,3}: jaccard 2/4 = 0.5 exactly */
  B[0] = 1<<24; B[1] = 2<<24; B[2] = 4<<24;
  dpSetIndexAdd(c.p, 1, B, 3, 1); modelPut(m, 1, B, 3, 1);
  /* id 2: 16 hashes containing {1,2,3,5}: cosine with {1,2,3,5} = 4/8 */
  for(i=0; i<16; i++) B[i] = (uint64_t)(i+1)<<24;
  B[3] = (uint64_t)5<<24; B[4] = (uint64_t)100<<24;
  normalize(B, 16);
  dpSetIndexAdd(c.p, 2, B, 16, 1); modelPut(m, 2, B, 16, 1);
  /* id 3: 10 hashes, shares 1 with A={50}: jaccard 1/10 vs the double 0.1 */
  for(i=0; i<10; i++) B[i] = (uint64_t)(50+i)<<24;
  dpSetIndexAdd(c.p, 3, B, 10, 1); modelPut(m, 3, B, 10, 1);
  /* id 4: empty; id 5: one hash; id 6 = id 7 (equal sets, lowest id wins) */
  dpSetIndexAdd(c.p, 4, B, 0, 1); modelPut(m, 4, B, 0, 1);
  B[0] = (uint64_t)77<<24;
  dpSetIndexAdd(c.p, 5, B, 1, 1); modelPut(m, 5, B, 1, 1);
  for(i=0; i<8; i++) B[i] = ((uint64_t)(200+i)<<24) | 7;
  dpSetIndexAdd(c.p, 7, B, 8, 1); modelPut(m, 7, B, 8, 1);
  dpSetIndexAdd(c.p, 6, B, 8, 1); modelPut(m, 6, B, 8, 1);
  /* id 8: not kept, same as 6 (only nearest over all sees it) */
  dpSetIndexAdd(c.p, 8, B, 8, 0); modelPut(m, 8, B, 8, 0);
  /* id 9: the same posting keys as 6 but other low bits: no overlap */
  for(i=0; i<8; i++) B[i] = ((uint64_t)(200+i)<<24) | 9;
  dpSetIndexAdd(c.p, 9, B, 8, 1); modelPut(m, 9, B, 8, 1);
  for(j=0; j<2; j++){       /* pending, then flushed and committed */
    const uint64_t *aQ[8];
    int anQ[8], q;
    uint64_t Q1[3] = {1<<24, 2<<24, 3<<24};
    uint64_t Q2[4] = {1<<24, 2<<24, 3<<24, (uint64_t)5<<24};
    uint64_t Q3[1] = {(uint64_t)50<<24};
    uint64_t Q4[1] = {(uint64_t)77<<24};
    uint64_t Q5[8], Q6[4];
    for(i=0; i<8; i++) Q5[i] = ((uint64_t)(200+i)<<24) | 7;
    for(i=0; i<4; i++) Q6[i] = ((uint64_t)(200+i)<<24) | 7;  /* subset */
    aQ[0] = Q1; anQ[0] = 3; aQ[1] = Q2; anQ[1] = 4; aQ[2] = Q3; anQ[2] = 1;
    aQ[3] = Q4; anQ[3] = 1; aQ[4] = Q5; anQ[4] = 8; aQ[5] = Q6; anQ[5] = 4;
    aQ[6] = Q1; anQ[6] = 0;
    for(q=0; q<7; q++){
      for(i=0; i<(int)(sizeof(aCase)/sizeof(aCase[0])); i++){
        if( !compareQuery(&c, m, aQ[q], anQ[q], aCase[i].eMeasure, aCase[i].t,
                          5, (i&1), -1, zWhy) ){
          char zName[64];
          sprintf(zName, "1.%d query %d case %d", j+1, q, i);
          ok(zName, 0, zWhy);
          bAll = 0;
        }
      }
    }
    if( j==0 ) commit(&c);
  }
  ok("1.1 boundary decisions equal the reference", bAll, 0);
  {
    DpSetHit h; int bFound;
    uint64_t Q1[3] = {1<<24, 2<<24, 3<<24};
    uint64_t Q3[1] = {(uint64_t)50<<24};
    dpSetIndexBest(c.p, Q1, 3, DP_SET_JACCARD, 0.5, 0, 0, &h, &bFound);
    ok("1.3 jaccard 2/4 at t=0.5 is a duplicate", bFound && h.iId==1 && h.rSim==0.5, 0);
    dpSetIndexBest(c.p, Q3, 1, DP_SET_JACCARD, 0.1, 0, 0, &h, &bFound);
    ok("1.4 jaccard 1/10 at t=0.1 (the double) is a duplicate", bFound && h.iId==3, 0);
    DpSetHit aH[8]; int nH = 0, bSeen = 0;
    A[0] = 1<<24; A[1] = 2<<24; A[2] = 3<<24; A[3] = (uint64_t)5<<24;
    dpSetIndexNearest(c.p, A, 4, DP_SET_COSINE, 8, 0.5, 1, 0, 0, aH, &nH);
    for(i=0; i<nH; i++) if( aH[i].iId==2 && aH[i].rSim==0.5 ) bSeen = 1;
    ok("1.5 cosine 4/sqrt(4*16) at t=0.5", bSeen, 0);
    dpSetIndexNearest(c.p, A, 4, DP_SET_COSINE, 8, 0.5000001, 1, 0, 0, aH, &nH);
    for(i=0; i<nH; i++) if( aH[i].iId==2 ) bSeen = 0;
    ok("1.6 cosine 4/sqrt(4*16) below t=0.5000001", bSeen, 0);
  }
  {
    uint64_t bad[2] = {5, 3};
    int rc = dpSetIndexAdd(c.p, 100, bad, 2, 1);
    ok("1.8 unsorted set refused", rc==SQLITE_MISUSE, 0);
  }
  ok("1.7 integrity-check", dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
  connClose(&c);
  modelFree(m);
  free(m);
}

/* ---- 2.x random operations in transactions ---- */
typedef struct Stats Stats;
struct Stats { int nQuery, nBad, nAdd, nRemove, nRollback; };

#define TRACE(...) do{ if( getenv("SETINDEX_TRACE") ) printf(__VA_ARGS__); }while(0)
static int randomOps(Conn *c, Model *m, int nOps, Stats *st, char *zWhy,
                     int bSavepoints){
  static uint64_t a[400];
  Model *snap = calloc(1, sizeof(Model));
  Model *snapTx = calloc(1, sizeof(Model));
  int op, bInTx = 0, bInSvpt = 0, rc = SQLITE_OK;
  for(op=0; op<nOps && rc==SQLITE_OK; op++){
    int r = rndInt(100);
    static int prevR = 0;
    if( getenv("SETINDEX_TRACE") ){
      printf("op %d r=%d tx=%d svpt=%d\n", op, r, bInTx, bInSvpt);
      if( !bInTx || (getenv("SETINDEX_TRACE")[0]=='2' && op>0 && prevR>=91 && prevR<94) ){
        int rcI = dpSetIndexIntegrity(c->p);
        if( rcI ){ printf("op %d: integrity %s\n", op, dpSetIndexErrmsg(c->p)); exit(1); }
      }
    }
    prevR = r;
    int eMeasure = rndInt(2);
    static const double aT[] = {0.5, 0.8, 1.0/3, 0.1, 0.7, 0.9, 1.0, 0.25};
    double t = rndInt(3) ? aT[rndInt(8)] : (double)rndInt(1000)/1000.0;
    if( !bInTx ){
      exec(c, "BEGIN");
      modelCopy(snapTx, m);
      bInTx = 1;
    }
    if( r<55 ){
      /* insert as the table does */
      int n = makeSet(m, a, 200), id = modelFreeId(m), bFound = 0;
      DpSetHit h;
      st->nQuery++;
      if( !compareQuery(c, m, a, n, eMeasure, t, 1 + rndInt(6), rndInt(2), -1, zWhy) ){
        st->nBad++;
        rc = SQLITE_ERROR;
        break;
      }
      rc = dpSetIndexBest(c->p, a, n, DP_SET_JACCARD, 0.5, 0, 0, &h, &bFound);
      if( rc==SQLITE_OK ) rc = addDoc(c, id, a, n, !bFound);
      if( rc ){ sprintf(zWhy, "add: %s", dpSetIndexErrmsg(c->p)); break; }
      modelPut(m, id, a, n, !bFound);
      TRACE("  add %d n=%d kept=%d\n", id, n, !bFound);
      st->nAdd++;
    }else if( r<70 ){
      /* remove (sometimes re-add the same id with another set: UPDATE) */
      int id, i, bFound = 0;
      for(i=0; i<50; i++){ id = rndInt(MAXDOC); if( m->aDoc[id].bUsed ) break; }
      if( i==50 ) continue;
      rc = dpSetIndexRemove(c->p, id, &bFound);
      if( rc || !bFound ){ sprintf(zWhy, "remove %d: rc=%d found=%d", id, rc, bFound); rc = SQLITE_ERROR; break; }
      free(m->aDoc[id].a); m->aDoc[id].a = 0; m->aDoc[id].bUsed = 0;
      TRACE("  remove %d\n", id);
      st->nRemove++;
      if( rndInt(2) ){
        int n = makeSet(m, a, 200), bKept = rndInt(2);
        rc = addDoc(c, id, a, n, bKept);
        if( rc ){ sprintf(zWhy, "re-add: %s", dpSetIndexErrmsg(c->p)); break; }
        modelPut(m, id, a, n, bKept);
        TRACE("  re-add %d n=%d kept=%d\n", id, n, bKept);
      }
    }else if( r<85 ){
      /* a query of a stored document, skipping itself */
      int id, i;
      for(i=0; i<50; i++){ id = rndInt(MAXDOC); if( m->aDoc[id].bUsed ) break; }
      if( i==50 ) continue;
      st->nQuery++;
      if( !compareQuery(c, m, m->aDoc[id].a, m->aDoc[id].n, eMeasure, t,
                        1 + rndInt(10), rndInt(2), id, zWhy) ){
        st->nBad++;
        rc = SQLITE_ERROR;
        break;
      }
    }else if( r<89 && bSavepoints ){
      if( !bInSvpt ){
        rc = dpSetIndexSync(c->p);         /* xSavepoint: before it opens */
        exec(c, "SAVEPOINT s");
        modelCopy(snap, m);
        bInSvpt = 1;
        TRACE("  savepoint\n");
      }else if( rndInt(2) ){
        exec(c, "ROLLBACK TO s");
        dpSetIndexRollback(c->p);          /* xRollbackTo */
        modelCopy(m, snap);
        TRACE("  rollback to\n");
        st->nRollback++;
      }else{
        exec(c, "RELEASE s");
        bInSvpt = 0;
      }
    }else if( r<91 && bSavepoints ){
      exec(c, "ROLLBACK");
      dpSetIndexRollback(c->p);
      modelCopy(m, snapTx);
      TRACE("  rollback\n");
      bInTx = bInSvpt = 0;
      st->nRollback++;
    }else if( r<94 && rndInt(8)==0 ){
      /* 'optimize': pending postings and every run into one */
      rc = dpSetIndexOptimize(c->p);
      TRACE("  optimize\n");
      if( rc ) sprintf(zWhy, "optimize: %s", dpSetIndexErrmsg(c->p));
      if( rc==SQLITE_OK ){
        DpSetIndexStat info;
        dpSetIndexInfo(c->p, &info);
        if( info.nRun>1 || info.nPending>0 ){
          sprintf(zWhy, "optimize left %d runs, %d pending", info.nRun,
                  info.nPending);
          rc = SQLITE_ERROR;
        }
      }
    }else if( r<94 ){
      int bIdle;
      rc = dpSetIndexMerge(c->p, 1 + rndInt(3000), &bIdle);
      TRACE("  merge idle=%d\n", bIdle);
      if( rc ) sprintf(zWhy, "merge: %s", dpSetIndexErrmsg(c->p));
    }else{
      rc = commit(c);
      TRACE("  commit\n");
      bInTx = bInSvpt = 0;
      if( rc ) sprintf(zWhy, "commit: %s", dpSetIndexErrmsg(c->p));
    }
  }
  if( bInTx && rc==SQLITE_OK ){
    rc = commit(c);
  }else if( bInTx ){
    exec(c, "ROLLBACK");
    dpSetIndexRollback(c->p);
  }
  modelFree(snap); free(snap);
  modelFree(snapTx); free(snapTx);
  return rc;
}

/* Every stored document queried once: the same decisions as the model. */
/* Statements of db left running (a search's blob handle is one): none
** may be once a search has returned, or it would hold the read
** transaction between the table's statements. */
static int busyStmts(sqlite3 *db){
  sqlite3_stmt *pS;
  int n = 0;
  for(pS=sqlite3_next_stmt(db, 0); pS; pS=sqlite3_next_stmt(db, pS)){
    if( sqlite3_stmt_busy(pS) ) n++;
  }
  return n;
}

static int strideQueries(Conn *c, const Model *m, int nStride, char *zWhy){
  int id, bOk = 1, nSeen = 0;
  /* in a read transaction, as the table's statements are */
  exec(c, "BEGIN; SELECT count(*) FROM t_pruns;");
  for(id=0; id<MAXDOC && bOk; id++){
    const Doc *d = &m->aDoc[id];
    if( !d->bUsed || (nSeen++ % nStride)!=0 ) continue;
    if( !compareQuery(c, m, d->a, d->n, id&1, (id%3) ? 0.5 : 0.8, 5, id&2 ? 1 : 0, id, zWhy) ){
      bOk = 0;
    }else if( busyStmts(c->db) ){
      sprintf(zWhy, "doc %d: %d statements left running after the search",
              id, busyStmts(c->db));
      bOk = 0;
    }
  }
  exec(c, "COMMIT");
  return bOk;
}
static int allQueries(Conn *c, const Model *m, char *zWhy){
  return strideQueries(c, m, 1, zWhy);
}

/* The posting lists read by a search of k = 5 above 0.5
** of every stored document's set, which ends once the keys left cannot
** reach 0.5: the probe's order of keys follows the
** filters' estimates, so two passes read the same lists only if the
** estimates agree.  Sets of fewer than 3 hashes are left out: for them
** 0.5 asks one shared feature, and a search of k > 1 that asks no more
** reads a block in place of a filter that would not be cached
** (siEstimateBatch's bList), so the lists read over the limit differ
** (by design; 4.8.1 and 13.4-13.10 test that path). */
static sqlite3_int64 nearestPass(Conn *c, const Model *m){
  DpSetIndexStat s0, s1;
  DpSetHit aHit[5];
  int id, nHit;
  dpSetIndexInfo(c->p, &s0);
  exec(c, "BEGIN; SELECT count(*) FROM t_pruns;");
  for(id=0; id<MAXDOC; id++){
    const Doc *d = &m->aDoc[id];
    if( d->bUsed && d->n>=3
     && dpSetIndexNearest(c->p, d->a, d->n, 0, 5, 0.5, 0, 0, 0, aHit, &nHit) ){
      exec(c, "COMMIT");
      return -1;                 /* an error: no count to compare */
    }
  }
  exec(c, "COMMIT");
  dpSetIndexInfo(c->p, &s1);
  return s1.nListRead - s0.nListRead;
}

/* A MATCH's search (no score bound; k = 10, or 2 for every fourth id)
** of every iStride-th stored set from i0, on c, against the reference;
** the filter rows and posting lists it read into *pnFilter, *pnList.  1
** if every ranking is equal. */
static int listPass(Conn *c, const Model *m, int i0, int iStride,
                    sqlite3_int64 *pnFilter, sqlite3_int64 *pnList,
                    char *zWhy){
  DpSetIndexStat s0, s1;
  int i, bOk = 1;
  dpSetIndexInfo(c->p, &s0);
  for(i=i0; bOk && i<MAXDOC; i+=iStride){
    const Doc *d = &m->aDoc[i];
    /* t = 0: no score bound; every document, none skipped */
    if( d->bUsed ){
      bOk = compareNearest(c, m, d->a, d->n, i&1, 0.0, i%4 ? 10 : 2, 0, -1,
                           zWhy);
    }
  }
  dpSetIndexInfo(c->p, &s1);
  *pnFilter = s1.nFilterRead - s0.nFilterRead;
  *pnList = s1.nListRead - s0.nListRead;
  return bOk;
}

/* listPass of every third stored set from 0 on a new connection, in a read
** transaction, with the MATCH limit nListBlocks and the runs' answers kept
** nMaybeRuns (each -1: the default). */
static int newConnPass(const Model *m, int nListBlocks, int nMaybeRuns,
                       sqlite3_int64 *pnFilter, sqlite3_int64 *pnList,
                       char *zWhy){
  Conn c;
  int bOk;
  if( connOpen(&c, 0) ){ strcpy(zWhy, "open"); return 0; }
  if( nListBlocks>=0 ) dpSetIndexSetListBlocks(c.p, nListBlocks);
  if( nMaybeRuns>=0 ) dpSetIndexSetMaybeRuns(c.p, nMaybeRuns);
  exec(&c, "BEGIN; SELECT count(*) FROM t_pruns;");
  bOk = listPass(&c, m, 0, 3, pnFilter, pnList, zWhy);
  exec(&c, "COMMIT");
  connClose(&c);
  return bOk;
}

/* One search of set d (k = 5, no threshold) on c in a read transaction,
** SQLite's soft heap limit set to nLimit first; the index's statistics
** after it into *pStat.  1 if it went through. */
static int searchUnderLimit(Conn *c, const Doc *d, sqlite3_int64 nLimit,
                            DpSetIndexStat *pStat){
  DpSetHit aHit[5];
  int nHit = 0, bOk;
  sqlite3_soft_heap_limit64(nLimit);
  exec(c, "BEGIN; SELECT count(*) FROM t_pruns;");
  bOk = d && dpSetIndexNearest(c->p, d->a, d->n, 0, 5, 0.0, 0, 0, 0, aHit,
                               &nHit)==SQLITE_OK;
  exec(c, "COMMIT");
  dpSetIndexInfo(c->p, pStat);
  return bOk;
}

static void testRandom(void){
  Conn c, c2;
  Model *m = calloc(1, sizeof(Model));
  Stats st;
  char zWhy[512] = "";
  int rc, round;
  memset(&st, 0, sizeof(st));
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("2.0 open", 0, "open"); return; }
  for(round=0; round<4; round++){
    char zName[80];
    /* rounds 1 and 3: filter answers kept for one run only, so that the
    ** probe asks later runs' filters again (as past 64 runs); rounds 2
    ** and 3: a MATCH reads no uncached filter (as of runs past 262,144
    ** blocks, the default) */
    dpSetIndexSetMaybeRuns(c.p, round % 2 ? 1 : 64);
    dpSetIndexSetListBlocks(c.p, round>=2 ? 0 : 262144);
    rc = randomOps(&c, m, 400, &st, zWhy, 1);
    sprintf(zName, "2.%d random operations, round %d", round+1, round);
    ok(zName, rc==SQLITE_OK, zWhy);
    if( rc ) break;
    sprintf(zName, "2.%d.1 integrity-check after round %d", round+1, round);
    ok(zName, dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
  }
  printf("  %d queries, %d adds, %d removes, %d rollbacks\n", st.nQuery,
         st.nAdd, st.nRemove, st.nRollback);
  ok("2.7 every stored document decided as the reference", allQueries(&c, m, zWhy), zWhy);
  {
    DpSetIndexStat s;
    int bIdle = 0;
    dpSetIndexInfo(c.p, &s);
    printf("  runs %d, pairs %lld, blocks %lld\n", s.nRun, s.nPair, s.nBlock);
    exec(&c, "BEGIN");
    rc = dpSetIndexMerge(c.p, 1<<30, &bIdle);
    if( rc==SQLITE_OK ) rc = commit(&c);
    dpSetIndexInfo(c.p, &s);
    printf("  after merging: runs %d, pairs %lld\n", s.nRun, s.nPair);
    ok("2.8 merge to the end", rc==SQLITE_OK && bIdle, dpSetIndexErrmsg(c.p));
    ok("2.9 same decisions after merging", allQueries(&c, m, zWhy), zWhy);
  }

  /* 3.x reopen */
  connClose(&c);
  if( connOpen(&c, 0) ){ ok("3.0 reopen", 0, "open"); return; }
  ok("3.1 reopened: same decisions", allQueries(&c, m, zWhy), zWhy);
  ok("3.2 reopened: integrity-check", dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));

  /* 4.x two connections */
  if( connOpen(&c2, 0) ){ ok("4.0 second connection", 0, "open"); return; }
  dpSetIndexSetListBlocks(c2.p, 0);
  ok("4.1 second connection: same decisions", allQueries(&c2, m, zWhy), zWhy);
  rc = randomOps(&c, m, 300, &st, zWhy, 0);
  ok("4.2 first connection writes and commits", rc==SQLITE_OK, zWhy);
  ok("4.3 second connection sees the commits", allQueries(&c2, m, zWhy), zWhy);
  rc = randomOps(&c2, m, 300, &st, zWhy, 1);
  ok("4.4 second connection writes, with rollbacks", rc==SQLITE_OK, zWhy);
  ok("4.5 first connection sees them", allQueries(&c, m, zWhy), zWhy);
  ok("4.6 integrity-check", dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
  connClose(&c2);

  /* 4.7-4.9: SQLite's soft heap limit reached, a new connection caches no
  ** filter: each is read, asked and dropped; the same answers, reads and
  ** writes alike; without the limit it caches again */
  {
    DpSetIndexStat s0, s1;
    sqlite3_int64 nList0, nList1;
    sqlite3_int64 nOld = sqlite3_soft_heap_limit64(1);
    int id;
    if( connOpen(&c2, 0) ){
      sqlite3_soft_heap_limit64(nOld);
      ok("4.7 new connection", 0, "open");
      return;
    }
    ok("4.7 over the soft heap limit: same decisions", allQueries(&c2, m, zWhy), zWhy);
    rc = randomOps(&c2, m, 200, &st, zWhy, 1);
    ok("4.7.1 over the limit: writes, with rollbacks", rc==SQLITE_OK, zWhy);
    ok("4.7.2 over the limit: the other connection sees them",
       allQueries(&c, m, zWhy), zWhy);
    nList0 = nearestPass(&c2, m);
    dpSetIndexInfo(c2.p, &s0);
    sprintf(zWhy, "%lld filters cached, %lld read", s0.nBlockCached, s0.nFilterRead);
    ok("4.8 over the limit: filters read, none cached",
       s0.nBlockCached==0 && s0.nFilterRead>0, zWhy);
    {
      /* a MATCH without a score bound reads the block, not the filter
      ** (it would not be kept): no filter row, the same rankings */
      sqlite3_int64 nF, nL;
      exec(&c2, "BEGIN; SELECT count(*) FROM t_pruns;");
      rc = listPass(&c2, m, 0, 4, &nF, &nL, zWhy);
      exec(&c2, "COMMIT");
      if( rc ) sprintf(zWhy, "%lld filter rows, %lld lists read", nF, nL);
      ok("4.8.1 over the limit: a MATCH reads no filter row, same rankings",
         rc && nF==0 && nL>0, zWhy);
    }
    sqlite3_soft_heap_limit64(nOld);
    ok("4.9 the limit lifted: same decisions", allQueries(&c2, m, zWhy), zWhy);
    dpSetIndexInfo(c2.p, &s1);
    sprintf(zWhy, "%lld filters cached", s1.nBlockCached);
    ok("4.9.1 the limit lifted: filters cached again", s1.nBlockCached>0, zWhy);
    nList1 = nearestPass(&c2, m);
    sprintf(zWhy, "%lld posting lists read over the limit, %lld with filters cached",
            nList0, nList1);
    if( getenv("SETINDEX_DEBUG") ) printf("  %s\n", zWhy);
    ok("4.9.2 filters read and dropped estimate as cached ones (same lists read)",
       nList0==nList1 && nList0>0, zWhy);   /* (-1: a search failed) */
    /* 4.9.3-4.9.4: a limit set after the filters were cached, well below
    ** what is used: the next search drops them (and caches no more while
    ** over it); a limit well above: nothing dropped */
    {
      DpSetIndexStat s2, s3;
      const sqlite3_int64 nUsed = sqlite3_memory_used();
      int bOk;
      const Doc *d = 0;
      for(id=0; id<MAXDOC && d==0; id++) if( m->aDoc[id].bUsed ) d = &m->aDoc[id];
      /* a limit just under what is used (within the quarter's margin):
      ** caching stops, what is cached stays (no dropping and reading again
      ** at each search of a connection that stopped at the limit) */
      bOk = searchUnderLimit(&c2, d, nUsed - nUsed/10, &s2);
      sprintf(zWhy, "%lld filters cached before, %lld after one search", s1.nBlockCached, s2.nBlockCached);
      ok("4.9.2.1 a limit just under what is used: the cached filters stay",
         bOk && s1.nBlockCached>0 && s2.nBlockCached>=s1.nBlockCached, zWhy);
      bOk = searchUnderLimit(&c2, d, nUsed/4, &s2);
      sprintf(zWhy, "%lld filters cached before, %lld after one search", s1.nBlockCached, s2.nBlockCached);
      ok("4.9.3 a limit set later, far below: the next search drops the cached filters",
         bOk && s1.nBlockCached>0 && s2.nBlockCached<s1.nBlockCached, zWhy);
      ok("4.9.3.1 ... and answers as before", allQueries(&c2, m, zWhy), zWhy);
      sqlite3_soft_heap_limit64(nUsed*64);
      ok("4.9.4 a limit far above: the same answers", allQueries(&c2, m, zWhy), zWhy);
      dpSetIndexInfo(c2.p, &s2);
      ok("4.9.4.1 ... the filters cached again",
         allQueries(&c2, m, zWhy), zWhy);
      dpSetIndexInfo(c2.p, &s3);
      sprintf(zWhy, "%lld filters cached, then %lld", s2.nBlockCached, s3.nBlockCached);
      ok("4.9.4.2 ... and none dropped under it",
         s2.nBlockCached>0 && s3.nBlockCached>=s2.nBlockCached, zWhy);
      sqlite3_soft_heap_limit64(nOld);
    }
    connClose(&c2);
  }
  connClose(&c);
  modelFree(m);
  free(m);
}

/* 2.x-4.x again with sets='body': no set stored, each asked for (srcSetOf)
** when a candidate is verified or integrity-check reads it */
static void testRandomBody(void){
  bBodyMode = 1;
  zMode = "sets='body': ";
  testRandom();
  bBodyMode = 0;
  zMode = "";
  free(aSrcBuf);
  aSrcBuf = 0;
  nSrcBuf = 0;
}

/* ---- 5.x damaged shadow rows ---- */
static int runSql(sqlite3 *db, const char *zSql){
  return sqlite3_exec(db, zSql, 0, 0, 0);
}

/* Damage the stored index: zSql from a plain connection of its own. */
static int damage(const char *zSql){
  sqlite3 *db;
  int rc = sqlite3_open(zPath, &db);
  if( rc==SQLITE_OK ) rc = runSql(db, zSql);
  sqlite3_close(db);
  return rc;
}

/* Open c again on the file (c closed), not creating: the open's result. */
static int reopen(Conn *c, char **pzErr){
  c->p = 0;
  sqlite3_open(zPath, &c->db);
  return dpSetIndexOpen(c->db, "main", "t", 0, &c->p, pzErr);
}

static void testCorrupt(void){
  Conn c;
  Model *m = calloc(1, sizeof(Model));
  Stats st;
  char zWhy[512] = "";
  /* bSearch: a search for a stored document must report the damage too
  ** (it reads the block of each of its keys) */
  static const struct { const char *zName; const char *zSql; int bSearch; } aCase[] = {
    {"5.1 set blob of the wrong length",
     "UPDATE t_sets SET h = substr(h, 1, length(h)-3) WHERE id=(SELECT min(id) FROM t_sets WHERE n>5)", 0},
    {"5.2 set hashes out of order",
     "UPDATE t_sets SET h = substr(h, 9) || substr(h, 1, 8) WHERE id=(SELECT min(id) FROM t_sets WHERE n>5)", 0},
    {"5.3 set count wrong",
     "UPDATE t_sets SET n = n+1 WHERE id=(SELECT min(id) FROM t_sets WHERE n>5)", 0},
    {"5.4 postings block of garbage",
     "UPDATE t_pblocks SET data = randomblob(length(data))", 0},
    {"5.5 postings block truncated",
     "UPDATE t_pblocks SET data = substr(data, 1, length(data)/2)", 0},
    {"5.6 postings block missing",
     "DELETE FROM t_pblocks", 1},
    {"5.7 filter row of garbage",
     "UPDATE t_pfilter SET data = randomblob(length(data))", 0},
    {"5.8 filter row emptied",
     "UPDATE t_pfilter SET data = x''", 0},
    {"5.9 fence row of garbage",
     "UPDATE t_pfence SET data = randomblob(length(data))", 0},
    {"5.10 fence rows missing",
     "DELETE FROM t_pfence", 0},
    {"5.11 run row: block count wrong",
     "UPDATE t_pruns SET nblock = nblock+1", 0},
    {"5.12 a set row missing its postings",
     "INSERT INTO t_sets(id, kept, n, h) VALUES(99999, 1, 1, x'0102030405060708')", 0},
    {"5.13 filter rows of NULL",
     "UPDATE t_pfilter SET data = NULL", 0},
    {"5.14 postings blocks of NULL",
     "UPDATE t_pblocks SET data = NULL", 1},
    /* a search reads a candidate's size from its set row's header (a blob
    ** handle on h): one NULL or a number is damage, not a document gone */
    {"5.15 a set of NULL",
     "UPDATE t_sets SET h = NULL WHERE id=(SELECT min(id) FROM t_sets WHERE n>5)", 1},
    {"5.16 a set of an integer",
     "UPDATE t_sets SET h = 7 WHERE id=(SELECT min(id) FROM t_sets WHERE n>5)", 1},
    /* ... and its length is read before n: one of 0 bytes is not an empty
    ** set while n says otherwise */
    {"5.17 a set emptied (h = x'', n as it was)",
     "UPDATE t_sets SET h = x'' WHERE id=(SELECT min(id) FROM t_sets WHERE n>5)", 1},
    /* h NULL is damage for a search even when n says 0: so for the check */
    {"5.18 a set of NULL with n = 0",
     "UPDATE t_sets SET h = NULL, n = 0 WHERE id=(SELECT min(id) FROM t_sets WHERE n>5)", 1},
    /* an empty set whose postings stayed: the check compares them too */
    {"5.19 a set emptied with n = 0, its postings left",
     "UPDATE t_sets SET h = x'', n = 0 WHERE id=(SELECT min(id) FROM t_sets WHERE n>5)", 0},
  };
  int i, rc;
  memset(&st, 0, sizeof(st));
  for(i=0; i<(int)(sizeof(aCase)/sizeof(aCase[0])); i++){
    int rc1, rc2, rc3, q;
    char zMsg[600];
    unlink(zPath);
    modelFree(m);
    rngState = 777 + i;
    if( connOpen(&c, 1) ){ ok(aCase[i].zName, 0, "open"); continue; }
    rc = randomOps(&c, m, 100, &st, zWhy, 0);
    if( rc==SQLITE_OK ){
      exec(&c, "BEGIN");
      rc = dpSetIndexMerge(c.p, 1<<30, 0);
      commit(&c);
    }
    connClose(&c);
    if( rc ){ ok(aCase[i].zName, 0, zWhy); continue; }
    /* damage it from a plain connection, then reopen */
    if( damage(aCase[i].zSql) ){ ok(aCase[i].zName, 0, "damage failed"); continue; }
    {
      char *zErr = 0;
      rc1 = reopen(&c, &zErr);
      sqlite3_free(zErr);
    }
    rc2 = rc3 = SQLITE_OK;
    if( rc1==SQLITE_OK ){
      rc2 = dpSetIndexIntegrity(c.p);
      /* searches: an error or an answer, never a crash */
      for(q=0; q<MAXDOC; q++){
        if( m->aDoc[q].bUsed ){
          DpSetHit h[4]; int nHit;
          int r = dpSetIndexNearest(c.p, m->aDoc[q].a, m->aDoc[q].n, DP_SET_JACCARD,
                                    4, 0.0, 0, 0, 0, h, &nHit);
          if( r!=SQLITE_OK ) rc3 = r;
        }
      }
    }
    sprintf(zMsg, "open %d, integrity %d (%s), search %d", rc1, rc2,
            c.p ? dpSetIndexErrmsg(c.p) : "", rc3);
    ok(aCase[i].zName,
       rc1==SQLITE_CORRUPT_VTAB || (rc1==SQLITE_OK && rc2==SQLITE_CORRUPT_VTAB
       && (aCase[i].bSearch ? rc3==SQLITE_CORRUPT_VTAB
                            : (rc3==SQLITE_OK || rc3==SQLITE_CORRUPT_VTAB))), zMsg);
    connClose(&c);
  }
  /* 5.20 random byte flips in every kind of shadow blob: no crash */
  {
    int nTry, nErr = 0;
    static const char *azTab[] = {"t_pblocks", "t_pfilter", "t_pfence", "t_sets"};
    static const char *azCol[] = {"data", "data", "data", "h"};
    for(nTry=0; nTry<30; nTry++){
      char zSql[300];
      int q;
      if( nTry%20==0 ){
        unlink(zPath);
        modelFree(m);
        if( connOpen(&c, 1) ) break;
        randomOps(&c, m, 120, &st, zWhy, 0);
        connClose(&c);
      }
      sprintf(zSql, "UPDATE %s SET %s = substr(%s, 1, %d) || randomblob(1) || "
              "substr(%s, %d) WHERE rowid IN (SELECT rowid FROM %s ORDER BY random() LIMIT 2)",
              azTab[nTry%4], azCol[nTry%4], azCol[nTry%4], rndInt(200),
              azCol[nTry%4], 2 + rndInt(200), azTab[nTry%4]);
      damage(zSql);
      {
        char *zErr = 0;
        if( reopen(&c, &zErr)==SQLITE_OK ){
          if( dpSetIndexIntegrity(c.p)!=SQLITE_OK ) nErr++;
          for(q=0; q<MAXDOC; q++){
            if( m->aDoc[q].bUsed ){
              DpSetHit h[4]; int nHit;
              dpSetIndexNearest(c.p, m->aDoc[q].a, m->aDoc[q].n, DP_SET_COSINE,
                                4, 0.0, 0, 0, 0, h, &nHit);
            }
          }
        }else{
          nErr++;
        }
        sqlite3_free(zErr);
      }
      connClose(&c);
    }
    printf("  byte flips: %d of 30 runs reported damage\n", nErr);
    ok("5.20 random byte flips: no crash", 1, 0);
  }
  modelFree(m);
  free(m);
  (void)nCheckQuiet;
}

/* ---- 7.x the other calls; hand-made damage named precisely ---- */
static int countTables(sqlite3 *db, const char *zLike){
  sqlite3_stmt *pStmt;
  int n = -1;
  if( sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type='table' "
                         "AND name LIKE ?1", -1, &pStmt, 0)==SQLITE_OK ){
    sqlite3_bind_text(pStmt, 1, zLike, -1, SQLITE_STATIC);
    if( sqlite3_step(pStmt)==SQLITE_ROW ) n = sqlite3_column_int(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return n;
}
/* The hex of the only row of zTab (its data column), or "" */
static void onlyBlob(sqlite3 *db, const char *zTab, char *zHex, sqlite3_int64 *piId){
  char zSql[200];
  sqlite3_stmt *pStmt;
  int n = 0;
  zHex[0] = 0;
  sprintf(zSql, "SELECT id, hex(data) FROM %s", zTab);
  if( sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0)==SQLITE_OK ){
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      if( n++==0 ){
        *piId = sqlite3_column_int64(pStmt, 0);
        snprintf(zHex, 200, "%s", (const char*)sqlite3_column_text(pStmt, 1));
      }else{
        zHex[0] = 0;
      }
    }
  }
  sqlite3_finalize(pStmt);
}

#define DP_SET_ID_MAX_TEST (((sqlite3_int64)1)<<62)   /* ids are below it */

/* 7.22, 7.23: a query Q = {H, r1..r9} against H in nH documents of one
** run and each ri in two documents of two more runs (2 other hashes
** each, below H's key when H is the largest: blocks so small that no
** filter says maybe falsely); jaccard >= 0.5 (5 of 10) and no candidate
** sharing more than one key, so an insert's probe stops after 7 keys.
** The posting lists it reads must be nCold on a new connection and
** nCached again with every filter cached. */
static void probeOrder(const char *zName, uint64_t h, int nH, int nCold,
                       int nCached, int nMaybeRuns){
  Conn c;
  uint64_t q[10], a[3];
  int i, j, r, nA, bOk = 1;
  const uint64_t mLow = h>>63 ? ~((uint64_t)1<<63) : ~(uint64_t)0;
  const uint64_t mHigh = h>>63 ? 0 : (uint64_t)1<<62;
  char zWhy[200] = "";
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok(zName, 0, "open"); return; }
  q[0] = h;
  for(i=1; i<10; i++) q[i] = ((rnd() | mHigh) & mLow) & ~(uint64_t)0xFFFFFF;
  exec(&c, "BEGIN");
  for(j=0; j<nH; j++){                    /* run 1: H in nH documents */
    a[0] = h;
    for(i=1; i<3; i++) a[i] = (rnd() | mHigh<<1) & mLow;
    nA = normalize(a, 3);
    dpSetIndexAdd(c.p, 1000+j, a, nA, 1);
  }
  commit(&c);
  for(r=0; r<2; r++){                     /* runs 2 and 3: each ri twice */
    exec(&c, "BEGIN");
    for(j=1; j<10; j++){
      a[0] = q[j];
      for(i=1; i<3; i++) a[i] = (rnd() | mHigh<<1) & mLow;
      nA = normalize(a, 3);
      dpSetIndexAdd(c.p, 100 + r*10 + j, a, nA, 1);
    }
    commit(&c);
  }
  connClose(&c);
  if( connOpen(&c, 0) ){ ok(zName, 0, "reopen"); return; }
  if( nMaybeRuns>=0 ) dpSetIndexSetMaybeRuns(c.p, nMaybeRuns);
  normalize(q, 10);
  for(i=0; bOk && i<2; i++){              /* cold, then cached */
    DpSetIndexStat st0, st1;
    DpSetHit hit;
    int bFound = 1, nExpect = i ? nCached : nCold;
    dpSetIndexInfo(c.p, &st0);
    if( dpSetIndexBest(c.p, q, 10, DP_SET_JACCARD, 0.5, 0, 0, &hit, &bFound) ){
      sprintf(zWhy, "best: %s", dpSetIndexErrmsg(c.p));
      bOk = 0;
      break;
    }
    dpSetIndexInfo(c.p, &st1);
    if( bFound || st1.nListRead - st0.nListRead!=nExpect ){
      sprintf(zWhy, "%s: %s, %lld posting lists read (%d expected)",
              i ? "cached" : "cold", bFound ? "found" : "none",
              st1.nListRead - st0.nListRead, nExpect);
      bOk = 0;
    }
  }
  ok(zName, bOk, zWhy);
  connClose(&c);
}

static void testApi(void){
  Conn c;
  uint64_t a[4];
  DpSetHit h;
  int rc, bFound = 0;
  char *zErr = 0;
  char zHex[200], zSql[300], zWhyBuf[200];
  sqlite3_int64 iBlk = -1;

  ok("7.1 shadow names",
     dpSetIndexShadowName("sets") && dpSetIndexShadowName("PRUNS")
     && dpSetIndexShadowName("pblocks") && dpSetIndexShadowName("pfilter")
     && dpSetIndexShadowName("pfence") && dpSetIndexShadowName("ptomb")
     && !dpSetIndexShadowName("docs") && !dpSetIndexShadowName("set")
     && !dpSetIndexShadowName(""), 0);
  /* an empty intersection is 0.0 whatever the sizes (never 0/0) */
  ok("7.2 similarity of disjoint sets is 0",
     dpSetSimilarity(DP_SET_COSINE, 0, 0, 5)==0.0
     && dpSetSimilarity(DP_SET_JACCARD, 0, 0, 0)==0.0
     && dpSetSimilarity(DP_SET_JACCARD, 0, 3, 5)==0.0
     && dpSetSimilarity(DP_SET_JACCARD, 2, 3, 5)==2.0/6.0
     && dpSetSimilarity(DP_SET_COSINE, 2, 4, 9)==2.0/6.0, 0);

  /* rename: the shadow tables and the cached statements follow */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.0 open", 0, "open"); return; }
  a[0] = (uint64_t)0x123456<<24;
  exec(&c, "BEGIN");
  dpSetIndexAdd(c.p, 1, a, 1, 1);
  dpSetIndexAdd(c.p, 2, a, 1, 1);
  commit(&c);
  /* one run, one block: 00 (restart points), 1 key, 1 restart point (no
  ** offset after the first); key 0x123456 (fence, delta 0, multi), 2
  ** vals: 3 (id 1 kept), then +2 (id 2 kept) */
  onlyBlob(c.db, "t_pblocks", zHex, &iBlk);
  ok("7.3 block bytes as the format says", strcmp(zHex, "00010101000302")==0, zHex);
  exec(&c, "BEGIN");
  rc = dpSetIndexRename(c.p, "u", &zErr);
  sqlite3_free(zErr); zErr = 0;
  exec(&c, "COMMIT");
  ok("7.4 rename moves the six shadow tables", rc==SQLITE_OK
     && countTables(c.db, "u_%")==6 && countTables(c.db, "t_%")==0, 0);
  exec(&c, "BEGIN");
  rc = dpSetIndexBest(c.p, a, 1, DP_SET_JACCARD, 1.0, 0, 0, &h, &bFound);
  ok("7.5 renamed: found", rc==SQLITE_OK && bFound && h.iId==1, dpSetIndexErrmsg(c.p));
  rc = dpSetIndexAdd(c.p, 3, a, 1, 0);
  if( rc==SQLITE_OK ) rc = commit(&c); else exec(&c, "ROLLBACK");
  ok("7.6 renamed: written", rc==SQLITE_OK
     && dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
  dpSetIndexClose(c.p);
  c.p = 0;
  rc = dpSetIndexDrop(c.db, "main", "u", &zErr);
  sqlite3_free(zErr); zErr = 0;
  ok("7.7 drop", rc==SQLITE_OK && countTables(c.db, "u_%")==0, 0);
  connClose(&c);

  /* 7.3.1 a block as builds before 2026-12 wrote it (no restart points:
  ** varint nKey first, every key from the one before) is read as before:
  ** three keys K, K+5, K+9 of ids 1-3 (vals 3, 5, 7) */
  unlink(zPath);
  if( connOpen(&c, 1)==SQLITE_OK ){
    static const int aD[3] = {0, 5, 9};
    int k, bAll = 1;
    exec(&c, "BEGIN");
    for(k=0; k<3; k++){
      a[0] = ((uint64_t)0x123456 + aD[k])<<24;
      dpSetIndexAdd(c.p, k+1, a, 1, 1);
    }
    commit(&c);
    onlyBlob(c.db, "t_pblocks", zHex, &iBlk);
    ok("7.3.1 three keys, one restart point", strcmp(zHex, "00030100030A050807")==0, zHex);
    connClose(&c);
    rc = damage("UPDATE t_pblocks SET data = x'0300030A050807'");
    if( rc==SQLITE_OK ) rc = reopen(&c, &zErr);
    sqlite3_free(zErr); zErr = 0;
    exec(&c, "BEGIN");
    for(k=0; rc==SQLITE_OK && k<3; k++){
      a[0] = ((uint64_t)0x123456 + aD[k])<<24;
      rc = dpSetIndexBest(c.p, a, 1, DP_SET_JACCARD, 1.0, 0, 0, &h, &bFound);
      if( !bFound || h.iId!=k+1 ) bAll = 0;
    }
    if( rc==SQLITE_OK ) rc = dpSetIndexIntegrity(c.p);
    exec(&c, "COMMIT");
    ok("7.3.2 a block without restart points: found, and sound", rc==SQLITE_OK
       && bAll, c.p ? dpSetIndexErrmsg(c.p) : "open");
    connClose(&c);
  }
  /* 7.3.3 a block of many restart points: every key found from the
  ** restart before it (keys 3 apart, one doc each), and a restart
  ** offset moved by one byte is damage the integrity check reports */
  unlink(zPath);
  if( connOpen(&c, 1)==SQLITE_OK ){
    int k, bAll = 1;
    exec(&c, "BEGIN");
    for(k=0; k<200; k++){
      a[0] = ((uint64_t)0x300000 + 3*(uint64_t)k)<<24;
      dpSetIndexAdd(c.p, k+1, a, 1, 1);
    }
    commit(&c);
    exec(&c, "BEGIN");
    for(k=0; k<200; k++){
      a[0] = ((uint64_t)0x300000 + 3*(uint64_t)k)<<24;
      rc = dpSetIndexBest(c.p, a, 1, DP_SET_JACCARD, 1.0, 0, 0, &h, &bFound);
      if( rc || !bFound || h.iId!=k+1 ) bAll = 0;
      a[0] += (uint64_t)1<<24;                   /* between two keys */
      rc = dpSetIndexBest(c.p, a, 1, DP_SET_JACCARD, 0.1, 0, 0, &h, &bFound);
      if( rc || bFound ) bAll = 0;
    }
    rc = dpSetIndexIntegrity(c.p);
    exec(&c, "COMMIT");
    ok("7.3.3 200 keys, 13 restart points: each found, none between",
       bAll && rc==SQLITE_OK, dpSetIndexErrmsg(c.p));
    connClose(&c);
    /* header 00, nKey 200 (C8 01), 13 restarts (0D), then the offset
    ** delta of the second restart point (one byte, below 128): one more */
    rc = damage("UPDATE t_pblocks SET data = substr(data, 1, 4)"
                " || CAST(char(unicode(CAST(substr(data, 5, 1) AS TEXT)) + 1)"
                " AS BLOB) || substr(data, 6)"
                " WHERE hex(substr(data, 1, 4))='00C8010D'"
                " AND unicode(CAST(substr(data, 5, 1) AS TEXT))<127");
    if( rc==SQLITE_OK ) rc = reopen(&c, &zErr);
    sqlite3_free(zErr); zErr = 0;
    if( rc==SQLITE_OK ){
      exec(&c, "BEGIN");
      rc = dpSetIndexIntegrity(c.p);
      exec(&c, "COMMIT");
    }
    ok("7.3.4 a restart offset that misses its key is a damaged block",
       rc==SQLITE_CORRUPT_VTAB, c.p ? dpSetIndexErrmsg(c.p) : "open");
    connClose(&c);
  }

  /* calls refuse what is not a set, or an unknown measure */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.0 open", 0, "open"); return; }
  {
    DpSetHit aH[2];
    int nH = 5;
    exec(&c, "BEGIN");
    dpSetIndexAdd(c.p, 1, a, 1, 1);
    ok("7.11 negative sizes and unknown measures refused",
       dpSetIndexNearest(c.p, a, -1, DP_SET_JACCARD, 2, 0.0, 0, 0, 0, aH, &nH)==SQLITE_MISUSE
       && nH==0
       && dpSetIndexBest(c.p, a, -1, DP_SET_COSINE, 0.5, 0, 0, &h, &bFound)==SQLITE_MISUSE
       && !bFound
       && dpSetIndexAdd(c.p, 9, a, -1, 1)==SQLITE_MISUSE
       && dpSetIndexNearest(c.p, a, 1, 2, 2, 0.0, 0, 0, 0, aH, &nH)==SQLITE_MISUSE
       && dpSetIndexAdd(c.p, DP_SET_ID_MAX_TEST, a, 1, 1)==SQLITE_RANGE, 0);
    /* the integrity check writes pending postings first: they count */
    ok("7.12 integrity-check with pending postings",
       dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
    commit(&c);
  }
  connClose(&c);

  /* a set row whose hashes changed to other keys, same count, still
  ** sorted: its postings no longer match (the checksum, not the count) */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.0 open", 0, "open"); return; }
  {
    uint64_t b[3];
    b[0] = (uint64_t)11<<24; b[1] = (uint64_t)12<<24; b[2] = (uint64_t)13<<24;
    exec(&c, "BEGIN");
    dpSetIndexAdd(c.p, 1, b, 3, 1);
    commit(&c);
    /* hash 13<<24 (bytes 00 00 00 0d 00.. little-endian) becomes 14<<24 */
    exec(&c, "UPDATE t_sets SET h = x'0000000b000000000000000c000000000000000e00000000' WHERE id=1");
    rc = dpSetIndexIntegrity(c.p);
    ok("7.13 a set's hash changed: postings do not match", rc==SQLITE_CORRUPT_VTAB
       && strstr(dpSetIndexErrmsg(c.p), "do not match its set"), dpSetIndexErrmsg(c.p));
    exec(&c, "UPDATE t_sets SET h = x'0000000b000000000000000c000000000000000d00000000', kept=0 WHERE id=1");
    rc = dpSetIndexIntegrity(c.p);
    ok("7.14 a set's kept flag changed: postings do not match", rc==SQLITE_CORRUPT_VTAB
       && strstr(dpSetIndexErrmsg(c.p), "do not match its set"), dpSetIndexErrmsg(c.p));
    exec(&c, "UPDATE t_sets SET kept=1 WHERE id=1");
    ok("7.15 restored", dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
    /* run id 1 renumbered 0 with all its rows: ids start at 1, so 0 is
    ** damage */
    exec(&c, "UPDATE t_pruns SET id=0 WHERE id=1;"
             "UPDATE t_pblocks SET id=id-(1<<24); UPDATE t_pfilter SET id=id-(1<<24);"
             "UPDATE t_pfence SET id=id-(1<<24)");
  }
  connClose(&c);
  {
    sqlite3 *db;
    DpSetIndex *p2 = 0;
    sqlite3_open(zPath, &db);
    rc = dpSetIndexOpen(db, "main", "t", 0, &p2, &zErr);
    ok("7.16 run id 0 is damage", rc==SQLITE_CORRUPT_VTAB, zErr);
    sqlite3_free(zErr); zErr = 0;
    dpSetIndexClose(p2);
    sqlite3_close(db);
  }

  /* a set row and no postings at all (no run yet) */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.0 open", 0, "open"); return; }
  exec(&c, "INSERT INTO t_sets(id, kept, n, h) VALUES(5, 1, 1, x'0000000100000000')");
  rc = dpSetIndexIntegrity(c.p);
  ok("7.17 a set without postings, no run", rc==SQLITE_CORRUPT_VTAB
     && strstr(dpSetIndexErrmsg(c.p), "document 5 of t do not match"), dpSetIndexErrmsg(c.p));
  connClose(&c);

  /* a block whose second val repeats the first (val delta 0): the
  ** integrity check names the block, not only the sums */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.0 open", 0, "open"); return; }
  exec(&c, "BEGIN");
  dpSetIndexAdd(c.p, 1, a, 1, 1);
  dpSetIndexAdd(c.p, 2, a, 1, 1);
  commit(&c);
  onlyBlob(c.db, "t_pblocks", zHex, &iBlk);
  sprintf(zSql, "UPDATE t_pblocks SET data=x'0101000300' WHERE id=%lld", iBlk);
  exec(&c, zSql);
  rc = dpSetIndexIntegrity(c.p);
  ok("7.8 repeated val in a block", rc==SQLITE_CORRUPT_VTAB
     && strstr(dpSetIndexErrmsg(c.p), "a postings block of t is damaged"),
     dpSetIndexErrmsg(c.p));
  connClose(&c);

  /* the tiered policy: each commit flushes one level-0 run, and 8 runs
  ** of level 0 or 1 (DP_SET_FANIN_LOW), 4 of a level above (DP_SET_FANIN)
  ** are merged into one of the next, so after i commits the runs of level
  ** L are digit L of i in the mixed radix 8, 8, 4, 4, ... (70 commits
  ** reach level 2: 70 = 1x64 + 0x8 + 6) */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.0 open", 0, "open"); return; }
  {
    int i, bOk = 1;
    char zWant[64], zGot[64];
    zWhyBuf[0] = 0;
    for(i=1; i<=70; i++){
      sqlite3_stmt *pStmt;
      int j, v;
      uint64_t b[3];
      b[0] = (uint64_t)7<<24; b[1] = (uint64_t)(1000+i)<<24; b[2] = (uint64_t)(5000+i)<<24;
      exec(&c, "BEGIN");
      dpSetIndexAdd(c.p, i, b, 3, 1);
      commit(&c);
      for(zWant[0]=0, v=i, j=0; v>0; j++){
        const int nFan = j<2 ? 8 : 4;
        if( v%nFan ) sprintf(&zWant[strlen(zWant)], "%d:%d ", j, v%nFan);
        v /= nFan;
      }
      zGot[0] = 0;
      sqlite3_prepare_v2(c.db, "SELECT level, count(*) FROM t_pruns GROUP BY level "
                         "ORDER BY level", -1, &pStmt, 0);
      while( sqlite3_step(pStmt)==SQLITE_ROW ){
        sprintf(&zGot[strlen(zGot)], "%d:%d ", sqlite3_column_int(pStmt, 0),
                sqlite3_column_int(pStmt, 1));
      }
      sqlite3_finalize(pStmt);
      if( bOk && strcmp(zWant, zGot) ){
        sprintf(zWhyBuf, "after %d commits: runs by level %s, expected %s", i, zGot, zWant);
        bOk = 0;
      }
    }
    ok("7.9 tiered merges: runs per level are the digits in radix 8, 8, 4",
       bOk, zWhyBuf);
    {
      DpSetHit aH[80];
      int nH = 0;
      uint64_t b[1] = {(uint64_t)7<<24};
      rc = dpSetIndexNearest(c.p, b, 1, DP_SET_JACCARD, 80, 0.0, 0, 0, 0, aH, &nH);
      ok("7.10 every document found after the merges", rc==SQLITE_OK && nH==70
         && aH[0].iId==1 && aH[69].iId==70
         && dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
    }
  }
  connClose(&c);

  /* 7.19: ids whose postings are varints of 7 to 9 bytes (2^41 to 2^61),
  ** around the 8 bytes that siGetVarint decodes at once: found by a
  ** ranking from pending pairs, from a flushed run and after 'optimize'
  ** merged it, and the integrity check agrees. */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.19 open", 0, "open"); return; }
  {
    static const sqlite3_int64 aId[] = {
      ((sqlite3_int64)1<<41) + 1, ((sqlite3_int64)1<<48) + 3,
      ((sqlite3_int64)1<<55) + 5, ((sqlite3_int64)1<<56) - 7,
      ((sqlite3_int64)1<<61) + 7, 5 };
    const int nId = (int)(sizeof(aId)/sizeof(aId[0]));
    uint64_t b[3];
    int i, iPhase, bOk = 1;
    zWhyBuf[0] = 0;
    b[0] = (uint64_t)21<<24; b[1] = (uint64_t)22<<24; b[2] = (uint64_t)23<<24;
    exec(&c, "BEGIN");
    for(i=0; i<nId; i++) dpSetIndexAdd(c.p, aId[i], b, 1 + i%3, 1);
    for(iPhase=0; bOk && iPhase<3; iPhase++){
      DpSetHit aH[8];
      int nH = 0, nSeen = 0, j;
      if( iPhase==1 ) commit(&c);
      if( iPhase==2 ){ exec(&c, "BEGIN"); dpSetIndexOptimize(c.p); commit(&c); }
      rc = dpSetIndexNearest(c.p, b, 3, DP_SET_JACCARD, 8, 0.0, 0, 0, 0, aH, &nH);
      for(i=0; i<nId; i++){
        for(j=0; j<nH; j++) if( aH[j].iId==aId[i] && aH[j].rSim==(double)(1 + i%3)/3.0 ) nSeen++;
      }
      if( rc || nH!=nId || nSeen!=nId ){
        sprintf(zWhyBuf, "phase %d: rc %d, %d hits, %d of %d right", iPhase, rc, nH, nSeen, nId);
        bOk = 0;
      }
    }
    if( bOk ){
      exec(&c, "BEGIN");
      rc = dpSetIndexIntegrity(c.p);
      exec(&c, "COMMIT");
      if( rc ){ sprintf(zWhyBuf, "integrity %d %s", rc, dpSetIndexErrmsg(c.p)); bOk = 0; }
    }
    ok("7.19 ids of 7- to 9-byte varints found pending, flushed and merged", bOk, zWhyBuf);
  }
  connClose(&c);

  /* 7.20: runs must not pile up behind a large merge.  Three commits of
  ** 200 documents leave three large runs of level 0; single-document
  ** commits then start a merge of those three and the first five small
  ** runs (fan-in 8), which gets 64 pairs of work a commit (~190 commits
  ** to finish).  The small runs of the 100 commits meanwhile must be
  ** merged beside it (the job of least work first): at most 24 searchable
  ** runs at any time (22 seen with this seed: the large merge's 8 inputs
  ** and the small runs of levels 0 and 1 waiting for eight of a level;
  ** 24 leaves a little room, not a derived worst case), where taking the
  ** lowest level first held every one of them back (over 100).  Decisions
  ** and rankings still equal the reference after. */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.20 open", 0, "open"); return; }
  {
    static Model m;
    uint64_t b[20];
    int i, j, n, nMaxRun = 0, bOk = 1, id = 1;
    zWhyBuf[0] = 0;
    dpSetIndexSetMergeMin(c.p, 64);
    for(i=0; i<3; i++){
      exec(&c, "BEGIN");
      for(j=0; j<200; j++, id++){
        for(n=0; n<20; n++) b[n] = makeHash();
        n = normalize(b, 20);
        dpSetIndexAdd(c.p, id, b, n, 1);
        modelPut(&m, id, b, n, 1);
      }
      commit(&c);
    }
    for(i=0; i<100; i++, id++){
      sqlite3_stmt *pStmt;
      for(n=0; n<3; n++) b[n] = makeHash();
      n = normalize(b, 3);
      exec(&c, "BEGIN");
      dpSetIndexAdd(c.p, id, b, n, 1);
      modelPut(&m, id, b, n, 1);
      commit(&c);
      sqlite3_prepare_v2(c.db, "SELECT count(*) FROM t_pruns WHERE level>=0"
                         " AND resume IS NULL", -1, &pStmt, 0);
      if( sqlite3_step(pStmt)==SQLITE_ROW && sqlite3_column_int(pStmt, 0)>nMaxRun ){
        nMaxRun = sqlite3_column_int(pStmt, 0);
      }
      sqlite3_finalize(pStmt);
    }
    if( nMaxRun>24 ){
      sprintf(zWhyBuf, "%d searchable runs at most", nMaxRun);
      bOk = 0;
    }
    for(i=0; bOk && i<20; i++){
      const Doc *d = &m.aDoc[1 + rndInt(id - 1)];
      bOk = compareQuery(&c, &m, d->a, d->n, i%2 ? DP_SET_COSINE : DP_SET_JACCARD,
                         0.5, 8, 0, -1, zWhyBuf);
    }
    if( bOk ){
      exec(&c, "BEGIN");
      if( dpSetIndexIntegrity(c.p) ){
        sprintf(zWhyBuf, "integrity: %s", dpSetIndexErrmsg(c.p));
        bOk = 0;
      }
      exec(&c, "COMMIT");
    }
    ok("7.20 small runs merge beside a large merge under way", bOk, zWhyBuf);
    modelFree(&m);
  }
  connClose(&c);

  /* 7.18: a ranking (k > 1) whose postings outnumber the first buffer that
  ** collects them (4,096 pairs), so that they are summed per candidate in
  ** the middle of the probe as well as at its end: 3,900 documents share
  ** one to three common keys, each of them under several hashes, written
  ** in runs, merged and pending. */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.18 open", 0, "open"); return; }
  {
    static Model m;
    uint64_t q[9], b[12];
    int i, j, nQ = 0, bOk = 1;
    zWhyBuf[0] = 0;
    for(j=0; j<3; j++){            /* the query: three keys, three hashes each */
      q[nQ++] = ((uint64_t)(11+j)<<24) | 1;
      q[nQ++] = ((uint64_t)(11+j)<<24) | 2;
      q[nQ++] = ((uint64_t)(11+j)<<24) | 3;
    }
    exec(&c, "BEGIN");
    for(i=1; i<=3900; i++){
      int n = 0;
      for(j=0; j<3; j++){
        if( j==0 || rndInt(3)==0 ){
          int h, nH = 1 + rndInt(3);
          for(h=1; h<=nH; h++) b[n++] = ((uint64_t)(11+j)<<24) | (uint64_t)h;
        }
      }
      b[n++] = ((uint64_t)(100000+i)<<24);
      if( rndInt(2) ) b[n++] = ((uint64_t)(200000+i)<<24);
      n = normalize(b, n);
      dpSetIndexAdd(c.p, i, b, n, i%5!=0);
      modelPut(&m, i, b, n, i%5!=0);
      if( i%700==0 ){ commit(&c); exec(&c, "BEGIN"); }
    }
    for(j=0; bOk && j<4; j++){
      bOk = compareQuery(&c, &m, q, nQ, j%2 ? DP_SET_COSINE : DP_SET_JACCARD,
                         0.2, 16, j>=2, j==3 ? 7 : -1, zWhyBuf);
    }
    commit(&c);
    ok("7.18 a ranking of 3,900 candidates equals the reference", bOk, zWhyBuf);
    modelFree(&m);
  }
  connClose(&c);

  /* 7.21: an insert's estimate does not ask a run for a key already found
  ** elsewhere when the answer would cost a row read (the run's fence group
  ** or the block's filter not cached); the probe must ask it, if it reads
  ** that key.  Run 1 holds P, X and as many keys more (jaccard 1/2 with
  ** X), run 2 X itself: a new connection decides X at 0.9, every key of X
  ** is found in run 1 first, so run 2 is left out of the estimate for all
  ** of them and only the probe's asking finds X (similarity 1); the same
  ** decision again once the filters are cached (none left out).  Then, on
  ** a new connection, a pending document holding X's keys (found before
  ** any run: both runs left out).  13.x covers the filter path too. */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.21 open", 0, "open"); return; }
  {
    static Model m;
    uint64_t x[40], pp[80], z[140];
    int i, nX, nP, nZ, bOk = 1;
    zWhyBuf[0] = 0;
    for(i=0; i<40; i++) x[i] = makeHash();
    nX = normalize(x, 40);
    memcpy(pp, x, sizeof(uint64_t)*(size_t)nX);
    for(i=0; i<nX; i++) pp[nX+i] = makeHash();
    nP = normalize(pp, 2*nX);
    exec(&c, "BEGIN");
    dpSetIndexAdd(c.p, 1, pp, nP, 1);
    modelPut(&m, 1, pp, nP, 1);
    commit(&c);
    exec(&c, "BEGIN");
    dpSetIndexAdd(c.p, 2, x, nX, 1);
    modelPut(&m, 2, x, nX, 1);
    commit(&c);
    connClose(&c);
    if( connOpen(&c, 0) ){ ok("7.21 reopen", 0, "open"); return; }
    for(i=0; bOk && i<2; i++){          /* cold, then with filters cached */
      bOk = compareQuery(&c, &m, x, nX, DP_SET_JACCARD, 0.9, 4, 0, -1, zWhyBuf);
      if( bOk ){
        DpSetHit h;
        int bFound = 0;
        dpSetIndexBest(c.p, x, nX, DP_SET_JACCARD, 0.9, 0, 0, &h, &bFound);
        if( !bFound || h.iId!=2 || h.rSim!=1.0 ){
          sprintf(zWhyBuf, "%s: best %s %lld %.17g", i ? "cached" : "cold",
                  bFound ? "found" : "none", bFound ? h.iId : -1LL, bFound ? h.rSim : 0.0);
          bOk = 0;
        }
      }
    }
    connClose(&c);
    if( bOk && connOpen(&c, 0) ){ ok("7.21 reopen", 0, "open"); return; }
    if( bOk ){
      static Model m2;
      modelCopy(&m2, &m);
      memcpy(z, x, sizeof(uint64_t)*(size_t)nX);
      for(i=0; i<100; i++) z[nX+i] = makeHash();
      nZ = normalize(z, nX + 100);
      exec(&c, "BEGIN");
      dpSetIndexAdd(c.p, 3, z, nZ, 1);    /* pending: X's keys, before runs */
      modelPut(&m2, 3, z, nZ, 1);
      bOk = compareQuery(&c, &m2, x, nX, DP_SET_JACCARD, 0.9, 4, 0, -1, zWhyBuf);
      dpSetIndexRollback(c.p);
      exec(&c, "ROLLBACK");
      modelFree(&m2);
    }
    ok("7.21 keys found present: runs left out of the estimate are asked by the probe",
       bOk, zWhyBuf);
    modelFree(&m);
  }
  connClose(&c);

  /* 7.22: the probe reads the rarest keys first, and a key's count in a
  ** block comes from the block's heavy keys (kept when the key has
  ** DP_SET_HEAVY_MIN or more postings there).  H (the smallest key) in
  ** 40 documents of one run: with every candidate sharing one key the
  ** probe stops after 7 keys, the 7 ri read first are 14 posting lists;
  ** H read among them (its count taken for 1) would make 13.  Cold (the
  ** estimate leaves the second run of each ri out; the probe asks it)
  ** and with every filter cached. */
  probeOrder("7.22 the probe reads the rare keys first, by the counts of heavy keys",
             (uint64_t)1<<24, 40, 14, 14, -1);
  /* 7.23: a key of fewer than DP_SET_HEAVY_MIN postings in its block has
  ** no count in memory and is estimated as a key of one.  H (now the
  ** largest key) in 3 documents: once every filter is cached each ri is
  ** estimated 2 (two runs) and H 1, so H is read first: 1 + 6 x 2 = 13
  ** posting lists (14 if H's count 3 were kept).  Cold, the ri are
  ** estimated 1 (one run asked) and H, last of the ties, is not read.
  ** With the answers of no run kept (dpSetIndexSetMaybeRuns 0), so that
  ** H's run is not ruled out as in 7.24. */
  probeOrder("7.23 a key of 3 postings in its block is estimated as one",
             ~(uint64_t)0xFFFFFF, 3, 14, 13, 0);
  /* 7.24: the same with every run's answers kept: once the filters are
  ** cached the estimate knows the 9 ri absent from H's run, whose
  ** documents can then share at most 1 of the 10 features (5 needed):
  ** that run is ruled out and H not read, 6 x 2 = 12 posting lists. */
  probeOrder("7.24 a run whose documents cannot qualify is not read",
             ~(uint64_t)0xFFFFFF, 3, 14, 12, -1);
}

/* Document id of nAll keys: nShare of q's 20 from q[iFrom] on (cyclic),
** the rest its own ((base + n) << 24); added, and put in the model. */
static void addSharing(Conn *c, Model *m, int id, const uint64_t *q,
                       int iFrom, int nShare, int nAll, uint64_t base){
  uint64_t a[40];
  int n;
  for(n=0; n<nShare; n++) a[n] = q[(iFrom + n) % 20];
  for(; n<nAll; n++) a[n] = (base + (uint64_t)n) << 24;
  n = normalize(a, nAll);
  dpSetIndexAdd(c->p, id, a, n, 1);
  modelPut(m, id, a, n, 1);
}

/* 7.25-7.27: the per-run bound ("ONE RUN A DOCUMENT" in the manual).
** A = 20 keys.  Run 1: documents sharing 2 of A's keys; run 2: D, 10 of
** A's keys and nothing else (jaccard 10/20, exactly the threshold 0.5),
** and documents sharing 1 of D's keys; run 3: documents sharing 3;
** pending: one sharing 2.  Runs 1 and 3 are ruled out; run 2 has exactly
** the 10 features a document needs (ruling it out at "<=" misses D): D
** is found, as the reference finds it (7.25).  Then D is removed and
** added again under its id with a set sharing 3 keys, in a later run:
** its dead pairs in run 2 must not make it a hit, the reference finds
** none (7.26).  7.27: postings of one document alive in two runs (made
** by hand: the set row deleted between two adds, then set to their
** union) is damage for the integrity check. */
static void testPerRun(void){
  static Model m;
  Conn c;
  uint64_t q[20];                  /* A: increasing, so already a set */
  int i, j, id = 1, bOk = 1;
  char zWhy[600] = "";
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.25 open", 0, "open"); return; }
  for(i=0; i<20; i++) q[i] = ((uint64_t)(1000 + i*37) << 24);
  for(j=0; j<3; j++){                      /* runs 1, 2, 3 */
    const int nShare = j==0 ? 2 : j==1 ? 1 : 3;
    exec(&c, "BEGIN");
    for(i=0; i<6; i++, id++){
      addSharing(&c, &m, id, q, j==1 ? i : i*3, nShare, 12,
                 500000 + (uint64_t)id*50);
    }
    if( j==1 ) addSharing(&c, &m, 100, q, 0, 10, 10, 900000);  /* D */
    commit(&c);
  }
  connClose(&c);
  if( connOpen(&c, 0) ){ ok("7.25 reopen", 0, "open"); return; }
  exec(&c, "BEGIN");
  addSharing(&c, &m, 200, q, 18, 2, 12, 700000);   /* pending: shares 2 */
  for(i=0; bOk && i<3; i++){               /* cold, then cached, twice */
    DpSetHit hit;
    int bFound = 0;
    bOk = compareQuery(&c, &m, q, 20, DP_SET_JACCARD, 0.5, 5, 0, -1, zWhy)
       && dpSetIndexBest(c.p, q, 20, DP_SET_JACCARD, 0.5, 0, 0, &hit, &bFound)==SQLITE_OK
       && bFound && hit.iId==100;
    if( !bOk && !zWhy[0] ) sprintf(zWhy, "pass %d: D not found", i);
  }
  ok("7.25 a qualifying document is found in the one run not ruled out", bOk, zWhy);
  commit(&c);                    /* the pending document flushed, as xSync */

  /* 7.25.1: after a rollback of D's removal and new set (flushed at a
  ** savepoint, so a run of its own was written and undone), D is found
  ** again; 7.25.2: on a second connection, whose filters the query has
  ** cached, before the commit of 7.26 */
  {
    static Model mUndone;          /* the undone set: not the reference's */
    Conn c2;
    int bFound = 0;
    exec(&c, "BEGIN");
    dpSetIndexRemove(c.p, 100, &bFound);
    addSharing(&c, &mUndone, 100, q, 0, 3, 20, 960000);
    dpSetIndexSavepoint(c.p, 0);
    exec(&c, "ROLLBACK");
    dpSetIndexRollback(c.p);
    modelFree(&mUndone);
    zWhy[0] = 0;
    ok("7.25.1 after a rollback: D found as before",
       compareQuery(&c, &m, q, 20, DP_SET_JACCARD, 0.5, 5, 0, -1, zWhy), zWhy);
    if( connOpen(&c2, 0) ){ ok("7.25.2 open", 0, "open"); return; }
    ok("7.25.2 another connection: D found",
       compareQuery(&c2, &m, q, 20, DP_SET_JACCARD, 0.5, 5, 0, -1, zWhy), zWhy);

    /* 7.26: D removed and added again with 3 of A's keys, in a new run */
    bOk = 1;
    zWhy[0] = 0;
    exec(&c, "BEGIN");
    dpSetIndexRemove(c.p, 100, &bFound);
    addSharing(&c, &m, 100, q, 0, 3, 20, 950000);
    commit(&c);
    /* 7.26.1: the other connection after this commit */
    ok("7.26.1 another connection after the commit: as the reference",
       compareQuery(&c2, &m, q, 20, DP_SET_JACCARD, 0.5, 5, 0, -1, zWhy), zWhy);
    connClose(&c2);
  }
  for(i=0; bOk && i<2; i++){
    bOk = compareQuery(&c, &m, q, 20, DP_SET_JACCARD, 0.5, 5, 0, -1, zWhy);
    if( bOk && i==0 ){                      /* and on a new connection */
      connClose(&c);
      if( connOpen(&c, 0) ){ bOk = 0; sprintf(zWhy, "reopen"); }
    }
  }
  if( bOk && dpSetIndexIntegrity(c.p) ){
    sprintf(zWhy, "integrity: %s", dpSetIndexErrmsg(c.p));
    bOk = 0;
  }
  ok("7.26 a document added again elsewhere: its dead pairs make no hit", bOk, zWhy);
  connClose(&c);
  modelFree(&m);

  /* 7.27 */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("7.27 open", 0, "open"); return; }
  {
    uint64_t x[1] = {(uint64_t)11<<24}, y[1] = {(uint64_t)22<<24};
    int rc;
    exec(&c, "BEGIN");
    dpSetIndexAdd(c.p, 1, x, 1, 1);
    commit(&c);
    rc = dpSetIndexIntegrity(c.p);
    exec(&c, "DELETE FROM t_sets WHERE id=1");
    exec(&c, "BEGIN");
    dpSetIndexAdd(c.p, 1, y, 1, 1);
    commit(&c);
    /* the set row: both hashes, 8 bytes little-endian each */
    exec(&c, "UPDATE t_sets SET n=2, h=x'0000000b000000000000001600000000'"
             " WHERE id=1");
    rc = rc==SQLITE_OK ? dpSetIndexIntegrity(c.p) : -1;
    ok("7.27 one document's postings alive in two runs are damage",
       rc==SQLITE_CORRUPT_VTAB
       && strstr(dpSetIndexErrmsg(c.p), "postings of document 1 of t are in two runs"),
       dpSetIndexErrmsg(c.p));
  }
  connClose(&c);
}

/* ---- 6.x out of memory at every allocation ---- */
static sqlite3_mem_methods realMem;
static int nCountdown = -1;     /* allocations left before failures; -1 off */
static int bFaulted = 0;        /* a failure was injected in this run */
static int bOneShot = 0;        /* only allocation N fails, not those after */
static int failNow(void){
  if( nCountdown<0 ) return 0;
  if( nCountdown==0 ){
    bFaulted = 1;
    if( bOneShot ) nCountdown = -1;
    return 1;
  }
  nCountdown--;
  return 0;
}
static void *faultMalloc(int n){ return failNow() ? 0 : realMem.xMalloc(n); }
static void *faultRealloc(void *p, int n){ return failNow() ? 0 : realMem.xRealloc(p, n); }
static void faultFree(void *p){ realMem.xFree(p); }
static int faultSize(void *p){ return realMem.xSize(p); }
static int faultRoundup(int n){ return realMem.xRoundup(n); }
static int faultInit(void *p){ return realMem.xInit(p); }
static void faultShutdown(void *p){ realMem.xShutdown(p); }

/* A script of index calls; failing calls roll their transaction back as
** the table will.  Returns the number of calls that failed. */
static int oomScript(sqlite3 *db){
  DpSetIndex *p = 0;
  char *zErr = 0;
  uint64_t a[64];
  int nFail = 0, i, j, rc;
  rc = dpSetIndexOpen(db, "main", "t", 0, &p, &zErr);
  sqlite3_free(zErr);
  if( rc ) return 1;
  for(j=0; j<3; j++){
    sqlite3_exec(db, "BEGIN", 0, 0, 0);
    rc = SQLITE_OK;
    for(i=0; rc==SQLITE_OK && i<8; i++){
      DpSetHit h;
      int bFound = 0, n = 0, k;
      for(k=0; k<40; k++) a[n++] = aKeyPool[(i*7 + k*13 + j) % 3000] << 24;
      n = normalize(a, n);
      rc = dpSetIndexBest(p, a, n, DP_SET_JACCARD, 0.5, 0, 0, &h, &bFound);
      if( rc==SQLITE_OK ) rc = dpSetIndexAdd(p, 1 + j*100 + i, a, n, !bFound);
      if( rc==SQLITE_OK && i==3 ){
        rc = dpSetIndexSync(p);                      /* xSavepoint */
        if( rc==SQLITE_OK ) rc = sqlite3_exec(db, "SAVEPOINT s", 0, 0, 0);
      }
      if( rc==SQLITE_OK && i==6 ){
        rc = sqlite3_exec(db, "ROLLBACK TO s", 0, 0, 0);
        dpSetIndexRollback(p);
      }
    }
    if( rc==SQLITE_OK && j>0 ){
      int bFound;
      rc = dpSetIndexRemove(p, 1 + (j-1)*100, &bFound);
    }
    if( rc==SQLITE_OK ) rc = dpSetIndexSync(p);
    if( rc==SQLITE_OK ) rc = dpSetIndexMerge(p, 1000, 0);
    if( rc==SQLITE_OK && j==2 ) rc = dpSetIndexOptimize(p);
    if( rc==SQLITE_OK ) rc = sqlite3_exec(db, "COMMIT", 0, 0, 0);
    if( rc ){
      nFail++;
      sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
      dpSetIndexRollback(p);
    }
  }
  {
    DpSetHit aHit[4];
    int nHit;
    sqlite3_exec(db, "BEGIN", 0, 0, 0);
    if( dpSetIndexNearest(p, a, 40, DP_SET_COSINE, 4, 0.0, 0, 0, 0, aHit, &nHit) ) nFail++;
    sqlite3_exec(db, "COMMIT", 0, 0, 0);
  }
  dpSetIndexClose(p);
  return nFail;
}

/* 6.2: a call that fails as SQLite failed (out of memory here) has no
** message of its own, and must not show the message of an earlier
** failure (the table would print it with the new code).  After an insert
** refused for unsorted hashes, each call that can fail is made to fail
** at its first allocation. */
static void testStaleMessage(void){
  Conn c;
  uint64_t a[3] = {1<<24, 2<<24, 3<<24}, b[2] = {2<<24, 1<<24};
  DpSetHit h[2];
  sqlite3_int64 nSet = 0;
  int nHit = 0, bFound = 0, iCall, bOk = 1;
  char zWhy[300] = "";
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("6.2 open", 0, "open"); return; }
  exec(&c, "BEGIN");
  dpSetIndexAdd(c.p, 1, a, 3, 1);
  commit(&c);
  for(iCall=0; bOk && iCall<5; iCall++){
    int rc;
    exec(&c, "BEGIN");
    rc = dpSetIndexAdd(c.p, 9, b, 2, 1);        /* refused, with a message */
    if( rc!=SQLITE_MISUSE || strstr(dpSetIndexErrmsg(c.p), "sorted")==0 ){
      sprintf(zWhy, "unsorted: %d %s", rc, dpSetIndexErrmsg(c.p));
      bOk = 0;
      break;
    }
    bOneShot = 1;
    nCountdown = 0;
    switch( iCall ){
      case 0: rc = dpSetIndexAdd(c.p, 2, a, 3, 1); break;
      case 1: rc = dpSetIndexNearest(c.p, a, 3, DP_SET_JACCARD, 2, 0.0, 0, 0, 0,
                                     h, &nHit); break;
      case 2: rc = dpSetIndexBest(c.p, a, 3, DP_SET_JACCARD, 0.5, 0, 0, h,
                                  &bFound); break;
      case 3: rc = dpSetIndexIntegrity(c.p); break;
      default: rc = dpSetIndexCount(c.p, &nSet); break;
    }
    nCountdown = -1;
    bOneShot = 0;
    if( rc!=SQLITE_OK && strstr(dpSetIndexErrmsg(c.p), "sorted") ){
      sprintf(zWhy, "call %d failed (%d) with the earlier message: %s", iCall,
              rc, dpSetIndexErrmsg(c.p));
      bOk = 0;
    }
    dpSetIndexRollback(c.p);
    exec(&c, "ROLLBACK");
  }
  ok("6.2 a failure without a message of its own shows no earlier one", bOk, zWhy);
  connClose(&c);
}

static void testOom(void){
  int n, nRun = 0, bOk = 1, iPass;
  char zWhy[200] = "";
  /* allocation N and every later one fail, then (one-shot) only N: a
  ** single failed allocation among several made together is seen; then
  ** from N on again past the soft heap limit, where no filter is cached
  ** (each read into an allocation of its own, siBlkMaybeOnce) */
  for(iPass=0; iPass<3 && bOk; iPass++)
  for(n=1, bOneShot=iPass==1; n<100000 && bOk; n++){
    sqlite3 *db = 0;
    DpSetIndex *p = 0;
    char *zErr = 0;
    int rc;
    unlink(zPath);
    if( sqlite3_open(zPath, &db) ){ bOk = 0; break; }
    sqlite3_exec(db, "PRAGMA synchronous=OFF", 0, 0, 0);  /* no fsync: faster */
    rc = dpSetIndexOpen(db, "main", "t", 1, &p, &zErr);
    dpSetIndexClose(p);
    sqlite3_free(zErr);
    if( rc ){ sqlite3_close(db); bOk = 0; break; }
    bFaulted = 0;
    nCountdown = n;
    if( iPass==2 ) sqlite3_soft_heap_limit64(1);
    oomScript(db);
    sqlite3_soft_heap_limit64(0);
    nCountdown = -1;
    nRun++;
    /* whatever failed, what is stored is consistent */
    p = 0;
    rc = dpSetIndexOpen(db, "main", "t", 0, &p, &zErr);
    if( rc==SQLITE_OK ) rc = dpSetIndexIntegrity(p);
    if( rc ){
      sprintf(zWhy, "allocation %d: integrity %d %.100s", n, rc,
              p ? dpSetIndexErrmsg(p) : (zErr ? zErr : ""));
      bOk = 0;
    }
    sqlite3_free(zErr);
    dpSetIndexClose(p);
    sqlite3_close(db);
    if( !bFaulted ) break;           /* the script ran to its end */
  }
  bOneShot = 0;
  printf("  out of memory: %d runs\n", nRun);
  ok("6.1 out of memory at every allocation (from N on, or N alone): "
     "consistent afterwards", bOk, zWhy);

  /* 6.2 the integrity check itself out of memory at allocation N: it
  ** answers SQLITE_NOMEM (or OK: SQLite ignores some failures), never a
  ** crash or a false report of damage */
  {
    sqlite3 *db = 0;
    DpSetIndex *p = 0;
    char *zErr = 0;
    int rc = SQLITE_OK;
    bOk = 1; nRun = 0;
    unlink(zPath);
    if( sqlite3_open(zPath, &db)==SQLITE_OK
     && sqlite3_exec(db, "PRAGMA synchronous=OFF", 0, 0, 0)==SQLITE_OK
     && dpSetIndexOpen(db, "main", "t", 1, &p, &zErr)==SQLITE_OK ){
      dpSetIndexClose(p);
      p = 0;
      oomScript(db);
      for(n=1; n<100000 && bOk; n++){
        rc = dpSetIndexOpen(db, "main", "t", 0, &p, &zErr);
        if( rc ){ bOk = 0; sprintf(zWhy, "open %d", rc); break; }
        bFaulted = 0;
        nCountdown = n;
        rc = dpSetIndexIntegrity(p);
        nCountdown = -1;
        nRun++;
        if( rc!=SQLITE_OK && rc!=SQLITE_NOMEM ){
          sprintf(zWhy, "allocation %d: integrity %d %.100s", n, rc, dpSetIndexErrmsg(p));
          bOk = 0;
        }
        dpSetIndexClose(p);
        p = 0;
        if( !bFaulted ) break;
      }
    }else{
      bOk = 0;
    }
    sqlite3_free(zErr);
    sqlite3_close(db);
    printf("  integrity out of memory: %d runs\n", nRun);
    ok("6.2 integrity-check out of memory: NOMEM, never damage", bOk && rc==SQLITE_OK, zWhy);
  }
}

/* ---- 8.x fence keys out of range ---- */
/* A run's fence keys are 40-bit posting keys: a first key of 2^40 or more
** in a fence row is damage, named as such when the run is read (the first
** block's key is absolute, so this is the only check that sees it). */
static void testFenceRange(void){
  Conn c;
  uint64_t a[1];
  char *zErr = 0;
  int rc;
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("8.0 open", 0, "open"); return; }
  a[0] = (uint64_t)0x123456<<24;
  exec(&c, "BEGIN");
  dpSetIndexAdd(c.p, 1, a, 1, 1);
  commit(&c);
  connClose(&c);
  /* one block: varint first key 2^40 (LEB128 80 80 80 80 80 20), 1 pair */
  rc = damage("UPDATE t_pfence SET data = x'80808080802001'");
  if( rc==SQLITE_OK ){
    rc = reopen(&c, &zErr);
    if( rc==SQLITE_OK ){
      exec(&c, "BEGIN");
      rc = dpSetIndexIntegrity(c.p);
      exec(&c, "COMMIT");
    }
  }
  ok("8.1 a fence key of 2^40 is a damaged fence row", rc==SQLITE_CORRUPT_VTAB
     && ((zErr && strstr(zErr, "a fence row"))
         || (c.p && strstr(dpSetIndexErrmsg(c.p), "a fence row"))),
     zErr ? zErr : c.p ? dpSetIndexErrmsg(c.p) : "");
  sqlite3_free(zErr);
  zErr = 0;
  connClose(&c);
  /* a run row that says it has no block (and no pair): damage, named as
  ** the run row (not an allocation of nothing failing) */
  rc = damage("UPDATE t_pruns SET nblock = 0, npair = 0");
  if( rc==SQLITE_OK ) rc = reopen(&c, &zErr);
  ok("8.4 a run row of no block is a damaged run row", rc==SQLITE_CORRUPT_VTAB
     && zErr && strstr(zErr, "a run row"), zErr ? zErr : "");
  sqlite3_free(zErr);
  connClose(&c);
  /* fence rows that decode but say what no writer writes, each with a
  ** run row that agrees with its block and pair counts (so only the fence
  ** row's own check can see it); the key 0x123456 is the varint d6 e8 48.
  ** 8.8: 4,096 blocks of keys 1..4096 in the run's first fence row, and a
  ** second row whose first key (4096, varint 80 20) is not above them. */
  {
    static const struct { const char *zName; const char *zSql; } aCase[] = {
      {"8.5 a fence delta of 0 (two blocks, one key)",
       "UPDATE t_pfence SET data = x'd6e848010001';"
       "UPDATE t_pruns SET nblock = 2, npair = 2"},
      {"8.6 a block of no pair",
       "UPDATE t_pfence SET data = x'd6e848020100';"
       "UPDATE t_pruns SET nblock = 2, npair = 2"},
      {"8.7 a block of 2^31 pairs",
       "UPDATE t_pfence SET data = x'd6e8488080808008';"
       "UPDATE t_pruns SET nblock = 1, npair = 2147483648"},
      {"8.8 a fence row that starts at or below the row before",
       "UPDATE t_pfence SET data = x'%s';"
       "INSERT INTO t_pfence(id, data) SELECT id*16777216 + 1, x'802001' FROM t_pruns;"
       "UPDATE t_pruns SET nblock = 4097, npair = 4097"},
      /* a first key of 2^64-2^39 and a delta of 2^39+5 sum, wrapped, to a
      ** last key of 5: every value must be checked, not only the last
      ** (a first version let it through and then filled the directory
      ** 64 MB past its end) */
      {"8.9 a first fence past 2^40 that a delta wraps back into range",
       "UPDATE t_pfence SET data = x'8080808080f0ffffff010185808080801001';"
       "UPDATE t_pruns SET nblock = 2, npair = 2"},
    };
    int iCase;
    char *zHex = malloc(4096*4 + 1);   /* 4,096 blocks: delta 1, 1 pair */
    for(iCase=0; iCase<4096; iCase++) memcpy(&zHex[iCase*4], "0101", 4);
    zHex[4096*4] = 0;
    zErr = 0;
    for(iCase=0; iCase<(int)(sizeof(aCase)/sizeof(aCase[0])); iCase++){
      unlink(zPath);
      if( connOpen(&c, 1) ){ ok(aCase[iCase].zName, 0, "open"); return; }
      exec(&c, "BEGIN");
      dpSetIndexAdd(c.p, 1, a, 1, 1);
      commit(&c);
      connClose(&c);
      {
        char *zSql = sqlite3_mprintf(aCase[iCase].zSql, zHex);  /* 8.8's %s */
        rc = damage(zSql);
        sqlite3_free(zSql);
      }
      if( rc!=SQLITE_OK ){
        ok(aCase[iCase].zName, 0, "the damage could not be made");
        continue;
      }
      rc = reopen(&c, &zErr);
      ok(aCase[iCase].zName, rc==SQLITE_CORRUPT_VTAB
         && zErr && strstr(zErr, "a fence row"), zErr ? zErr : "not refused");
      sqlite3_free(zErr);
      zErr = 0;
      connClose(&c);
    }
    free(zHex);
  }
}

/* ---- 8.2 hashes one apart (one posting key) ---- */
/* Two hashes that differ by 1 are a valid set (the integrity check must
** not take them for a repeat); swapped in the stored row, they are a set
** out of order, which only the order check sees (same key, same
** postings). */
static void testAdjacentHashes(void){
  Conn c;
  uint64_t a[2];
  int rc;
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("8.2 open", 0, "open"); return; }
  a[0] = ((uint64_t)0x777777<<24) | 5;
  a[1] = a[0] + 1;
  exec(&c, "BEGIN");
  dpSetIndexAdd(c.p, 1, a, 2, 1);
  commit(&c);
  exec(&c, "BEGIN");
  rc = dpSetIndexIntegrity(c.p);
  exec(&c, "COMMIT");
  ok("8.2 hashes one apart: a sound set", rc==SQLITE_OK, dpSetIndexErrmsg(c.p));
  /* little-endian: 05 00 00 77 77 77 00 00, then 06 ... */
  exec(&c, "UPDATE t_sets SET h = x'0600007777770000' || x'0500007777770000'"
           " WHERE id=1");
  exec(&c, "UPDATE t_sets SET h = CAST(h AS BLOB) WHERE id=1");
  exec(&c, "BEGIN");
  rc = dpSetIndexIntegrity(c.p);
  exec(&c, "COMMIT");
  ok("8.3 the same two swapped: out of order", rc==SQLITE_CORRUPT_VTAB
     && strstr(dpSetIndexErrmsg(c.p), "order"), dpSetIndexErrmsg(c.p));
  connClose(&c);
}

/* 9.1 dpSortU64 (the sort of a document's hashes) against qsort: random
** values, values sharing most bytes (passes skipped), duplicates, sizes
** 0 to 2,000. */
static int cmpU64Ref(const void *a, const void *b){
  uint64_t x = *(const uint64_t*)a, y = *(const uint64_t*)b;
  return (x>y) - (x<y);
}
static void testSortU64(void){
  static uint64_t a[2000], aRef[2000], aTmp[2000];
  static const int aN[] = { 0, 1, 2, 3, 17, 255, 256, 257, 600, 2000 };
  int bad = 0, t, kind, i;
  for(kind=0; kind<3 && !bad; kind++){
    for(t=0; t<(int)(sizeof(aN)/sizeof(aN[0])) && !bad; t++){
      int n = aN[t];
      for(i=0; i<n; i++){
        uint64_t r = rnd();
        a[i] = kind==0 ? r                                   /* random */
             : kind==1 ? (0xABCDEF0000000000ull | (r & 0xff00ff))  /* few digits */
             : (r % 7) << 56;                                /* duplicates */
        aRef[i] = a[i];
      }
      dpSortU64(a, aTmp, n);
      qsort(aRef, (size_t)n, sizeof(uint64_t), cmpU64Ref);
      if( n>0 && memcmp(a, aRef, sizeof(uint64_t)*(size_t)n)!=0 ){
        printf("! 9.1: kind %d, n %d\n", kind, n);
        bad = 1;
      }
    }
  }
  ok("9.1 dpSortU64 equals qsort", !bad, 0);
}

/* 10.x the all-pairs join of dedup_index (ext/setjoin.c) against every
** pair compared here: random sets with shared and skewed hashes (near
** copies of earlier sets, empty and one-hash sets, a pool of common
** hashes), both measures, thresholds from 0.3 to 1 and exactly at a
** reachable value, 1 to 3 threads (forced, also below the size at which
** dedup_index starts threads), 0 to 1,200 sets; a poll that stops the
** join at its Nth call; out of memory at allocation N. */
static void joinMake(DpSetAll *p, int nSet){
  int i, j, nHash = 0;
  uint64_t *aTmp = malloc(sizeof(uint64_t)*64*(size_t)(nSet+1));
  int *aN = malloc(sizeof(int)*(size_t)(nSet+1));
  memset(p, 0, sizeof(*p));
  for(i=0; i<nSet; i++){
    uint64_t *a = &aTmp[(size_t)i*64];
    int n;
    if( i>0 && rndInt(10)<4 ){
      /* a near copy of an earlier set: a few hashes dropped or added */
      int src = rndInt(i), nChange = rndInt(4);
      n = aN[src];
      memcpy(a, &aTmp[(size_t)src*64], sizeof(uint64_t)*(size_t)n);
      for(j=0; j<nChange; j++){
        if( n>0 && rndInt(2) ) a[rndInt(n)] = rnd();
        else if( n<60 ) a[n++] = aKeyPool[rndInt(1 + rndInt(300))];
      }
    }else{
      n = rndInt(10)==0 ? rndInt(2) : 2 + rndInt(40);
      for(j=0; j<n; j++){
        /* skewed: low pool indexes are common to many sets */
        a[j] = rndInt(3)==0 ? aKeyPool[rndInt(1 + rndInt(300))] : rnd();
      }
    }
    n = normalize(a, n);
    aN[i] = n;
    nHash += n;
  }
  p->n = nSet;
  p->aId = sqlite3_malloc64(sizeof(sqlite3_int64)*(size_t)(nSet+1));
  p->aOff = sqlite3_malloc64(sizeof(sqlite3_int64)*(size_t)(nSet+1));
  p->aHash = sqlite3_malloc64(sizeof(uint64_t)*(size_t)(nHash+1));
  p->nHashAlloc = nHash+1;
  for(nHash=0, i=0; i<nSet; i++){
    p->aId[i] = (sqlite3_int64)i*3 - 50;
    p->aOff[i] = nHash;
    memcpy(&p->aHash[nHash], &aTmp[(size_t)i*64], sizeof(uint64_t)*(size_t)aN[i]);
    nHash += aN[i];
  }
  p->aOff[nSet] = nHash;
  free(aTmp);
  free(aN);
}

static int cmpPairRef(const void *pa, const void *pb){
  const DpPair *a = pa, *b = pb;
  if( a->i!=b->i ) return (a->i > b->i) - (a->i < b->i);
  return (a->j > b->j) - (a->j < b->j);
}

/* Every pair of p sharing a hash, compared one by one, with its
** similarity by eMeasure: *pn of them, by (i, j). */
static DpPair *joinAllPairs(const DpSetAll *p, int eMeasure, int *pn){
  DpPair *a = 0;
  int n = 0, nAlloc = 0, i, j;
  for(i=0; i<p->n; i++){
    int ni = (int)(p->aOff[i+1] - p->aOff[i]);
    for(j=i+1; j<p->n; j++){
      int nj = (int)(p->aOff[j+1] - p->aOff[j]);
      int k = inter(&p->aHash[p->aOff[i]], ni, &p->aHash[p->aOff[j]], nj);
      if( k>0 ){
        if( n>=nAlloc ){
          nAlloc = nAlloc ? nAlloc*2 : 64;
          a = realloc(a, sizeof(DpPair)*(size_t)nAlloc);
        }
        a[n].i = i; a[n].j = j; a[n].r = refSim(eMeasure, k, ni, nj);
        n++;
      }
    }
  }
  *pn = n;
  return a;
}
/* Those of aAll[0..nAll) at or above t, into a (room for nAll): *pn. */
static void joinAtLeast(const DpPair *aAll, int nAll, double t, DpPair *a,
                        int *pn){
  int i, n = 0;
  for(i=0; i<nAll; i++){ if( aAll[i].r>=t ) a[n++] = aAll[i]; }
  *pn = n;
}

/* dpSetJoin's pairs, sorted, equal to the reference's (same doubles)? */
static int joinSame(const DpPair *aRef, int nRef, DpPair *a, int n){
  int i;
  if( n!=nRef ) return 0;
  if( n>1 ) qsort(a, (size_t)n, sizeof(DpPair), cmpPairRef);
  for(i=0; i<n; i++){
    if( a[i].i!=aRef[i].i || a[i].j!=aRef[i].j || a[i].r!=aRef[i].r ) return 0;
  }
  return 1;
}

static int nPollLeft = -1;
static int joinPoll(void *p){
  (void)p;
  if( nPollLeft<0 ) return SQLITE_OK;
  return nPollLeft-- == 0 ? SQLITE_INTERRUPT : SQLITE_OK;
}

static void testJoin(void){
  static const int aSize[] = { 0, 1, 2, 300, 1200 };
  static const double aT[] = { 0.3, 0.5, 2.0/3.0, 0.8, 1.0 };
  int bad = 0, nCase = 0, nWithPairs = 0, s, m, t, th;
  char zWhy[200] = "";
  for(s=0; s<(int)(sizeof(aSize)/sizeof(aSize[0])) && !bad; s++){
    DpSetAll all;
    joinMake(&all, aSize[s]);
    for(m=0; m<2 && !bad; m++){
      int nAll;
      DpPair *aAll = joinAllPairs(&all, m, &nAll);
      DpPair *aRef = malloc(sizeof(DpPair)*(size_t)(nAll+1));
      for(t=0; t<(int)(sizeof(aT)/sizeof(aT[0])) + 1 && !bad; t++){
        int nRef, n = 0, rc;
        DpPair *a = 0;
        /* the last threshold is exactly a similarity that occurs */
        double tx = t<(int)(sizeof(aT)/sizeof(aT[0])) ? aT[t]
                  : nAll>0 ? aAll[nAll/2].r : 0.5;
        joinAtLeast(aAll, nAll, tx, aRef, &nRef);
        /* 1 to 3 threads; the largest with 2 (time) */
        for(th=aSize[s]>1000 ? 2 : 1; th<=(aSize[s]>1000 ? 2 : 3) && !bad; th++){
          rc = dpSetJoin(&all, m, tx, th, 0, 0, &a, &n);
          if( rc!=SQLITE_OK || !joinSame(aRef, nRef, a, n) ){
            sprintf(zWhy, "%d sets, measure %d, t %.17g, %d threads: rc %d,"
                    " %d pairs, want %d", aSize[s], m, tx, th, rc, n, nRef);
            bad = 1;
          }
          sqlite3_free(a);
          a = 0;
          nCase++;
        }
        if( nRef>0 ) nWithPairs++;
      }
      free(aAll);
      free(aRef);
    }
    dpSetAllFree(&all);
  }
  ok("10.1 dpSetJoin equals every pair compared", !bad, zWhy);
  ok("10.2 the cases have pairs and none", nCase==156 && nWithPairs>10, 0);
  {
    /* a poll that answers SQLITE_INTERRUPT at its Nth call stops the join
    ** with that code and no pairs (leaks: under ASan).  On one thread, so
    ** that the calls are the same every run (with two, the other thread
    ** may take every chunk and the calling one poll fewer than N times on
    ** a busy machine); the last case, N = 0, on two threads. */
    DpSetAll all;
    int N, nStopped = 0, bWrong = 0;
    joinMake(&all, 1200);
    for(N=0; N<9; N++){
      DpPair *a = 0;
      int n = -1, rc;
      nPollLeft = N<8 ? N : 0;
      rc = dpSetJoin(&all, DP_SET_JACCARD, 0.5, N<8 ? 1 : 2, joinPoll, 0,
                     &a, &n);
      nPollLeft = -1;
      if( rc==SQLITE_INTERRUPT ){
        nStopped++;
        if( a!=0 || n!=0 ) bWrong = 1;
      }else if( rc!=SQLITE_OK ){
        bWrong = 1;
      }
      sqlite3_free(a);
    }
    ok("10.3 a poll stops the join", nStopped==9 && !bWrong, 0);
    dpSetAllFree(&all);
    /* out of memory at allocation N, for every N: SQLITE_NOMEM, or the
    ** right pairs once no allocation failed */
    joinMake(&all, 300);
    {
      int nRef, nNomem = 0;
      DpPair *aRef = joinAllPairs(&all, DP_SET_COSINE, &nRef);
      joinAtLeast(aRef, nRef, 0.6, aRef, &nRef);
      bWrong = 0;
      for(N=0; N<200; N++){
        DpPair *a = 0;
        int n = 0, rc;
        bFaulted = 0;
        nCountdown = N;
        rc = dpSetJoin(&all, DP_SET_COSINE, 0.6, 2, 0, 0, &a, &n);
        nCountdown = -1;
        if( bFaulted ){
          if( rc==SQLITE_NOMEM ) nNomem++;
          else if( rc!=SQLITE_OK || !joinSame(aRef, nRef, a, n) ) bWrong = 1;
        }else{
          if( rc!=SQLITE_OK || !joinSame(aRef, nRef, a, n) ) bWrong = 1;
          sqlite3_free(a);
          break;
        }
        sqlite3_free(a);
      }
      ok("10.4 out of memory in the join: SQLITE_NOMEM or the right pairs",
         !bWrong && nNomem>3 && N<200, 0);
      free(aRef);
    }
    dpSetAllFree(&all);
  }
}

/* ---- 11.x a table written with 512-pair blocks (builds before 2026-12):
** read, merged and its merge in progress resumed by this build ---- */
/* The filter words of a filter row (varint nKey, varint nHeavy, nHeavy
** pairs of varints, then the words: see setindex.c), or -1. */
static int filterWords(const unsigned char *a, int n){
  int i = 0, k, nItem;
  uint64_t v = 0;
  for(k=0; k<2; k++){             /* nKey, nHeavy */
    int s = 0;
    v = 0;
    do{ if( i>=n ) return -1; v |= (uint64_t)(a[i] & 0x7f)<<s; s += 7; }while( a[i++] & 0x80 );
  }
  nItem = (int)v*2;
  for(k=0; k<nItem; k++){
    do{ if( i>=n ) return -1; }while( a[i++] & 0x80 );
  }
  return (n - i)%8 ? -1 : (n - i)/8;
}

/* Filter rows with 64 words (bOld: blocks as written before 2026-12) or
** with fewer. */
static sqlite3_int64 countFilters(Conn *c, int bOld){
  sqlite3_stmt *pStmt = 0;
  sqlite3_int64 n = 0;
  if( sqlite3_prepare_v2(c->db, "SELECT data FROM t_pfilter", -1, &pStmt, 0)==SQLITE_OK ){
    while( sqlite3_step(pStmt)==SQLITE_ROW ){
      int w = filterWords(sqlite3_column_blob(pStmt, 0), sqlite3_column_bytes(pStmt, 0));
      if( w<0 ) return -1;
      if( (w==64)==(bOld!=0) ) n++;
    }
  }
  sqlite3_finalize(pStmt);
  return n;
}

static sqlite3_int64 scalar(Conn *c, const char *zSql){
  sqlite3_stmt *pStmt = 0;
  sqlite3_int64 v = -1;
  if( sqlite3_prepare_v2(c->db, zSql, -1, &pStmt, 0)==SQLITE_OK
   && sqlite3_step(pStmt)==SQLITE_ROW ){
    v = sqlite3_column_int64(pStmt, 0);
  }
  sqlite3_finalize(pStmt);
  return v;
}

static void testOldBlocks(void){
  Conn c;
  Model *m = calloc(1, sizeof(Model));
  Stats st;
  char zWhy[512] = "";
  int rc, i;
  memset(&st, 0, sizeof(st));
  unlink(zPath);
  rngState = 4242;
  if( connOpen(&c, 1) ){ ok("11.0 open", 0, "open"); return; }
  dpSetIndexSetOldBlocks(c.p, 1);
  dpSetIndexSetMergeMin(c.p, 1);     /* merges left in progress sooner */
  rc = randomOps(&c, m, 500, &st, zWhy, 0);
  /* commits until a merge is left in progress (its output begun with
  ** 512-pair blocks): a level-2 merge is larger than the work one commit
  ** does (DP_SET_MERGE_FACTOR x the pairs it flushed) */
  for(i=0; rc==SQLITE_OK && i<400
           && scalar(&c, "SELECT count(*) FROM t_pruns WHERE resume IS NOT NULL")==0; i++){
    rc = randomOps(&c, m, 3, &st, zWhy, 0);    /* ends with a commit */
  }
  printf("  %d commits to leave a merge in progress\n", i);
  ok("11.1 old blocks written, a merge in progress",
     rc==SQLITE_OK && countFilters(&c, 1)>0 && countFilters(&c, 0)==0
     /* no restart points (first byte 0), and some of 128 keys or more
     ** (a two-byte varint nKey first) */
     && scalar(&c, "SELECT count(*) FROM t_pblocks WHERE substr(data, 1, 1)=x'00'")==0
     && scalar(&c, "SELECT count(*) FROM t_pblocks WHERE hex(substr(data, 1, 1))>='80'")>0
     && scalar(&c, "SELECT count(*) FROM t_pruns WHERE resume IS NOT NULL")>0,
     zWhy);
  connClose(&c);
  /* this build: new runs of its own blocks beside the old ones */
  if( connOpen(&c, 0) ){ ok("11.2 reopen", 0, "open"); return; }
  ok("11.2 a new connection over old runs decides as the reference",
     allQueries(&c, m, zWhy), zWhy);
  dpSetIndexSetMergeMin(c.p, 1);
  rc = randomOps(&c, m, 500, &st, zWhy, 0);
  ok("11.3 writes, merges and rollbacks over old and new runs",
     rc==SQLITE_OK && countFilters(&c, 0)>0
     && scalar(&c, "SELECT count(*) FROM t_pblocks WHERE substr(data, 1, 1)=x'00'")>0,
     zWhy);
  ok("11.4 the same decisions as the reference", allQueries(&c, m, zWhy), zWhy);
  ok("11.5 integrity-check (one block size in each run)",
     dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
  exec(&c, "BEGIN");
  rc = dpSetIndexOptimize(c.p);
  if( rc==SQLITE_OK ) rc = commit(&c);
  ok("11.6 'optimize' of several runs writes this build's blocks",
     rc==SQLITE_OK && countFilters(&c, 1)==0 && countFilters(&c, 0)>0,
     dpSetIndexErrmsg(c.p));
  ok("11.7 the same decisions after it", allQueries(&c, m, zWhy), zWhy);
  connClose(&c);
  modelFree(m);
  free(m);
}


/* ---- 12.x fence groups ---- */
/* Runs are read a fence group (64 blocks) at a time, from a summary row
** per run; runs of old fence rows (4,096 blocks a row, no summary) are
** read whole and rewritten in groups by later merges.  Runs of many
** blocks need many distinct keys: every new hash here is random. */
#define FG_SUMMARY_SQL(zCond) "SELECT count(*) FROM t_pruns r WHERE level>=0" \
  " AND resume IS NULL AND nblock>64 AND " zCond \
  " EXISTS(SELECT 1 FROM t_pfence WHERE id=r.id*16777216 + 16777215)"

/* Add nDoc documents of fresh hashes (some near-copies) in one
** transaction, decided as the table would. */
static int bulkAdd(Conn *c, Model *m, int nDoc, char *zWhy){
  static uint64_t a[400];
  int i, nUsed = 0, rc = exec(c, "BEGIN");
  for(i=0; i<MAXDOC; i++) nUsed += m->aDoc[i].bUsed;
  if( nDoc>MAXDOC - 500 - nUsed ) nDoc = MAXDOC - 500 - nUsed;  /* room for randomOps */
  for(i=0; rc==SQLITE_OK && i<nDoc; i++){
    int n = makeSet(m, a, 300), id = modelFreeId(m), bFound = 0;
    DpSetHit h;
    rc = dpSetIndexBest(c->p, a, n, DP_SET_JACCARD, 0.5, 0, 0, &h, &bFound);
    if( rc==SQLITE_OK ) rc = addDoc(c, id, a, n, !bFound);
    if( rc ){ sprintf(zWhy, "bulk add: %s", dpSetIndexErrmsg(c->p)); break; }
    modelPut(m, id, a, n, !bFound);
  }
  if( rc==SQLITE_OK ) rc = commit(c);
  return rc;
}

/* Every stored document's best match under damage: the reference's
** answer or SQLITE_CORRUPT_VTAB naming a fence row, never another
** answer; *pnCorrupt counts the refusals. */
static int queriesUnderDamage(Conn *c, const Model *m, int *pnCorrupt,
                              char *zWhy){
  int id;
  *pnCorrupt = 0;
  for(id=0; id<MAXDOC; id++){
    const Doc *d = &m->aDoc[id];
    DpSetHit aRef[1], hit;
    sqlite3_int64 iSkip = id;
    int nRef, bFound = 0, rc;
    if( !d->bUsed ) continue;
    nRef = refNearest(m, d->a, d->n, DP_SET_JACCARD, 1, 0.5, 1, id, aRef);
    rc = dpSetIndexBest(c->p, d->a, d->n, DP_SET_JACCARD, 0.5, &iSkip, 1,
                        &hit, &bFound);
    if( rc==SQLITE_CORRUPT_VTAB && strstr(dpSetIndexErrmsg(c->p), "a fence row") ){
      (*pnCorrupt)++;
      continue;
    }
    if( rc!=SQLITE_OK || bFound!=(nRef>0)
     || (bFound && (hit.iId!=aRef[0].iId || hit.rSim!=aRef[0].rSim)) ){
      sprintf(zWhy, "document %d: rc=%d %s, found %d (reference %d)", id, rc,
              dpSetIndexErrmsg(c->p), bFound, nRef);
      return 0;
    }
  }
  return 1;
}

/* Damage one fence row: the first whose id matches zWhere, its bytes
** edited by xEdit (a..*pn, room for 20,480 bytes; SQLITE_OK to write it
** back), everything else as written. */
static int editFenceRow(const char *zWhere, int (*xEdit)(unsigned char*, int*)){
  sqlite3 *db = 0;
  sqlite3_stmt *pStmt = 0;
  unsigned char *a = malloc(20480);
  char *zSql = sqlite3_mprintf("SELECT id, data FROM t_pfence WHERE %s", zWhere);
  int n = 0, rc = sqlite3_open(zPath, &db);
  sqlite3_int64 iId = 0;
  if( rc==SQLITE_OK ) rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if( rc==SQLITE_OK && sqlite3_step(pStmt)==SQLITE_ROW
   && sqlite3_column_bytes(pStmt, 1)<=20480 ){
    iId = sqlite3_column_int64(pStmt, 0);
    n = sqlite3_column_bytes(pStmt, 1);
    memcpy(a, sqlite3_column_blob(pStmt, 1), n);
  }else if( rc==SQLITE_OK ){
    rc = SQLITE_ERROR;
  }
  sqlite3_finalize(pStmt);
  pStmt = 0;
  if( rc==SQLITE_OK ) rc = xEdit(a, &n);
  if( rc==SQLITE_OK ){
    rc = sqlite3_prepare_v2(db, "UPDATE t_pfence SET data=?2 WHERE id=?1", -1, &pStmt, 0);
  }
  if( rc==SQLITE_OK ){
    sqlite3_bind_int64(pStmt, 1, iId);
    sqlite3_bind_blob(pStmt, 2, a, n, SQLITE_TRANSIENT);
    rc = sqlite3_step(pStmt)==SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
  }
  sqlite3_finalize(pStmt);
  sqlite3_close(db);
  sqlite3_free(zSql);
  free(a);
  return rc;
}

/* Group 1's first fence (its first varint's low byte) one less. */
static int editFirstFence(unsigned char *a, int *pn){
  if( *pn==0 || (a[0] & 0x7f)==0 ) return SQLITE_ERROR;   /* (not for this key) */
  a[0]--;
  return SQLITE_OK;
}
static int damageFirstFence(void){
  return editFenceRow("(id & 16777215)=1", editFirstFence);
}

/* The summary's first key of group 2 raised halfway to group 3's (group
** 3's delta lowered to match: the keys still increase and sum to the same
** last key), every count as written.  Varints are LEB128. */
static int editSummaryKey(unsigned char *a, int *pn){
  uint64_t aV[2*1024], x;
  int nV = 0, i = 0, n = 0;
  while( i<*pn && nV<2*1024 ){
    uint64_t v = 0;
    int sh = 0;
    do{ v |= (uint64_t)(a[i] & 0x7f)<<sh; sh += 7; }while( a[i++] & 0x80 );
    aV[nV++] = v;
  }
  if( nV<8 || aV[6]<2 ) return SQLITE_ERROR;   /* (delta, pairs) of 4 groups */
  x = aV[6]/2;
  aV[4] += x;                /* group 2's first key */
  aV[6] -= x;                /* group 3's delta */
  for(i=0; i<nV; i++){
    uint64_t v = aV[i];
    do{ a[n++] = (unsigned char)((v & 0x7f) | (v>0x7f ? 0x80 : 0)); v >>= 7; }while( v );
  }
  *pn = n;
  return SQLITE_OK;
}
static int damageSummaryKey(void){
  return editFenceRow("(id & 16777215)=16777215", editSummaryKey);
}

/* A new table from seed: nOld documents in a run of old fence rows, then
** nNew in a run of groups; the model m holds them.  Closed after. */
static int makeFenceTable(Model *m, uint64_t seed, int nOld, int nNew, char *zWhy){
  Conn c;
  int rc;
  modelFree(m);
  rngState = seed;
  unlink(zPath);
  rc = connOpen(&c, 1);
  if( rc ) return rc;
  dpSetIndexSetOldFences(c.p, 1);
  if( nOld>0 ) rc = bulkAdd(&c, m, nOld, zWhy);
  dpSetIndexSetOldFences(c.p, 0);
  if( rc==SQLITE_OK && nNew>0 ) rc = bulkAdd(&c, m, nNew, zWhy);
  connClose(&c);
  return rc;
}

static void testFenceGroups(void){
  Conn c, c2;
  Model *m = calloc(1, sizeof(Model));
  Stats st;
  DpSetIndexStat info;
  char zWhy[512] = "";
  int rc, i;
  memset(&st, 0, sizeof(st));
  bFreshHashes = 1;
  rngState = 1212;

  /* a table as builds before 2026-12-01 wrote it: rows of 4,096 blocks,
  ** and a merge of such runs left in progress */
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("12.0 open", 0, "open"); goto done; }
  dpSetIndexSetOldFences(c.p, 1);
  /* two runs of more than a group, then small commits: the merge of
  ** four level-0 runs is more than a small commit's merge work */
  dpSetIndexSetMergeMin(c.p, 2000);
  rc = bulkAdd(&c, m, 800, zWhy);
  if( rc==SQLITE_OK ) rc = bulkAdd(&c, m, 300, zWhy);
  for(i=0; rc==SQLITE_OK && i<20
           && scalar(&c, "SELECT count(*) FROM t_pruns WHERE resume IS NOT NULL AND nblock>64")==0; i++){
    rc = bulkAdd(&c, m, 10, zWhy);
  }
  dpSetIndexInfo(c.p, &info);
  printf("  old fence rows: %d runs, %lld blocks, %d of them old, %d commits to a merge in progress\n",
         info.nRun, info.nBlock, info.nRunOldFences, i);
  ok("12.1 old fence rows written: no summary, runs of more than a group, a merge of more than a group in progress",
     rc==SQLITE_OK && info.nRunOldFences>=2 && info.nGroup==0
     && scalar(&c, "SELECT count(*) FROM t_pfence WHERE (id & 16777215)=16777215")==0
     && scalar(&c, "SELECT count(*) FROM t_pruns WHERE resume IS NOT NULL AND nblock>64")>0,
     zWhy);
  connClose(&c);

  /* this build over them: read whole, the same decisions */
  if( connOpen(&c, 0) ){ ok("12.2 reopen", 0, "open"); goto done; }
  ok("12.2 a new connection over old fence rows decides as the reference",
     strideQueries(&c, m, 3, zWhy), zWhy);
  dpSetIndexInfo(c.p, &info);
  ok("12.3 old runs are read whole", info.nRunOldFences>=2 && info.nGroup==0, "");

  /* commits: the merge begun in old rows goes on in them (a wrong guess
  ** of its row size would read as damage), and every merge call rewrites
  ** one old run in groups */
  dpSetIndexSetMergeMin(c.p, 2000);
  for(i=0; i<40; i++){
    rc = randomOps(&c, m, 20, &st, zWhy, 1);
    if( rc ) break;
    dpSetIndexInfo(c.p, &info);
    if( info.nRunOldFences==0
     && scalar(&c, "SELECT count(*) FROM t_pruns WHERE resume IS NOT NULL")==0 ){
      break;
    }
  }
  printf("  %d rounds of commits to rewrite the old runs\n", i);
  ok("12.4 commits rewrite old runs in groups, each with a summary",
     rc==SQLITE_OK && info.nRunOldFences==0
     && scalar(&c, FG_SUMMARY_SQL("NOT"))==0 && scalar(&c, FG_SUMMARY_SQL(""))>0,
     zWhy);
  ok("12.5 integrity-check after the rewrite", dpSetIndexIntegrity(c.p)==SQLITE_OK,
     dpSetIndexErrmsg(c.p));
  ok("12.6 the same decisions after it", strideQueries(&c, m, 3, zWhy), zWhy);
  rc = bulkAdd(&c, m, 600, zWhy);
  ok("12.7 a bulk load in groups", rc==SQLITE_OK, zWhy);
  connClose(&c);

  /* a new connection reads the summaries and the groups its probes land
  ** in, no more */
  if( connOpen(&c, 0) ){ ok("12.8 reopen", 0, "open"); goto done; }
  {
    uint64_t one[1];
    DpSetHit hit;
    int bFound = 0;
    one[0] = rnd();
    exec(&c, "BEGIN");
    rc = dpSetIndexBest(c.p, one, 1, DP_SET_JACCARD, 0.5, 0, 0, &hit, &bFound);
    exec(&c, "COMMIT");
    dpSetIndexInfo(c.p, &info);
    printf("  new connection, one-key search: %lld of %lld groups read, %d runs,"
           " %lld filters cached of %lld\n",
           info.nGroupRead, info.nGroup, info.nRun, info.nBlockCached, info.nBlock);
    /* at most two groups a run (the one the key falls in, and the next
    ** when it falls in the group's last block), or a run whole once half
    ** of it is read: a few, not the table's */
    ok("12.8 a one-key search reads a few groups, not every run's",
       rc==SQLITE_OK && !bFound && info.nGroup>=10
       && info.nGroupRead<=2*info.nRun && info.nGroupRead*2<info.nGroup,
       dpSetIndexErrmsg(c.p));
    /* and caches the filter each run's probe reads, more only of a run so
    ** small that one filter is a quarter of them (then its whole chunk of
    ** 5 blocks): here 1 + 4 + 1 of runs of 323, 4 and 210 blocks; a
    ** chunk a run (the rule for large runs undone) would be 5 + 4 + 5 */
    ok("12.8.1 a one-key search caches about a filter a run, not chunks",
       info.nBlockCached*2<info.nRun*5, "");
  }
  ok("12.9 a new connection decides as the reference, groups read as needed",
     strideQueries(&c, m, 3, zWhy), zWhy);
  dpSetIndexInfo(c.p, &info);
  printf("  after every document's query: %lld of %lld groups read\n",
         info.nGroupRead, info.nGroup);

  /* cold and warm: another connection's commits, rollbacks */
  if( connOpen(&c2, 0) ){ ok("12.10 second connection", 0, "open"); goto done; }
  {
    int nRollback0 = st.nRollback;
    rc = randomOps(&c, m, 200, &st, zWhy, 1);
    if( rc==SQLITE_OK ) rc = bulkAdd(&c, m, 300, zWhy);
    ok("12.10 the first connection writes, merges and rolls back",
       rc==SQLITE_OK && st.nRollback>nRollback0, zWhy);
  }
  ok("12.11 the second, new, sees it and decides as the reference",
     strideQueries(&c2, m, 3, zWhy), zWhy);
  rc = randomOps(&c2, m, 200, &st, zWhy, 1);
  ok("12.12 the second writes and rolls back, the first decides as the reference",
     rc==SQLITE_OK && strideQueries(&c, m, 3, zWhy), zWhy);
  ok("12.13 integrity-check", dpSetIndexIntegrity(c.p)==SQLITE_OK,
     dpSetIndexErrmsg(c.p));
  connClose(&c2);
  connClose(&c);

  /* a rewrite in groups rolled back: the run is read again, and the next
  ** merge call rewrites it again */
  {
    sqlite3_int64 n1 = -1, n2 = -1, n3 = -1;
    int bIdle = 0;
    const char *zSummaries = "SELECT count(*) FROM t_pfence WHERE (id & 16777215)=16777215";
    rc = makeFenceTable(m, 2121, 400, 0, zWhy);
    if( rc==SQLITE_OK ) rc = connOpen(&c, 0);
    if( rc==SQLITE_OK ){
      exec(&c, "BEGIN");
      rc = dpSetIndexMerge(c.p, 1, &bIdle);
      n1 = scalar(&c, zSummaries);
      exec(&c, "ROLLBACK");
      dpSetIndexRollback(c.p);
      n2 = scalar(&c, zSummaries);
      exec(&c, "BEGIN");
      if( rc==SQLITE_OK ) rc = dpSetIndexMerge(c.p, 1, &bIdle);
      if( rc==SQLITE_OK ) rc = commit(&c);
      n3 = scalar(&c, zSummaries);
      dpSetIndexInfo(c.p, &info);
    }
    sprintf(zWhy, "rc=%d summaries %lld, after rollback %lld, after commit %lld, old runs %d",
            rc, n1, n2, n3, info.nRunOldFences);
    ok("12.21 a rewrite rolled back is done again by the next merge call",
       rc==SQLITE_OK && n1==1 && n2==0 && n3==1 && info.nRunOldFences==0, zWhy);
    ok("12.21.1 and decides as the reference, integrity-check passes",
       rc==SQLITE_OK && strideQueries(&c, m, 3, zWhy)
       && dpSetIndexIntegrity(c.p)==SQLITE_OK, zWhy);
    if( c.db ) connClose(&c);
  }

  /* 12.25 savepoints: a run flushed inside a savepoint and undone by ROLLBACK
  ** TO is dropped from the cache, and the next flush, which takes the same
  ** run id (max + 1) with other postings, is what searches read; a rollback
  ** of a statement's savepoint keeps the runs and filters cached before it
  ** (dropping them would re-read every filter after each refused INSERT) */
  {
    uint64_t aX[40], aY[40];
    DpSetHit hit;
    int bX = -1, bY = -1, bX2 = -1, nRun0 = -1, nRun1 = -1;
    sqlite3_int64 nCached0 = -1, nCached1 = -1, iRunX = -1, iRunY = -1;
    rc = makeFenceTable(m, 2125, 0, 1200, zWhy);
    for(i=0; i<40; i++){ aX[i] = rnd(); aY[i] = rnd(); }
    qsort(aX, 40, 8, cmpU64); qsort(aY, 40, 8, cmpU64);
    if( rc==SQLITE_OK ) rc = connOpen(&c, 0);
    /* another connection's commit: its run is read by c inside c's write
    ** transaction below (as the runs of a table by its first INSERT) */
    if( rc==SQLITE_OK ) rc = connOpen(&c2, 0);
    if( rc==SQLITE_OK ){ rc = bulkAdd(&c2, m, 600, zWhy); connClose(&c2); }
    if( rc==SQLITE_OK ){
      exec(&c, "BEGIN IMMEDIATE");
      /* searches inside the write transaction: the runs are read in it */
      for(i=0; rc==SQLITE_OK && i<MAXDOC; i+=7){
        int bHit;
        if( !m->aDoc[i].bUsed ) continue;
        rc = dpSetIndexBest(c.p, m->aDoc[i].a, m->aDoc[i].n, DP_SET_JACCARD,
                            0.5, 0, 0, &hit, &bHit);
      }
      dpSetIndexInfo(c.p, &info);
      nCached0 = info.nFilterRead; nRun0 = info.nRun;
      /* a statement's savepoint opened and rolled back (a refused INSERT) */
      if( rc==SQLITE_OK ) rc = dpSetIndexSavepoint(c.p, 0);
      exec(&c, "SAVEPOINT stmt"); exec(&c, "ROLLBACK TO stmt"); exec(&c, "RELEASE stmt");
      dpSetIndexRollbackTo(c.p, 0);
      dpSetIndexRelease(c.p, 0);
      /* the first search again: nothing to read again */
      for(i=0; rc==SQLITE_OK && i<MAXDOC && !m->aDoc[i].bUsed; i+=7){}
      if( rc==SQLITE_OK && i<MAXDOC ){
        int bHit;
        rc = dpSetIndexBest(c.p, m->aDoc[i].a, m->aDoc[i].n, DP_SET_JACCARD,
                            0.5, 0, 0, &hit, &bHit);
      }
      dpSetIndexInfo(c.p, &info);
      nCached1 = info.nFilterRead; nRun1 = info.nRun;
      if( rc==SQLITE_OK ) rc = dpSetIndexBest(c.p, aX, 40, DP_SET_JACCARD, 0.5, 0, 0, &hit, &bX);
      /* X written inside savepoint a, flushed at the next savepoint */
      if( rc==SQLITE_OK ) rc = dpSetIndexSavepoint(c.p, 0);
      exec(&c, "SAVEPOINT a");
      if( rc==SQLITE_OK ) rc = dpSetIndexAdd(c.p, 900001, aX, 40, 1);
      if( rc==SQLITE_OK ) rc = dpSetIndexSavepoint(c.p, 1);
      exec(&c, "SAVEPOINT b");
      iRunX = scalar(&c, "SELECT max(id) FROM t_pruns");
      exec(&c, "ROLLBACK TO a");
      dpSetIndexRollbackTo(c.p, 0);
      /* Y instead, flushed under the same run id */
      if( rc==SQLITE_OK ) rc = dpSetIndexAdd(c.p, 900002, aY, 40, 1);
      if( rc==SQLITE_OK ) rc = dpSetIndexSavepoint(c.p, 1);
      iRunY = scalar(&c, "SELECT max(id) FROM t_pruns");
      if( rc==SQLITE_OK ) rc = dpSetIndexBest(c.p, aX, 40, DP_SET_JACCARD, 0.5, 0, 0, &hit, &bX2);
      if( rc==SQLITE_OK ) rc = dpSetIndexBest(c.p, aY, 40, DP_SET_JACCARD, 0.5, 0, 0, &hit, &bY);
      if( rc==SQLITE_OK ) rc = commit(&c);
      if( rc==SQLITE_OK ) dpSetIndexCommit(c.p);
    }
    sprintf(zWhy, "rc=%d runs %d -> %d, filter rows read %lld -> %lld, X found %d then %d, Y %d (id %lld), run ids %lld %lld",
            rc, nRun0, nRun1, nCached0, nCached1, bX, bX2, bY, bY ? hit.iId : -1, iRunX, iRunY);
    ok("12.25 a statement's rollback keeps the runs and filters cached",
       rc==SQLITE_OK && nRun1==nRun0 && nCached1==nCached0 && nCached0>0 && bX==0, zWhy);
    ok("12.25.1 a run undone by ROLLBACK TO is dropped: the run of the same id after it is read",
       rc==SQLITE_OK && iRunX==iRunY && bX2==0 && bY==1 && hit.iId==900002, zWhy);
    ok("12.25.2 and integrity-check passes",
       rc==SQLITE_OK && dpSetIndexIntegrity(c.p)==SQLITE_OK, dpSetIndexErrmsg(c.p));
    if( c.db ) connClose(&c);
  }

  /* 12.26 a rewrite in groups inside a statement that fails: SQLite rolls
  ** the statement's savepoint back and releases it at once; the run must
  ** still be dropped from the cache (its tag not lowered by the release),
  ** so that the next merge call rewrites it again */
  {
    sqlite3_int64 n1 = -1, n2 = -1, n3 = -1;
    int bIdle = 0;
    const char *zSummaries = "SELECT count(*) FROM t_pfence WHERE (id & 16777215)=16777215";
    rc = makeFenceTable(m, 2126, 400, 0, zWhy);
    if( rc==SQLITE_OK ) rc = connOpen(&c, 0);
    if( rc==SQLITE_OK ){
      exec(&c, "BEGIN");
      rc = dpSetIndexSavepoint(c.p, 0);
      exec(&c, "SAVEPOINT stmt");
      if( rc==SQLITE_OK ) rc = dpSetIndexMerge(c.p, 1, &bIdle);
      n1 = scalar(&c, zSummaries);
      exec(&c, "ROLLBACK TO stmt");
      dpSetIndexRollbackTo(c.p, 0);
      exec(&c, "RELEASE stmt");
      dpSetIndexRelease(c.p, 0);
      n2 = scalar(&c, zSummaries);
      if( rc==SQLITE_OK ) rc = dpSetIndexMerge(c.p, 1, &bIdle);
      if( rc==SQLITE_OK ) rc = commit(&c);
      if( rc==SQLITE_OK ) dpSetIndexCommit(c.p);
      n3 = scalar(&c, zSummaries);
    }
    sprintf(zWhy, "rc=%d summaries %lld, after the statement's rollback %lld, after commit %lld",
            rc, n1, n2, n3);
    ok("12.26 a rewrite undone with its statement is done again by the next merge call",
       rc==SQLITE_OK && n1==1 && n2==0 && n3==1, zWhy);
    if( c.db ) connClose(&c);
  }

  /* 12.24 out of memory at allocation N over a new connection's first
  ** searches (groups read one by one, a run of old rows read whole), a
  ** merge call that rewrites the old run, and integrity-check, each
  ** transaction rolled back: SQLITE_NOMEM or the reference's answer,
  ** never damage; every 3rd N, from N on and at N alone */
  {
    int n, bOk = 1, nRun = 0, idA = -1, idB = -1;
    char zWhyOom[512] = "";
    rc = makeFenceTable(m, 2424, 300, 300, zWhy);
    for(i=0; i<MAXDOC; i++){
      if( m->aDoc[i].bUsed && m->aDoc[i].n>20 ){ if( idA<0 ) idA = i; else idB = i; }
    }
    for(n=1; rc==SQLITE_OK && bOk && n<200000; n+=3){
      int iShot;
      for(iShot=0; iShot<2 && bOk; iShot++){
        DpSetHit hit, aRef[1], aGot[5];
        int bFound = 0, nGot = 0, bIdle = 0, rcs[4], j;
        sqlite3_int64 iSkip = idA;
        if( connOpen(&c, 0) ){ bOk = 0; sprintf(zWhyOom, "open"); break; }
        exec(&c, "BEGIN");
        bFaulted = 0;
        bOneShot = iShot;
        nCountdown = n;
        rcs[0] = dpSetIndexBest(c.p, m->aDoc[idA].a, m->aDoc[idA].n, DP_SET_JACCARD,
                                0.5, &iSkip, 1, &hit, &bFound);
        rcs[1] = dpSetIndexNearest(c.p, m->aDoc[idB].a, m->aDoc[idB].n, DP_SET_COSINE,
                                   5, 0.0, 0, 0, 0, aGot, &nGot);
        rcs[2] = dpSetIndexMerge(c.p, 1, &bIdle);
        rcs[3] = dpSetIndexIntegrity(c.p);
        nCountdown = -1;
        bOneShot = 0;
        nRun++;
        sqlite3_exec(c.db, "ROLLBACK", 0, 0, 0);
        dpSetIndexRollback(c.p);
        for(j=0; j<4 && bOk; j++){
          if( rcs[j]!=SQLITE_OK && rcs[j]!=SQLITE_NOMEM ){
            bOk = 0;
            sprintf(zWhyOom, "allocation %d%s, call %d: rc=%d %.200s", n,
                    iShot ? " alone" : "", j, rcs[j], dpSetIndexErrmsg(c.p));
          }
        }
        if( bOk && rcs[0]==SQLITE_OK ){
          int nRef = refNearest(m, m->aDoc[idA].a, m->aDoc[idA].n, DP_SET_JACCARD,
                                1, 0.5, 1, idA, aRef);
          if( bFound!=(nRef>0) || (bFound && hit.iId!=aRef[0].iId) ){
            bOk = 0;
            sprintf(zWhyOom, "allocation %d: best answered %lld, reference %lld",
                    n, bFound ? hit.iId : -1LL, nRef ? aRef[0].iId : -1LL);
          }
        }
        connClose(&c);
        if( !bFaulted && iShot==0 ) n = 1<<30;  /* the calls ran to their end */
      }
    }
    if( bOk && connOpen(&c, 0)==SQLITE_OK ){
      exec(&c, "BEGIN");
      bOk = dpSetIndexIntegrity(c.p)==SQLITE_OK;
      exec(&c, "COMMIT");
      if( !bOk ) sprintf(zWhyOom, "integrity after: %s", dpSetIndexErrmsg(c.p));
      if( bOk ) bOk = strideQueries(&c, m, 5, zWhyOom);
      connClose(&c);
    }
    printf("  fence groups out of memory: %d runs\n", nRun);
    ok("12.24 out of memory over lazy group reads, a run read whole, a rewrite and integrity-check: NOMEM, never damage",
       rc==SQLITE_OK && bOk && nRun>100, zWhyOom);
  }

  /* damage: a table of one run of many groups, each time made anew */
  {
    static const struct { const char *zName; const char *zSql; int eWant; } aCase[] = {
      /* eWant 0: refused on open; 1: some searches refused, none wrong,
      ** integrity-check refuses; 2: searches right, integrity-check
      ** refuses */
      {"12.14 a summary row of garbage",
       "UPDATE t_pfence SET data=randomblob(length(data)) WHERE (id & 16777215)=16777215", 0},
      {"12.15 a summary that does not sum to the run's pairs",
       "UPDATE t_pruns SET npair=npair+1 WHERE level>=0", 0},
      {"12.16 a group row holding the next group's fences",
       "UPDATE t_pfence SET data=(SELECT data FROM t_pfence f WHERE f.id=t_pfence.id+1)"
       " WHERE (id & 16777215)=1", 1},
      {"12.17 a group row missing",
       "DELETE FROM t_pfence WHERE (id & 16777215)=2", 1},
      {"12.18 a group row of one block too many",
       "UPDATE t_pfence SET data=data || x'01' || x'01' WHERE (id & 16777215)=1", 1},
      {"12.19 the summary row missing (the rows read whole instead)",
       "DELETE FROM t_pfence WHERE (id & 16777215)=16777215", 2},
      {"12.20 a group's first fence one below the summary's", 0, 1},
      {"12.22 a summary whose first key of a group is raised", "", 1},
      {"12.23 a fence row past the run's groups",
       "INSERT INTO t_pfence(id, data) SELECT id*16777216 + 1000, x'0101' FROM t_pruns WHERE level>=0", 2},
    };
    int iCase;
    for(iCase=0; iCase<(int)(sizeof(aCase)/sizeof(aCase[0])); iCase++){
      char *zErr = 0;
      int nCorrupt = 0, bOk;
      modelFree(m);
      rngState = 77 + iCase;
      unlink(zPath);
      if( connOpen(&c, 1) ){ ok(aCase[iCase].zName, 0, "open"); goto done; }
      rc = bulkAdd(&c, m, 900, zWhy);
      if( rc==SQLITE_OK ){
        exec(&c, "BEGIN");
        rc = dpSetIndexOptimize(c.p);
        if( rc==SQLITE_OK ) rc = commit(&c);
      }
      if( rc==SQLITE_OK && scalar(&c, "SELECT max(nblock) FROM t_pruns")<=3*64 ){
        rc = SQLITE_ERROR;             /* groups 1 and 2 must be full */
      }
      connClose(&c);
      if( rc==SQLITE_OK ){
        rc = aCase[iCase].zSql==0 ? damageFirstFence()
           : aCase[iCase].zSql[0]==0 ? damageSummaryKey() : damage(aCase[iCase].zSql);
      }
      if( rc ){ ok(aCase[iCase].zName, 0, "could not make the damage"); continue; }
      rc = reopen(&c, &zErr);
      if( aCase[iCase].eWant==0 ){
        DpSetHit hit;
        int bFound, id;
        for(id=0; id<MAXDOC && !m->aDoc[id].bUsed; id++){}
        if( rc==SQLITE_OK ){
          exec(&c, "BEGIN");
          rc = dpSetIndexBest(c.p, m->aDoc[id].a, m->aDoc[id].n, DP_SET_JACCARD,
                              0.5, 0, 0, &hit, &bFound);
          exec(&c, "COMMIT");
        }
        bOk = rc==SQLITE_CORRUPT_VTAB
           && ((zErr && strstr(zErr, "fence row")) || (c.p && strstr(dpSetIndexErrmsg(c.p), "fence row")));
        sprintf(zWhy, "rc=%d %s", rc, zErr ? zErr : c.p ? dpSetIndexErrmsg(c.p) : "");
      }else{
        bOk = rc==SQLITE_OK;
        if( bOk ){
          exec(&c, "BEGIN");
          bOk = queriesUnderDamage(&c, m, &nCorrupt, zWhy);
          exec(&c, "COMMIT");
          if( bOk && aCase[iCase].eWant==1 && nCorrupt==0 ){
            bOk = 0; sprintf(zWhy, "no search refused");
          }
          if( bOk && aCase[iCase].eWant==2 && nCorrupt>0 ){
            bOk = 0; sprintf(zWhy, "%d searches refused", nCorrupt);
          }
          if( bOk ){
            exec(&c, "BEGIN");
            rc = dpSetIndexIntegrity(c.p);
            exec(&c, "COMMIT");
            bOk = rc==SQLITE_CORRUPT_VTAB && strstr(dpSetIndexErrmsg(c.p), "fence row");
            if( !bOk ) sprintf(zWhy, "integrity-check: %d %s", rc, dpSetIndexErrmsg(c.p));
          }
        }else{
          sprintf(zWhy, "open: %s", zErr ? zErr : "");
        }
      }
      ok(aCase[iCase].zName, bOk, zWhy);
      sqlite3_free(zErr);
      if( c.p || c.db ) connClose(&c);
    }
  }
done:
  bFreshHashes = 0;
  modelFree(m); free(m);
}

/* ---- 13.x runs an insert's estimate leaves out ----
** An insert's search (k = 1) does not ask a run about a key found maybe
** elsewhere when the answer would read a row (the run's fence groups not
** all read, or the block's filter not cached); the probe asks that run if
** it reads the key.  Queries whose every key is in a superset in the first
** run, near-copies of them (minus keys, halves, plus keys) in a large run
** of many blocks and groups and in later small runs; new connections that
** keep the answers of 0 to 64 runs, with and without pending documents
** holding the queries' keys; jaccard and cosine at each query's best
** similarities and one ulp either side; then another connection's
** commits of a near-copy and a copy, read by a connection whose filters
** of the older runs are cached (the block-filter path). */
static int loAdd(Conn *c, Model *m, const uint64_t *a, int n){
  int id = modelFreeId(m);
  int rc = addDoc(c, id, a, n, 1);
  modelPut(m, id, a, n, 1);
  return rc;
}
#define LO_NQ 6
static uint64_t loQ[LO_NQ][200];
static int loN[LO_NQ];
/* every planted query at thresholds at and next to its best similarities */
static int loCheck(Conn *c, const Model *m, char *zWhy, int *pnCase){
  int q, e, t, w;
  for(q=0; q<LO_NQ; q++){
    for(e=0; e<2; e++){
      DpSetHit aRef[4];
      int nRef = refNearest(m, loQ[q], loN[q], e, 3, 0.0, 1, -1, aRef);
      for(w=0; w<nRef; w++){
        for(t=0; t<3; t++){
          double s = aRef[w].rSim;
          if( t==1 ) s = nextafter(s, 0.0);
          if( t==2 ) s = nextafter(s, 2.0);
          (*pnCase)++;
          if( !compareQuery(c, m, loQ[q], loN[q], e, s, 4, 1, -1, zWhy) ){
            char z[100];
            sprintf(z, " [q=%d e=%d w=%d t=%d]", q, e, w, t);
            strcat(zWhy, z);
            return 0;
          }
        }
      }
    }
  }
  return 1;
}
static void testLeftOut(void){
  Conn c, c2;
  Model *m = calloc(1, sizeof(Model));
  Model *m2 = calloc(1, sizeof(Model));
  char zWhy[1024] = "";
  int rc = SQLITE_OK, i, q, r, bOk = 1, nCase = 0, iMaybe;
  static const int aMaybe[] = {0, 1, 2, 3, 64};
  uint64_t a[400];
  DpSetIndexStat info;
  bFreshHashes = 1;
  rngState = 9191;
  unlink(zPath);
  if( connOpen(&c, 1) ){ ok("13.0 open", 0, "open"); return; }
  for(q=0; q<LO_NQ; q++){
    for(i=0; i<40+20*q; i++) loQ[q][i] = rnd();
    loN[q] = normalize(loQ[q], 40+20*q);
  }
  /* run 1: supersets of every query (all its keys found in the first run) */
  exec(&c, "BEGIN");
  for(q=0; q<LO_NQ; q++){
    int n = loN[q];
    memcpy(a, loQ[q], sizeof(uint64_t)*n);
    for(i=0; i<n; i++) a[n+i] = rnd();
    loAdd(&c, m, a, normalize(a, 2*n));
  }
  commit(&c);
  /* big runs of many blocks and groups */
  dpSetIndexSetMergeMin(c.p, 1);
  exec(&c, "BEGIN");                 /* near-copies inside a big run */
  for(q=0; q<LO_NQ; q++){
    if( q%2 ) continue;
    memcpy(a, loQ[q], sizeof(uint64_t)*loN[q]);
    loAdd(&c, m, a + 1, loN[q] - 1);
  }
  for(i=0; i<500; i++){
    int n = makeSet(m, a, 300);
    loAdd(&c, m, a, n);
  }
  rc = commit(&c);
  if( rc==SQLITE_OK ) rc = bulkAdd(&c, m, 300, zWhy);
  /* small commits: near-copies at several distances, halves, in later runs */
  for(r=0; rc==SQLITE_OK && r<60; r++){
    exec(&c, "BEGIN");
    for(q=0; q<LO_NQ; q++){
      int n = 0, drop = 1 + rndInt(6);
      for(i=0; i<loN[q]; i++){
        if( r%3==0 && i<drop ) continue;            /* minus drop keys */
        if( r%3==1 && (i&1) ) continue;             /* half */
        a[n++] = loQ[q][i];
      }
      if( r%3==2 ) for(i=0; i<1+rndInt(4); i++) a[n++] = rnd();  /* plus */
      loAdd(&c, m, a, normalize(a, n));
    }
    for(i=0; i<2; i++){                             /* other documents */
      int n = makeSet(m, a, 300);
      loAdd(&c, m, a, n);
    }
    rc = commit(&c);
    dpSetIndexInfo(c.p, &info);
    if( r>=6 && info.nRun>=7 ) break;
  }
  dpSetIndexInfo(c.p, &info);
  printf("  13.x: %d runs, %lld blocks, %lld groups\n", info.nRun, info.nBlock, info.nGroup);
  connClose(&c);
  if( rc || info.nRun<5 || info.nGroup<info.nRun + 2 ){
    sprintf(zWhy, "setup: rc=%d, %d runs, %lld groups", rc, info.nRun, info.nGroup);
    ok("13.0 the table: runs of several fence groups", 0, zWhy);
    modelFree(m); modelFree(m2); free(m); free(m2);
    bFreshHashes = 0;
    return;
  }

  /* new connections, answers kept for 0..64 runs, with and without pending
  ** documents holding the query's keys */
  for(iMaybe=0; bOk && iMaybe<5; iMaybe++){
    int bPend;
    for(bPend=0; bOk && bPend<2; bPend++){
      if( connOpen(&c, 0) ){ ok("13.1 open", 0, "open"); return; }
      dpSetIndexSetMaybeRuns(c.p, aMaybe[iMaybe]);
      /* every other connection: a MATCH reads no uncached filter */
      if( (iMaybe + bPend) % 2 ) dpSetIndexSetListBlocks(c.p, 0);
      modelCopy(m2, m);
      exec(&c, "BEGIN");
      if( bPend ){
        for(q=0; q<LO_NQ; q++){
          int n = 0;
          for(i=0; i<loN[q]; i+=1+(q&1)) a[n++] = loQ[q][i];
          for(i=0; i<10; i++) a[n++] = rnd();
          loAdd(&c, m2, a, normalize(a, n));
        }
      }
      if( (iMaybe + bPend) % 2 ){ /* a MATCH before any search here */
        sqlite3_int64 nF, nL;
        bOk = listPass(&c, m2, 2, 5, &nF, &nL, zWhy);
        nCase++;
      }
      for(i=(iMaybe+bPend)%3; bOk && i<MAXDOC; i+=3){
        if( m2->aDoc[i].bUsed ){
          nCase++;
          bOk = compareQuery(&c, m2, m2->aDoc[i].a, m2->aDoc[i].n, i&1,
                             (i%3) ? 0.5 : 0.8, 5, 1, i%2 ? i : -1, zWhy);
        }
      }
      if( bOk ){                  /* first: the filters still cold */
        sqlite3_int64 nF, nL;
        bOk = listPass(&c, m2, iMaybe, 7, &nF, &nL, zWhy);
        nCase++;
      }
      if( bOk ) bOk = loCheck(&c, m2, zWhy, &nCase);
      dpSetIndexRollback(c.p);
      exec(&c, "ROLLBACK");
      connClose(&c);
    }
  }
  ok("13.1 new connections: runs left out, pending, few runs kept", bOk, zWhy);

  /* another connection's commits: c2 warm on the old runs, a new run with a
  ** copy of each query (sim 1) and a near-copy */
  if( bOk ){
    connOpen(&c, 0);
    connOpen(&c2, 0);
    dpSetIndexSetMaybeRuns(c2.p, 2);
    dpSetIndexSetListBlocks(c2.p, 0);
    bOk = loCheck(&c2, m, zWhy, &nCase);
    for(r=0; bOk && r<2; r++){
      exec(&c, "BEGIN");
      for(q=0; q<LO_NQ; q++){
        if( r==0 ){
          memcpy(a, loQ[q], sizeof(uint64_t)*loN[q]);
          loAdd(&c, m, a, loN[q] - 1);              /* minus its last key */
        }else{
          loAdd(&c, m, loQ[q], loN[q]);             /* a copy */
        }
      }
      commit(&c);
      {                           /* first: the new run's filters cold */
        sqlite3_int64 nF, nL;
        bOk = listPass(&c2, m, r, 5, &nF, &nL, zWhy);
        nCase++;
      }
      if( bOk ) bOk = loCheck(&c2, m, zWhy, &nCase);
      if( bOk ) bOk = strideQueries(&c2, m, 11, zWhy);
    }
    ok("13.2 another connection's commits: new cold runs left out", bOk, zWhy);
    connClose(&c2);
    connClose(&c);
  }
  /* the cases above ran (each query at its best similarities, and a
  ** third of the stored documents for each of the ten connections) */
  ok("13.3 over 2,000 decisions and rankings compared", nCase>2000, 0);

  /* 13.4-13.7: a MATCH (k > 1, no score bound) reads the block in place
  ** of an uncached filter of a run of more blocks than the limit (0
  ** here: every run), and the cached filters as before */
  if( bOk ){
    sqlite3_int64 nF0, nL0, nF1, nL1, nF2, nL2;
    bOk = newConnPass(m, 0, -1, &nF0, &nL0, zWhy);
    ok("13.4 new connection, no filter read by a MATCH: the reference's rankings",
       bOk, zWhy);
    sprintf(zWhy, "%lld filter rows, %lld posting lists read", nF0, nL0);
    ok("13.4.1 ... and no filter row read", bOk && nF0==0 && nL0>0, zWhy);
    {
      /* an insert's search (k = 1), no threshold either, on new
      ** connections: the limit changes nothing (its own document found,
      ** the same filter rows read) */
      sqlite3_int64 aF[2];
      int iLim, aFound[2] = {0, 0}, aRc[2];
      for(i=0; i<MAXDOC && !m->aDoc[i].bUsed; i++){}
      for(iLim=0; iLim<2; iLim++){
        DpSetIndexStat s0, s1;
        DpSetHit hit;
        connOpen(&c, 0);
        if( iLim==0 ) dpSetIndexSetListBlocks(c.p, 0);
        dpSetIndexInfo(c.p, &s0);
        aRc[iLim] = i<MAXDOC ? dpSetIndexBest(c.p, m->aDoc[i].a, m->aDoc[i].n,
                                              0, 0.0, 0, 0, &hit, &aFound[iLim])
                             : SQLITE_ERROR;
        dpSetIndexInfo(c.p, &s1);
        aF[iLim] = s1.nFilterRead - s0.nFilterRead;
        connClose(&c);
      }
      sprintf(zWhy, "rc=%d/%d, %lld filter rows read at limit 0, %lld at the default",
              aRc[0], aRc[1], aF[0], aF[1]);
      ok("13.5 an insert's search (k = 1) reads the filters it read before",
         aRc[0]==SQLITE_OK && aRc[1]==SQLITE_OK && aFound[0] && aFound[1]
         && aF[0]==aF[1] && aF[0]>0, zWhy);
    }
    connOpen(&c, 0);            /* the default: no run here is that large */
    exec(&c, "BEGIN; SELECT count(*) FROM t_pruns;");
    bOk = listPass(&c, m, 0, 3, &nF1, &nL1, zWhy);
    ok("13.6 new connection, the default limit: the same rankings", bOk, zWhy);
    sprintf(zWhy, "%lld filter rows, %lld lists (%lld without filters)",
            nF1, nL1, nL0);
    ok("13.6.1 ... filters read, fewer lists", bOk && nF1>0 && nL1<nL0, zWhy);
    /* its filters now cached: the limit at 0 uses them */
    dpSetIndexSetListBlocks(c.p, 0);
    bOk = listPass(&c, m, 0, 3, &nF2, &nL2, zWhy);
    ok("13.7 filters cached, the limit at 0: the same rankings", bOk, zWhy);
    sprintf(zWhy, "%lld filter rows read, %lld lists (%lld with the filters read)",
            nF2, nL2, nL1);
    ok("13.7.1 ... the cached filters used, none read", bOk && nF2==0 && nL2==nL1, zWhy);
    exec(&c, "COMMIT");
    connClose(&c);
    /* 13.8: the limit is on the run's blocks, strictly more: at the
    ** largest run's count no run takes the path (a new connection reads
    ** what the default's read in 13.6), one below it that run does */
    {
      sqlite3_int64 nMax, nF4, nF5, nL;
      connOpen(&c, 0);
      nMax = scalar(&c, "SELECT max(nblock) FROM t_pruns WHERE resume IS NULL");
      connClose(&c);
      bOk = newConnPass(m, (int)nMax, -1, &nF4, &nL, zWhy);
      if( bOk ) bOk = newConnPass(m, (int)nMax - 1, -1, &nF5, &nL, zWhy);
      if( bOk ){
        sprintf(zWhy, "largest run %lld blocks: %lld filter rows at that limit, "
                "%lld one below, %lld at the default", nMax, nF4, nF5, nF1);
      }
      ok("13.8 the limit: a run of more blocks than it, not as many",
         bOk && nMax>1 && nF4==nF1 && nF5<nF1, zWhy);
    }
    /* 13.9: with the answers of one run kept, only that run takes the
    ** path (the probe asks the others' filters, as past 64 runs) */
    {
      sqlite3_int64 aF[2], nL;
      int iLim;
      for(iLim=0; bOk && iLim<2; iLim++){
        bOk = newConnPass(m, iLim==0 ? 0 : -1, 1, &aF[iLim], &nL, zWhy);
      }
      if( bOk ){
        sprintf(zWhy, "%lld filter rows at limit 0, %lld at the default",
                aF[0], aF[1]);
      }
      ok("13.9 one run's answers kept: that run's filters not read",
         bOk && aF[0]>0 && aF[0]<aF[1], zWhy);
    }
    /* 13.10: partly cached: a connection holding every filter, then
    ** another's commit of a new run; the limit at 0 reads that run's
    ** blocks and none of its filters, and uses the cached ones */
    if( bOk ){
      sqlite3_int64 nFa, nLa, nFb, nLb, nFc, nLc, nFd, nLd;
      connOpen(&c, 0);
      connOpen(&c2, 0);
      bOk = listPass(&c, m, 0, 3, &nFa, &nLa, zWhy);   /* caches them */
      exec(&c2, "BEGIN");
      for(q=0; q<LO_NQ; q++) loAdd(&c2, m, loQ[q], loN[q]);   /* copies */
      for(i=0; i<40; i++){
        int n = makeSet(m, a, 300);
        loAdd(&c2, m, a, n);
      }
      rc = commit(&c2);
      connClose(&c2);
      dpSetIndexSetListBlocks(c.p, 0);
      if( bOk && rc==SQLITE_OK ) bOk = listPass(&c, m, 0, 3, &nFb, &nLb, zWhy);
      dpSetIndexSetListBlocks(c.p, 262144);     /* the new run's filters */
      if( bOk ) bOk = listPass(&c, m, 0, 3, &nFc, &nLc, zWhy);
      dpSetIndexSetListBlocks(c.p, 0);
      if( bOk ) bOk = listPass(&c, m, 0, 3, &nFd, &nLd, zWhy);
      connClose(&c);
      if( bOk ){
        sprintf(zWhy, "rc=%d; %lld filter rows read, %lld lists; then %lld "
                "filter rows read at the default; again at 0: %lld rows, "
                "%lld lists", rc, nFb, nLb, nFc, nFd, nLd);
      }
      ok("13.10 another's new run: its blocks read, its filters not; cached ones used",
         bOk && rc==SQLITE_OK && nFa>0 && nFb==0 && nFc>0 && nFd==0
         && nLd<nLb, zWhy);
    }
  }
  modelFree(m); modelFree(m2); free(m); free(m2);
  bFreshHashes = 0;
}

int main(void){
  int i;
  {
    sqlite3_mem_methods m;
    sqlite3_config(SQLITE_CONFIG_GETMALLOC, &realMem);
    m = realMem;
    m.xMalloc = faultMalloc; m.xRealloc = faultRealloc; m.xFree = faultFree;
    m.xSize = faultSize; m.xRoundup = faultRoundup; m.xInit = faultInit;
    m.xShutdown = faultShutdown;
    sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
  }
  sprintf(zPath, "/tmp/setindex_test_%d.db", (int)getpid());
  for(i=0; i<3000; i++) aKeyPool[i] = rnd() >> 24;
  {
    /* SETINDEX_ONLY=7 (or "15"...): only those sections, for quick checks */
    const char *z = getenv("SETINDEX_ONLY");
#define RUN(c, f) if( z==0 || strchr(z, c) ) f()
    RUN('1', testBoundaries);
    RUN('2', testRandom);
    RUN('2', testRandomBody);
    RUN('5', testCorrupt);
    RUN('7', testApi);
    RUN('7', testPerRun);
    RUN('6', testStaleMessage);
    RUN('6', testOom);
    RUN('8', testFenceRange);
    RUN('8', testAdjacentHashes);
    RUN('9', testSortU64);
    RUN('0', testJoin);
    RUN('b', testOldBlocks);
    RUN('g', testFenceGroups);
    RUN('l', testLeftOut);
#undef RUN
  }
  unlink(zPath);
  {
    char z[300];
    sprintf(z, "%s-wal", zPath); unlink(z);
    sprintf(z, "%s-shm", zPath); unlink(z);
  }
  printf("%d passed, %d failed\n", nPass, nFail);
  return nFail ? 1 : 0;
}
