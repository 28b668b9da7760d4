# all.tcl — run every test, print one summary line last.
#
#   tclsh test/all.tcl              all C tests and *.test files
#   tclsh test/all.tcl cosine       only files whose name matches
#
# Each .test file runs in its own tclsh, so a crash is one failure and not
# the end of the run.  Files whose first lines say "# kernels: all" run once
# per kernel path this CPU has (DOCPIPE_SIMD=scalar, avx2, avx512).
# Test files are UTF-8 whatever the locale (-encoding utf-8).
# DOCPIPE_WRAP prefixes each child command (valgrind), DOCPIPE_NO_C_TESTS
# skips the C test binaries (the sanitizer run has its own build).
# DOCPIPE_SKIP is a list of glob patterns: files whose name matches one are
# not run (make test-fast: DOCPIPE_SKIP=clients.test, no npm, no network).
set testdir [file dirname [file normalize [info script]]]
set topdir [file dirname $testdir]
set pattern [lindex $argv 0]
set wrap [expr {[info exists env(DOCPIPE_WRAP)] ? $env(DOCPIPE_WRAP) : ""}]
set tclsh [info nameofexecutable]
set skip [expr {[info exists env(DOCPIPE_SKIP)] ? $env(DOCPIPE_SKIP) : ""}]
proc skipped {name} {
  foreach p $::skip { if {[string match $p $name]} { return 1 } }
  return 0
}

set total_pass 0
set total_fail 0
set total_skip 0

proc run_child {label cmd} {
  global total_pass total_fail total_skip
  set t0 [clock milliseconds]
  set rc [catch {exec {*}$cmd 2>@1} out opts]
  set ms [expr {[clock milliseconds] - $t0}]
  set np 0; set nf 0; set ns 0; set found 0
  foreach line [split $out \n] {
    if {[regexp {^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?} $line -> a b c]} {
      set np $a; set nf $b; set found 1
      if {$c ne ""} { set ns $c }
    }
    if {[string match "- * skipped: *" $line]} { puts $line }
  }
  incr total_skip $ns
  if {!$found} {
    # crashed or never reached finish_test: count as one failure
    set nf [expr {$nf + 1}]
  } elseif {$rc && $nf == 0} {
    # clean counts but a non-zero exit (sanitizer, valgrind): a failure
    set nf 1
  }
  incr total_pass $np
  incr total_fail $nf
  if {$nf} {
    puts $out
    puts "FAILED $label ($np passed, $nf failed, [expr {$ms/1000.0}] s)"
  } else {
    puts "ok     $label ($np passed, [expr {$ms/1000.0}] s)"
  }
}

# Which kernel paths load on this CPU?
package require sqlite3
set ext [expr {[info exists env(DOCPIPE_EXT)] ? $env(DOCPIPE_EXT) : [file join $topdir dist docpipe]}]
set paths [list]
foreach p {scalar avx2 avx512} {
  set env(DOCPIPE_SIMD) $p
  set ok [catch {
    exec $tclsh << "package require sqlite3; sqlite3 db :memory:; db enable_load_extension 1; db eval {SELECT load_extension('$ext')}"
  }]
  if {!$ok} { lappend paths $p }
}
unset env(DOCPIPE_SIMD)
puts "kernel paths on this CPU: $paths"

if {![info exists env(DOCPIPE_NO_C_TESTS)]} {
  foreach bin [lsort [glob -nocomplain [file join $topdir build *_test]]] {
    set name [file tail $bin]
    if {$pattern ne "" && ![string match *$pattern* $name]} continue
    if {[skipped $name]} continue
    run_child $name [list {*}$wrap $bin]
  }
}

foreach f [lsort [glob [file join $testdir *.test]]] {
  set name [file tail $f]
  if {$pattern ne "" && ![string match *$pattern* $name]} continue
  if {[skipped $name]} continue
  set fd [open $f]; set head [read $fd 400]; close $fd
  if {[string match "*# kernels: all*" $head]} {
    foreach p $paths {
      set env(DOCPIPE_SIMD) $p
      run_child "$name ($p)" [list {*}$wrap $tclsh -encoding utf-8 $f]
    }
    unset env(DOCPIPE_SIMD)
  } else {
    run_child $name [list {*}$wrap $tclsh -encoding utf-8 $f]
  }
}

if {$total_skip} {
  puts "$total_pass passed, $total_fail failed, $total_skip skipped"
} else {
  puts "$total_pass passed, $total_fail failed"
}
exit [expr {$total_fail > 0}]
