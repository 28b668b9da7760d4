package main

// ingest: documents into a docpipe table through the cluster, in
// transactions, surviving a change of leader without losing or doubling a
// document.
//
// When a transaction fails because the leader went away, its outcome is
// unknown: the COMMIT may have been replicated before the connection broke.
// So before retrying, ingest asks the new leader how many of the
// transaction's rowids are stored: all of them means it committed, none
// means it did not and is sent again whole; anything else would be a broken
// transaction and stops the run.

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	dqlite "github.com/canonical/go-dqlite/driver"
)

const (
	maxAttempts  = 50 // per transaction; each waits up to maxBackoff
	maxBackoff   = time.Second
	maxLineBytes = 64 << 20
)

type document struct {
	id      int64
	columns []string      // "body" and any other JSON fields, sorted
	values  []interface{} // in the order of columns
}

func cmdIngest(ctx context.Context, db *sql.DB, args []string) error {
	flags := flag.NewFlagSet("ingest", flag.ContinueOnError)
	batch := flags.Int("batch", 100, "documents per transaction")
	firstID := flags.Int64("first-id", 1, "rowid of the first document without an \"id\"")
	report := flags.Bool("report", false, "print throughput and latency figures")
	spacing := flags.Duration("pause", 0, "wait this long between transactions (to spread a load)")
	if err := flags.Parse(args); err != nil {
		return usageError{"ingest: " + err.Error()}
	}
	if flags.NArg() != 2 {
		return usageError{"ingest needs TABLE and PATH (a folder or a JSON-lines file)"}
	}
	if *batch < 1 {
		return usageError{"ingest: -batch must be at least 1"}
	}
	table, path := flags.Arg(0), flags.Arg(1)
	docs, err := readDocuments(path, *firstID)
	if err != nil {
		return err
	}

	var txnTimes, commitTimes []time.Duration
	retries := 0
	started := time.Now()
	for start := 0; start < len(docs); start += *batch {
		end := start + *batch
		if end > len(docs) {
			end = len(docs)
		}
		chunk := docs[start:end]
		if start > 0 && *spacing > 0 {
			time.Sleep(*spacing)
		}
		for attempt := 1; ; attempt++ {
			t0 := time.Now()
			commit, err := insertChunk(ctx, db, table, chunk)
			if err == nil {
				txnTimes = append(txnTimes, time.Since(t0))
				commitTimes = append(commitTimes, commit)
				break
			}
			if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
				return fmt.Errorf("documents %d..%d: %w", chunk[0].id,
					chunk[len(chunk)-1].id, describe(err))
			}
			retries++
			pause(ctx, attempt)
			stored, err := countStored(ctx, db, table, chunk)
			if err != nil {
				return err
			}
			if stored == len(chunk) {
				break // it committed before the connection broke
			}
			if stored != 0 {
				return fmt.Errorf("documents %d..%d: %d of %d stored after a failed "+
					"transaction: the transaction was not atomic", chunk[0].id,
					chunk[len(chunk)-1].id, stored, len(chunk))
			}
		}
	}
	elapsed := time.Since(started)
	if *report {
		fmt.Printf("docs=%d seconds=%.3f docs_per_s=%.0f txns=%d "+
			"txn_p50_ms=%.2f txn_p99_ms=%.2f commit_p50_ms=%.2f commit_p99_ms=%.2f retries=%d\n",
			len(docs), elapsed.Seconds(), float64(len(docs))/elapsed.Seconds(),
			len(txnTimes), ms(percentile(txnTimes, 0.50)), ms(percentile(txnTimes, 0.99)),
			ms(percentile(commitTimes, 0.50)), ms(percentile(commitTimes, 0.99)), retries)
	}
	return nil
}

// insertChunk runs one transaction; it returns how long COMMIT took.
// Documents go in as multi-row INSERTs, as many rows per statement as
// dqlite's 255 parameters allow: each statement is a round trip to the
// leader, and one per document cost half the throughput.  SQLite inserts
// the rows of a VALUES list in order, so the decisions are those of
// one-row statements.
func insertChunk(ctx context.Context, db *sql.DB, table string,
	chunk []document) (time.Duration, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	prepared := map[string]*sql.Stmt{}
	defer func() {
		for _, stmt := range prepared {
			stmt.Close()
		}
	}()
	for len(chunk) > 0 {
		rows := sameColumns(chunk, dqlite.MaxTupleParams/(1+len(chunk[0].columns)))
		key := fmt.Sprintf("%d:%s", rows, strings.Join(chunk[0].columns, ","))
		stmt := prepared[key]
		if stmt == nil {
			stmt, err = tx.PrepareContext(ctx, insertSQL(table, chunk[0].columns, rows))
			if err != nil {
				tx.Rollback()
				return 0, err
			}
			prepared[key] = stmt
		}
		var args []interface{}
		for _, doc := range chunk[:rows] {
			args = append(append(args, doc.id), doc.values...)
		}
		if _, err = stmt.ExecContext(ctx, args...); err != nil {
			tx.Rollback()
			return 0, err
		}
		chunk = chunk[rows:]
	}
	t0 := time.Now()
	err = tx.Commit()
	return time.Since(t0), err
}

// sameColumns: how many leading documents (at most max, at least one) have
// the first one's columns.
func sameColumns(docs []document, max int) int {
	key := strings.Join(docs[0].columns, ",")
	n := 1
	for n < len(docs) && n < max && strings.Join(docs[n].columns, ",") == key {
		n++
	}
	return n
}

func insertSQL(table string, columns []string, rows int) string {
	quoted := []string{"rowid"}
	marks := []string{"?"}
	for _, c := range columns {
		quoted = append(quoted, quoteIdent(c))
		marks = append(marks, "?")
	}
	tuple := "(" + strings.Join(marks, ",") + ")"
	return fmt.Sprintf("INSERT INTO %s(%s) VALUES%s", quoteIdent(table),
		strings.Join(quoted, ","), strings.TrimSuffix(strings.Repeat(tuple+",", rows), ","))
}

func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// countStored asks the (new) leader how many of the chunk's rowids exist,
// retrying while the cluster elects a leader.
func countStored(ctx context.Context, db *sql.DB, table string, chunk []document) (int, error) {
	ids := make([]string, len(chunk))
	for i, doc := range chunk {
		ids[i] = strconv.FormatInt(doc.id, 10)
	}
	query := fmt.Sprintf("SELECT count(*) FROM %s WHERE rowid IN (%s)",
		quoteIdent(table), strings.Join(ids, ","))
	for attempt := 1; ; attempt++ {
		var n int
		err := db.QueryRowContext(ctx, query).Scan(&n)
		if err == nil {
			return n, nil
		}
		if !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return 0, fmt.Errorf("checking documents %d..%d after a failed transaction: %w",
				chunk[0].id, chunk[len(chunk)-1].id, describe(err))
		}
		pause(ctx, attempt)
	}
}

// retryable: the leader went away or is busy; the transaction may be sent
// again (after countStored says it did not commit).
func retryable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, dqlite.ErrNoAvailableLeader) {
		return true
	}
	var e dqlite.Error
	if errors.As(err, &e) {
		return e.Code&0xff == dqlite.ErrBusy || e.Code&0xff == 10 /* SQLITE_IOERR: leadership */
	}
	msg := err.Error()
	for _, s := range []string{"EOF", "connection reset", "broken pipe",
		"connection refused", "no available dqlite leader", "not leader", "leadership"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func pause(ctx context.Context, attempt int) {
	d := time.Duration(attempt) * 100 * time.Millisecond
	if d > maxBackoff {
		d = maxBackoff
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// readDocuments reads a folder (one document per regular file, by name) or
// a JSON-lines file.
func readDocuments(path string, firstID int64) ([]document, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if info.IsDir() {
		return readFolder(path, firstID)
	}
	return readJSONLines(path, firstID)
}

func readFolder(dir string, firstID int64) ([]document, error) {
	entries, err := ioutil.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	var docs []document
	for _, entry := range entries {
		name := filepath.Join(dir, entry.Name())
		if info, err := os.Stat(name); err != nil || !info.Mode().IsRegular() {
			continue // folders, and links that lead to none of a file
		}
		body, err := ioutil.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		docs = append(docs, document{id: firstID + int64(len(docs)),
			columns: []string{"body"}, values: []interface{}{string(body)}})
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("ingest: %s holds no regular files", dir)
	}
	return docs, nil
}

func readJSONLines(path string, firstID int64) ([]document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), maxLineBytes)
	var docs []document
	seen := map[int64]int{}
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" {
			continue
		}
		fields := map[string]interface{}{}
		decoder := json.NewDecoder(strings.NewReader(text))
		decoder.UseNumber()
		if err := decoder.Decode(&fields); err != nil {
			return nil, fmt.Errorf("ingest: %s line %d: not a JSON object: %v", path, line, err)
		}
		doc, err := jsonDocument(fields, firstID+int64(len(docs)))
		if err != nil {
			return nil, fmt.Errorf("ingest: %s line %d: %v", path, line, err)
		}
		if prev, dup := seen[doc.id]; dup {
			return nil, fmt.Errorf("ingest: %s line %d: id %d is also on line %d", path, line, doc.id, prev)
		}
		seen[doc.id] = line
		docs = append(docs, doc)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("ingest: %s: %w", path, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("ingest: %s holds no documents", path)
	}
	return docs, nil
}

func jsonDocument(fields map[string]interface{}, defaultID int64) (document, error) {
	doc := document{id: defaultID}
	if raw, ok := fields["id"]; ok {
		n, isNumber := raw.(json.Number)
		id, err := n.Int64()
		if !isNumber || err != nil {
			return doc, fmt.Errorf("\"id\" must be an integer, not %v", raw)
		}
		doc.id = id
		delete(fields, "id")
	}
	if _, ok := fields["body"].(string); !ok {
		return doc, errors.New("\"body\" must be a string")
	}
	for name := range fields {
		doc.columns = append(doc.columns, name)
	}
	sort.Strings(doc.columns)
	for _, name := range doc.columns {
		switch v := fields[name].(type) {
		case json.Number:
			if i, err := v.Int64(); err == nil {
				doc.values = append(doc.values, i)
			} else if f, err := v.Float64(); err == nil {
				doc.values = append(doc.values, f)
			} else {
				return doc, fmt.Errorf("%q: %v", name, err)
			}
		case string, nil, bool:
			doc.values = append(doc.values, v)
		default:
			return doc, fmt.Errorf("%q must be a string, number, boolean or null", name)
		}
	}
	return doc, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sorted := append([]time.Duration(nil), d...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	i := int(float64(len(sorted))*p+0.999999) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
