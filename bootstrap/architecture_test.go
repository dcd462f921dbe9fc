package bootstrap_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "example.com/usersvc"

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages runs go list over the module: the import rules are checked on
// what go list reports, directly (Imports) and transitively (Deps).
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func isStandard(path string) bool { return !strings.Contains(strings.Split(path, "/")[0], ".") }

func inModule(path, sub string) bool {
	full := module + "/" + sub
	return path == full || strings.HasPrefix(path, full+"/")
}

// thirdPartyForbiddenInCore are frameworks the inner layers must not reach.
var thirdPartyForbiddenInCore = []string{
	"github.com/gin-gonic/", "gorm.io/", "github.com/golang-jwt/", "golang.org/x/crypto",
	"github.com/go-playground/validator", "go.uber.org/fx", "go.uber.org/dig", "github.com/nats-io/",
}

// tokenverifyImports are the only modules the standalone token verifier
// (adapters/tokenverify and its gin subpackage) imports beside the standard
// library, so that another service can take it without this one.
var tokenverifyImports = []string{
	"github.com/golang-jwt/jwt/v5", "github.com/MicahParks/keyfunc/v3", "github.com/MicahParks/jwkset",
	"golang.org/x/time/rate", "github.com/nats-io/nats.go", "github.com/gin-gonic/gin",
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestImportRules fails the build when a layer imports what it must not: the
// table in README's "Architecture" section.
func TestImportRules(t *testing.T) {
	for _, v := range importViolations(listPackages(t)) {
		t.Error(v)
	}
}

// TestImportRulesCatchViolations proves the checker is not vacuous: a
// synthetic package graph that breaks each rule is reported.
func TestImportRulesCatchViolations(t *testing.T) {
	bad := []listedPackage{
		{ImportPath: module + "/domain/user", Deps: []string{"gorm.io/gorm"}},
		{ImportPath: module + "/ports", Deps: []string{module + "/adapters/sqlstore"}},
		{ImportPath: module + "/ports", Deps: []string{module + "/domain/user"}},
		{ImportPath: module + "/ports/chatports", Deps: []string{module + "/domain/user"}},
		{ImportPath: module + "/application/chatapp", Deps: []string{module + "/domain/user"}},
		{ImportPath: module + "/application/chatapp", Deps: []string{module + "/application/userapp"}},
		{ImportPath: module + "/application/chatapp", Deps: []string{module + "/ports/userports"}},
		{ImportPath: module + "/application/userapp", Deps: []string{module + "/ports/chatports"}},
		{ImportPath: module + "/application/userapp", Imports: []string{module + "/domain/chat"}},
		{ImportPath: module + "/application/userapp", Deps: []string{"github.com/gin-gonic/gin"}},
		{ImportPath: module + "/application/eventrelay", Deps: []string{"github.com/nats-io/nats.go"}},
		{ImportPath: module + "/application/eventrelay", Deps: []string{module + "/ports/userports"}},
		{ImportPath: module + "/adapters/httpapi", Deps: []string{module + "/adapters/sqlstore"}},
		{ImportPath: module + "/adapters/tokens", Deps: []string{module + "/adapters/passwords"}},
		{ImportPath: module, Imports: []string{module + "/adapters/httpapi"}},
		{ImportPath: module + "/adapters/tokenverify", Deps: []string{module + "/ports"}},
		{ImportPath: module + "/adapters/tokenverify", Imports: []string{"gorm.io/gorm"}},
		{ImportPath: module + "/adapters/tokenverify", Deps: []string{"github.com/gin-gonic/gin"}},
	}
	got := importViolations(bad)
	if len(got) != len(bad) {
		t.Fatalf("want %d violations, got %d: %q", len(bad), len(got), got)
	}
}

// contextOf names the bounded context a package belongs to (its domain, its
// ports or its use cases: domain/X, ports/Xports, application/Xapp), or "".
func contextOf(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 {
		return ""
	}
	switch {
	case parts[0] == "domain":
		return parts[1]
	case parts[0] == "ports" && strings.HasSuffix(parts[1], "ports"):
		return strings.TrimSuffix(parts[1], "ports")
	case parts[0] == "application" && strings.HasSuffix(parts[1], "app"):
		return strings.TrimSuffix(parts[1], "app")
	}
	return ""
}

func importViolations(pkgs []listedPackage) []string {
	var out []string
	for _, p := range pkgs {
		path := p.ImportPath
		violation := func(dep, why string) { out = append(out, path+" reaches "+dep+": "+why) }
		for _, dep := range p.Deps {
			if isStandard(dep) {
				continue
			}
			own := strings.HasPrefix(dep, module+"/")
			switch {
			case inModule(path, "domain"):
				if own && !inModule(dep, "domain") {
					violation(dep, "domain imports nothing of the project")
				}
				if !own && !strings.HasPrefix(dep, "github.com/google/uuid") {
					violation(dep, "domain imports no third-party module but google/uuid")
				}
			case inModule(path, "ports/portstest"):
				if inModule(dep, "adapters") || inModule(dep, "bootstrap") || inModule(dep, "application") {
					violation(dep, "portstest depends on ports and domain only")
				}
			case path == module+"/ports":
				if own {
					violation(dep, "the platform's ports are free of any context's types: they import nothing of the project")
				}
				if hasPrefixAny(dep, thirdPartyForbiddenInCore) {
					violation(dep, "ports import no framework")
				}
			case inModule(path, "ports"):
				if own && !inModule(dep, "domain") && dep != module+"/ports" {
					violation(dep, "a context's ports import its domain and the platform's ports only")
				}
				if hasPrefixAny(dep, thirdPartyForbiddenInCore) {
					violation(dep, "ports import no framework")
				}
			case inModule(path, "application/eventrelay"):
				if own && dep != module+"/ports" {
					violation(dep, "the event relay belongs to the platform: it depends on the platform's ports only")
				}
				if hasPrefixAny(dep, thirdPartyForbiddenInCore) {
					violation(dep, "application imports no framework")
				}
			case inModule(path, "application"):
				if inModule(dep, "adapters") || inModule(dep, "bootstrap") {
					violation(dep, "application depends on domain and ports only")
				}
				if hasPrefixAny(dep, thirdPartyForbiddenInCore) {
					violation(dep, "application imports no framework")
				}
			}
			// A bounded context builds without any other: nothing its domain,
			// ports or use cases reach, directly or not, belongs to another.
			if ctx := contextOf(path); ctx != "" {
				if other := contextOf(dep); other != "" && other != ctx {
					violation(dep, "the "+ctx+" context reaches the "+other+" context's packages")
				}
			}
			switch {
			case inModule(path, "adapters/tokenverify"):
				if own && !inModule(dep, "adapters/tokenverify") {
					violation(dep, "tokenverify stands alone: it imports nothing else of the project")
				}
				if path == module+"/adapters/tokenverify" && strings.HasPrefix(dep, "github.com/gin-gonic/") {
					violation(dep, "tokenverify leaves gin to its tokengin subpackage, so net/http services do not pull it in")
				}
			case inModule(path, "adapters/httpapi"):
				if (inModule(dep, "adapters") && !inModule(dep, "adapters/httpapi")) || inModule(dep, "bootstrap") {
					violation(dep, "httpapi imports no other adapter and not bootstrap")
				}
				if hasPrefixAny(dep, []string{"gorm.io/", "go.uber.org/fx", "go.uber.org/dig"}) {
					violation(dep, "httpapi imports neither GORM nor fx")
				}
			case inModule(path, "adapters"):
				self := strings.Join(strings.Split(strings.TrimPrefix(path, module+"/"), "/")[:2], "/")
				if inModule(dep, "adapters") && !inModule(dep, self) {
					violation(dep, "an adapter imports no sibling adapter")
				}
				if inModule(dep, "application") || inModule(dep, "bootstrap") {
					violation(dep, "adapters import domain and ports only")
				}
				if inModule(dep, "migrations") && !inModule(path, "adapters/sqlstore") {
					violation(dep, "only sqlstore reads migrations")
				}
				if hasPrefixAny(dep, []string{"go.uber.org/fx", "go.uber.org/dig"}) {
					violation(dep, "adapters import no fx")
				}
			case inModule(path, "migrations"):
				violation(dep, "migrations import nothing")
			}
		}
		// Direct imports: no context reaches into another context's domain or
		// application package, and main hands everything to bootstrap.
		for _, imp := range p.Imports {
			if inModule(path, "adapters/tokenverify") && !isStandard(imp) && !inModule(imp, "adapters/tokenverify") && !hasPrefixAny(imp, tokenverifyImports) {
				violation(imp, "tokenverify imports only the standard library, jwt, keyfunc, jwkset, x/time/rate, nats.go and (tokengin) gin")
			}
			if path == module {
				if strings.HasPrefix(imp, module+"/") && imp != module+"/bootstrap" {
					violation(imp, "main imports bootstrap only")
				}
			}
			if inModule(path, "application") && (inModule(imp, "domain") || inModule(imp, "application")) {
				ctx := strings.TrimSuffix(strings.Split(strings.TrimPrefix(path, module+"/application/"), "/")[0], "app")
				if inModule(imp, "domain") && !inModule(imp, "domain/"+ctx) {
					violation(imp, "a use case imports only its own context's domain")
				}
				if inModule(imp, "application") && !inModule(imp, "application/"+ctx+"app") {
					violation(imp, "a use case imports no other context's application")
				}
			}
		}
	}
	for _, p := range pkgs {
		if strings.HasPrefix(p.ImportPath, module+"/") && !inModule(p.ImportPath, "bootstrap") {
			for _, imp := range p.Imports {
				if inModule(imp, "bootstrap") {
					out = append(out, p.ImportPath+" imports bootstrap; only main and end-to-end tests may")
				}
			}
		}
	}
	return out
}
