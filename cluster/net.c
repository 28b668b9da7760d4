/*
** net.c — HOST:PORT addresses: resolving them and connecting to them, for
** the node's own bind check, its Raft connections and its join requests.
*/
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "net.h"

int dpResolve(const char *zAddr, struct addrinfo **ppRes){
  char zHost[256];
  const char *zColon = strrchr(zAddr, ':');
  struct addrinfo hints;
  size_t nHost;
  *ppRes = 0;
  if( zColon==0 || zColon[1]==0 ) return 1;
  nHost = (size_t)(zColon - zAddr);
  if( nHost>=sizeof(zHost) ) return 1;
  memcpy(zHost, zAddr, nHost);
  zHost[nHost] = 0;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if( getaddrinfo(zHost, zColon+1, &hints, ppRes)!=0 || *ppRes==0 ){
    *ppRes = 0;
    return 1;
  }
  return 0;
}

int dpTcpConnect(const char *zAddr, int timeoutSec, int noDelay){
  struct addrinfo *pRes, *p;
  int fd = -1, one = 1;
  if( dpResolve(zAddr, &pRes) ) return -1;
  for(p=pRes; p && fd<0; p=p->ai_next){
    fd = socket(p->ai_family, SOCK_STREAM, 0);
    if( fd<0 ) continue;
    if( timeoutSec>0 ){
      struct timeval tv;
      tv.tv_sec = timeoutSec;
      tv.tv_usec = 0;
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if( connect(fd, p->ai_addr, p->ai_addrlen)!=0 ){
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(pRes);
  if( fd>=0 && noDelay ){
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}
