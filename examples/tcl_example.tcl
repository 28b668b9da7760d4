# docpipe from Tcl (Debian libsqlite3-tcl):
#   tclsh examples/tcl_example.tcl dist/docpipe
package require sqlite3
set ext [expr {$argc ? [lindex $argv 0] : "dist/docpipe"}]
sqlite3 db :memory:
db enable_load_extension 1
db eval { SELECT load_extension($ext) }

db eval { CREATE VIRTUAL TABLE docs USING docpipe(threshold=0.7) }
db transaction {
  foreach d {
    "In the beginning God created the heaven and the earth. And the earth was without form, and void."
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse."
    "In the beginning God created the heaven and the earth. And the earth was without form, and empty."
    "It was the best of times, it was the worst of times, it was the age of wisdom."
  } {
    db eval { INSERT INTO docs(body) VALUES ($d) }
  }
}
db eval { SELECT rowid, duplicate_of, similarity FROM docs WHERE is_duplicate } {
  puts [format "%d duplicate of %d (similarity %.3f)" $rowid $duplicate_of $similarity]
}
set q "Call me Ishmael. Some years ago, never mind how long"
db eval { SELECT rowid, score FROM docs WHERE docs MATCH $q AND k = 2 } {
  puts [format "nearest %d %.3f" $rowid $score]
}
