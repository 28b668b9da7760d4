package main

// Unit tests of the client's helpers (no cluster needed); test/cluster.sh
// runs them and counts each one.

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReturnsRows(t *testing.T) {
	cases := map[string]bool{
		"SELECT 1":                             true,
		"  select rowid FROM docs":             true,
		"(SELECT 1)":                           true,
		"PRAGMA integrity_check":               true,
		"VALUES (1), (2)":                      true,
		"EXPLAIN SELECT 1":                     true,
		"WITH t AS (SELECT 1) SELECT * FROM t": true,
		"WITH t AS (SELECT 1) INSERT INTO x SELECT * FROM t": false,
		"INSERT INTO docs(body) VALUES('x')":                 false,
		"INSERT INTO docs(body) VALUES('returning home')":    false,
		"INSERT INTO docs(body) VALUES('x') RETURNING rowid": true,
		"WITH t AS (SELECT 'insert') SELECT * FROM t":        true,
		"CREATE VIRTUAL TABLE docs USING docpipe":            false,
		"DELETE FROM docs WHERE body = 'select'":             false,
		"UPDATE docs SET body = 'it''s RETURNING' WHERE 1":   false,
	}
	for stmt, want := range cases {
		if got := returnsRows(stmt); got != want {
			t.Errorf("returnsRows(%q) = %v, want %v", stmt, got, want)
		}
	}
}

func TestWithoutLiterals(t *testing.T) {
	cases := map[string]string{
		"SELECT 'a', b":         "SELECT , b",
		"VALUES('it''s', 'x')":  "VALUES(, )",
		"no literal at all":     "no literal at all",
		"'unterminated literal": "",
	}
	for in, want := range cases {
		if got := withoutLiterals(in); got != want {
			t.Errorf("withoutLiterals(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatValue(t *testing.T) {
	cases := []struct {
		in   interface{}
		want string
	}{
		{nil, ""},
		{int64(-7), "-7"},
		{1.0, "1.0"},
		{0.5, "0.5"},
		{1e300, "1e+300"},
		{math.Inf(1), "+Inf"},
		{"text", "text"},
		{[]byte{0x01, 0xab}, "X'01AB'"},
		{true, "1"},
	}
	for _, c := range cases {
		if got := formatValue(c.in); got != c.want {
			t.Errorf("formatValue(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestInsertSQL(t *testing.T) {
	got := insertSQL(`my"docs`, []string{"body", "title"}, 2)
	want := `INSERT INTO "my""docs"("rowid","body","title") VALUES(?,?,?),(?,?,?)`
	want = strings.Replace(want, `"rowid"`, "rowid", 1)
	if got != want {
		t.Errorf("insertSQL = %s, want %s", got, want)
	}
}

func TestSameColumns(t *testing.T) {
	a := document{columns: []string{"body"}}
	b := document{columns: []string{"body", "title"}}
	docs := []document{a, a, a, b, a}
	if n := sameColumns(docs, 100); n != 3 {
		t.Errorf("sameColumns = %d, want 3 (stops at a new column set)", n)
	}
	if n := sameColumns(docs, 2); n != 2 {
		t.Errorf("sameColumns = %d, want 2 (the parameter bound)", n)
	}
	if n := sameColumns(docs[3:], 100); n != 1 {
		t.Errorf("sameColumns = %d, want 1", n)
	}
}

func TestJSONDocument(t *testing.T) {
	parse := func(text string) map[string]interface{} {
		fields := map[string]interface{}{}
		decoder := json.NewDecoder(strings.NewReader(text))
		decoder.UseNumber()
		if err := decoder.Decode(&fields); err != nil {
			t.Fatal(err)
		}
		return fields
	}
	doc, err := jsonDocument(parse(`{"id": 7, "body": "b", "title": "t", "n": 2.5, "k": 3}`), 1)
	if err != nil {
		t.Fatal(err)
	}
	if doc.id != 7 || strings.Join(doc.columns, ",") != "body,k,n,title" {
		t.Errorf("id %d columns %v", doc.id, doc.columns)
	}
	if doc.values[0] != "b" || doc.values[1] != int64(3) || doc.values[2] != 2.5 || doc.values[3] != "t" {
		t.Errorf("values %#v", doc.values)
	}
	if doc, _ := jsonDocument(parse(`{"body": "b"}`), 42); doc.id != 42 {
		t.Errorf("default id %d, want 42", doc.id)
	}
	for _, bad := range []string{`{"body": 1}`, `{"title": "no body"}`,
		`{"id": 1.5, "body": "b"}`, `{"id": "7", "body": "b"}`, `{"body": "b", "x": [1]}`} {
		if _, err := jsonDocument(parse(bad), 1); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestReadFolder(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"b.txt": "second", "a.txt": "first"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "a.txt"), filepath.Join(dir, "c.txt")); err != nil {
		t.Fatal(err)
	}
	docs, err := readFolder(dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		got = append(got, d.values[0].(string))
	}
	if strings.Join(got, ",") != "first,second,first" || docs[0].id != 10 || docs[2].id != 12 {
		t.Errorf("documents %v, ids %d..%d", got, docs[0].id, docs[len(docs)-1].id)
	}
	if _, err := readFolder(t.TempDir(), 1); err == nil {
		t.Error("an empty folder was accepted")
	}
}

func TestReadJSONLinesDuplicateID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	text := "{\"id\": 3, \"body\": \"a\"}\n\n{\"id\": 3, \"body\": \"b\"}\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readJSONLines(path, 1)
	if err == nil || !strings.Contains(err.Error(), "line 3: id 3 is also on line 1") {
		t.Errorf("error %v", err)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(101-i)*time.Millisecond)
	}
	if p := percentile(d, 0.50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(d, 0.99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Errorf("empty p50 = %v", p)
	}
}
