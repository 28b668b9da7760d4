// docpipe-cluster: a small client for a cluster of docpipe-node processes.
//
//	docpipe-cluster [-s HOST:PORT,...] [-d DATABASE] [-timeout D] COMMAND ...
//
//	leader                        print the leader's id and address
//	nodes                         list the nodes: id|address|role
//	add ID ADDRESS                add a node and make it a voter
//	transfer ID                   hand leadership to node ID
//	sql STATEMENT...              run each statement on the leader; rows of
//	                              a query print as sqlite3's list mode does;
//	                              "-" reads statements from standard input,
//	                              each ending with ";" at the end of a line
//	ingest [-batch N] [-first-id N] [-pause D] [-report] TABLE PATH
//	                              insert a folder of text files (one document
//	                              per file, by name order) or a JSON-lines file
//	                              ({"body": ..., "id": ..., other columns})
//	                              in transactions of N documents
//
// Built against Debian's go-dqlite sources (GOPATH mode, offline); see
// the Makefile (dist/docpipe-cluster).  Every network wait is bounded by
// -timeout.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/canonical/go-dqlite/client"
	dqlite "github.com/canonical/go-dqlite/driver"
)

const usage = `usage: docpipe-cluster [-s HOST:PORT,...] [-d DATABASE] [-timeout D] COMMAND ...
commands:
  leader                     print the leader's id and address
  nodes                      list the nodes (id|address|role)
  add ID ADDRESS             add a node to the cluster as a voter
  transfer ID                hand leadership to node ID
  sql STATEMENT...           run SQL on the leader; query rows print as a|b|c
                             ("-": statements from standard input, each ending
                             with ";" at the end of a line, on one connection)
  ingest [-batch N] [-first-id N] [-pause D] [-report] TABLE PATH
                             insert a folder of text files or a JSON-lines file
options:
`

// Exit codes: 1 for an error from the cluster or SQL, 2 for bad usage.
func fail(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "docpipe-cluster: "+format+"\n", args...)
	os.Exit(code)
}

func main() {
	servers := flag.String("s", envOr("DOCPIPE_CLUSTER", "127.0.0.1:9001"),
		"comma-separated addresses of cluster nodes (or $DOCPIPE_CLUSTER)")
	database := flag.String("d", "docpipe", "database name inside the cluster")
	timeout := flag.Duration("timeout", 60*time.Second,
		"bound on the whole command, leader elections included")
	flag.Usage = func() {
		fmt.Fprint(os.Stderr, usage)
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		os.Exit(2)
	}

	store := client.NewInmemNodeStore()
	var infos []client.NodeInfo
	for _, address := range strings.Split(*servers, ",") {
		if address = strings.TrimSpace(address); address != "" {
			infos = append(infos, client.NodeInfo{Address: address})
		}
	}
	if len(infos) == 0 {
		fail(2, "-s names no node address")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	store.Set(ctx, infos)

	var err error
	switch args[0] {
	case "leader":
		err = cmdLeader(ctx, store, args[1:])
	case "nodes":
		err = cmdNodes(ctx, store, args[1:])
	case "add":
		err = cmdAdd(ctx, store, args[1:])
	case "transfer":
		err = cmdTransfer(ctx, store, args[1:])
	case "sql":
		err = withDB(ctx, store, *database, func(db *sql.DB) error {
			return cmdSQL(ctx, db, args[1:])
		})
	case "ingest":
		err = withDB(ctx, store, *database, func(db *sql.DB) error {
			return cmdIngest(ctx, db, args[1:])
		})
	default:
		flag.Usage()
		fail(2, "unknown command %q", args[0])
	}
	if err != nil {
		var usageErr usageError
		if errors.As(err, &usageErr) {
			fail(2, "%s", err)
		}
		fail(1, "%s", err)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// The go-dqlite client logs every retry; a user wants the outcome only.
func quietLog(client.LogLevel, string, ...interface{}) {}

// withLeader runs body with a client of the current leader.
func withLeader(ctx context.Context, store client.NodeStore,
	body func(cli *client.Client) error) error {
	cli, err := client.FindLeader(ctx, store, client.WithLogFunc(quietLog))
	if err != nil {
		return fmt.Errorf("no leader reachable: %w", err)
	}
	defer cli.Close()
	return body(cli)
}

func cmdLeader(ctx context.Context, store client.NodeStore, args []string) error {
	if len(args) != 0 {
		return usageError{"leader takes no arguments"}
	}
	return withLeader(ctx, store, func(cli *client.Client) error {
		info, err := cli.Leader(ctx)
		if err != nil {
			return err
		}
		if info == nil {
			return errors.New("the cluster has no leader")
		}
		fmt.Printf("%d|%s\n", info.ID, info.Address)
		return nil
	})
}

func cmdNodes(ctx context.Context, store client.NodeStore, args []string) error {
	if len(args) != 0 {
		return usageError{"nodes takes no arguments"}
	}
	return withLeader(ctx, store, func(cli *client.Client) error {
		nodes, err := cli.Cluster(ctx)
		if err != nil {
			return err
		}
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
		for _, n := range nodes {
			fmt.Printf("%d|%s|%s\n", n.ID, n.Address, n.Role)
		}
		return nil
	})
}

func cmdAdd(ctx context.Context, store client.NodeStore, args []string) error {
	if len(args) != 2 {
		return usageError{"add needs ID and ADDRESS"}
	}
	id, err := parseID("add", args[0])
	if err != nil {
		return err
	}
	return withLeader(ctx, store, func(cli *client.Client) error {
		node := client.NodeInfo{ID: id, Address: args[1], Role: client.Spare}
		if err := cli.Add(ctx, node); err != nil {
			return fmt.Errorf("add node %d: %w", id, err)
		}
		if err := cli.Assign(ctx, id, client.Voter); err != nil {
			return fmt.Errorf("make node %d a voter: %w", id, err)
		}
		return nil
	})
}

func cmdTransfer(ctx context.Context, store client.NodeStore, args []string) error {
	if len(args) != 1 {
		return usageError{"transfer needs the ID of a voter"}
	}
	id, err := parseID("transfer", args[0])
	if err != nil {
		return err
	}
	return withLeader(ctx, store, func(cli *client.Client) error {
		if leader, err := cli.Leader(ctx); err == nil && leader != nil && leader.ID == id {
			return nil // already leads: dqlite would call the ID "not valid"
		}
		if err := cli.Transfer(ctx, id); err != nil {
			return fmt.Errorf("transfer leadership to node %d: %w", id, err)
		}
		return nil
	})
}

func parseID(command, text string) (uint64, error) {
	id, err := strconv.ParseUint(text, 10, 64)
	if err != nil || id == 0 {
		return 0, usageError{fmt.Sprintf("%s: ID %q is not a positive integer", command, text)}
	}
	return id, nil
}

// withDB opens the named database through the dqlite driver, which finds
// the leader and follows it when leadership moves.
func withDB(ctx context.Context, store client.NodeStore, name string,
	body func(db *sql.DB) error) error {
	drv, err := dqlite.New(store, dqlite.WithLogFunc(quietLog),
		dqlite.WithContext(ctx))
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector{drv, name})
	defer db.Close()
	// One connection: statements of a command run in order on one leader.
	db.SetMaxOpenConns(1)
	return body(db)
}

// connector adapts the driver to sql.OpenDB without a global Register.
type connector struct {
	drv  *dqlite.Driver
	name string
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	return c.drv.Open(c.name)
}
func (c connector) Driver() driver.Driver { return c.drv }

// Statements that return rows are run as queries, the rest as exec: dqlite
// answers the two requests differently.  Keywords are looked for outside
// string literals ('returning home' is a document, not a RETURNING clause);
// a WITH clause may lead a query or an INSERT, UPDATE or DELETE.
func returnsRows(stmt string) bool {
	upper := strings.ToUpper(strings.TrimLeft(withoutLiterals(stmt), " \t\r\n("))
	if strings.Contains(upper, "RETURNING") {
		return true
	}
	if strings.HasPrefix(upper, "WITH") {
		for _, write := range []string{"INSERT", "UPDATE", "DELETE", "REPLACE"} {
			if strings.Contains(upper, write) {
				return false
			}
		}
		return true
	}
	for _, prefix := range []string{"SELECT", "PRAGMA", "VALUES", "EXPLAIN"} {
		if strings.HasPrefix(upper, prefix) {
			return true
		}
	}
	return false
}

// withoutLiterals drops the single-quoted string literals of a statement
// (a doubled quote inside one reads as two literals back to back, which
// drop just the same).
func withoutLiterals(stmt string) string {
	var b strings.Builder
	inLiteral := false
	for _, r := range stmt {
		if r == '\'' {
			inLiteral = !inLiteral
			continue
		}
		if !inLiteral {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cmdSQL(ctx context.Context, db *sql.DB, stmts []string) error {
	if len(stmts) == 0 {
		return usageError{"sql needs at least one statement"}
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if len(stmts) == 1 && stmts[0] == "-" {
		return runStdin(ctx, db, out)
	}
	for _, stmt := range stmts {
		if err := runStatement(ctx, db, out, stmt); err != nil {
			return err
		}
	}
	return nil
}

// runStdin runs statements as they arrive on standard input, each answered
// (and flushed) before the next is read: a script can hold one connection
// open while other clients write.
func runStdin(ctx context.Context, db *sql.DB, out *bufio.Writer) error {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), maxLineBytes)
	var pending strings.Builder
	for scanner.Scan() {
		line := scanner.Text()
		pending.WriteString(line)
		pending.WriteByte('\n')
		if !strings.HasSuffix(strings.TrimSpace(line), ";") {
			continue
		}
		if err := runStatement(ctx, db, out, pending.String()); err != nil {
			return err
		}
		pending.Reset()
		out.Flush()
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	if strings.TrimSpace(pending.String()) != "" {
		return runStatement(ctx, db, out, pending.String())
	}
	return nil
}

// runStatement runs one statement; while another client's transaction holds
// the database (SQLITE_BUSY: the statement did nothing) it waits and tries
// again, as sqlite3's busy timeout does, within -timeout.
func runStatement(ctx context.Context, db *sql.DB, out *bufio.Writer, stmt string) error {
	for attempt := 1; ; attempt++ {
		err := runOnce(ctx, db, out, stmt)
		var e dqlite.Error
		if err == nil || !errors.As(err, &e) || e.Code&0xff != dqlite.ErrBusy ||
			attempt == maxAttempts || ctx.Err() != nil {
			return describe(err)
		}
		pause(ctx, attempt)
	}
}

func runOnce(ctx context.Context, db *sql.DB, out *bufio.Writer, stmt string) error {
	if !returnsRows(stmt) {
		_, err := db.ExecContext(ctx, stmt)
		return err
	}
	rows, err := db.QueryContext(ctx, stmt)
	if err == nil {
		err = printRows(out, rows)
	}
	if err != nil {
		return queryError(ctx, db, stmt, err)
	}
	return nil
}

// queryError works around dqlite 1.11: when a query fails while stepping
// (after its column names were sent), the failure it returns carries the
// column count as the code and the first column's name as the message,
// e.g. "SQL error (code 1): rowid" for "k must be an integer...".  The
// exec request reports such errors correctly, so after a failure the
// statement is run once more that way, inside a transaction that is rolled
// back (so a statement with side effects has none), to learn the real error.
func queryError(ctx context.Context, db *sql.DB, stmt string, queryErr error) error {
	var e dqlite.Error
	if !errors.As(queryErr, &e) {
		return queryErr
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return queryErr
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		return err
	}
	return queryErr
}

func printRows(out *bufio.Writer, rows *sql.Rows) error {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	values := make([]interface{}, len(cols))
	ptrs := make([]interface{}, len(cols))
	for i := range values {
		ptrs[i] = &values[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range values {
			if i > 0 {
				out.WriteByte('|')
			}
			out.WriteString(formatValue(v))
		}
		out.WriteByte('\n')
	}
	return rows.Err()
}

// formatValue prints a value as the sqlite3 shell's list mode does.
func formatValue(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', 15, 64)
		if !strings.ContainsAny(s, ".eEn") && !math.IsInf(x, 0) {
			s += ".0"
		}
		return s
	case string:
		return x
	case []byte:
		return "X'" + strings.ToUpper(hex.EncodeToString(x)) + "'"
	case bool:
		if x {
			return "1"
		}
		return "0"
	case time.Time:
		return x.Format("2006-01-02 15:04:05")
	default:
		return fmt.Sprint(x)
	}
}

// describe names SQL errors from the cluster as such.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var e dqlite.Error
	if errors.As(err, &e) {
		return fmt.Errorf("SQL error (code %d): %s", e.Code, e.Message)
	}
	if errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("lost the leader (%v); retry the whole transaction", err)
	}
	return err
}
