package samtemplate_test

// Invariants of the repository's template.yaml. Each check returns the
// problems it finds; TestTemplate wants none, and TestChecksCatchBreakage
// breaks the template (or Makefile) on purpose and wants each check to notice.

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	st "github.com/patientsync/patientsync/internal/samtemplate"
	"github.com/patientsync/patientsync/internal/testutil"
)

type subject struct {
	tpl      *st.Template
	makefile string
}

func load(t *testing.T) (subject, string, string) {
	t.Helper()
	root := testutil.RepoRoot(t)
	tplText, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := st.Parse(tplText)
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return subject{tpl, string(mk)}, string(tplText), root
}

type check struct {
	name string
	fn   func(s subject) []string
}

var checks = []check{
	{"transform", checkTransform},
	{"globals", checkGlobals},
	{"function build", checkFunctionBuild},
	{"function limits", checkFunctionLimits},
	{"references resolve", checkReferences},
	{"events", checkEvents},
	{"s3 filters", checkS3Filters},
	{"policies", checkPolicies},
	{"bucket", checkBucket},
	{"async invoke", checkAsyncInvoke},
	{"http api", checkHTTPAPI},
	{"database", checkDatabase},
	{"outputs", checkOutputs},
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	s, _, _ := load(t)
	if got := s.tpl.OfType(st.TypeFunction); !reflect.DeepEqual(got, []string{"PatientsFunction", "PaymentsFunction", "SyncFunction"}) {
		t.Fatalf("functions = %v", got)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, p := range c.fn(s) {
				t.Error(p)
			}
		})
	}
}

// TestChecksCatchBreakage proves each check can fail: one realistic mistake
// per row, applied to the real files.
func TestChecksCatchBreakage(t *testing.T) {
	t.Parallel()
	_, tplText, root := load(t)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		check      string
		file       string // "template" or "makefile"
		old, new   string
		wantSubstr string
	}{
		{"transform", "template", "  - AWS::LanguageExtensions\n", "", "LanguageExtensions"},
		{"globals", "template", "Architectures: [arm64]", "Architectures: [x86_64]", "Architectures"},
		{"globals", "template", "LogFormat: JSON", "LogFormat: Text", "LogFormat"},
		{"function build", "template", "Metadata:\n      BuildMethod: makefile", "Metadata:\n      BuildMethod: go1.x", "BuildMethod"},
		{"function build", "makefile", "build-PaymentsFunction:", "build-Payments:", "build-PaymentsFunction"},
		{"function limits", "template", "Timeout: 900", "Timeout: 1200", "Timeout"},
		{"function limits", "template", "TimeoutInMillis: 12000", "TimeoutInMillis: 5000", "TimeoutInMillis"},
		{"references resolve", "template", "- HasDatabaseSecret\n          - Statement", "- HasSecret\n          - Statement", "HasSecret"},
		{"events", "template", "ApiId: !Ref HttpApi", "ApiId: !Ref OtherApi", "OtherApi"},
		{"events", "template", "Path: /payments", "Path: /patients", "twice"},
		{"s3 filters", "template", "Value: .json.gz", "Value: .gz", ".json.gz"},
		{"s3 filters", "template", "Events: s3:ObjectCreated:*", "Events: s3:ObjectCreated:Put", "ObjectCreated"},
		{"policies", "template",
			`Resource: !Sub "arn:${AWS::Partition}:s3:::${BucketNamePrefix}-${AWS::AccountId}-${AWS::Region}/*"`,
			`Resource: !Sub "${SnapshotBucket.Arn}/*"`, "SnapshotBucket"},
		{"policies", "template", "- s3:GetObjectVersion", "- s3:*", "wildcard"},
		{"policies", "template", "${BucketNamePrefix}-${AWS::AccountId}-${AWS::Region}/*", "other-bucket/*", "bucket name"},
		{"bucket", "template", "VersioningConfiguration:\n        Status: Enabled", "VersioningConfiguration:\n        Status: Suspended", "versioning"},
		{"bucket", "template", "aws:SecureTransport", "aws:SourceIp", "SecureTransport"},
		{"bucket", "template", "NoncurrentVersionExpiration:", "NoncurrentVersionTransition:", "noncurrent"},
		{"async invoke", "template", "MaximumRetryAttempts: 2", "MaximumRetryAttempts: 0", "MaximumRetryAttempts"},
		{"async invoke", "template", "Type: SQS", "Type: SNS", "SQS"},
		{"http api", "template", "StageName: $default", "StageName: prod", "$default"},
		{"http api", "template", "        ThrottlingRateLimit: !Ref ApiThrottlingRateLimit\n", "", "Throttling"},
		{"http api", "template", "Authorizer: !Ref ApiAuthorization\n\n  PaymentsFunction", "Authorizer: NONE\n\n  PaymentsFunction", "ApiAuthorization"},
		{"database", "template", "SYNC_MIN_DELETES: !Ref SyncMinDeletes", "SYNC_MIN_DELETE: !Ref SyncMinDeletes", "SYNC_MIN_DELETES"},
		{"database", "template", "Resource: !Ref DatabaseSecretArn", `Resource: "*"`, "DatabaseSecretArn"},
		{"outputs", "template", "  ApiUrl:", "  ApiEndpoint:", "ApiUrl"},
	}
	byName := map[string]check{}
	for _, c := range checks {
		byName[c.name] = c
	}
	for _, tc := range tests {
		t.Run(tc.check+"/"+tc.wantSubstr, func(t *testing.T) {
			t.Parallel()
			c, ok := byName[tc.check]
			if !ok {
				t.Fatalf("no check %q", tc.check)
			}
			tplSrc, mkSrc := tplText, string(mk)
			src := &tplSrc
			if tc.file == "makefile" {
				src = &mkSrc
			}
			if !strings.Contains(*src, tc.old) {
				t.Fatalf("%s no longer contains %q: update this row", tc.file, tc.old)
			}
			*src = strings.Replace(*src, tc.old, tc.new, 1)
			tpl, err := st.Parse([]byte(tplSrc))
			if err != nil {
				t.Fatal(err)
			}
			problems := c.fn(subject{tpl, mkSrc})
			if !strings.Contains(strings.Join(problems, "\n"), tc.wantSubstr) {
				t.Fatalf("check %q did not report %q; problems: %q", tc.check, tc.wantSubstr, problems)
			}
		})
	}
}

// TestBuildTargets runs each function's Makefile target the way `sam build`
// does and checks the artifact is a static Linux arm64 executable.
func TestBuildTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three Lambda binaries")
	}
	t.Parallel()
	s, _, root := load(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is required to build the SAM targets: apt-get install make")
	}
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			cmd := exec.Command("make", "--no-print-directory", "-C", root, "build-"+id, "ARTIFACTS_DIR="+out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make build-%s: %v\n%s", id, err, b)
			}
			assertLambdaELF(t, filepath.Join(out, "bootstrap"), elf.EM_AARCH64)
		})
	}
}

// assertLambdaELF: a 64-bit Linux executable for machine, statically linked
// (no interpreter), executable by its owner.
func assertLambdaELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("%s is not executable (%v)", path, fi.Mode())
	}
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != machine || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
		t.Errorf("%s: machine %v class %v type %v, want %v ELFCLASS64 ET_EXEC", path, f.Machine, f.Class, f.Type, machine)
	}
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("%s: OS ABI %v", path, f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has PT_INTERP); build with CGO_ENABLED=0", path)
		}
	}
}

// ---------------------------------------------------------------- checks

func checkTransform(s subject) []string {
	var p []string
	tr := s.tpl.Transform
	if len(tr) == 0 || tr[len(tr)-1] != "AWS::Serverless-2016-10-31" {
		p = append(p, fmt.Sprintf("Transform %v: AWS::Serverless-2016-10-31 must come last", tr))
	}
	// SAM does not resolve intrinsics in a route's Auth.Authorizer; the
	// language extensions transform must run first to resolve them.
	for _, r := range routes(s.tpl) {
		if st.IsIntrinsic(r.authorizer) && !contains(tr, "AWS::LanguageExtensions") {
			p = append(p, fmt.Sprintf("%s %s: intrinsic Authorizer needs Transform AWS::LanguageExtensions before the SAM transform", r.method, r.path))
		}
	}
	return p
}

func checkGlobals(s subject) []string {
	var p []string
	g, _ := st.Get(s.tpl.Globals, "Function")
	want := map[string]any{
		"Runtime":       "provided.al2023",
		"Handler":       "bootstrap",
		"Architectures": []any{"arm64"},
	}
	for k, v := range want {
		got, _ := st.Get(g, k)
		if !reflect.DeepEqual(got, v) {
			p = append(p, fmt.Sprintf("Globals.Function.%s = %v, want %v", k, got, v))
		}
	}
	if f := st.GetString(g, "LoggingConfig", "LogFormat"); f != "JSON" {
		p = append(p, fmt.Sprintf("Globals.Function.LoggingConfig.LogFormat = %q, want JSON", f))
	}
	// Every function inherits them: none may override.
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		for k, v := range want {
			if got := props[k]; !reflect.DeepEqual(got, v) {
				p = append(p, fmt.Sprintf("%s.%s = %v, want %v (the Makefile builds arm64 bootstrap)", id, k, got, v))
			}
		}
	}
	return p
}

var makeTarget = regexp.MustCompile(`(?m)^(build-[A-Za-z0-9]+)\s*:`)

func checkFunctionBuild(s subject) []string {
	var p []string
	targets := map[string]bool{}
	for _, m := range makeTarget.FindAllStringSubmatch(s.makefile, -1) {
		targets[m[1]] = true
	}
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		r := s.tpl.Resources[id]
		if bm := st.GetString(r.Metadata, "BuildMethod"); bm != "makefile" {
			p = append(p, fmt.Sprintf("%s: Metadata.BuildMethod = %q, want makefile", id, bm))
		}
		if cu := s.tpl.FunctionProperties(id)["CodeUri"]; cu != "." {
			p = append(p, fmt.Sprintf("%s: CodeUri = %v, want . (the root Makefile and go.mod)", id, cu))
		}
		if !targets["build-"+id] {
			p = append(p, fmt.Sprintf("%s: the Makefile has no build-%s target", id, id))
		}
	}
	return p
}

func checkFunctionLimits(s subject) []string {
	var p []string
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		timeout, ok := props["Timeout"].(int)
		if !ok || timeout < 1 || timeout > 900 {
			p = append(p, fmt.Sprintf("%s: Timeout %v, want 1..900 seconds", id, props["Timeout"]))
		}
		if mem, ok := props["MemorySize"].(int); !ok || mem < 128 || mem > 10240 {
			p = append(p, fmt.Sprintf("%s: MemorySize %v, want 128..10240", id, props["MemorySize"]))
		}
	}
	for _, r := range routes(s.tpl) {
		timeout, _ := s.tpl.FunctionProperties(r.function)["Timeout"].(int)
		// API Gateway gives up after 30 s; the function must finish first.
		if timeout > 29 {
			p = append(p, fmt.Sprintf("%s behind %s %s: Timeout %d s exceeds API Gateway's 30 s", r.function, r.method, r.path, timeout))
		}
		if r.timeoutMillis != nil {
			ms, ok := r.timeoutMillis.(int)
			if !ok || ms > 30000 || ms <= timeout*1000 {
				p = append(p, fmt.Sprintf("%s %s: TimeoutInMillis %v must exceed the function's %d s and stay <= 30000", r.method, r.path, r.timeoutMillis, timeout))
			}
		}
	}
	return p
}

func checkReferences(s subject) []string {
	var p []string
	known := func(name string) bool {
		if strings.HasPrefix(name, "AWS::") {
			return true
		}
		if _, ok := s.tpl.Parameters[name]; ok {
			return true
		}
		_, ok := s.tpl.Resources[name]
		return ok
	}
	for _, section := range []string{"Globals", "Resources", "Outputs", "Conditions"} {
		for _, ref := range st.References(s.tpl.Raw[section]) {
			if !known(ref.Target) {
				p = append(p, fmt.Sprintf("%s: %s of unknown %q", section, ref.Kind, ref.Target))
			}
		}
	}
	// Conditions named by resources, Fn::If and !Condition must exist.
	for _, c := range conditionsUsed(s.tpl.Raw) {
		if _, ok := s.tpl.Conditions[c]; !ok {
			p = append(p, fmt.Sprintf("condition %q is used but not defined", c))
		}
	}
	return p
}

func conditionsUsed(v map[string]any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if l, ok := x["Fn::If"].([]any); ok && len(l) == 3 {
				if c, ok := l[0].(string); ok {
					out = append(out, c)
				}
			}
			if c, ok := x["Condition"].(string); ok && len(x) == 1 {
				out = append(out, c)
			}
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v["Resources"])
	walk(v["Globals"])
	walk(v["Outputs"])
	walk(v["Conditions"])
	for _, r := range v["Resources"].(map[string]any) {
		if c := st.GetString(r, "Condition"); c != "" {
			out = append(out, c)
		}
	}
	return out
}

type route struct {
	function, event, method, path string
	api                           any
	authorizer                    any
	timeoutMillis                 any
}

func routes(tpl *st.Template) []route {
	var out []route
	for _, id := range tpl.OfType(st.TypeFunction) {
		events, _ := tpl.Resources[id].Properties["Events"].(map[string]any)
		for name, e := range events {
			if st.GetString(e, "Type") != "HttpApi" {
				continue
			}
			props, _ := st.Get(e, "Properties")
			api, _ := st.Get(props, "ApiId")
			auth, _ := st.Get(props, "Auth", "Authorizer")
			ms, _ := st.Get(props, "TimeoutInMillis")
			out = append(out, route{id, name, st.GetString(props, "Method"), st.GetString(props, "Path"), api, auth, ms})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].method+out[i].path < out[j].method+out[j].path })
	return out
}

type s3Event struct {
	function, event string
	bucket          any
	events          []string
	suffixes        []string
}

func s3Events(tpl *st.Template) []s3Event {
	var out []s3Event
	for _, id := range tpl.OfType(st.TypeFunction) {
		events, _ := tpl.Resources[id].Properties["Events"].(map[string]any)
		for name, e := range events {
			if st.GetString(e, "Type") != "S3" {
				continue
			}
			props, _ := st.Get(e, "Properties")
			ev := s3Event{function: id, event: name}
			ev.bucket, _ = st.Get(props, "Bucket")
			switch x, _ := st.Get(props, "Events"); x := x.(type) {
			case string:
				ev.events = []string{x}
			case []any:
				for _, e := range x {
					s, _ := e.(string)
					ev.events = append(ev.events, s)
				}
			}
			rules, _ := st.Get(props, "Filter", "S3Key", "Rules")
			l, _ := rules.([]any)
			for _, r := range l {
				if strings.EqualFold(st.GetString(r, "Name"), "suffix") {
					ev.suffixes = append(ev.suffixes, st.GetString(r, "Value"))
				}
			}
			out = append(out, ev)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].event < out[j].event })
	return out
}

// refTo returns the logical id v refers to with !Ref, if it is of type typ.
func refTo(tpl *st.Template, v any, typ string) (string, bool) {
	id := st.GetString(v, "Ref")
	r, ok := tpl.Resources[id]
	return id, ok && r.Type == typ
}

func checkEvents(s subject) []string {
	var p []string
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		events, _ := s.tpl.Resources[id].Properties["Events"].(map[string]any)
		for name, e := range events {
			if typ := st.GetString(e, "Type"); typ != "S3" && typ != "HttpApi" {
				p = append(p, fmt.Sprintf("%s.%s: unexpected event type %q", id, name, typ))
			}
		}
	}
	for _, e := range s3Events(s.tpl) {
		// SAM requires the bucket of an S3 event to be in the template.
		if b, ok := refTo(s.tpl, e.bucket, st.TypeBucket); !ok {
			p = append(p, fmt.Sprintf("%s.%s: Bucket %v is not a !Ref to a bucket in the template (%s)", e.function, e.event, e.bucket, b))
		}
	}
	seen := map[string]string{}
	for _, r := range routes(s.tpl) {
		if a, ok := refTo(s.tpl, r.api, st.TypeHTTPAPI); !ok {
			p = append(p, fmt.Sprintf("%s.%s: ApiId %v is not a !Ref to an HttpApi in the template (%s)", r.function, r.event, r.api, a))
		}
		key := r.method + " " + r.path
		if prev, dup := seen[key]; dup {
			p = append(p, fmt.Sprintf("route %s is routed twice (%s and %s)", key, prev, r.function))
		}
		seen[key] = r.function
	}
	want := map[string]string{"GET /patients": "PatientsFunction", "GET /payments": "PaymentsFunction"}
	if !reflect.DeepEqual(seen, want) {
		p = append(p, fmt.Sprintf("routes = %v, want %v", seen, want))
	}
	return p
}

func checkS3Filters(s subject) []string {
	var p []string
	var suffixes []string
	for _, e := range s3Events(s.tpl) {
		if !contains(e.events, "s3:ObjectCreated:*") {
			p = append(p, fmt.Sprintf("%s.%s: Events %v, want s3:ObjectCreated:* (PUT, POST, COPY and multipart all count)", e.function, e.event, e.events))
		}
		if len(e.suffixes) != 1 {
			p = append(p, fmt.Sprintf("%s.%s: %d suffix rules, want exactly 1", e.function, e.event, len(e.suffixes)))
		}
		suffixes = append(suffixes, e.suffixes...)
	}
	sort.Strings(suffixes)
	if want := []string{".json", ".json.gz"}; !reflect.DeepEqual(suffixes, want) {
		p = append(p, fmt.Sprintf("S3 suffix filters %v, want %v", suffixes, want))
	}
	return p
}

// statements lists the IAM statements of a function's Policies, looking
// through Fn::If (both branches) and skipping AWS::NoValue.
func statements(props map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			if l, ok := x["Fn::If"].([]any); ok && len(l) == 3 {
				walk(l[1])
				walk(l[2])
				return
			}
			if sts, ok := x["Statement"]; ok {
				switch y := sts.(type) {
				case []any:
					for _, e := range y {
						if m, ok := e.(map[string]any); ok {
							out = append(out, m)
						}
					}
				case map[string]any:
					out = append(out, y)
				}
			}
		}
	}
	walk(props["Policies"])
	return out
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func checkPolicies(s subject) []string {
	var p []string
	buckets := map[string]bool{}
	for _, id := range s.tpl.OfType(st.TypeBucket) {
		buckets[id] = true
	}
	bucketName, _ := st.SubString(s.tpl.Resources["SnapshotBucket"].Properties["BucketName"])
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		// Ref/GetAtt of the bucket in a policy closes the cycle
		// bucket -> notification permission -> function -> role -> bucket.
		for _, ref := range st.References(props["Policies"]) {
			if buckets[ref.Target] {
				p = append(p, fmt.Sprintf("%s: Policies use %s of bucket %s; build the ARN from the name string with !Sub", id, ref.Kind, ref.Target))
			}
		}
		readsBucket := false
		for _, stmt := range statements(props) {
			actions := strs(stmt["Action"])
			for _, a := range actions {
				if a == "*" || strings.HasSuffix(a, ":*") {
					p = append(p, fmt.Sprintf("%s: wildcard action %q (least privilege)", id, a))
				}
			}
			res := stmt["Resource"]
			if r, ok := res.(string); ok && r == "*" {
				p = append(p, fmt.Sprintf("%s: Resource \"*\" for %v (least privilege)", id, actions))
			}
			if sub, ok := st.SubString(res); ok && strings.Contains(sub, ":s3:::") {
				if bucketName == "" || !strings.HasPrefix(sub, "arn:${AWS::Partition}:s3:::"+bucketName+"/") {
					p = append(p, fmt.Sprintf("%s: S3 resource %q does not match the bucket name %q", id, sub, bucketName))
				} else if contains(actions, "s3:GetObject") && contains(actions, "s3:GetObjectVersion") {
					readsBucket = true
				}
			}
		}
		if len(functionS3Events(s.tpl, id)) > 0 && !readsBucket {
			p = append(p, fmt.Sprintf("%s is subscribed to the bucket but cannot s3:GetObject/GetObjectVersion its objects by bucket name", id))
		}
	}
	return p
}

func functionS3Events(tpl *st.Template, id string) []s3Event {
	var out []s3Event
	for _, e := range s3Events(tpl) {
		if e.function == id {
			out = append(out, e)
		}
	}
	return out
}

func checkBucket(s subject) []string {
	var p []string
	for _, id := range s.tpl.OfType(st.TypeBucket) {
		b := s.tpl.Resources[id].Properties
		if _, ok := st.SubString(b["BucketName"]); !ok {
			p = append(p, fmt.Sprintf("%s: BucketName must be a known !Sub string so policies can name it", id))
		}
		if v := st.GetString(b, "VersioningConfiguration", "Status"); v != "Enabled" {
			p = append(p, fmt.Sprintf("%s: versioning %q, want Enabled (every upload kept and evented)", id, v))
		}
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if v, _ := st.Get(b, "PublicAccessBlockConfiguration", k); v != true {
				p = append(p, fmt.Sprintf("%s: PublicAccessBlockConfiguration.%s = %v", id, k, v))
			}
		}
		enc, _ := st.Get(b, "BucketEncryption", "ServerSideEncryptionConfiguration")
		if l, _ := enc.([]any); len(l) == 0 || st.GetString(l[0], "ServerSideEncryptionByDefault", "SSEAlgorithm") == "" {
			p = append(p, fmt.Sprintf("%s: no default encryption", id))
		}
		rules, _ := st.Get(b, "LifecycleConfiguration", "Rules")
		expires := false
		for _, r := range asList(rules) {
			if _, ok := st.Get(r, "NoncurrentVersionExpiration"); ok && st.GetString(r, "Status") == "Enabled" {
				expires = true
			}
		}
		if !expires {
			p = append(p, fmt.Sprintf("%s: no enabled lifecycle rule expiring noncurrent versions", id))
		}
		if !hasTLSOnlyPolicy(s.tpl, id) {
			p = append(p, fmt.Sprintf("%s: no bucket policy denying requests without aws:SecureTransport", id))
		}
	}
	return p
}

func hasTLSOnlyPolicy(tpl *st.Template, bucket string) bool {
	for _, id := range tpl.OfType("AWS::S3::BucketPolicy") {
		props := tpl.Resources[id].Properties
		if st.GetString(props["Bucket"], "Ref") != bucket {
			continue
		}
		sts, _ := st.Get(props, "PolicyDocument", "Statement")
		for _, stmt := range asList(sts) {
			cond, _ := st.Get(stmt, "Condition", "Bool", "aws:SecureTransport")
			if st.GetString(stmt, "Effect") == "Deny" && (cond == "false" || cond == false) {
				return true
			}
		}
	}
	return false
}

func checkAsyncInvoke(s subject) []string {
	var p []string
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		if len(functionS3Events(s.tpl, id)) == 0 {
			continue
		}
		cfg := s.tpl.FunctionProperties(id)["EventInvokeConfig"]
		if v, _ := st.Get(cfg, "MaximumRetryAttempts"); v != 2 {
			p = append(p, fmt.Sprintf("%s: EventInvokeConfig.MaximumRetryAttempts = %v, want 2", id, v))
		}
		age, _ := st.Get(cfg, "MaximumEventAgeInSeconds")
		if a, ok := age.(int); !ok || a < 60 || a > 21600 {
			p = append(p, fmt.Sprintf("%s: EventInvokeConfig.MaximumEventAgeInSeconds = %v, want 60..21600", id, age))
		}
		onFailure, _ := st.Get(cfg, "DestinationConfig", "OnFailure")
		if typ := st.GetString(onFailure, "Type"); typ != "SQS" {
			p = append(p, fmt.Sprintf("%s: on-failure destination type %q, want SQS", id, typ))
		}
		dest, _ := st.Get(onFailure, "Destination", "Fn::GetAtt")
		l := asList(dest)
		if len(l) != 2 || l[1] != "Arn" || s.tpl.Resources[fmt.Sprint(l[0])].Type != st.TypeQueue {
			p = append(p, fmt.Sprintf("%s: on-failure destination %v is not !GetAtt <queue in template>.Arn", id, dest))
		}
	}
	return p
}

func checkHTTPAPI(s subject) []string {
	var p []string
	apis := s.tpl.OfType(st.TypeHTTPAPI)
	if len(apis) != 1 {
		return []string{fmt.Sprintf("want one AWS::Serverless::HttpApi, have %v", apis)}
	}
	api := s.tpl.Resources[apis[0]].Properties
	// A named stage puts its name into rawPath and the routes 404.
	if v := st.GetString(api, "StageName"); v != "$default" {
		p = append(p, fmt.Sprintf("StageName %q, want $default", v))
	}
	for _, k := range []string{"ThrottlingBurstLimit", "ThrottlingRateLimit"} {
		if _, ok := st.Get(api, "DefaultRouteSettings", k); !ok {
			p = append(p, "DefaultRouteSettings."+k+" missing: no throttling")
		}
	}
	if v, _ := st.Get(api, "Auth", "EnableIamAuthorizer"); v != true {
		p = append(p, "Auth.EnableIamAuthorizer is not true")
	}
	if v := st.GetString(api, "Auth", "DefaultAuthorizer"); v != "AWS_IAM" {
		p = append(p, fmt.Sprintf("Auth.DefaultAuthorizer %q, want AWS_IAM", v))
	}
	param := s.tpl.Parameters["ApiAuthorization"]
	if param["Default"] != "AWS_IAM" || !reflect.DeepEqual(param["AllowedValues"], []any{"AWS_IAM", "NONE"}) {
		p = append(p, fmt.Sprintf("parameter ApiAuthorization = %v, want Default AWS_IAM and AllowedValues [AWS_IAM NONE]", param))
	}
	for _, r := range routes(s.tpl) {
		if st.GetString(r.authorizer, "Ref") != "ApiAuthorization" {
			p = append(p, fmt.Sprintf("%s %s: Auth.Authorizer %v, want !Ref ApiAuthorization", r.method, r.path, r.authorizer))
		}
	}
	return p
}

func checkDatabase(s subject) []string {
	var p []string
	for _, name := range []string{"DatabaseSecretArn", "DatabaseUrl", "SubnetIds", "SecurityGroupIds"} {
		if _, ok := s.tpl.Parameters[name]; !ok {
			p = append(p, "parameter "+name+" missing")
		}
	}
	if s.tpl.Parameters["DatabaseUrl"]["NoEcho"] != true {
		p = append(p, "parameter DatabaseUrl must be NoEcho")
	}
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		vars, _ := st.Get(props, "Environment", "Variables")
		want := []string{"DATABASE_URL", "DATABASE_SECRET_ARN"}
		if len(functionS3Events(s.tpl, id)) > 0 {
			want = append(want, "SYNC_MAX_INVALID_SHARE", "SYNC_MAX_DELETE_SHARE", "SYNC_MIN_DELETES", "SYNC_ALLOW_MASS_DELETE")
		}
		for _, k := range want {
			if _, ok := st.Get(vars, k); !ok {
				p = append(p, fmt.Sprintf("%s: environment variable %s missing", id, k))
			}
		}
		// The secret, and only the secret, is readable when one is given.
		readsSecret := false
		for _, stmt := range statements(props) {
			if contains(strs(stmt["Action"]), "secretsmanager:GetSecretValue") {
				if st.GetString(stmt["Resource"], "Ref") != "DatabaseSecretArn" {
					p = append(p, fmt.Sprintf("%s: GetSecretValue on %v, want !Ref DatabaseSecretArn only", id, stmt["Resource"]))
				} else {
					readsSecret = true
				}
			}
		}
		if !readsSecret {
			p = append(p, fmt.Sprintf("%s cannot read the DatabaseSecretArn secret", id))
		}
		if vpc := props["VpcConfig"]; vpc != nil {
			l, _ := st.Get(vpc, "Fn::If")
			if c := asList(l); len(c) != 3 || c[0] != "HasVpc" {
				p = append(p, fmt.Sprintf("%s: VpcConfig %v must be conditional on HasVpc", id, vpc))
			}
		}
	}
	return p
}

func checkOutputs(s subject) []string {
	var p []string
	url, _ := st.SubString(s.tpl.Outputs["ApiUrl"]["Value"])
	if !strings.Contains(url, "${HttpApi}.execute-api.") {
		p = append(p, fmt.Sprintf("output ApiUrl = %q, want the HttpApi's execute-api URL", url))
	}
	if _, ok := refTo(s.tpl, s.tpl.Outputs["BucketName"]["Value"], st.TypeBucket); !ok {
		p = append(p, fmt.Sprintf("output BucketName = %v, want !Ref of the bucket", s.tpl.Outputs["BucketName"]["Value"]))
	}
	return p
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
