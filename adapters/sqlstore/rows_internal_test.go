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
	s, err := schema.Parse(&userRow{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	cols := strings.Split(userColumns, ", ")
	if len(cols) != len(s.DBNames) {
		t.Fatalf("userColumns lists %d columns, userRow has %d: %v", len(cols), len(s.DBNames), s.DBNames)
	}
	var row userRow
	targets := row.scanTargets()
	if len(targets) != len(cols) {
		t.Fatalf("scanTargets gives %d targets for %d columns", len(targets), len(cols))
	}
	v := reflect.ValueOf(&row).Elem()
	for i, col := range cols {
		f := s.LookUpField(col)
		if f == nil {
			t.Fatalf("userColumns names %q, which userRow does not have", col)
		}
		want := v.FieldByIndex(f.StructField.Index).Addr().Interface()
		if reflect.ValueOf(targets[i]).Pointer() != reflect.ValueOf(want).Pointer() {
			t.Errorf("scan target %d is not the field of column %q", i, col)
		}
	}
}
