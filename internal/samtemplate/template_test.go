package samtemplate_test

// This project's invariants of template.yaml: what cfn-lint and the SAM
// translator cannot know (`make lint-template` runs those, see
// scripts/lint-template.sh; references, types, ranges, cycles, SAM's own
// rules and the ApiAuthorization wiring are theirs). Each check returns the
// problems it finds; TestTemplate wants none, and TestChecksCatchBreakage
// breaks the template (or Makefile) on purpose and wants each check to notice.

import (
	"debug/elf"
	"fmt"
	"github.com/patientsync/patientsync/internal/localaws"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
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
	{"globals", checkGlobals},
	{"function build", checkFunctionBuild},
	{"api timeouts", checkAPITimeouts},
	{"routes", checkRoutes},
	{"s3 filters", checkS3Filters},
	{"policies", checkPolicies},
	{"bucket", checkBucket},
	{"async invoke", checkAsyncInvoke},
	{"http api", checkHTTPAPI},
	{"database", checkDatabase},
	{"outputs", checkOutputs},
	{"runner", checkRunner},
	{"runner policies", checkRunnerPolicies},
	{"schema", checkSchema},
	{"tracing", checkTracing},
	{"alarm actions", checkAlarmActions},
	{"alarm metrics", checkAlarmMetrics},
	{"alarm coverage", checkAlarmCoverage},
	{"access log", checkAccessLog},
	{"sync concurrency", checkSyncConcurrency},
	{"database endpoints", checkDatabaseEndpoints},
	{"key prefix", checkKeyPrefix},
	{"retention", checkRetention},
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	s, _, _ := load(t)
	// The template's functions are the local stack's, and the migrate
	// function (the local stack migrates its database itself).
	want := []string{"MigrateFunction"}
	for _, f := range localaws.Functions {
		want = append(want, logicalID(f))
	}
	sort.Strings(want)
	if got := s.tpl.OfType(st.TypeFunction); !reflect.DeepEqual(got, want) {
		t.Fatalf("functions = %v, want %v (localaws.Functions)", got, want)
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
		{"globals", "template", "Architectures: [arm64]", "Architectures: [x86_64]", "Architectures"},
		{"globals", "makefile", "GOOS=linux GOARCH=arm64", "GOOS=linux GOARCH=amd64", "Architectures"},
		{"globals", "makefile", "-o $(ARTIFACTS_DIR)/bootstrap", "-o $(ARTIFACTS_DIR)/main", "Handler"},
		{"globals", "template", "LogFormat: JSON", "LogFormat: Text", "LogFormat"},
		{"function build", "template", "Metadata:\n      BuildMethod: makefile", "Metadata:\n      BuildMethod: go1.x", "BuildMethod"},
		{"function build", "makefile", "build-PaymentsFunction:", "build-Payments:", "build-PaymentsFunction"},
		{"api timeouts", "template", "Timeout: 10\n", "Timeout: 60\n", "30 s"},
		{"api timeouts", "template", "TimeoutInMillis: 12000", "TimeoutInMillis: 5000", "TimeoutInMillis"},
		{"api timeouts", "template", "TimeoutInMillis: 12000", "TimeoutInMillis: 40000", "TimeoutInMillis"},
		{"routes", "template", "Path: /payments", "Path: /payment", "routes"},
		{"s3 filters", "template", "Value: .json.gz", "Value: .gz", ".json.gz"},
		{"s3 filters", "template", "Events: s3:ObjectCreated:*", "Events: s3:ObjectCreated:Put", "ObjectCreated"},
		{"policies", "template", "- s3:GetObjectVersion", "- s3:*", "wildcard"},
		{"policies", "template", "${BucketNamePrefix}-${AWS::AccountId}-${AWS::Region}/${SnapshotKeyPrefix}*.json\"", "other-bucket/*.json\"", "bucket name"},
		{"policies", "template", "/${SnapshotKeyPrefix}*.json.gz\"\n            # The outcome tags", "/*\"\n            # The outcome tags", "want the snapshot keys"},
		{"policies", "template", "                - s3:PutObjectVersionTagging\n", "", "cannot tag"},
		{"policies", "template", "                - s3:GetObjectVersion\n", "", "GetObjectVersion"},
		{"bucket", "template", `BucketName: !Sub "${BucketNamePrefix}-${AWS::AccountId}-${AWS::Region}"`, "BucketName: !Ref AWS::NoValue", "BucketName"},
		{"bucket", "template", "VersioningConfiguration:\n        Status: Enabled", "VersioningConfiguration:\n        Status: Suspended", "versioning"},
		{"bucket", "template", "BlockPublicPolicy: true", "BlockPublicPolicy: false", "BlockPublicPolicy"},
		{"bucket", "template", "aws:SecureTransport", "aws:SourceIp", "SecureTransport"},
		{"bucket", "template", "NoncurrentVersionExpiration:", "NoncurrentVersionTransition:", "noncurrent"},
		{"async invoke", "template", "MaximumRetryAttempts: 2", "MaximumRetryAttempts: 0", "MaximumRetryAttempts"},
		{"async invoke", "template", "Type: SQS", "Type: SNS", "SQS"},
		{"http api", "template", "StageName: $default", "StageName: prod", "$default"},
		{"http api", "template", "        ThrottlingRateLimit: !Ref ApiThrottlingRateLimit\n", "", "Throttling"},
		{"http api", "template", "    Default: AWS_IAM\n", "    Default: NONE\n", "ApiAuthorization"},
		{"database", "template", "SYNC_MIN_DELETES: !Ref SyncMinDeletes", "SYNC_MIN_DELETE: !Ref SyncMinDeletes", "SYNC_MIN_DELETES"},
		{"database", "template", "Resource: !Ref DatabaseSecretArn", `Resource: "*"`, "DatabaseSecretArn"},
		{"database", "template", "    NoEcho: true\n", "", "NoEcho"},
		{"outputs", "template", "  ApiUrl:", "  ApiEndpoint:", "ApiUrl"},
		{"runner", "template", "    Type: AWS::ECS::Cluster\n    Condition: HasRunner\n", "    Type: AWS::ECS::Cluster\n", "want HasRunner"},
		{"runner", "template", `HasRunner: !Not [!Equals [!Ref RunnerImageUri, ""]]`, `HasRunner: !Not [!Equals [!Ref RunnerCpu, ""]]`, "condition HasRunner"},
		{"runner", "template", "CpuArchitecture: ARM64", "CpuArchitecture: X86_64", "CpuArchitecture"},
		{"runner", "makefile", "GOOS=linux GOARCH=arm64", "GOOS=linux GOARCH=amd64", "CpuArchitecture"},
		{"runner", "template", "        - Name: patientsync\n", "        - Name: cli\n", "synclambda.RunnerContainer"},
		{"runner", "template", "RUNNER_TASK_DEFINITION: !If [HasRunner, !Ref RunnerTaskDefinition", "RUNNER_TASK_DEFINITION: !If [HasRunner, !Ref RunnerCluster", "RUNNER_TASK_DEFINITION"},
		{"runner", "template", "RUNNER_SUBNETS: !If [HasRunner, !Join [\",\", !Ref SubnetIds]", "RUNNER_SUBNETS: !If [HasRunner, \"\"", "RUNNER_SUBNETS"},
		{"runner", "template", "            - Name: SYNC_LOCK_TIMEOUT\n              Value: 2h\n", "", "SYNC_LOCK_TIMEOUT"},
		{"runner", "template", "            - Name: SYNC_EMF\n              Value: \"true\"\n", "", "SYNC_EMF"},
		{"runner", "template", "            - Name: SYNC_MIN_DELETES\n              Value: !Ref SyncMinDeletes", "            - Name: SYNC_MIN_DELETES\n              Value: \"0\"", "the same guards"},
		{"runner", "template", "- Id: sync-failure-queue\n          Arn: !GetAtt SyncFailureQueue.Arn", "- Id: sync-failure-queue\n          Arn: !Ref AlarmTopicArn", "to a queue"},
		{"runner policies", "template", "Action: ecs:RunTask\n                Resource: !Ref RunnerTaskDefinition", "Action: ecs:RunTask\n                Resource: \"*\"", "ecs:RunTask on"},
		{"runner policies", "template", "ecs:cluster: !GetAtt RunnerCluster.Arn", "ecs:cluster: \"*\"", "ecs:cluster ="},
		{"runner policies", "template", "                Action: ecs:RunTask\n", "                Action: [ecs:RunTask, ecs:StopTask]\n", "each in its own statement"},
		{"runner policies", "template", "                  - !GetAtt RunnerExecutionRole.Arn\n                Condition:", "                  - \"*\"\n                Condition:", "iam:PassRole on"},
		{"runner policies", "template", "iam:PassedToService: ecs-tasks.amazonaws.com", "iam:PassedToService: lambda.amazonaws.com", "to ecs-tasks.amazonaws.com"},
		{"runner policies", "template", "                  - s3:GetObjectVersion\n                Resource:\n", "                  - s3:PutObject\n                Resource:\n", "action s3:PutObject"},
		{"runner policies", "template", "/${SnapshotKeyPrefix}*.json.gz\"\n              # The CLI tags", "/*\"\n              # The CLI tags", "want the snapshot keys"},
		{"runner policies", "template", "                  - s3:PutObjectVersionTagging\n", "", "cannot tag"},
		{"runner policies", "template", "      Policies:\n        - PolicyName: pull-runner-image-write-logs",
			"      ManagedPolicyArns:\n        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy\n      Policies:\n        - PolicyName: pull-runner-image-write-logs", "managed policies"},
		{"runner policies", "template", "                Resource: !GetAtt RunnerLogGroup.Arn", "                Resource: \"*\"", `Resource "*"`},
		{"runner policies", "template", "      TaskRoleArn: !GetAtt RunnerTaskRole.Arn", "      TaskRoleArn: !GetAtt RunnerExecutionRole.Arn", "must differ"},
		{"schema", "template", "Type: Custom::PatientsyncSchema", "Type: Custom::Schema", "want one Custom::PatientsyncSchema"},
		{"schema", "template", "ServiceToken: !GetAtt MigrateFunction.Arn", "ServiceToken: !GetAtt SyncFunction.Arn", "ServiceToken"},
		{"schema", "makefile", "$(call sam_lambda,migrate)", "$(call sam_lambda,sync)", "functions/migrate"},
		{"schema", "template", "      AutoPublishAlias: live\n", "", "AutoPublishAlias"},
		{"schema", "template", "FunctionVersion: !Ref MigrateFunction.Version", "FunctionVersion: \"1\"", "changes with the code"},
		{"schema", "template", "  PatientsFunction:\n    Type: AWS::Serverless::Function\n    DependsOn: Schema\n", "  PatientsFunction:\n    Type: AWS::Serverless::Function\n", "PatientsFunction does not depend on Schema"},
		{"schema", "template", "    Condition: HasRunner\n    DependsOn: Schema\n", "    Condition: HasRunner\n", "RunnerTaskDefinition does not depend on Schema"},
		{"schema", "template", "ServiceTimeout: 1200", "ServiceTimeout: 900", "ServiceTimeout"},
		{"schema", "template", "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      ServiceToken:", "    Properties:\n      ServiceToken:", "Retain"},
		{"schema", "template", "      Timeout: 900\n      # The work is the database's", "      Timeout: 60\n      # The work is the database's", "Timeout 60"},
		{"tracing", "template", "    Tracing: Active\n", "", "Tracing"},
		{"alarm actions", "template", "      AlarmActions: [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AlarmTopic]]\n", "", "AlarmActions"},
		{"alarm actions", "template", "      OKActions: [!If [HasAlarmTopic, !Ref AlarmTopicArn, !Ref AlarmTopic]]\n", "      OKActions: [!Ref AlarmTopicArn]\n", "OKActions"},
		{"alarm actions", "template", "    Condition: CreateAlarmTopic\n", "", "created unless"},
		{"alarm metrics", "template", "MetricName: SnapshotsRejected", "MetricName: SnapshotRejected", "not what internal/syncmetrics emits"},
		// Rejections are emitted by Entity and Reason too, applied ones are not.
		{"alarm metrics", "template", "        - Name: Entity\n          Value: payments\n      Statistic: Sum\n      Period: 3600\n",
			"        - Name: Entity\n          Value: payments\n        - Name: Reason\n          Value: malformed\n      Statistic: Sum\n      Period: 3600\n", "not what internal/syncmetrics emits"},
		{"alarm metrics", "template", "          Value: patients\n", "          Value: patient\n", "Entity patient"},
		{"alarm metrics", "template", "      Namespace: patientsync\n", "      Namespace: PatientSync\n", "not checked"},
		{"alarm metrics", "template", "          Value: !Ref HttpApi\n", "          Value: !Ref PatientsFunction\n", "ApiId"},
		{"alarm coverage", "template", "      Threshold: 720000\n", "      Threshold: 900000\n", "80%"},
		{"alarm coverage", "template", "      TreatMissingData: breaching\n", "      TreatMissingData: notBreaching\n", "freshness alarm"},
		{"alarm coverage", "template", "      DatapointsToAlarm: !Ref FreshnessHours\n", "      DatapointsToAlarm: 1\n", "freshness alarm"},
		{"alarm coverage", "template", "    MaxValue: 168\n", "    MaxValue: 720\n", "FreshnessHours"},
		{"alarm coverage", "template", "          Value: !Ref PaymentsFunction\n", "          Value: !Ref PatientsFunction\n", "PaymentsFunction's Errors"},
		{"alarm coverage", "template", "      MetricName: Throttles\n", "      MetricName: ConcurrentExecutions\n", "SyncFunction's Throttles"},
		{"alarm coverage", "template", "      MetricName: 5xx\n", "      MetricName: 4xx\n", "5xx"},
		{"alarm coverage", "template", "        - Name: Entity\n          Value: payments\n      Statistic: Sum\n      Period: 300\n",
			"        - Name: Entity\n          Value: patients\n      Statistic: Sum\n      Period: 300\n", "rejected payments"},
		{"access log", "template", `"latency":"$context.responseLatency",`, "", `"latency"`},
		{"access log", "template", "DestinationArn: !GetAtt ApiAccessLogGroup.Arn", "DestinationArn: !Sub arn:aws:logs:::log-group:x", "access log destination"},
		{"access log", "template", `"userArn":"$context.identity.userArn"}`, `"userArn":"$context.identity.userArn"`, "not a JSON object"},
		{"sync concurrency", "template", "    Default: 4\n", "    Default: 100\n", "2 per entity"},
		{"sync concurrency", "template", "      ReservedConcurrentExecutions: !If [HasSyncReservedConcurrency, !Ref SyncReservedConcurrency, !Ref AWS::NoValue]\n", "      ReservedConcurrentExecutions: 1\n", "ReservedConcurrentExecutions"},
		{"database endpoints", "template", "          SYNC_KEY_PREFIX: !Ref SnapshotKeyPrefix\n          # The ECS runner",
			"          SYNC_KEY_PREFIX: !Ref SnapshotKeyPrefix\n          DATABASE_QUERY_HOST: !Ref DatabaseReaderEndpoint\n          # The ECS runner", "SyncFunction: DATABASE_QUERY_HOST"},
		{"database endpoints", "template", "          DATABASE_QUERY_HOST: !Ref DatabaseReaderEndpoint\n", "", "PatientsFunction: DATABASE_QUERY_HOST"},
		{"database endpoints", "template", "          DATABASE_HOST: \"\"\n", "", "UploadsFunction: DATABASE_HOST"},
		{"database endpoints", "template", "        DATABASE_SSLMODE: !Ref DatabaseSslMode\n", "", "DATABASE_SSLMODE"},
		{"database endpoints", "template", "          - DatabaseIamAuthOn\n          - Statement:", "          - HasDatabaseSecret\n          - Statement:", "rds-db:connect statements"},
		{"database endpoints", "template", "dbuser:${DatabaseResourceId}/${DatabaseUser}", "dbuser:*/*", "rds-db:connect on"},
		{"database endpoints", "template", "            - Name: DATABASE_IAM_AUTH\n", "            - Name: DATABASE_IAM\n", "environment DATABASE_IAM_AUTH"},
		{"database endpoints", "template", "          - DatabaseIamAuthOn\n          - PolicyName:", "          - HasDatabaseSecret\n          - PolicyName:", "RunnerTaskRole"},
		{"key prefix", "template", "                  - !If\n                    - HasSnapshotKeyPrefix\n                    - Name: prefix\n                      Value: !Ref SnapshotKeyPrefix\n                    - !Ref AWS::NoValue\n", "", "prefix rules"},
		{"key prefix", "template", "          # It signs keys under the prefix, which the sync function syncs.\n          SYNC_KEY_PREFIX: !Ref SnapshotKeyPrefix\n", "", "UploadsFunction: SYNC_KEY_PREFIX"},
		{"key prefix", "template", "${AWS::Region}/${SnapshotKeyPrefix}payments.json.gz\"", "${AWS::Region}/payments.json.gz\"", "s3:PutObject"},
		{"retention", "template", "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      MessageRetentionPeriod", "    Properties:\n      MessageRetentionPeriod", "SyncFailureQueue"},
		{"retention", "template", "    DeletionPolicy: Delete\n    UpdateReplacePolicy: Delete\n    Properties:\n      LogGroupName: !Sub \"/patientsync/${AWS::StackName}/api-access\"",
			"    DeletionPolicy: Delete\n    Properties:\n      LogGroupName: !Sub \"/patientsync/${AWS::StackName}/api-access\"", "ApiAccessLogGroup"},
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

// The Makefile's SAM build: the GOARCH of SAM_LAMBDA_ENV and the file
// sam_lambda writes into ARTIFACTS_DIR.
var (
	makeGOARCH   = regexp.MustCompile(`(?m)^SAM_LAMBDA_ENV\s*:?=.*\bGOARCH=(\w+)`)
	makeArtifact = regexp.MustCompile(`(?m)^sam_lambda\s*=.*-o \$\(ARTIFACTS_DIR\)/(\S+)`)
	// GOARCH -> Lambda's name for it.
	lambdaArch = map[string]string{"arm64": "arm64", "amd64": "x86_64"}
)

// checkGlobals: every function is a Go binary for the custom runtime, built
// by the Makefile for the architecture and under the name the template
// declares, and logs JSON (slog writes JSON with a "level" field, so Lambda
// can filter by level).
func checkGlobals(s subject) []string {
	var p []string
	want := map[string]any{"Runtime": "provided.al2023"}
	if m := makeGOARCH.FindStringSubmatch(s.makefile); m == nil || lambdaArch[m[1]] == "" {
		p = append(p, "the Makefile's SAM_LAMBDA_ENV sets no GOARCH Lambda runs: cannot check Architectures")
	} else {
		want["Architectures"] = []any{lambdaArch[m[1]]}
	}
	if m := makeArtifact.FindStringSubmatch(s.makefile); m == nil {
		p = append(p, "the Makefile's sam_lambda writes no $(ARTIFACTS_DIR)/<file>: cannot check Handler")
	} else {
		want["Handler"] = m[1]
	}
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		for _, k := range []string{"Runtime", "Architectures", "Handler"} {
			if v, ok := want[k]; ok && !reflect.DeepEqual(props[k], v) {
				p = append(p, fmt.Sprintf("%s.%s = %v, want %v (what the Makefile builds)", id, k, props[k], v))
			}
		}
		if f := st.GetString(props, "LoggingConfig", "LogFormat"); f != "JSON" {
			p = append(p, fmt.Sprintf("%s.LoggingConfig.LogFormat = %q, want JSON", id, f))
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

// checkAPITimeouts: API Gateway gives up after 30 s, so a function behind a
// route must finish before that, and the integration waits longer than the
// function may run (its own timeout answers, not a gateway 504).
func checkAPITimeouts(s subject) []string {
	var p []string
	for _, r := range routes(s.tpl) {
		timeout, _ := s.tpl.FunctionProperties(r.function)["Timeout"].(int)
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

type route struct {
	function, method, path string
	timeoutMillis          any
}

func routes(tpl *st.Template) []route {
	var out []route
	for _, id := range tpl.OfType(st.TypeFunction) {
		events, _ := tpl.Resources[id].Properties["Events"].(map[string]any)
		for _, e := range events {
			if st.GetString(e, "Type") != "HttpApi" {
				continue
			}
			props, _ := st.Get(e, "Properties")
			ms, _ := st.Get(props, "TimeoutInMillis")
			out = append(out, route{id, st.GetString(props, "Method"), st.GetString(props, "Path"), ms})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].method+out[i].path < out[j].method+out[j].path })
	return out
}

// logicalID is the template's name of local stack function f.
func logicalID(f string) string { return strings.ToUpper(f[:1]) + f[1:] + "Function" }

// checkRoutes: the HTTP API has the local stack's routes (localaws.Routes),
// each to the same function (syncs: SyncsFunction).
func checkRoutes(s subject) []string {
	have := map[string]string{}
	for _, r := range routes(s.tpl) {
		have[r.method+" "+r.path] = r.function
	}
	want := map[string]string{}
	for _, r := range localaws.Routes {
		want[r.Method+" "+r.Path] = logicalID(r.Function)
	}
	if !reflect.DeepEqual(have, want) {
		return []string{fmt.Sprintf("routes = %v, want %v", have, want)}
	}
	return nil
}

type s3Event struct {
	function, event string
	events          []string
	suffixes        []string
	prefixes        []any // prefix rules, as written (an Fn::If included)
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
			x, _ := st.Get(props, "Events")
			ev.events = strs(x)
			rules, _ := st.Get(props, "Filter", "S3Key", "Rules")
			for _, r := range asList(rules) {
				if strings.EqualFold(st.GetString(r, "Name"), "suffix") {
					ev.suffixes = append(ev.suffixes, st.GetString(r, "Value"))
				} else {
					ev.prefixes = append(ev.prefixes, r)
				}
			}
			out = append(out, ev)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].event < out[j].event })
	return out
}

func checkS3Filters(s subject) []string {
	var p []string
	var suffixes []string
	for _, e := range s3Events(s.tpl) {
		if !slices.Contains(e.events, "s3:ObjectCreated:*") {
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

// statements lists the IAM statements of a resource's Policies — a SAM
// function's (policy documents) or an IAM role's (PolicyDocument of each
// inline policy) — looking through Fn::If (both branches) and skipping
// AWS::NoValue.
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
			if doc, ok := x["PolicyDocument"]; ok {
				walk(doc)
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

// checkPolicies: least privilege, and the sync function reads and tags the
// snapshot keys (snapshotKeyResources), by the name the bucket is created
// with, and no other object. (A !Ref or !GetAtt of the bucket there would
// close the cycle bucket -> notification permission -> function -> role ->
// bucket: cfn-lint's E3004 on the translation.)
func checkPolicies(s subject) []string {
	var p []string
	bucketName, _ := st.SubString(s.tpl.Resources["SnapshotBucket"].Properties["BucketName"])
	keys := snapshotKeyResources(s.tpl)
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		subscribed := len(functionS3Events(s.tpl, id)) > 0
		var reads, tags bool
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
			subs := subStrings(res)
			for _, sub := range subs {
				if strings.Contains(sub, ":s3:::") && (bucketName == "" || !strings.HasPrefix(sub, "arn:${AWS::Partition}:s3:::"+bucketName+"/")) {
					p = append(p, fmt.Sprintf("%s: S3 resource %q does not match the bucket name %q", id, sub, bucketName))
				}
			}
			if !subscribed || !slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "s3:") }) {
				continue
			}
			// The sync function's S3 statements: the snapshot keys only.
			if !slices.Equal(sortedCopy(subs), keys) {
				p = append(p, fmt.Sprintf("%s: %v on %v, want the snapshot keys %v", id, actions, subs, keys))
				continue
			}
			reads = reads || slices.Contains(actions, "s3:GetObject") && slices.Contains(actions, "s3:GetObjectVersion")
			tags = tags || containsAll(actions, tagActions)
		}
		if subscribed && !reads {
			p = append(p, fmt.Sprintf("%s is subscribed to the bucket but cannot s3:GetObject and s3:GetObjectVersion its snapshot keys by bucket name", id))
		}
		if subscribed && !tags {
			p = append(p, fmt.Sprintf("%s cannot tag the snapshot versions it syncs (%v on the snapshot keys; s3source.Tag)", id, tagActions))
		}
	}
	return p
}

// tagActions are what s3source.Tag needs: it reads a version's tags and
// writes them back with the outcome's (the Version forms with a versionId).
var tagActions = []string{"s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:PutObjectTagging", "s3:PutObjectVersionTagging"}

// snapshotKeyResources are the ARNs of the snapshot keys as the S3 filters
// define them: the bucket by name, SnapshotKeyPrefix, anything, one of the
// filters' suffixes; sorted.
func snapshotKeyResources(tpl *st.Template) []string {
	bucketName, _ := st.SubString(tpl.Resources["SnapshotBucket"].Properties["BucketName"])
	var out []string
	for _, e := range s3Events(tpl) {
		for _, sfx := range e.suffixes {
			out = append(out, "arn:${AWS::Partition}:s3:::"+bucketName+"/${SnapshotKeyPrefix}*"+sfx)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// subStrings are the template strings of a Resource: one !Sub or a list of
// them (anything else is printed as it is).
func subStrings(v any) []string {
	l, ok := v.([]any)
	if !ok {
		l = []any{v}
	}
	var out []string
	for _, x := range l {
		if sub, ok := st.SubString(x); ok {
			out = append(out, sub)
		} else if x != nil {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

func sortedCopy(l []string) []string {
	out := slices.Clone(l)
	sort.Strings(out)
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
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
		if l := asList(enc); len(l) == 0 || st.GetString(l[0], "ServerSideEncryptionByDefault", "SSEAlgorithm") == "" {
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

// checkAsyncInvoke: S3 events that fail are retried twice, then kept in a
// queue of this stack (which SyncFailureAlarm watches).
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

// checkHTTPAPI: the stage, throttling, and authorization unless a deploy
// says otherwise. (That ApiAuthorization governs every route, with AWS_IAM
// or without, is checked on the SAM translation of both values.)
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
	if d := s.tpl.Parameters["ApiAuthorization"]["Default"]; d != "AWS_IAM" {
		p = append(p, fmt.Sprintf("parameter ApiAuthorization defaults to %v, want AWS_IAM (open routes only on request)", d))
	}
	return p
}

// checkDatabase: the variables the functions read (internal/db, and
// internal/syncer for the sync guards), and that they may read the
// database secret and nothing more.
func checkDatabase(s subject) []string {
	var p []string
	if s.tpl.Parameters["DatabaseUrl"]["NoEcho"] != true {
		p = append(p, "parameter DatabaseUrl must be NoEcho")
	}
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		vars, _ := st.Get(props, "Environment", "Variables")
		if id == "UploadsFunction" {
			// It signs URLs; the Globals' database settings are blanked.
			if st.GetString(vars, "DATABASE_URL") != "" || st.GetString(vars, "DATABASE_SECRET_ARN") != "" {
				p = append(p, id+" has the database's settings; it needs none")
			}
			for _, stmt := range statements(props) {
				if slices.Contains(strs(stmt["Action"]), "secretsmanager:GetSecretValue") {
					p = append(p, id+" may read the database secret; it needs none")
				}
			}
			continue
		}
		want := []string{"DATABASE_URL", "DATABASE_SECRET_ARN"}
		if len(functionS3Events(s.tpl, id)) > 0 || id == "PushFunction" { // the writers: their guards
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
			if slices.Contains(strs(stmt["Action"]), "secretsmanager:GetSecretValue") {
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
	out := s.tpl.Outputs["BucketName"]["Value"]
	if id := st.GetString(out, "Ref"); s.tpl.Resources[id].Type != st.TypeBucket {
		p = append(p, fmt.Sprintf("output BucketName = %v, want !Ref of the bucket", out))
	}
	return p
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
