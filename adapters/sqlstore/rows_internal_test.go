package sqlstore

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm/schema"
)

// TestUserColumnsMatchRow keeps the hand-written column list and scan
// targets of the hot user reads in step with userRow: every column GORM
// sees in the struct is listed, in the order of scanTargets, and each
// target is the field of that column.
func TestUserColumnsMatchRow(t *testing.T) {
	var row userRow
	checkColumns(t, &row, userColumns, row.scanTargets())
}

// TestSessionColumnsMatchRow does the same for sessionRow and sessionColumns
// (the RETURNING list of the session writes).
func TestSessionColumnsMatchRow(t *testing.T) {
	var row sessionRow
	checkColumns(t, &row, sessionColumns, row.scanTargets())
}

func checkColumns(t *testing.T, row any, columns string, targets []any) {
	t.Helper()
	s, err := schema.Parse(row, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	cols := strings.Split(columns, ", ")
	if len(cols) != len(s.DBNames) {
		t.Fatalf("the column list names %d columns, %T has %d: %v", len(cols), row, len(s.DBNames), s.DBNames)
	}
	if len(targets) != len(cols) {
		t.Fatalf("scanTargets gives %d targets for %d columns", len(targets), len(cols))
	}
	v := reflect.ValueOf(row).Elem()
	for i, col := range cols {
		f := s.LookUpField(col)
		if f == nil {
			t.Fatalf("the column list names %q, which %T does not have", col, row)
		}
		want := v.FieldByIndex(f.StructField.Index).Addr().Interface()
		if reflect.ValueOf(targets[i]).Pointer() != reflect.ValueOf(want).Pointer() {
			t.Errorf("scan target %d is not the field of column %q", i, col)
		}
	}
}
