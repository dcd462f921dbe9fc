package bootstrap

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"strings"

	"example.com/usersvc/application/userapp"
)

// errImportFormat means an import file's format or header is wrong: nothing
// was read.
var errImportFormat = errors.New("import file")

// importColumns are the columns an import reads; aliases name the same
// column as other systems export it.
var (
	importColumns = []string{"id", "username", "password_hash", "full_name", "created_at"}
	importAliases = map[string]string{"hashed_password": "password_hash"}
)

// importDecoder reads an import file row by row. err is set when reading
// stopped early (an I/O failure), after records has ended.
type importDecoder struct {
	csv   *csv.Reader
	lines *bufio.Scanner
	cols  map[string]int
	// width is how many fields the header has: a row with fewer is
	// refused. (Not len(cols): a name repeated in the header counts once
	// there, while its columns still push the later ones along.)
	width int
	err   error
}

// newImportDecoder reads r as CSV or JSON lines: format when given, else by
// the name's extension (.csv; .jsonl, .ndjson, .json), else by the first
// byte that is not white space ('{' is JSON lines). A CSV file's header is
// read here and must name every column (extra columns are ignored).
func newImportDecoder(r io.Reader, name, format string) (*importDecoder, error) {
	br := bufio.NewReader(r)
	if format == "" {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".csv":
			format = "csv"
		case ".jsonl", ".ndjson", ".json":
			format = "jsonl"
		default:
			head, _ := br.Peek(512)
			format = "csv"
			if t := bytes.TrimLeft(head, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
				format = "jsonl"
			}
		}
	}
	switch format {
	case "jsonl":
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		return &importDecoder{lines: sc}, nil
	case "csv":
	default:
		return nil, fmt.Errorf("%w: --format is csv or jsonl, not %q", errImportFormat, format)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // a short row is a refused row, not the end
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: no CSV header row: %v", errImportFormat, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if alias, ok := importAliases[h]; ok {
			h = alias
		}
		cols[h] = i
	}
	var missing []string
	for _, c := range importColumns {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: the CSV header lacks %s (it needs %s)", errImportFormat, strings.Join(missing, ", "), strings.Join(importColumns, ", "))
	}
	return &importDecoder{csv: cr, cols: cols, width: len(header)}, nil
}

// records yields every row with its line number.
func (d *importDecoder) records() iter.Seq[userapp.ImportRecord] {
	if d.csv != nil {
		return d.csvRecords
	}
	return d.jsonRecords
}

func (d *importDecoder) csvRecords(yield func(userapp.ImportRecord) bool) {
	for {
		fields, err := d.csv.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			if !yield(userapp.ImportRecord{Line: perr.StartLine, Malformed: "not valid CSV: " + perr.Err.Error()}) {
				return
			}
			continue
		}
		if err != nil {
			d.err = fmt.Errorf("read import file: %w", err)
			return
		}
		line, _ := d.csv.FieldPos(0)
		rec := userapp.ImportRecord{Line: line}
		if len(fields) < d.width {
			rec.Malformed = fmt.Sprintf("has %d fields, the header %d", len(fields), d.width)
		} else {
			at := func(c string) string { return fields[d.cols[c]] }
			rec.ID, rec.Username, rec.PasswordHash, rec.FullName, rec.CreatedAt =
				at("id"), at("username"), at("password_hash"), at("full_name"), at("created_at")
		}
		if !yield(rec) {
			return
		}
	}
}

// jsonRow is one JSON line; full_name may be null.
type jsonRow struct {
	ID           string  `json:"id"`
	Username     string  `json:"username"`
	PasswordHash string  `json:"password_hash"`
	FullName     *string `json:"full_name"`
	CreatedAt    string  `json:"created_at"`
}

func (d *importDecoder) jsonRecords(yield func(userapp.ImportRecord) bool) {
	line := 0
	for d.lines.Scan() {
		line++
		text := bytes.TrimSpace(d.lines.Bytes())
		if len(text) == 0 {
			continue
		}
		rec := userapp.ImportRecord{Line: line}
		var row jsonRow
		if err := json.Unmarshal(text, &row); err != nil {
			rec.Malformed = "not a JSON object with string fields id, username, password_hash, full_name, created_at"
		} else {
			rec.ID, rec.Username, rec.PasswordHash, rec.CreatedAt = row.ID, row.Username, row.PasswordHash, row.CreatedAt
			if row.FullName != nil {
				rec.FullName = *row.FullName
			}
		}
		if !yield(rec) {
			return
		}
	}
	if err := d.lines.Err(); err != nil {
		d.err = fmt.Errorf("read import file after line %d: %w", line, err)
	}
}
