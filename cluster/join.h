/*
** join.h — ask a running dqlite cluster to add this node as a voter, over
** dqlite's client wire protocol (the two requests a node needs: which node
** leads, and add + assign).  See join.c.
*/
#ifndef DOCPIPE_JOIN_H
#define DOCPIPE_JOIN_H

/* zPeers: comma-separated HOST:PORT list of nodes already in the cluster.
** Retries for a bounded time while the cluster has no leader.  Returns 0 on
** success, else non-zero with *pzErr set to a malloc'd message. */
int dpJoinCluster(const char *zPeers, unsigned long long id,
                  const char *zAddress, char **pzErr);

#endif
