/*
** sqlite-docpipe.h — public header of docpipe for programs that link it
** statically (libdocpipe.a) and register it themselves:
**
**   #include <sqlite3.h>
**   #include <sqlite-docpipe.h>
**   sqlite3_auto_extension((void(*)(void))sqlite3_docpipe_init);
**
** Build with: cc ... $(pkg-config --cflags --libs docpipe) -lsqlite3
** (libdocpipe.a carries the utf8proc code it uses; it exports only
** sqlite3_docpipe_init).
** The loadable extension (docpipe.so) needs no header: .load it.
*/
#ifndef SQLITE_DOCPIPE_H
#define SQLITE_DOCPIPE_H

#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Registers docpipe's functions and modules on db (pzErrMsg may be NULL;
** pApi is ignored in the static library). */
int sqlite3_docpipe_init(sqlite3 *db, char **pzErrMsg,
                         const struct sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif

#endif /* SQLITE_DOCPIPE_H */
