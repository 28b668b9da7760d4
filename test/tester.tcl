# tester.tcl — the test harness, in SQLite's own style.
#
#   source [file join [file dirname [info script]] tester.tcl]
#   do_execsql_test 1.1 { SELECT 1+1 } {2}
#   do_catchsql_test 1.2 { SELECT cosine(1,2) } {1 {cosine(): ...}}
#   finish_test
#
# Each .test file runs in its own tclsh (see all.tcl), in a scratch
# directory, with `db` open on test.db and docpipe loaded.  The extension is
# $DOCPIPE_EXT when set (the sanitizer build), else dist/docpipe.
package require sqlite3
# Child processes and files speak UTF-8 whatever the locale (a fresh
# machine may have none).
encoding system utf-8

set ::testdir [file dirname [file normalize [info script]]]
set ::topdir [file dirname $::testdir]
if {[info exists env(DOCPIPE_EXT)]} {
  set ::docpipe_ext $env(DOCPIPE_EXT)
} else {
  set ::docpipe_ext [file join $::topdir dist docpipe]
}
set ::nPass 0
set ::nFail 0
set ::nSkip 0
set ::failed [list]

# Scratch directory for database files, removed by finish_test.
set ::scratch [file join [expr {[info exists env(TMPDIR)] ? $env(TMPDIR) : "/tmp"}] \
  "docpipe-test-[pid]"]
file delete -force $::scratch
file mkdir $::scratch
cd $::scratch

proc load_docpipe {db} {
  $db enable_load_extension 1
  $db eval {SELECT load_extension($::docpipe_ext)}
}

# Run a Python script (Debian's /usr/bin/python3, which loads extensions)
# with args; its standard output.  Under `make asan` the child inherits
# libasan, whose LeakSanitizer would report Python's own allocations.
proc exec_python {script args} {
  set saved [expr {[info exists ::env(ASAN_OPTIONS)] ? $::env(ASAN_OPTIONS) : ""}]
  if {[info exists ::env(LD_PRELOAD)] && [string match *asan* $::env(LD_PRELOAD)]} {
    set ::env(ASAN_OPTIONS) detect_leaks=0
  }
  set rc [catch {exec /usr/bin/python3 -c $script {*}$args} out]
  set ::env(ASAN_OPTIONS) $saved
  if {$rc} { error $out }
  return $out
}

proc forcedelete {args} {
  foreach f $args {
    foreach g [list $f $f-journal $f-wal $f-shm] { file delete -force $g }
  }
}

proc reset_db {} {
  catch {db close}
  forcedelete test.db
  sqlite3 db test.db
  load_docpipe db
}

proc execsql {sql {d db}} {
  return [uplevel [list $d eval $sql]]
}

proc catchsql {sql {d db}} {
  set rc [catch {uplevel [list $d eval $sql]} msg]
  return [list $rc $msg]
}

proc pass {name} {
  incr ::nPass
}

proc fail {name got expected} {
  incr ::nFail
  lappend ::failed $name
  puts "! $name failed"
  puts "!   expected: [string range $expected 0 600]"
  puts "!   got:      [string range $got 0 600]"
}

# A test that cannot run here (a missing peer), with the reason shown.
proc skip_test {name why} {
  incr ::nSkip
  puts "- $name skipped: $why"
}

proc do_test {name script expected} {
  set rc [catch {uplevel 1 $script} got]
  if {$rc == 1} {
    fail $name "error: $got" $expected
  } elseif {$got eq $expected} {
    pass $name
  } else {
    fail $name $got $expected
  }
}

# Results are compared as lists, so layout of the expected text is free.
proc do_execsql_test {name sql expected} {
  uplevel 1 [list do_test $name [list execsql $sql] [list {*}$expected]]
}

proc do_catchsql_test {name sql expected} {
  uplevel 1 [list do_test $name [list catchsql $sql] [list {*}$expected]]
}

# do_approx_test name script expected tolerance: every number within tol.
proc do_approx_test {name script expected tol} {
  set rc [catch {uplevel 1 $script} got]
  if {$rc == 1} { fail $name "error: $got" $expected; return }
  if {[llength $got] != [llength $expected]} { fail $name $got $expected; return }
  foreach g $got e $expected {
    if {[string is double -strict $e]} {
      if {![string is double -strict $g] || abs($g - $e) > $tol} {
        fail $name $got "$expected (tolerance $tol)"; return
      }
    } elseif {$g ne $e} {
      fail $name $got $expected; return
    }
  }
  pass $name
}

# Float32 blob <-> Tcl list.
proc f32blob {lst} { return [binary format f* $lst] }
proc f32list {blob} { binary scan $blob f* l; return $l }

# Deterministic pseudo-random numbers (tests must not depend on the clock).
set ::rng 12345
proc rand01 {} {
  set ::rng [expr {($::rng * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF}]
  return [expr {double($::rng >> 11) / double(1 << 53)}]
}

proc finish_test {} {
  catch {db close}
  cd /
  file delete -force $::scratch
  if {[llength $::failed]} { puts "failed: $::failed" }
  if {$::nSkip} {
    puts "$::nPass passed, $::nFail failed, $::nSkip skipped"
  } else {
    puts "$::nPass passed, $::nFail failed"
  }
  exit [expr {$::nFail > 0}]
}


# Primary result code name of the last error on a connection.
proc sqlite3_errcode_of {d} {
  set c [$d errorcode]
  set names {1 SQLITE_ERROR 11 SQLITE_CORRUPT 19 SQLITE_CONSTRAINT 20 SQLITE_MISMATCH 7 SQLITE_NOMEM}
  set p [expr {$c & 0xff}]
  if {[dict exists $names $p]} { return [dict get $names $p] }
  return $c
}

reset_db
