/*
** net.h — TCP addresses of the form HOST:PORT, for docpipe-node (net.c).
*/
#ifndef DOCPIPE_NET_H
#define DOCPIPE_NET_H

#include <netdb.h>

/* Resolve HOST:PORT for a stream socket.  Returns 0 and a list to free with
** freeaddrinfo(), or non-zero when the text is not HOST:PORT or the host
** does not resolve. */
int dpResolve(const char *zAddr, struct addrinfo **ppRes);

/* Connect to HOST:PORT, trying each address it resolves to.  With
** timeoutSec > 0, sends and receives fail after that long; with noDelay,
** TCP_NODELAY is set.  Returns the socket, or -1. */
int dpTcpConnect(const char *zAddr, int timeoutSec, int noDelay);

#endif
