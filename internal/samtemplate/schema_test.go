package samtemplate_test

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"

	"github.com/patientsync/patientsync/internal/migratelambda"
	st "github.com/patientsync/patientsync/internal/samtemplate"
)

// makeMigrate finds the Makefile target that builds functions/migrate.
var makeMigrate = regexp.MustCompile(`(?m)^build-([A-Za-z0-9]+):\s*\n\t\$\(call sam_lambda,migrate\)`)

// checkSchema: `sam deploy` migrates the database before any new code runs
// on it. One custom resource of migratelambda's type, answered by the
// function the Makefile builds from functions/migrate; a property that
// changes with that function's code (its published version), or
// CloudFormation would never send the Update that applies a build's new
// migrations; every other function, and the runner's task definition,
// depends on it; and CloudFormation
// stops waiting for an answer soon after the function's own timeout.
func checkSchema(s subject) []string {
	var p []string
	ids := s.tpl.OfType(migratelambda.ResourceType)
	if len(ids) != 1 {
		return []string{fmt.Sprintf("want one %s resource (internal/migratelambda's ResourceType), have %v", migratelambda.ResourceType, ids)}
	}
	id := ids[0]
	r := s.tpl.Resources[id]
	if r.Condition != "" {
		p = append(p, fmt.Sprintf("%s: Condition %s; the schema is migrated on every deploy", id, r.Condition))
	}
	if r.DeletionPolicy != "Retain" {
		p = append(p, fmt.Sprintf("%s: DeletionPolicy %q, want Retain (the schema outlives the stack)", id, r.DeletionPolicy))
	}

	m := makeMigrate.FindStringSubmatch(s.makefile)
	if m == nil {
		return append(p, "no Makefile target builds functions/migrate with sam_lambda: cannot tell the migrate function")
	}
	fn := m[1]
	if s.tpl.Resources[fn].Type != st.TypeFunction {
		return append(p, fmt.Sprintf("the Makefile builds functions/migrate as %s, which is not a function of the template", fn))
	}
	if tok, _ := st.Get(r.Properties, "ServiceToken", "Fn::GetAtt"); !reflect.DeepEqual(tok, []any{fn, "Arn"}) {
		p = append(p, fmt.Sprintf("%s: ServiceToken %v, want !GetAtt %s.Arn (the function built from functions/migrate)", id, r.Properties["ServiceToken"], fn))
	}

	props := s.tpl.FunctionProperties(fn)
	if alias, _ := props["AutoPublishAlias"].(string); alias == "" {
		p = append(p, fmt.Sprintf("%s has no AutoPublishAlias: no version is published per build, so %s cannot change with the code", fn, id))
	}
	if v := r.Properties[migratelambda.VersionProperty]; st.GetString(v, "Ref") != fn+".Version" {
		p = append(p, fmt.Sprintf("%s.%s = %v, want !Ref %s.Version: it changes with the code, and so with the embedded migrations",
			id, migratelambda.VersionProperty, v, fn))
	}

	timeout, _ := props["Timeout"].(int)
	if timeout < 900 {
		p = append(p, fmt.Sprintf("%s: Timeout %d, want Lambda's 900 s (a migration on a big table takes minutes)", fn, timeout))
	}
	if secs, ok := r.Properties["ServiceTimeout"].(int); !ok || secs <= timeout || secs > 3600 {
		p = append(p, fmt.Sprintf("%s: ServiceTimeout %v, want more than %s's %d s and at most 3600", id, r.Properties["ServiceTimeout"], fn, timeout))
	}

	// Whatever runs this project's code on the database: the functions and
	// the ECS runner's task definition (the sync function starts its tasks).
	users := append(s.tpl.OfType(st.TypeFunction), s.tpl.OfType("AWS::ECS::TaskDefinition")...)
	for _, u := range users {
		if s.tpl.Resources[u].Type == st.TypeFunction {
			vars, _ := st.Get(s.tpl.FunctionProperties(u), "Environment", "Variables")
			url, _ := st.Get(vars, "DATABASE_URL")
			secret, _ := st.Get(vars, "DATABASE_SECRET_ARN")
			if url == "" && secret == "" {
				continue // blanked: no database (UploadsFunction)
			}
		}
		if u != fn && !slices.Contains(s.tpl.Resources[u].DependsOn, id) {
			p = append(p, fmt.Sprintf("%s does not depend on %s: its new code could run before the schema it needs", u, id))
		}
	}
	return p
}
