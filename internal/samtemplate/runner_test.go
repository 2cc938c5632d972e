package samtemplate_test

// The ECS runner's invariants (the sync function hands snapshots that
// cannot finish in 15 minutes to a Fargate task of the CLI): it exists only
// with the RunnerImageUri parameter, runs what the Makefile builds, is
// wired to the function as internal/synclambda reads it, and every role
// involved can do only its part.

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	st "github.com/patientsync/patientsync/internal/samtemplate"
	"github.com/patientsync/patientsync/internal/synclambda"
)

const (
	typeCluster        = "AWS::ECS::Cluster"
	typeTaskDefinition = "AWS::ECS::TaskDefinition"
	typeRole           = "AWS::IAM::Role"
	runnerCondition    = "HasRunner"
)

// runnerParts are the runner's resources, found from its task definition.
type runnerParts struct {
	taskDef, cluster, taskRole, executionRole, logGroup string
	container                                           map[string]any
}

func findRunner(tpl *st.Template) (runnerParts, []string) {
	var r runnerParts
	tds, clusters := tpl.OfType(typeTaskDefinition), tpl.OfType(typeCluster)
	if len(tds) != 1 || len(clusters) != 1 {
		return r, []string{fmt.Sprintf("want one ECS task definition and one cluster (the runner), have %v and %v", tds, clusters)}
	}
	r.taskDef, r.cluster = tds[0], clusters[0]
	props := tpl.Resources[r.taskDef].Properties
	r.taskRole = getAttArn(props["TaskRoleArn"])
	r.executionRole = getAttArn(props["ExecutionRoleArn"])
	containers := asList(props["ContainerDefinitions"])
	var p []string
	if len(containers) != 1 {
		p = append(p, fmt.Sprintf("%s: %d containers, want 1 (the CLI)", r.taskDef, len(containers)))
	} else {
		r.container, _ = containers[0].(map[string]any)
		r.logGroup = st.GetString(r.container, "LogConfiguration", "Options", "awslogs-group", "Ref")
	}
	for _, role := range []string{r.taskRole, r.executionRole} {
		if tpl.Resources[role].Type != typeRole {
			p = append(p, fmt.Sprintf("%s: TaskRoleArn and ExecutionRoleArn must be !GetAtt <role in template>.Arn (have %q, %q)", r.taskDef, r.taskRole, r.executionRole))
			break
		}
	}
	if r.taskRole == r.executionRole {
		p = append(p, fmt.Sprintf("%s: the task role and the execution role must differ (what the CLI may do, what ECS may do)", r.taskDef))
	}
	return r, p
}

// getAttArn is X of !GetAtt X.Arn, else "".
func getAttArn(v any) string {
	l := asList(mapOf(v)["Fn::GetAtt"])
	if len(l) != 2 || l[1] != "Arn" {
		return ""
	}
	s, _ := l[0].(string)
	return s
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// ifRunner is the value of the HasRunner branch of !If [HasRunner, x,
// !Ref AWS::NoValue], and whether v is that.
func ifRunner(v any) (any, bool) {
	l := asList(mapOf(v)["Fn::If"])
	if len(l) != 3 || l[0] != runnerCondition || !reflect.DeepEqual(l[2], map[string]any{"Ref": "AWS::NoValue"}) {
		return nil, false
	}
	return l[1], true
}

// checkRunner: the runner exists only with RunnerImageUri, runs the
// architecture the Makefile builds, and the function's RUNNER_* variables
// name its parts.
func checkRunner(s subject) []string {
	var p []string
	tpl := s.tpl
	if d, ok := tpl.Parameters["RunnerImageUri"]["Default"]; !ok || d != "" {
		p = append(p, fmt.Sprintf("parameter RunnerImageUri defaults to %v, want \"\" (no runner unless asked for)", d))
	}
	want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "RunnerImageUri"}, ""}}}}
	if got := tpl.Conditions[runnerCondition]; !reflect.DeepEqual(got, want) {
		p = append(p, fmt.Sprintf("condition %s = %v, want !Not [!Equals [!Ref RunnerImageUri, \"\"]]", runnerCondition, got))
	}
	r, problems := findRunner(tpl)
	p = append(p, problems...)
	if r.container == nil {
		return p
	}
	// Nothing of the runner without the image.
	runnerIDs := []string{r.taskDef, r.cluster, r.taskRole, r.executionRole, r.logGroup}
	for id, res := range tpl.Resources {
		if strings.HasPrefix(res.Type, "AWS::ECS::") || strings.HasPrefix(id, "Runner") {
			runnerIDs = append(runnerIDs, id)
		}
	}
	sort.Strings(runnerIDs)
	for _, id := range slices.Compact(runnerIDs) {
		if c := tpl.Resources[id].Condition; c != runnerCondition {
			p = append(p, fmt.Sprintf("%s: Condition %q, want %s (nothing of the runner without RunnerImageUri)", id, c, runnerCondition))
		}
	}
	for id, o := range tpl.Outputs {
		if strings.HasPrefix(id, "Runner") && o["Condition"] != runnerCondition {
			p = append(p, fmt.Sprintf("output %s: Condition %v, want %s", id, o["Condition"], runnerCondition))
		}
	}

	td := tpl.Resources[r.taskDef].Properties
	if !reflect.DeepEqual(td["RequiresCompatibilities"], []any{"FARGATE"}) || td["NetworkMode"] != "awsvpc" {
		p = append(p, fmt.Sprintf("%s: RequiresCompatibilities %v, NetworkMode %v, want [FARGATE], awsvpc", r.taskDef, td["RequiresCompatibilities"], td["NetworkMode"]))
	}
	// ECS spells them ARM64 and X86_64, Lambda arm64 and x86_64.
	if m := makeGOARCH.FindStringSubmatch(s.makefile); m == nil || !strings.EqualFold(st.GetString(td, "RuntimePlatform", "CpuArchitecture"), lambdaArch[m[1]]) {
		p = append(p, fmt.Sprintf("%s: RuntimePlatform.CpuArchitecture %q is not the Lambdas' architecture (the Makefile's SAM_LAMBDA_ENV)",
			r.taskDef, st.GetString(td, "RuntimePlatform", "CpuArchitecture")))
	}
	c := r.container
	if st.GetString(c, "Image", "Ref") != "RunnerImageUri" {
		p = append(p, fmt.Sprintf("%s: Image %v, want !Ref RunnerImageUri", r.taskDef, c["Image"]))
	}
	if name := st.GetString(c, "Name"); name != synclambda.RunnerContainer {
		p = append(p, fmt.Sprintf("%s: container %q, want %q (synclambda.RunnerContainer)", r.taskDef, name, synclambda.RunnerContainer))
	}
	if _, ok := c["Command"]; ok {
		p = append(p, fmt.Sprintf("%s: a Command in the container; the sync function gives it per snapshot", r.taskDef))
	}
	if st.GetString(c, "LogConfiguration", "LogDriver") != "awslogs" || tpl.Resources[r.logGroup].Type != "AWS::Logs::LogGroup" {
		p = append(p, fmt.Sprintf("%s: logs must go (awslogs) to a log group of the template", r.taskDef))
	} else if _, ok := tpl.Resources[r.logGroup].Properties["RetentionInDays"]; !ok {
		p = append(p, fmt.Sprintf("%s: no RetentionInDays", r.logGroup))
	}
	// The container's environment: the function's guards, the database,
	// and a long lock wait.
	env := map[string]any{}
	var database []string
	for _, e := range asList(c["Environment"]) {
		if l := asList(mapOf(e)["Fn::If"]); len(l) == 3 {
			if l[0] == "HasDatabaseSecret" {
				database = []string{st.GetString(l[1], "Name"), st.GetString(l[2], "Name")}
			}
			continue
		}
		env[st.GetString(e, "Name")] = mapOf(e)["Value"]
	}
	if !reflect.DeepEqual(database, []string{"DATABASE_SECRET_ARN", "DATABASE_URL"}) {
		p = append(p, fmt.Sprintf("%s: environment must give DATABASE_SECRET_ARN if HasDatabaseSecret, else DATABASE_URL (have %v)", r.taskDef, database))
	}
	fnVars, _ := st.Get(tpl.FunctionProperties("SyncFunction"), "Environment", "Variables")
	for _, k := range []string{"SYNC_MAX_INVALID_SHARE", "SYNC_MAX_DELETE_SHARE", "SYNC_MIN_DELETES", "SYNC_ALLOW_MASS_DELETE"} {
		if fv, _ := st.Get(fnVars, k); !reflect.DeepEqual(env[k], fv) {
			p = append(p, fmt.Sprintf("%s: %s = %v, the sync function's is %v (the same guards on both paths)", r.taskDef, k, env[k], fv))
		}
	}
	if _, ok := env["SYNC_LOCK_TIMEOUT"]; !ok {
		p = append(p, fmt.Sprintf("%s: no SYNC_LOCK_TIMEOUT (a runner sync may wait for another long one)", r.taskDef))
	}
	if env["SYNC_EMF"] != "true" {
		p = append(p, fmt.Sprintf("%s: SYNC_EMF = %v, want true (runner syncs count for the freshness and rejection alarms)", r.taskDef, env["SYNC_EMF"]))
	}

	// The function's RUNNER_* variables (internal/synclambda/runner.go).
	wantVars := map[string]any{
		"RUNNER_CLUSTER":          map[string]any{"Ref": r.cluster},
		"RUNNER_TASK_DEFINITION":  map[string]any{"Ref": r.taskDef},
		"RUNNER_CONTAINER":        synclambda.RunnerContainer,
		"RUNNER_SUBNETS":          map[string]any{"Fn::Join": []any{",", map[string]any{"Ref": "SubnetIds"}}},
		"RUNNER_SECURITY_GROUPS":  map[string]any{"Fn::Join": []any{",", map[string]any{"Ref": "SecurityGroupIds"}}},
		"RUNNER_ASSIGN_PUBLIC_IP": map[string]any{"Ref": "RunnerAssignPublicIp"},
	}
	for k, w := range wantVars {
		v, _ := st.Get(fnVars, k)
		if got, ok := ifRunner(v); !ok || !reflect.DeepEqual(got, w) {
			p = append(p, fmt.Sprintf("SyncFunction: %s = %v, want !If [%s, %v, !Ref AWS::NoValue]", k, v, runnerCondition, w))
		}
	}
	if v := st.GetString(tpl.Parameters["RunnerAssignPublicIp"], "Default"); v != "DISABLED" {
		p = append(p, fmt.Sprintf("parameter RunnerAssignPublicIp defaults to %q, want DISABLED", v))
	}

	// A runner task that fails lands in the failure queue.
	routed := false
	for _, id := range tpl.OfType("AWS::Events::Rule") {
		rule := tpl.Resources[id].Properties
		cluster, _ := st.Get(rule, "EventPattern", "detail", "clusterArn")
		for _, tg := range asList(rule["Targets"]) {
			if q := getAttArn(mapOf(tg)["Arn"]); tpl.Resources[q].Type == st.TypeQueue &&
				reflect.DeepEqual(cluster, []any{map[string]any{"Fn::GetAtt": []any{r.cluster, "Arn"}}}) {
				routed = true
			}
		}
	}
	if !routed {
		p = append(p, fmt.Sprintf("no EventBridge rule sends %s's stopped tasks to a queue of the template", r.cluster))
	}
	return p
}

// checkRunnerPolicies: the sync function may start the runner's task
// definition in its cluster and pass it its two roles, nothing more of ECS
// or IAM; the task role may read snapshot versions and the database
// secret; the execution role may pull the runner's image and write its
// logs.
func checkRunnerPolicies(s subject) []string {
	var p []string
	tpl := s.tpl
	r, problems := findRunner(tpl)
	if len(problems) > 0 {
		return problems
	}
	for _, id := range tpl.OfType(st.TypeFunction) {
		var runTask, passRole int
		for _, stmt := range statements(tpl.FunctionProperties(id)) {
			actions := strs(stmt["Action"])
			for _, a := range actions {
				svc, _, _ := strings.Cut(a, ":")
				if svc != "ecs" && svc != "iam" {
					continue
				}
				if id != "SyncFunction" || len(actions) != 1 || a != "ecs:RunTask" && a != "iam:PassRole" {
					p = append(p, fmt.Sprintf("%s: %v; only SyncFunction may ecs:RunTask and iam:PassRole, each in its own statement", id, actions))
					continue
				}
				if a == "ecs:RunTask" {
					runTask++
					cluster, _ := st.Get(stmt, "Condition", "ArnEquals", "ecs:cluster")
					if !reflect.DeepEqual(stmt["Resource"], map[string]any{"Ref": r.taskDef}) ||
						!reflect.DeepEqual(cluster, map[string]any{"Fn::GetAtt": []any{r.cluster, "Arn"}}) {
						p = append(p, fmt.Sprintf("%s: ecs:RunTask on %v in cluster %v, want !Ref %s with ecs:cluster = !GetAtt %s.Arn",
							id, stmt["Resource"], cluster, r.taskDef, r.cluster))
					}
				} else {
					passRole++
					var roles []string
					for _, res := range asList(stmt["Resource"]) {
						roles = append(roles, getAttArn(res))
					}
					sort.Strings(roles)
					want := []string{r.executionRole, r.taskRole}
					sort.Strings(want)
					svc, _ := st.Get(stmt, "Condition", "StringEquals", "iam:PassedToService")
					if !slices.Equal(roles, want) || svc != "ecs-tasks.amazonaws.com" {
						p = append(p, fmt.Sprintf("%s: iam:PassRole on %v to %v, want exactly the runner's roles %v, to ecs-tasks.amazonaws.com",
							id, stmt["Resource"], svc, want))
					}
				}
			}
		}
		if id == "SyncFunction" && (runTask != 1 || passRole != 1) {
			p = append(p, fmt.Sprintf("SyncFunction: %d ecs:RunTask and %d iam:PassRole statements, want one each", runTask, passRole))
		}
	}

	bucketName, _ := st.SubString(tpl.Resources["SnapshotBucket"].Properties["BucketName"])
	allowed := map[string][]string{
		r.taskRole:      append([]string{"s3:GetObject", "s3:GetObjectVersion", "secretsmanager:GetSecretValue", "rds-db:connect"}, tagActions...),
		r.executionRole: {"ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "logs:CreateLogStream", "logs:PutLogEvents"},
	}
	var readsVersions, tags bool
	for role, allow := range allowed {
		props := tpl.Resources[role].Properties
		trust, _ := st.Get(props, "AssumeRolePolicyDocument", "Statement")
		for _, t := range asList(trust) {
			if svc, _ := st.Get(t, "Principal", "Service"); svc != "ecs-tasks.amazonaws.com" {
				p = append(p, fmt.Sprintf("%s: trusts %v, want ecs-tasks.amazonaws.com only", role, svc))
			}
		}
		if len(asList(props["ManagedPolicyArns"])) > 0 {
			p = append(p, fmt.Sprintf("%s: managed policies grant more than the runner needs", role))
		}
		for _, stmt := range statements(props) {
			actions := strs(stmt["Action"])
			for _, a := range actions {
				if !slices.Contains(allow, a) {
					p = append(p, fmt.Sprintf("%s: action %s, want only %v", role, a, allow))
				}
			}
			res := stmt["Resource"]
			switch {
			case res == "*" && !slices.Equal(actions, []string{"ecr:GetAuthorizationToken"}):
				p = append(p, fmt.Sprintf("%s: Resource \"*\" for %v (only ecr:GetAuthorizationToken has no resource)", role, actions))
			case slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(a, "s3:") }):
				// What the sync function may read and tag, no more.
				if subs := sortedCopy(subStrings(res)); bucketName == "" || !slices.Equal(subs, snapshotKeyResources(tpl)) {
					p = append(p, fmt.Sprintf("%s: S3 resource %v, want the snapshot keys %v", role, subs, snapshotKeyResources(tpl)))
				}
				readsVersions = readsVersions || containsAll(actions, []string{"s3:GetObject", "s3:GetObjectVersion"})
				tags = tags || containsAll(actions, tagActions)
			case slices.Contains(actions, "rds-db:connect"):
				if sub, _ := st.SubString(res); sub != dbUserArn {
					p = append(p, fmt.Sprintf("%s: rds-db:connect on %v, want %s", role, res, dbUserArn))
				}
			case slices.Contains(actions, "secretsmanager:GetSecretValue"):
				if st.GetString(res, "Ref") != "DatabaseSecretArn" {
					p = append(p, fmt.Sprintf("%s: GetSecretValue on %v, want !Ref DatabaseSecretArn", role, res))
				}
			case slices.Contains(actions, "logs:PutLogEvents"):
				if getAttArn(res) != r.logGroup {
					p = append(p, fmt.Sprintf("%s: logs on %v, want !GetAtt %s.Arn", role, res, r.logGroup))
				}
			case slices.Contains(actions, "ecr:BatchGetImage"):
				if sub, _ := st.SubString(res); !strings.Contains(sub, ":repository/${Repository}") {
					p = append(p, fmt.Sprintf("%s: image pulls on %v, want the repository of RunnerImageUri", role, res))
				}
			}
		}
	}
	if !readsVersions || !tags {
		p = append(p, fmt.Sprintf("%s cannot read (%v) or cannot tag (%v) the snapshot versions it syncs", r.taskRole, readsVersions, tags))
	}
	return p
}
