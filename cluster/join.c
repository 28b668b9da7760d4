/*
** join.c — the smallest dqlite client a node needs to join a cluster.
**
** libdqlite 1.11 in Debian has the node (server) API only; adding a node is
** a client request sent to the leader.  The wire protocol (dqlite's
** doc/protocol.md; go-dqlite internal/protocol) is: after connecting, the
** client sends the protocol version as a little-endian uint64; then each
** message is an 8-byte header — body length in 8-byte words (uint32), type
** (uint8), flags (uint8), unused (uint16) — and a body of 8-byte words:
** integers are little-endian uint64, text is NUL-terminated and padded with
** NULs to a word boundary.
**
** Requests used: LEADER (0; body: one unused word) answered by NODE (1; id,
** address: empty when no leader is known), ADD (12; id, address) and ASSIGN
** (13; id, role 0 = voter), answered by EMPTY (8) or FAILURE (0; code,
** message).
*/
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "join.h"
#include "net.h"

#define PROTOCOL_VERSION 1
#define REQUEST_LEADER   0
#define REQUEST_ADD      12
#define REQUEST_ASSIGN   13
#define RESPONSE_FAILURE 0
#define RESPONSE_NODE    1
#define RESPONSE_EMPTY   8
#define ROLE_VOTER       0

#define JOIN_ATTEMPTS    100   /* x JOIN_PAUSE_MS: give up after ~30 s */
#define JOIN_PAUSE_MS    300
#define IO_TIMEOUT_S     5     /* per send/receive */
#define MAX_BODY         65536

typedef struct Msg Msg;
struct Msg {
  unsigned char a[512];   /* requests here are small: id and an address */
  size_t n;
};

static char *errorf(const char *zFmt, ...){
  va_list ap;
  char *z = malloc(512);
  if( z ){
    va_start(ap, zFmt);
    vsnprintf(z, 512, zFmt, ap);
    va_end(ap);
  }
  return z;
}

static void putU64(Msg *p, uint64_t v){
  int i;
  for(i=0; i<8; i++) p->a[p->n++] = (unsigned char)(v >> (8*i));
}

/* Returns 0, or 1 when the text does not fit. */
static int putText(Msg *p, const char *z){
  size_t n = strlen(z) + 1;
  size_t padded = (n + 7) & ~(size_t)7;
  if( p->n + padded > sizeof(p->a) ) return 1;
  memset(&p->a[p->n], 0, padded);
  memcpy(&p->a[p->n], z, n);
  p->n += padded;
  return 0;
}

/* Send (isSend) or receive exactly n bytes.  Returns 0, or 1 on error or
** end of stream. */
static int transferAll(int fd, void *pBuf, size_t n, int isSend){
  unsigned char *a = pBuf;
  while( n>0 ){
    ssize_t k = isSend ? send(fd, a, n, MSG_NOSIGNAL) : recv(fd, a, n, 0);
    if( k<=0 ){
      if( k<0 && errno==EINTR ) continue;
      return 1;
    }
    a += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Connect to HOST:PORT and send the protocol version.  Returns -1 on error. */
static int dial(const char *zAddr){
  Msg version = { {0}, 0 };
  int fd = dpTcpConnect(zAddr, IO_TIMEOUT_S, 1);
  if( fd<0 ) return -1;
  putU64(&version, PROTOCOL_VERSION);
  if( transferAll(fd, version.a, version.n, 1) ){
    close(fd);
    return -1;
  }
  return fd;
}

/*
** Send one request (body in pReq) and read the response.  On success the
** response type is in *pType and its body in a malloc'd *paBody of *pnBody
** bytes.  Returns 0, or 1 on any I/O or framing error.
*/
static int roundTrip(int fd, int type, const Msg *pReq, int *pType,
                     unsigned char **paBody, size_t *pnBody){
  unsigned char aHdr[8];
  uint32_t nWords = (uint32_t)(pReq->n / 8);
  size_t nBody;
  aHdr[0] = (unsigned char)nWords;
  aHdr[1] = (unsigned char)(nWords >> 8);
  aHdr[2] = (unsigned char)(nWords >> 16);
  aHdr[3] = (unsigned char)(nWords >> 24);
  aHdr[4] = (unsigned char)type;
  aHdr[5] = aHdr[6] = aHdr[7] = 0;
  if( transferAll(fd, aHdr, 8, 1) ) return 1;
  if( transferAll(fd, (void*)pReq->a, pReq->n, 1) ) return 1;
  if( transferAll(fd, aHdr, 8, 0) ) return 1;
  nBody = 8 * (size_t)(aHdr[0] | aHdr[1]<<8 | aHdr[2]<<16 | (uint32_t)aHdr[3]<<24);
  if( nBody>MAX_BODY ) return 1;
  *paBody = malloc(nBody + 1);
  if( *paBody==0 ) return 1;
  if( transferAll(fd, *paBody, nBody, 0) ){
    free(*paBody);
    *paBody = 0;
    return 1;
  }
  (*paBody)[nBody] = 0;   /* text fields are NUL-terminated; this bounds them */
  *pType = aHdr[4];
  *pnBody = nBody;
  return 0;
}

/* The message of a FAILURE body (code, text), or a placeholder. */
static const char *failureText(const unsigned char *aBody, size_t nBody){
  return nBody>8 ? (const char*)aBody + 8 : "(no message)";
}

/*
** Ask zPeer which node leads.  Returns a malloc'd address, or 0 when the
** peer cannot be reached or knows no leader yet.
*/
static char *askLeader(const char *zPeer){
  Msg req = { {0}, 0 };
  unsigned char *aBody = 0;
  size_t nBody = 0;
  int type = -1;
  char *zLeader = 0;
  int fd = dial(zPeer);
  if( fd<0 ) return 0;
  putU64(&req, 0);
  if( roundTrip(fd, REQUEST_LEADER, &req, &type, &aBody, &nBody)==0
   && type==RESPONSE_NODE && nBody>8 && aBody[8]!=0 ){
    zLeader = strdup((const char*)aBody + 8);
  }
  free(aBody);
  close(fd);
  return zLeader;
}

/*
** One request to the leader that must be answered EMPTY.  A FAILURE whose
** message holds zDone means the state the request asks for already holds,
** as when a member restarts with --join, and counts as success: Raft says
** "server ID already in use" to ADD and "server role is not valid" to
** ASSIGN of the role the node has.  Returns 0 on success, 1 on a
** transient error (retry), 2 on a definite refusal (*pzErr set).
*/
static int leaderRequest(const char *zLeader, int type, const Msg *pReq,
                         const char *zWhat, const char *zDone, char **pzErr){
  unsigned char *aBody = 0;
  size_t nBody = 0;
  int respType = -1, rc;
  int fd = dial(zLeader);
  if( fd<0 ) return 1;
  if( roundTrip(fd, type, pReq, &respType, &aBody, &nBody) ){
    rc = 1;
  }else if( respType==RESPONSE_EMPTY ){
    rc = 0;
  }else if( respType==RESPONSE_FAILURE ){
    const char *zMsg = failureText(aBody, nBody);
    if( strstr(zMsg, "leader") || strstr(zMsg, "progress") ){
      rc = 1;   /* leadership moved, or a configuration change is running:
                ** checked first, as "already in progress" is not "done" */
    }else if( strstr(zMsg, zDone) ){
      rc = 0;
    }else{
      *pzErr = errorf("%s refused by %s: %s", zWhat, zLeader, zMsg);
      rc = 2;
    }
  }else{
    *pzErr = errorf("%s: unexpected response type %d from %s",
                    zWhat, respType, zLeader);
    rc = 2;
  }
  free(aBody);
  close(fd);
  return rc;
}

int dpJoinCluster(const char *zPeers, unsigned long long id,
                  const char *zAddress, int (*xStop)(void), char **pzErr){
  Msg add = { {0}, 0 }, assign = { {0}, 0 };
  int attempt;
  *pzErr = 0;
  putU64(&add, id);
  if( putText(&add, zAddress) ){
    *pzErr = errorf("address too long");
    return 1;
  }
  putU64(&assign, id);
  putU64(&assign, ROLE_VOTER);

  for(attempt=0; attempt<JOIN_ATTEMPTS; attempt++){
    if( xStop && xStop() ) return DP_JOIN_STOPPED;
    char *zList = strdup(zPeers), *zSave = 0, *zPeer, *zLeader = 0;
    if( zList==0 ){
      *pzErr = errorf("out of memory");
      return 1;
    }
    for(zPeer=strtok_r(zList, ",", &zSave); zPeer && !zLeader;
        zPeer=strtok_r(0, ",", &zSave)){
      zLeader = askLeader(zPeer);
    }
    free(zList);
    if( zLeader ){
      int rc = leaderRequest(zLeader, REQUEST_ADD, &add, "add",
                             "already", pzErr);
      if( rc==0 ){
        rc = leaderRequest(zLeader, REQUEST_ASSIGN, &assign, "assign voter",
                           "role is not valid", pzErr);
      }
      free(zLeader);
      if( rc==0 ) return 0;
      if( rc==2 ) return 1;
    }
    usleep(JOIN_PAUSE_MS * 1000);
  }
  *pzErr = errorf("no leader answered within %d attempts (about %d s)",
                  JOIN_ATTEMPTS, JOIN_ATTEMPTS * JOIN_PAUSE_MS / 1000);
  return 1;
}
