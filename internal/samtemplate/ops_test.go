package samtemplate_test

// The operations part of template.yaml: tracing, the alarms (each to the
// alarm topic, each on a metric the code or AWS emits with exactly the
// dimensions it is emitted with, and the set of alarms the README's
// runbook describes), the API's access log, the sync function's reserved
// concurrency, the database parameters' variables and permissions, the
// snapshot key prefix, and what outlives the stack. Registered in checks
// (template_test.go), each with rows in TestChecksCatchBreakage.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/patientsync/patientsync/internal/emf"
	st "github.com/patientsync/patientsync/internal/samtemplate"
	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/syncmetrics"
)

var entities = []snapshot.Entity{snapshot.Patients, snapshot.Payments}

// dbUserArn is what rds-db:connect allows with DatabaseIamAuth=true.
const dbUserArn = "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${DatabaseResourceId}/${DatabaseUser}"

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func ifValue(cond string, then, otherwise any) map[string]any {
	return map[string]any{"Fn::If": []any{cond, then, otherwise}}
}

var noValue = ref("AWS::NoValue")

// checkTracing: X-Ray on every function (Globals, or its own).
func checkTracing(s subject) []string {
	var p []string
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		if v := s.tpl.FunctionProperties(id)["Tracing"]; v != "Active" {
			p = append(p, fmt.Sprintf("%s: Tracing = %v, want Active (Globals)", id, v))
		}
	}
	return p
}

// alarmTopic is what every alarm notifies: AlarmTopicArn when given, else
// the stack's own AlarmTopic.
var alarmTopic = []any{ifValue("HasAlarmTopic", ref("AlarmTopicArn"), ref("AlarmTopic"))}

// checkAlarmActions: every alarm notifies the alarm topic when it fires
// (and, if at all, when it is over); the topic is created exactly when no
// AlarmTopicArn is given, and AlarmEmail subscribes to it.
func checkAlarmActions(s subject) []string {
	var p []string
	alarms := s.tpl.OfType(st.TypeAlarm)
	if len(alarms) == 0 {
		p = append(p, "no alarms")
	}
	for _, id := range alarms {
		props := s.tpl.Resources[id].Properties
		if !reflect.DeepEqual(props["AlarmActions"], alarmTopic) {
			p = append(p, fmt.Sprintf("%s: AlarmActions %v, want %v", id, props["AlarmActions"], alarmTopic))
		}
		if ok, has := props["OKActions"]; has && !reflect.DeepEqual(ok, alarmTopic) {
			p = append(p, fmt.Sprintf("%s: OKActions %v, want %v or none", id, ok, alarmTopic))
		}
	}
	topic := s.tpl.Resources["AlarmTopic"]
	if topic.Type != st.TypeTopic {
		return append(p, "AlarmTopic: no AWS::SNS::Topic")
	}
	want := map[string]any{"Fn::Equals": []any{ref("AlarmTopicArn"), ""}}
	if c := s.tpl.Conditions[topic.Condition]; !reflect.DeepEqual(c, want) {
		p = append(p, fmt.Sprintf("AlarmTopic: condition %s = %v, want %v (created unless AlarmTopicArn is given)", topic.Condition, c, want))
	}
	notWant := map[string]any{"Fn::Not": []any{want}}
	if c := s.tpl.Conditions["HasAlarmTopic"]; !reflect.DeepEqual(c, notWant) {
		p = append(p, fmt.Sprintf("condition HasAlarmTopic = %v, want %v", c, notWant))
	}
	for _, id := range s.tpl.OfType("AWS::SNS::Subscription") {
		props := s.tpl.Resources[id].Properties
		if !reflect.DeepEqual(props["TopicArn"], ref("AlarmTopic")) || !reflect.DeepEqual(props["Endpoint"], ref("AlarmEmail")) {
			p = append(p, fmt.Sprintf("%s: %v -> %v, want AlarmEmail on AlarmTopic", id, props["Endpoint"], props["TopicArn"]))
		}
	}
	return p
}

// emittedMetrics are the sync metrics the code writes, as "Name|Dim,Dim"
// (dimension names sorted): syncmetrics.Write's EMF for a run of every
// outcome, read back like CloudWatch reads it.
func emittedMetrics() (map[string]bool, error) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := syncer.Result{ID: 1, Entity: snapshot.Patients, Source: "s3://b/patients.json", Started: now.Add(-time.Minute), Finished: now,
		Identity: syncer.Identity{LastModified: now.Add(-2 * time.Minute)}}
	var runs []syncer.Result
	for _, o := range []struct{ status, code string }{
		{syncer.StatusSucceeded, ""}, {syncer.StatusSkipped, syncer.CodeDuplicate},
		{syncer.StatusFailed, syncer.CodeInvalidShare}, {syncer.StatusFailed, syncer.CodeTransient},
	} {
		r := base
		r.Status, r.Code = o.status, o.code
		runs = append(runs, r)
	}
	var buf bytes.Buffer
	w := emf.New(&buf, syncmetrics.Namespace)
	for _, r := range runs {
		if err := syncmetrics.Write(w, r, now); err != nil {
			return nil, err
		}
	}
	out := map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var doc struct {
			AWS struct {
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name string }
				}
			} `json:"_aws"`
		}
		if err := json.Unmarshal(line, &doc); err != nil {
			return nil, err
		}
		for _, d := range doc.AWS.CloudWatchMetrics {
			if d.Namespace != syncmetrics.Namespace {
				return nil, fmt.Errorf("EMF namespace %q", d.Namespace)
			}
			for _, m := range d.Metrics {
				for _, dims := range d.Dimensions {
					out[m.Name+"|"+strings.Join(sortedCopy(dims), ",")] = true
				}
			}
		}
	}
	return out, nil
}

// alarmMetric is an alarm's metric, its dimensions by name.
type alarmMetric struct {
	namespace, name string
	dims            map[string]any
}

func metricOf(props map[string]any) alarmMetric {
	m := alarmMetric{namespace: st.GetString(props, "Namespace"), name: st.GetString(props, "MetricName"), dims: map[string]any{}}
	for _, d := range asList(props["Dimensions"]) {
		m.dims[st.GetString(d, "Name")] = mapOf(d)["Value"]
	}
	return m
}

func (m alarmMetric) dimNames() string {
	var names []string
	for k := range m.dims {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// checkAlarmMetrics: an alarm on a metric nobody emits, or with other
// dimensions than it is emitted with, never fires. The sync metrics must
// be ones syncmetrics writes, with one of its dimension sets and an entity
// as Entity; AWS's metrics must name a resource of this template.
func checkAlarmMetrics(s subject) []string {
	var p []string
	emitted, err := emittedMetrics()
	if err != nil {
		return []string{err.Error()}
	}
	apis := s.tpl.OfType(st.TypeHTTPAPI)
	for _, id := range s.tpl.OfType(st.TypeAlarm) {
		props := s.tpl.Resources[id].Properties
		if _, ok := props["Metrics"]; ok {
			p = append(p, id+": metric math is not checked here; alarm on one metric")
			continue
		}
		m := metricOf(props)
		switch m.namespace {
		case syncmetrics.Namespace:
			if !emitted[m.name+"|"+m.dimNames()] {
				var have []string
				for k := range emitted {
					have = append(have, k)
				}
				sort.Strings(have)
				p = append(p, fmt.Sprintf("%s: %s by [%s] is not what internal/syncmetrics emits (%v)", id, m.name, m.dimNames(), have))
			}
			if e, ok := m.dims["Entity"]; ok && !slices.Contains(entities, snapshot.Entity(fmt.Sprint(e))) {
				p = append(p, fmt.Sprintf("%s: Entity %v, want one of %v", id, e, entities))
			}
		case "AWS/Lambda":
			fn := st.GetString(m.dims["FunctionName"], "Ref")
			if m.dimNames() != "FunctionName" || s.tpl.Resources[fn].Type != st.TypeFunction {
				p = append(p, fmt.Sprintf("%s: %s by %v, want FunctionName = !Ref <function>", id, m.name, m.dims))
			}
		case "AWS/ApiGateway":
			if m.dimNames() != "ApiId" || len(apis) != 1 || !reflect.DeepEqual(m.dims["ApiId"], ref(apis[0])) {
				p = append(p, fmt.Sprintf("%s: %s by %v, want ApiId = !Ref %v (an HTTP API's metrics)", id, m.name, m.dims, apis))
			}
		case "AWS/SQS":
			l := asList(mapOf(m.dims["QueueName"])["Fn::GetAtt"])
			if m.dimNames() != "QueueName" || len(l) != 2 || l[1] != "QueueName" || s.tpl.Resources[fmt.Sprint(l[0])].Type != st.TypeQueue {
				p = append(p, fmt.Sprintf("%s: %s by %v, want QueueName = !GetAtt <queue>.QueueName", id, m.name, m.dims))
			}
		default:
			p = append(p, fmt.Sprintf("%s: namespace %q is not checked here", id, m.namespace))
		}
	}
	return p
}

// checkAlarmCoverage: the alarms the README's runbook describes exist, and
// fire when they should.
func checkAlarmCoverage(s subject) []string {
	var p []string
	type alarm struct {
		id    string
		props map[string]any
		m     alarmMetric
		cond  string
	}
	var all []alarm
	for _, id := range s.tpl.OfType(st.TypeAlarm) {
		r := s.tpl.Resources[id]
		all = append(all, alarm{id, r.Properties, metricOf(r.Properties), r.Condition})
	}
	find := func(namespace, name, dim string, value any) *alarm {
		for i, a := range all {
			if a.m.namespace == namespace && a.m.name == name && reflect.DeepEqual(a.m.dims[dim], value) {
				return &all[i]
			}
		}
		return nil
	}
	// onAny: one occurrence in a period is enough.
	onAny := func(a *alarm) bool {
		op, th := st.GetString(a.props, "ComparisonOperator"), a.props["Threshold"]
		return op == "GreaterThanThreshold" && th == 0 || op == "GreaterThanOrEqualToThreshold" && th == 1
	}
	for _, e := range entities {
		a := find(syncmetrics.Namespace, "SnapshotsRejected", "Entity", string(e))
		if a == nil || st.GetString(a.props, "Statistic") != "Sum" || !onAny(a) {
			p = append(p, fmt.Sprintf("no alarm on any rejected %s snapshot (SnapshotsRejected Sum > 0 by Entity)", e))
		}
		a = find(syncmetrics.Namespace, "SnapshotsApplied", "Entity", string(e))
		switch {
		case a == nil:
			p = append(p, fmt.Sprintf("no freshness alarm for %s (SnapshotsApplied by Entity)", e))
		case st.GetString(a.props, "Statistic") != "Sum" || a.props["Period"] != 3600 ||
			!reflect.DeepEqual(a.props["EvaluationPeriods"], ref("FreshnessHours")) ||
			!reflect.DeepEqual(a.props["DatapointsToAlarm"], ref("FreshnessHours")) ||
			st.GetString(a.props, "ComparisonOperator") != "LessThanThreshold" || a.props["Threshold"] != 1 ||
			st.GetString(a.props, "TreatMissingData") != "breaching":
			p = append(p, fmt.Sprintf("%s: the freshness alarm wants Sum < 1 for FreshnessHours 1-hour periods out of as many, missing data breaching", a.id))
		case !strings.Contains(fmt.Sprint(s.tpl.Conditions[a.cond]), "FreshnessHours"):
			p = append(p, fmt.Sprintf("%s: condition %q does not depend on FreshnessHours (0 turns the alarms off)", a.id, a.cond))
		}
	}
	// CloudWatch evaluates at most 7 days of 1-hour periods.
	if mx := s.tpl.Parameters["FreshnessHours"]["MaxValue"]; mx == nil || mx.(int) > 7*24 {
		p = append(p, fmt.Sprintf("parameter FreshnessHours: MaxValue %v, want at most 168 (7 days of 1-hour periods)", mx))
	}

	for _, id := range s.tpl.OfType(st.TypeFunction) {
		var want []string
		if len(functionS3Events(s.tpl, id)) > 0 {
			want = []string{"Errors", "Throttles", "Duration"}
		}
		for _, r := range routes(s.tpl) {
			if r.function == id && !slices.Contains(want, "Errors") {
				want = append(want, "Errors")
			}
		}
		for _, name := range want {
			a := find("AWS/Lambda", name, "FunctionName", ref(id))
			switch {
			case a == nil:
				p = append(p, fmt.Sprintf("no alarm on %s's %s", id, name))
			case name == "Duration":
				timeout, _ := s.tpl.FunctionProperties(id)["Timeout"].(int)
				if th := a.props["Threshold"]; st.GetString(a.props, "Statistic") != "Maximum" || th != timeout*800 ||
					st.GetString(a.props, "ComparisonOperator") != "GreaterThanThreshold" {
					p = append(p, fmt.Sprintf("%s: Duration Maximum > %v ms, want > %d ms (80%% of the %d s Timeout)", a.id, th, timeout*800, timeout))
				}
			case st.GetString(a.props, "Statistic") != "Sum" || !onAny(a):
				p = append(p, fmt.Sprintf("%s: want %s Sum > 0", a.id, name))
			}
		}
	}
	for _, api := range s.tpl.OfType(st.TypeHTTPAPI) {
		if a := find("AWS/ApiGateway", "5xx", "ApiId", ref(api)); a == nil || !onAny(a) {
			p = append(p, fmt.Sprintf("no alarm on %s's 5xx answers", api))
		}
	}
	for _, q := range s.tpl.OfType(st.TypeQueue) {
		if find("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", map[string]any{"Fn::GetAtt": []any{q, "QueueName"}}) == nil {
			p = append(p, fmt.Sprintf("no alarm on messages in %s", q))
		}
	}
	return p
}

// accessLogFields are the access log's fields, each a $context variable.
var accessLogFields = []string{"requestId", "ip", "requestTime", "httpMethod", "routeKey", "status", "protocol",
	"responseLength", "integrationErrorMessage", "latency"}

// checkAccessLog: the HTTP API logs each request as one JSON object to a
// log group of the stack that expires like the others.
func checkAccessLog(s subject) []string {
	var p []string
	for _, id := range s.tpl.OfType(st.TypeHTTPAPI) {
		settings, _ := st.Get(s.tpl.Resources[id].Properties, "AccessLogSettings")
		group := getAttArn(mapOf(settings)["DestinationArn"])
		if g := s.tpl.Resources[group]; g.Type != st.TypeLogGroup || !reflect.DeepEqual(g.Properties["RetentionInDays"], ref("LogRetentionDays")) {
			p = append(p, fmt.Sprintf("%s: access log destination %q, want !GetAtt <log group with RetentionInDays LogRetentionDays>.Arn", id, group))
		}
		var format map[string]any
		if err := json.Unmarshal([]byte(st.GetString(settings, "Format")), &format); err != nil {
			p = append(p, fmt.Sprintf("%s: access log format is not a JSON object: %v", id, err))
			continue
		}
		for _, f := range accessLogFields {
			if v, _ := format[f].(string); !strings.HasPrefix(v, "$context.") {
				p = append(p, fmt.Sprintf("%s: access log field %q = %v, want a $context variable", id, f, format[f]))
			}
		}
	}
	return p
}

// checkSyncConcurrency: the sync function reserves 2 invocations per
// entity by default (one running, one waiting for its lock or retried),
// and none with 0.
func checkSyncConcurrency(s subject) []string {
	var p []string
	param := s.tpl.Parameters["SyncReservedConcurrency"]
	if d := param["Default"]; d != 2*len(entities) {
		p = append(p, fmt.Sprintf("parameter SyncReservedConcurrency defaults to %v, want %d (2 per entity)", d, 2*len(entities)))
	}
	want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("SyncReservedConcurrency"), "0"}}}}
	if c := s.tpl.Conditions["HasSyncReservedConcurrency"]; !reflect.DeepEqual(c, want) {
		p = append(p, fmt.Sprintf("condition HasSyncReservedConcurrency = %v, want %v", c, want))
	}
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		v := s.tpl.FunctionProperties(id)["ReservedConcurrentExecutions"]
		if len(functionS3Events(s.tpl, id)) == 0 {
			if v != nil {
				p = append(p, fmt.Sprintf("%s: ReservedConcurrentExecutions %v: only the sync function reserves", id, v))
			}
			continue
		}
		if w := ifValue("HasSyncReservedConcurrency", ref("SyncReservedConcurrency"), noValue); !reflect.DeepEqual(v, w) {
			p = append(p, fmt.Sprintf("%s: ReservedConcurrentExecutions %v, want %v", id, v, w))
		}
	}
	return p
}

// readerFunctions read from DatabaseReaderEndpoint: the read-only data
// queries. SyncsFunction stays on the writer (clients poll it for the run
// they just caused; /health checks the database the syncs write to).
var readerFunctions = []string{"PatientsFunction", "PaymentsFunction"}

// databaseVars are the Database* parameters' variables on every function
// that uses the database (DATABASE_QUERY_HOST aside).
var databaseVars = map[string]string{
	"DATABASE_HOST":        "DatabaseProxyEndpoint",
	"DATABASE_IAM_AUTH":    "DatabaseIamAuth",
	"DATABASE_SSLMODE":     "DatabaseSslMode",
	"DATABASE_SSLROOTCERT": "DatabaseSslRootCert",
	"DATABASE_SECRET_TTL":  "DatabaseSecretTtl",
}

// iamAuthStatements counts the rds-db:connect statements of policies (a
// function's or a role's), those inside !If DatabaseIamAuthOn and those
// outside.
func iamAuthStatements(policies any) (inside, outside int, resources []any) {
	for _, pol := range asList(policies) {
		l := asList(mapOf(pol)["Fn::If"])
		conditional := len(l) == 3 && l[0] == "DatabaseIamAuthOn" && reflect.DeepEqual(l[2], noValue)
		for _, stmt := range statements(map[string]any{"Policies": []any{pol}}) {
			if !slices.Contains(strs(stmt["Action"]), "rds-db:connect") {
				continue
			}
			resources = append(resources, stmt["Resource"])
			if conditional {
				inside++
			} else {
				outside++
			}
		}
	}
	return inside, outside, resources
}

// checkDatabaseEndpoints: every database user gets the Database*
// parameters' variables and, with IAM authentication only, rds-db:connect
// as DatabaseUser; only the read-only data queries get the reader; the
// upload function gets none of it; the ECS runner what the sync gets.
func checkDatabaseEndpoints(s subject) []string {
	var p []string
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		vars := mapOf(mapOf(props["Environment"])["Variables"])
		inside, outside, res := iamAuthStatements(props["Policies"])
		if id == "UploadsFunction" {
			for k, v := range vars {
				if strings.HasPrefix(k, "DATABASE_") && v != "" {
					p = append(p, fmt.Sprintf("%s: %s = %v; it has no database (blank the Globals' value)", id, k, v))
				}
			}
			if inside+outside > 0 {
				p = append(p, id+": rds-db:connect; it has no database")
			}
			continue
		}
		for k, param := range databaseVars {
			if !reflect.DeepEqual(vars[k], ref(param)) {
				p = append(p, fmt.Sprintf("%s: %s = %v, want !Ref %s", id, k, vars[k], param))
			}
		}
		v, has := vars["DATABASE_QUERY_HOST"]
		switch {
		case slices.Contains(readerFunctions, id) && !reflect.DeepEqual(v, ref("DatabaseReaderEndpoint")):
			p = append(p, fmt.Sprintf("%s: DATABASE_QUERY_HOST = %v, want !Ref DatabaseReaderEndpoint", id, v))
		case !slices.Contains(readerFunctions, id) && has:
			p = append(p, fmt.Sprintf("%s: DATABASE_QUERY_HOST = %v; only %v read from the reader", id, v, readerFunctions))
		}
		if inside != 1 || outside != 0 {
			p = append(p, fmt.Sprintf("%s: %d rds-db:connect statements under !If DatabaseIamAuthOn and %d outside, want 1 and 0", id, inside, outside))
		}
		for _, r := range res {
			if sub, _ := st.SubString(r); sub != dbUserArn {
				p = append(p, fmt.Sprintf("%s: rds-db:connect on %v, want %s", id, r, dbUserArn))
			}
		}
	}
	if r, problems := findRunner(s.tpl); len(problems) == 0 {
		env := map[string]any{}
		for _, e := range asList(r.container["Environment"]) {
			if l := asList(mapOf(e)["Fn::If"]); len(l) == 3 && reflect.DeepEqual(l[2], noValue) {
				e = l[1] // set only when the parameter is
			}
			env[st.GetString(e, "Name")] = mapOf(e)["Value"]
		}
		for k, param := range databaseVars {
			if !reflect.DeepEqual(env[k], ref(param)) {
				p = append(p, fmt.Sprintf("%s: environment %s = %v, want !Ref %s", r.taskDef, k, env[k], param))
			}
		}
		if _, ok := env["DATABASE_QUERY_HOST"]; ok {
			p = append(p, r.taskDef+": DATABASE_QUERY_HOST; the runner writes")
		}
		if inside, outside, _ := iamAuthStatements(s.tpl.Resources[r.taskRole].Properties["Policies"]); inside != 1 || outside != 0 {
			p = append(p, fmt.Sprintf("%s: %d rds-db:connect statements under !If DatabaseIamAuthOn and %d outside, want 1 and 0", r.taskRole, inside, outside))
		}
	}
	for param, want := range map[string]string{"DatabaseIamAuth": "false", "DatabaseSslMode": "verify-full"} {
		if d := s.tpl.Parameters[param]["Default"]; d != want {
			p = append(p, fmt.Sprintf("parameter %s defaults to %v, want %s", param, d, want))
		}
	}
	return p
}

// checkKeyPrefix: SnapshotKeyPrefix narrows every S3 notification of the
// sync function (when set), reaches the sync and upload functions as
// SYNC_KEY_PREFIX, and the upload function may PUT exactly the keys it
// signs: the prefix, an entity, each suffix.
func checkKeyPrefix(s subject) []string {
	var p []string
	wantRule := []any{ifValue("HasSnapshotKeyPrefix", map[string]any{"Name": "prefix", "Value": ref("SnapshotKeyPrefix")}, noValue)}
	for _, e := range s3Events(s.tpl) {
		if !reflect.DeepEqual(e.prefixes, wantRule) {
			p = append(p, fmt.Sprintf("%s.%s: prefix rules %v, want %v", e.function, e.event, e.prefixes, wantRule))
		}
	}
	bucketName, _ := st.SubString(s.tpl.Resources["SnapshotBucket"].Properties["BucketName"])
	var uploads []string
	for _, e := range entities {
		for _, r := range snapshotKeyResources(s.tpl) {
			_, sfx, _ := strings.Cut(r, "*")
			uploads = append(uploads, "arn:${AWS::Partition}:s3:::"+bucketName+"/${SnapshotKeyPrefix}"+string(e)+sfx)
		}
	}
	sort.Strings(uploads)
	for _, id := range s.tpl.OfType(st.TypeFunction) {
		props := s.tpl.FunctionProperties(id)
		v := mapOf(mapOf(props["Environment"])["Variables"])["SYNC_KEY_PREFIX"]
		uses := len(functionS3Events(s.tpl, id)) > 0 || id == "UploadsFunction"
		if uses != reflect.DeepEqual(v, ref("SnapshotKeyPrefix")) {
			p = append(p, fmt.Sprintf("%s: SYNC_KEY_PREFIX = %v (the sync and upload functions read it: !Ref SnapshotKeyPrefix)", id, v))
		}
		for _, stmt := range statements(props) {
			if slices.Contains(strs(stmt["Action"]), "s3:PutObject") {
				if got := sortedCopy(subStrings(stmt["Resource"])); id != "UploadsFunction" || !slices.Equal(got, uploads) {
					p = append(p, fmt.Sprintf("%s: s3:PutObject on %v, want UploadsFunction on exactly %v", id, got, uploads))
				}
			}
		}
	}
	return p
}

// checkRetention: the bucket and the failure queue (data: snapshots,
// events that reached no database) outlive the stack and a replacement;
// log groups say what becomes of them, both ways alike.
func checkRetention(s subject) []string {
	var p []string
	for _, typ := range []string{st.TypeBucket, st.TypeQueue} {
		for _, id := range s.tpl.OfType(typ) {
			if r := s.tpl.Resources[id]; r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
				p = append(p, fmt.Sprintf("%s: DeletionPolicy %q, UpdateReplacePolicy %q, want Retain for both", id, r.DeletionPolicy, r.UpdateReplacePolicy))
			}
		}
	}
	for _, id := range s.tpl.OfType(st.TypeLogGroup) {
		if r := s.tpl.Resources[id]; r.DeletionPolicy == "" || r.DeletionPolicy != r.UpdateReplacePolicy {
			p = append(p, fmt.Sprintf("%s: DeletionPolicy %q, UpdateReplacePolicy %q, want both set, alike", id, r.DeletionPolicy, r.UpdateReplacePolicy))
		}
	}
	return p
}
