/*
** join.h — ask a running dqlite cluster to add this node as a voter, over
** dqlite's client wire protocol (the two requests a node needs: which node
** leads, and add + assign).  See join.c.
*/
#ifndef DOCPIPE_JOIN_H
#define DOCPIPE_JOIN_H

/* zPeers: comma-separated HOST:PORT list of nodes already in the cluster.
** Retries for a bounded time while the cluster has no leader, and gives up
** early when xStop() says so (a stop signal is pending).  Returns 0 on
** success, DP_JOIN_STOPPED when stopped, else another non-zero value with
** *pzErr set to a malloc'd message. */
#define DP_JOIN_STOPPED 3
int dpJoinCluster(const char *zPeers, unsigned long long id,
                  const char *zAddress, int (*xStop)(void), char **pzErr);

#endif
