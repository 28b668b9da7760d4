/*
** docpipe-node: one dqlite node per process, with docpipe linked in.
**
**   docpipe-node --id N --address HOST:PORT --dir DIR
**                [--join HOST:PORT[,HOST:PORT...]] [--latency-ms MS]
**
** dqlite replicates SQLite databases with Raft.  Its VFS cannot dlopen(),
** so load_extension() is no way in: docpipe is linked into this program
** (libdocpipe.a) and registered with sqlite3_auto_extension() before the
** node starts, so every connection the node opens has it.  Node 1
** bootstraps a new cluster; any other node, given --join, asks the cluster
** to add it as a voter (cluster/join.c).
**
** Built with -DDOCPIPE_NODE_PLAIN it registers nothing: that is the node a
** user gets from a dqlite build without docpipe (the cluster test shows the
** error such a node gives).
*/
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dqlite.h>
#include <sqlite3.h>
#ifndef DOCPIPE_NODE_PLAIN
#include <sqlite-docpipe.h>
#endif

#include "join.h"
#include "net.h"

#define PROG "docpipe-node"

/*
** Registered for every connection next to docpipe.  dqlite replicates
** whole committed transactions and cannot take WAL frames written before
** COMMIT, so SQLite must never spill dirty pages of a transaction that
** outgrows its page cache: a docpipe transaction of 1,000 documents dirties
** megabytes of vector pages, and with spilling on it failed with "disk I/O
** error".
*/
static int noCacheSpill(sqlite3 *db, char **pzErr, const void *pApi){
  (void)pApi;
  return sqlite3_exec(db, "PRAGMA cache_spill=OFF", 0, 0, pzErr);
}

/*
** dqlite's connect function for its Raft connections to peers, as the
** default one but with TCP_NODELAY: without it a small Raft message could
** wait for the peer's delayed ACK, and one commit in a hundred on three
** nodes took 45 ms instead of 4 (bench/cluster.sh).  Blocking is allowed:
** dqlite calls this off its event loop.
*/
static int connectNoDelay(void *pArg, const char *zAddr, int *pFd){
  int fd = dpTcpConnect(zAddr, 0, 1);
  (void)pArg;
  if( fd<0 ) return DQLITE_ERROR;
  *pFd = fd;
  return 0;
}

/* The stop signals, blocked in every thread and taken with sigwait(). */
static sigset_t stopSignals;

/* 1 when SIGTERM or SIGINT is pending: the join loop stops early. */
static int stopRequested(void){
  sigset_t pending;
  if( sigpending(&pending)!=0 ) return 0;
  return sigismember(&pending, SIGTERM)==1 || sigismember(&pending, SIGINT)==1;
}

static void usage(FILE *out){
  fprintf(out,
    "usage: " PROG " --id N --address HOST:PORT --dir DIR\n"
    "                    [--join HOST:PORT[,HOST:PORT...]] [--latency-ms MS]\n"
    "  --id N          this node's id, a positive integer; node 1 starts a new\n"
    "                  cluster, every other node joins one (--join)\n"
    "  --address A     where clients and peers reach this node (HOST:PORT)\n"
    "  --dir DIR       the node's Raft log and snapshots (created if missing)\n"
    "  --join PEERS    addresses of nodes already in the cluster; this node\n"
    "                  asks their leader to add it as a voter\n"
    "  --latency-ms MS expected one-way network latency (default: dqlite's);\n"
    "                  heartbeat and election timeouts scale with it, so a\n"
    "                  lower value means a faster failover but more risk of\n"
    "                  needless elections on a loaded machine\n"
    "Stops cleanly on SIGTERM or SIGINT.\n");
}

static int die(const char *zFmt, const char *zArg){
  fprintf(stderr, PROG ": ");
  fprintf(stderr, zFmt, zArg);
  fprintf(stderr, "\n");
  return 2;
}

/* Parse a positive decimal integer that fits in "max"; 0 when it is not. */
static unsigned long long parsePositive(const char *z, unsigned long long max){
  char *zEnd = 0;
  unsigned long long v;
  if( z==0 || z[0]<'0' || z[0]>'9' ) return 0;
  errno = 0;
  v = strtoull(z, &zEnd, 10);
  if( errno || *zEnd || v>max ) return 0;
  return v;
}

/*
** dqlite reports a port in use only as a generic listen failure, after the
** node has been made.  Binding the address here first gives the user a
** message that names it.  Returns 0 when the address is free.
*/
static int checkAddress(const char *zAddr){
  const char *zColon = strrchr(zAddr, ':');
  struct addrinfo *pRes = 0;
  int fd, rc, err, one = 1;
  if( zColon==0 || zColon==zAddr || zColon[1]==0 ){
    return die("--address '%s' is not HOST:PORT", zAddr);
  }
  if( parsePositive(zColon+1, 65535)==0 ){
    return die("--address '%s': the port must be 1..65535", zAddr);
  }
  if( dpResolve(zAddr, &pRes) ){
    return die("--address '%s': cannot resolve the host", zAddr);
  }
  fd = socket(pRes->ai_family, SOCK_STREAM, 0);
  if( fd<0 ){
    freeaddrinfo(pRes);
    return die("cannot make a socket: %s", strerror(errno));
  }
  /* Same option libuv sets, so a port left in TIME_WAIT is not "in use". */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  rc = bind(fd, pRes->ai_addr, pRes->ai_addrlen);
  err = errno;   /* before close() and freeaddrinfo() can change it */
  close(fd);
  freeaddrinfo(pRes);
  if( rc!=0 ){
    fprintf(stderr, PROG ": cannot listen on %s: %s\n", zAddr,
            err==EADDRINUSE ? "the address is in use (another node?)"
                            : strerror(err));
    return 2;
  }
  return 0;
}

int main(int argc, char **argv){
  unsigned long long id = 0;
  unsigned latencyMs = 0;   /* 0: dqlite's own default */
  const char *zAddr = 0, *zDir = 0, *zJoin = 0;
  dqlite_node *pNode = 0;
  int i, sig, rc;

  for(i=1; i<argc; i++){
    const char *zOpt = argv[i];
    const char *zVal = i+1<argc ? argv[i+1] : 0;
    if( strcmp(zOpt, "-h")==0 || strcmp(zOpt, "--help")==0 ){
      usage(stdout);
      return 0;
    }
    if( zVal==0 ){
      usage(stderr);
      return die("%s needs a value", zOpt);
    }
    i++;
    if( strcmp(zOpt, "--id")==0 ){
      id = parsePositive(zVal, 0xffffffffffffULL);
      if( id==0 ) return die("--id '%s' is not a positive integer", zVal);
    }else if( strcmp(zOpt, "--address")==0 ){
      zAddr = zVal;
    }else if( strcmp(zOpt, "--dir")==0 ){
      zDir = zVal;
    }else if( strcmp(zOpt, "--join")==0 ){
      zJoin = zVal;
    }else if( strcmp(zOpt, "--latency-ms")==0 ){
      latencyMs = (unsigned)parsePositive(zVal, 3600000);
      if( latencyMs==0 ) return die("--latency-ms '%s' must be 1..3600000", zVal);
    }else{
      usage(stderr);
      return die("unknown option '%s'", zOpt);
    }
  }
  if( id==0 || zAddr==0 || zDir==0 ){
    usage(stderr);
    return die("%s", "--id, --address and --dir are required");
  }
  if( id!=1 && zJoin==0 ){
    fprintf(stderr, PROG ": note: node %llu has no --join; it waits until a "
            "client adds it to a cluster\n", id);
  }
  if( checkAddress(zAddr) ) return 2;
  if( mkdir(zDir, 0755)!=0 && errno!=EEXIST ){
    fprintf(stderr, PROG ": cannot make --dir '%s': %s\n", zDir, strerror(errno));
    return 2;
  }

  /* A peer that goes away must not kill this node through SIGPIPE; the
  ** failed write is handled as an error by dqlite. */
  signal(SIGPIPE, SIG_IGN);
  /* Block the stop signals before dqlite starts its thread, so that thread
  ** inherits the mask and sigwait() below receives them. */
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, 0);

#ifndef DOCPIPE_NODE_PLAIN
  sqlite3_auto_extension((void(*)(void))sqlite3_docpipe_init);
#endif
  sqlite3_auto_extension((void(*)(void))noCacheSpill);

  rc = dqlite_node_create(id, zAddr, zDir, &pNode);
  if( rc ){
    fprintf(stderr, PROG ": cannot create node %llu: %s\n", id,
            pNode ? dqlite_node_errmsg(pNode) : "out of memory");
    if( pNode ) dqlite_node_destroy(pNode);
    return 1;
  }
  rc = dqlite_node_set_bind_address(pNode, zAddr);
  if( rc==0 ) rc = dqlite_node_set_connect_func(pNode, connectNoDelay, 0);
  if( rc==0 && latencyMs ) rc = dqlite_node_set_network_latency_ms(pNode, latencyMs);
  if( rc==0 ) rc = dqlite_node_start(pNode);
  if( rc ){
    fprintf(stderr, PROG ": cannot start node %llu on %s: %s\n", id, zAddr,
            dqlite_node_errmsg(pNode));
    dqlite_node_destroy(pNode);
    return 1;
  }
  printf(PROG ": node %llu serving %s (data in %s, docpipe %s)\n", id, zAddr,
         zDir,
#ifndef DOCPIPE_NODE_PLAIN
         "linked in"
#else
         "NOT linked in"
#endif
         );
  fflush(stdout);

  if( zJoin && id!=1 ){
    char *zErr = 0;
    rc = dpJoinCluster(zJoin, id, zAddr, stopRequested, &zErr);
    if( rc==DP_JOIN_STOPPED ){
      /* The pending signal is taken by sigwait() below: a clean stop. */
    }else if( rc ){
      fprintf(stderr, PROG ": node %llu could not join via %s: %s\n",
              id, zJoin, zErr ? zErr : "unknown error");
      free(zErr);
      dqlite_node_stop(pNode);
      dqlite_node_destroy(pNode);
      return 1;
    }else{
      printf(PROG ": node %llu joined the cluster as a voter\n", id);
      fflush(stdout);
    }
  }

  if( sigwait(&stopSignals, &sig)!=0 ) sig = SIGTERM;
  printf(PROG ": node %llu stopping (%s)\n", id, sig==SIGINT ? "SIGINT" : "SIGTERM");
  fflush(stdout);
  rc = dqlite_node_stop(pNode);
  dqlite_node_destroy(pNode);
  return rc ? 1 : 0;
}
