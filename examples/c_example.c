/*
** docpipe linked statically into a C program (libdocpipe.a), registered
** for every connection with sqlite3_auto_extension():
**
**   cc -o c_example examples/c_example.c $(pkg-config --cflags --libs docpipe) -lsqlite3
*/
#include <sqlite3.h>
#include <stdio.h>
#include <sqlite-docpipe.h>

static const char *azDoc[] = {
  "In the beginning God created the heaven and the earth. And the earth was without form, and void.",
  "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.",
  "In the beginning God created the heaven and the earth. And the earth was without form, and empty.",
  "It was the best of times, it was the worst of times, it was the age of wisdom.",
};

int main(void){
  sqlite3 *db;
  sqlite3_stmt *p;
  int i;
  sqlite3_auto_extension((void(*)(void))sqlite3_docpipe_init);
  if( sqlite3_open(":memory:", &db)!=SQLITE_OK ) return 1;
  if( sqlite3_exec(db, "CREATE VIRTUAL TABLE docs USING docpipe(threshold=0.7);"
                   "BEGIN", 0, 0, 0)!=SQLITE_OK ){
    fprintf(stderr, "%s\n", sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_prepare_v2(db, "INSERT INTO docs(body) VALUES (?1)", -1, &p, 0);
  for(i=0; i<4; i++){
    sqlite3_bind_text(p, 1, azDoc[i], -1, SQLITE_STATIC);
    sqlite3_step(p);
    sqlite3_reset(p);
  }
  sqlite3_finalize(p);
  sqlite3_exec(db, "COMMIT", 0, 0, 0);
  sqlite3_prepare_v2(db, "SELECT rowid, duplicate_of, similarity FROM docs"
                     " WHERE is_duplicate", -1, &p, 0);
  while( sqlite3_step(p)==SQLITE_ROW ){
    printf("%lld duplicate of %lld (similarity %.3f)\n",
           sqlite3_column_int64(p, 0), sqlite3_column_int64(p, 1),
           sqlite3_column_double(p, 2));
  }
  sqlite3_finalize(p);
  sqlite3_prepare_v2(db, "SELECT rowid, score FROM docs WHERE docs MATCH ?1"
                     " AND k = 2", -1, &p, 0);
  sqlite3_bind_text(p, 1, "Call me Ishmael. Some years ago, never mind how long",
                    -1, SQLITE_STATIC);
  while( sqlite3_step(p)==SQLITE_ROW ){
    printf("nearest %lld %.3f\n", sqlite3_column_int64(p, 0),
           sqlite3_column_double(p, 1));
  }
  sqlite3_finalize(p);
  sqlite3_close(db);
  return 0;
}
