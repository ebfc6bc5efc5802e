package config

import (
	"reflect"
	"testing"
)

// TestFieldsMatchTags: the written-out fields are Config's fields in
// order, with the names, defaults and secret kinds of their tags, and each
// one's ptr is that field's address.
func TestFieldsMatchTags(t *testing.T) {
	t.Parallel()
	var c Config
	v := reflect.ValueOf(&c).Elem()
	if v.NumField() != len(fields) {
		t.Fatalf("Config has %d fields, fields lists %d", v.NumField(), len(fields))
	}
	for i, f := range fields {
		sf := v.Type().Field(i)
		if f.name != sf.Tag.Get("envconfig") || f.def != sf.Tag.Get("default") || f.secret != sf.Tag.Get("secret") {
			t.Errorf("fields[%d] = %q %q %q, the tags of %s say %q %q %q", i, f.name, f.def, f.secret,
				sf.Name, sf.Tag.Get("envconfig"), sf.Tag.Get("default"), sf.Tag.Get("secret"))
		}
		if got, want := reflect.ValueOf(f.ptr(&c)).Pointer(), v.Field(i).Addr().Pointer(); got != want {
			t.Errorf("fields[%d] (%s) points at the wrong field", i, f.name)
		}
		if reflect.TypeOf(f.ptr(&c)).Elem() != sf.Type {
			t.Errorf("fields[%d] (%s) is a %v, the field a %v", i, f.name, reflect.TypeOf(f.ptr(&c)).Elem(), sf.Type)
		}
	}
	if len(Variables) != len(fields) {
		t.Fatalf("%d Variables", len(Variables))
	}
	for i, f := range fields {
		if Variables[i] != f.name {
			t.Errorf("Variables[%d] = %q, want %q", i, Variables[i], f.name)
		}
	}
}
