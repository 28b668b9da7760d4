/*
** body.c — a document's body as %_docs stores it: compressed with zstd.
**
**   CREATE VIRTUAL TABLE docs USING docpipe(compress='zstd');  -- the default
**   SELECT docpipe_body(body) FROM docs_docs;  -- the text, as docs shows it
**
** Why.  A set table's file is its bodies and its postings.  Stored as
** they come, the bodies were 1.2x the text in the file (the text and the
** pages' slack) of 2.5x in all at a million documents.  Each body
** compressed on its own with zstd at level 1 is ~0.49 of its bytes on
** 2-5 KB English documents (level 3 to 6 gain 0.5-1.3 points for 1.4x to
** 4x the time: 13 us a 3.5 KB document at level 1, 19 at level 3; its
** decompression 4 us), and the file ~0.65x the text smaller.
**
** Stored form (tables whose %_config says compress=zstd; storage.c):
**   TEXT       the body as it came, when it is shorter than
**              DP_BODY_PACK_MIN bytes or zstd does not make it smaller;
**              also a body a user wrote into %_docs by hand
**   BLOB       one zstd frame of the body's UTF-8 bytes, with its content
**              size in the header and its checksum (a damaged frame is
**              an error, not another text; 4 bytes a body).  The table
**              never stores a blob body as a blob (one of valid UTF-8 is
**              stored as its text), so the type alone tells a packed body.
**   NULL       a NULL body (a body is text or NULL: the table refuses
**              numbers)
**
** Every read of a compressed table's body goes through the SQL function
** docpipe_body(x): a BLOB becomes the TEXT it was packed from, anything
** else is returned as it is.  Putting it in the SQL of the reads (storage.c)
** keeps LIKE, =, GLOB filters and length() on body working unchanged, and
** lets a user read %_docs directly.  The table's own cursor reads the
** stored value and unpacks it only when the body column is asked for
** (dpBodyResult through storage.c), so a count(*) or the DELETE of a
** damaged row unpacks nothing.  A blob that is not a whole zstd frame
** (damage, or one written by hand) is SQLITE_CORRUPT_VTAB with a message that
** says so, never a wrong text: it must be a zstd frame with its size and
** checksum, its size no more than its blocks can make, and the checksum
** must hold.
**
** A codec (zstd's contexts, made when first needed) is one per table per
** connection for the writes and the cursor (storage.c holds it), and one
** per connection for each form of docpipe_body() (its user data).  zstd allocates through sqlite3_malloc, so SQLite's memory
** accounting and limits (and the out-of-memory tests) see it.
*/
#include "docpipe.h"

/* ZSTD_customMem and its _advanced constructors are in zstd's "static
** linking only" section: safe here, as docpipe links the libzstd.a of the
** zstd.h it compiles with (Makefile), never another version's .so */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include <string.h>

#define DP_BODY_PACK_MIN 64      /* shorter bodies are stored as they are */
#define DP_BODY_LEVEL 1          /* zstd level: see the ratio and times above */
#define DP_BODY_KEEP_BYTES (1<<20) /* a larger output buffer is freed */

/* zstd allocating through SQLite (its limits, its accounting, its OOM
** injection in the tests). */
static void *zAlloc(void *pUnused, size_t n){
  (void)pUnused;
  return sqlite3_malloc64((sqlite3_uint64)n);
}
static void zFree(void *pUnused, void *p){
  (void)pUnused;
  sqlite3_free(p);
}
static const ZSTD_customMem zMem = { zAlloc, zFree, 0 };

struct DpBodyCodec {
  ZSTD_CCtx *pPack;              /* made on the first body packed */
  ZSTD_DCtx *pUnpack;            /* made on the first body unpacked */
  void *aOut;                    /* the last packed body */
  size_t nOutAlloc;
};

int dpBodyCodecNew(DpBodyCodec **pp){
  *pp = sqlite3_malloc(sizeof(DpBodyCodec));
  if( *pp==0 ) return SQLITE_NOMEM;
  memset(*pp, 0, sizeof(DpBodyCodec));
  return SQLITE_OK;
}

void dpBodyCodecFree(DpBodyCodec *c){
  if( c==0 ) return;
  ZSTD_freeCCtx(c->pPack);
  ZSTD_freeDCtx(c->pUnpack);
  sqlite3_free(c->aOut);
  sqlite3_free(c);
}

int dpBodyPack(DpBodyCodec *c, const void *z, int n, const void **paOut,
               int *pnOut){
  size_t nBound, nOut;
  *paOut = 0;
  *pnOut = 0;
  if( n<DP_BODY_PACK_MIN ) return SQLITE_OK;
  if( c->nOutAlloc>DP_BODY_KEEP_BYTES ){
    /* not kept past one large body: the caller has copied it */
    sqlite3_free(c->aOut);
    c->aOut = 0;
    c->nOutAlloc = 0;
  }
  if( c->pPack==0 ){
    c->pPack = ZSTD_createCCtx_advanced(zMem);
    if( c->pPack==0 ) return SQLITE_NOMEM;
    /* the frame's checksum (4 bytes) makes a damaged frame an error,
    ** never another text */
    if( ZSTD_isError(ZSTD_CCtx_setParameter(c->pPack, ZSTD_c_compressionLevel,
                                            DP_BODY_LEVEL))
     || ZSTD_isError(ZSTD_CCtx_setParameter(c->pPack, ZSTD_c_checksumFlag,
                                            1)) ){
      ZSTD_freeCCtx(c->pPack);
      c->pPack = 0;
      return SQLITE_NOMEM;
    }
  }
  nBound = ZSTD_compressBound((size_t)n);
  if( nBound>c->nOutAlloc ){
    void *aNew = sqlite3_realloc64(c->aOut, nBound);
    if( aNew==0 ) return SQLITE_NOMEM;
    c->aOut = aNew;
    c->nOutAlloc = nBound;
  }
  nOut = ZSTD_compress2(c->pPack, c->aOut, c->nOutAlloc, z, (size_t)n);
  if( ZSTD_isError(nOut) ){
    /* its only failure with a bound-sized buffer is memory (a context
    ** that could not grow): the context is freed and made again */
    ZSTD_freeCCtx(c->pPack);
    c->pPack = 0;
    return SQLITE_NOMEM;
  }
  if( nOut<(size_t)n ){
    *paOut = c->aOut;
    *pnOut = (int)nOut;
  }
  return SQLITE_OK;
}

/* The message of a damaged packed body (piId NULL: its document unknown). */
static char *damaged(const sqlite3_int64 *piId, const char *zWhat){
  return piId
    ? sqlite3_mprintf("docpipe_body(): the stored body of document %lld is"
                      " %s: DELETE the document", *piId, zWhat)
    : sqlite3_mprintf("docpipe_body(): a stored body is %s", zWhat);
}

/* The most bytes the blocks of frame a[0..n) can make: its header is nHdr
** bytes, a compressed block makes at most nBlockMax, a raw or RLE block
** the size its header says.  A frame whose stated size is more is damaged:
** read before any allocation of that size (a flipped bit there asked for
** gigabytes).  ZSTD_findFrameCompressedSize has checked that the blocks
** end at n. */
static unsigned long long frameBound(const unsigned char *a, size_t n,
                                     size_t nHdr, unsigned nBlockMax){
  unsigned long long nOut = 0;
  size_t i = nHdr;
  while( i+3<=n ){
    unsigned h = a[i] | (unsigned)a[i+1]<<8 | (unsigned)a[i+2]<<16;
    unsigned nSize = h>>3;
    i += 3;
    switch( (h>>1)&3 ){
      case 0:  nOut += nSize; i += nSize; break;     /* raw */
      case 1:  nOut += nSize; i += 1;     break;     /* one byte, repeated */
      default: nOut += nBlockMax; i += nSize; break; /* compressed */
    }
    if( h&1 ) break;                                 /* the last block */
  }
  return nOut;
}

int dpBodyUnpack(DpBodyCodec *c, const void *a, int n,
                 const sqlite3_int64 *piId,
                 sqlite3_int64 nMax, char **pzText, sqlite3_int64 *pnText,
                 char **pzErr){
  unsigned long long nText;
  ZSTD_frameHeader hdr;
  size_t nGot;
  char *zText;
  *pzText = 0;
  *pnText = 0;
  if( a==0 && n>0 ) return SQLITE_NOMEM;
  /* one whole frame as dpBodyPack writes them: zstd's (not a skippable
  ** one), with its size and its checksum, nothing after it */
  if( n<=0 || ZSTD_getFrameHeader(&hdr, a, (size_t)n)!=0
   || hdr.frameType!=ZSTD_frame || !hdr.checksumFlag
   || hdr.frameContentSize==ZSTD_CONTENTSIZE_UNKNOWN
   || ZSTD_findFrameCompressedSize(a, (size_t)n)!=(size_t)n ){
    *pzErr = damaged(piId, "a blob that is not one zstd frame with its size"
                     " and checksum (damaged, or written into the table's"
                     " %_docs by hand)");
    return SQLITE_CORRUPT_VTAB;
  }
  nText = hdr.frameContentSize;
  if( nText>frameBound(a, (size_t)n, hdr.headerSize, hdr.blockSizeMax) ){
    *pzErr = damaged(piId, "a damaged zstd frame");
    return SQLITE_CORRUPT_VTAB;
  }
  if( nText>(unsigned long long)nMax ) return SQLITE_TOOBIG;
  if( c->pUnpack==0 ){
    c->pUnpack = ZSTD_createDCtx_advanced(zMem);
    if( c->pUnpack==0 ) return SQLITE_NOMEM;
  }
  zText = sqlite3_malloc64(nText + 1);
  if( zText==0 ) return SQLITE_NOMEM;
  nGot = ZSTD_decompressDCtx(c->pUnpack, zText, (size_t)nText, a, (size_t)n);
  if( ZSTD_isError(nGot) || nGot!=nText ){
    int bMem = ZSTD_isError(nGot)
               && ZSTD_getErrorCode(nGot)==ZSTD_error_memory_allocation;
    sqlite3_free(zText);
    if( bMem ) return SQLITE_NOMEM;
    *pzErr = damaged(piId, "a damaged zstd frame");
    return SQLITE_CORRUPT_VTAB;
  }
  zText[nText] = 0;
  *pzText = zText;
  *pnText = (sqlite3_int64)nText;
  return SQLITE_OK;
}

int dpBodyResult(DpBodyCodec *c, sqlite3_context *ctx, sqlite3_value *pStored,
                 const sqlite3_int64 *piId){
  char *zText = 0, *zErr = 0;
  sqlite3_int64 nText = 0;
  int rc;
  if( sqlite3_value_type(pStored)!=SQLITE_BLOB ){
    sqlite3_result_value(ctx, pStored);
    return SQLITE_OK;
  }
  rc = dpBodyUnpack(c, sqlite3_value_blob(pStored),
                    sqlite3_value_bytes(pStored), piId,
                    sqlite3_limit(sqlite3_context_db_handle(ctx),
                                  SQLITE_LIMIT_LENGTH, -1),
                    &zText, &nText, &zErr);
  if( rc==SQLITE_OK ){
    sqlite3_result_text64(ctx, zText, (sqlite3_uint64)nText, sqlite3_free,
                          SQLITE_UTF8);
  }else if( rc==SQLITE_NOMEM ){
    sqlite3_result_error_nomem(ctx);
  }else if( rc==SQLITE_TOOBIG ){
    sqlite3_result_error_toobig(ctx);
  }else{
    sqlite3_result_error(ctx, zErr ? zErr : "docpipe_body(): damaged", -1);
    sqlite3_result_error_code(ctx, rc);
  }
  sqlite3_free(zErr);
  return rc;
}

/* docpipe_body(x [, id]): x as the table reads it (see the top of this
** file); the id names the document in the message of a damaged body.  Its
** codec is the connection's (the function's user data). */
static void bodyFunc(sqlite3_context *ctx, int argc, sqlite3_value **argv){
  sqlite3_int64 iId = argc>1 ? sqlite3_value_int64(argv[1]) : 0;
  dpBodyResult((DpBodyCodec*)sqlite3_user_data(ctx), ctx, argv[0],
               argc>1 ? &iId : 0);
}

static void bodyCodecDestroy(void *p){
  dpBodyCodecFree((DpBodyCodec*)p);
}

int dpRegisterBody(sqlite3 *db){
  int rc = SQLITE_OK, nArg;
  /* deterministic and innocuous: a pure function of its arguments, safe
  ** in a user's views and indexes on %_docs.  Each form owns its codec
  ** (SQLite frees it with the function, also when registering fails). */
  for(nArg=1; rc==SQLITE_OK && nArg<=2; nArg++){
    DpBodyCodec *c;
    rc = dpBodyCodecNew(&c);
    if( rc==SQLITE_OK ){
      rc = sqlite3_create_function_v2(db, "docpipe_body", nArg,
          SQLITE_UTF8|SQLITE_DETERMINISTIC|SQLITE_INNOCUOUS, c, bodyFunc, 0,
          0, bodyCodecDestroy);
    }
  }
  return rc;
}
