package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/gastown/gtrun/internal/parse"
)

// The rules compiled into gtrun are exactly default_rules.toml.
func TestGeneratedRulesUpToDate(t *testing.T) {
	data, err := os.ReadFile("../default_rules.toml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../default_rules_gen.go")
	if err != nil || string(got) != string(want) {
		t.Fatal("internal/parse/default_rules_gen.go is stale: run `go generate ./internal/parse`")
	}
	loaded, _ := parse.LoadRules("default_rules.toml", data)
	if fmt.Sprint(loaded.Rules()) != fmt.Sprint(parse.DefaultRules().Rules()) {
		t.Fatalf("rule order differs")
	}
}
