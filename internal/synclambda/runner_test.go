package synclambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/snapgen"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/synclambda"
	"github.com/patientsync/patientsync/internal/testutil"
)

// motoRunner is an ECS cluster with the runner's task definition in
// moto_server, an ECS this project did not write, and the default VPC's
// subnet and security group there (Fargate's awsvpc needs both to exist).
type motoRunner struct {
	ecs            *ecs.Client
	cluster        string // ARN
	taskDefinition string // ARN
	subnet, sg     string
	// requests are the bodies of the RunTask requests the client sent.
	requests *requestLog
}

// requestLog is the ECS client's http.RoundTripper: it keeps the body of
// every request of one X-Amz-Target (the AWS JSON protocol's operation),
// and corrects one deviation of moto 5.2.1 from the ECS API: a task's
// containers' cpu and memory are strings in the API (Container), numbers
// in moto's answers, which the SDK refuses to decode.
type requestLog struct {
	target string
	mu     sync.Mutex
	bodies [][]byte
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("X-Amz-Target") == l.target && r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		l.mu.Lock()
		l.bodies = append(l.bodies, b)
		l.mu.Unlock()
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) == nil {
		tasks, _ := doc["tasks"].([]any)
		for _, task := range tasks {
			containers, _ := task.(map[string]any)["containers"].([]any)
			for _, c := range containers {
				for _, k := range []string{"cpu", "memory", "memoryReservation"} {
					if n, ok := c.(map[string]any)[k].(json.Number); ok {
						c.(map[string]any)[k] = n.String()
					}
				}
			}
		}
		if fixed, err := json.Marshal(doc); err == nil {
			body = fixed
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (l *requestLog) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.bodies)
}

func newMotoRunner(t *testing.T, endpoint string) motoRunner {
	t.Helper()
	ctx := context.Background()
	requests := &requestLog{target: "AmazonEC2ContainerServiceV20141113.RunTask"}
	client := ecs.New(ecs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), RetryMaxAttempts: 1,
		HTTPClient: &http.Client{Transport: requests},
	})
	c, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("patientsync-runner")})
	if err != nil {
		t.Fatal(err)
	}
	td, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String("patientsync-runner"),
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		NetworkMode:             types.NetworkModeAwsvpc,
		Cpu:                     aws.String("1024"),
		Memory:                  aws.String("2048"),
		RuntimePlatform:         &types.RuntimePlatform{CpuArchitecture: types.CPUArchitectureArm64, OperatingSystemFamily: types.OSFamilyLinux},
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String(synclambda.RunnerContainer),
			Image:     aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/patientsync-runner:test"),
			Essential: aws.Bool(true),
			// Fargate needs only the task's memory; moto 5.2.1's RunTask
			// adds up the containers' and fails without.
			MemoryReservation: aws.Int32(2048),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return motoRunner{
		ecs: client, cluster: aws.ToString(c.Cluster.ClusterArn), taskDefinition: aws.ToString(td.TaskDefinition.TaskDefinitionArn),
		subnet:   ec2First(t, endpoint, "DescribeSubnets", "subnetId"),
		sg:       ec2First(t, endpoint, "DescribeSecurityGroups", "groupId"),
		requests: requests,
	}
}

// ec2First calls an EC2 Describe action (query protocol; moto routes by the
// credential scope and does not check signatures) and returns the first
// value of the element named tag. The EC2 SDK module is not worth a
// dependency for two lookups.
func ec2First(t *testing.T, endpoint, action, tag string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(url.Values{"Action": {action}, "Version": {"2016-11-15"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := xml.NewDecoder(resp.Body)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			t.Fatalf("EC2 %s: no <%s> (status %s)", action, tag, resp.Status)
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == tag {
			var v string
			if err := dec.DecodeElement(&v, &se); err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
}

func (m motoRunner) settings() synclambda.Settings {
	s := synclambda.DefaultSettings()
	s.Runner = synclambda.RunnerSettings{
		Cluster: m.cluster, TaskDefinition: m.taskDefinition, Container: synclambda.RunnerContainer,
		Subnets: []string{m.subnet}, SecurityGroups: []string{m.sg}, AssignPublicIP: true,
	}
	return s
}

// tasks are the runner tasks moto holds, as DescribeTasks reports them.
func (m motoRunner) tasks(t *testing.T) []types.Task {
	t.Helper()
	ctx := context.Background()
	list, err := m.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(m.cluster)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.TaskArns) == 0 {
		return nil
	}
	out, err := m.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(m.cluster), Tasks: list.TaskArns})
	if err != nil {
		t.Fatal(err)
	}
	return out.Tasks
}

// invokeWithin invokes the handler with a deadline as Lambda gives one.
func (f *fixture) invokeWithin(payload []byte, timeout time.Duration) error {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := f.handler.Invoke(ctx, payload)
	return err
}

type runRow struct {
	ID                        int64
	Source, Status            string
	VersionID, Sequencer, Why string
	Inserted                  int64
}

func (f *fixture) runs() []runRow {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT id, source, status, coalesce(version_id, ''), coalesce(sequencer, ''),
		coalesce(error, ''), inserted FROM sync_runs ORDER BY id`)
	if err != nil {
		f.t.Fatal(err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[runRow])
	if err != nil {
		f.t.Fatal(err)
	}
	return runs
}

// patientsSnapshot is a valid patients snapshot of n records.
func patientsSnapshot(t *testing.T, n int64) []byte {
	var b bytes.Buffer
	if err := snapgen.WritePatients(&b, snapgen.Options{Patients: n, Seed: 7}, false, false); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// eventVersion reads the versionId and sequencer of the payload's first record.
func eventVersion(t *testing.T, payload []byte) (version, sequencer string) {
	t.Helper()
	m := regexp.MustCompile(`"versionId":"([^"]*)"`).FindSubmatch(payload)
	s := regexp.MustCompile(`"sequencer":"([^"]*)"`).FindSubmatch(payload)
	if m == nil || s == nil {
		t.Fatalf("no versionId or sequencer in %s", payload)
	}
	return string(m[1]), string(s[1])
}

// TestHandOffToRunner: with a runner, a snapshot predicted not to finish
// before the deadline is handed to it with ECS RunTask (moto_server), and
// the hand-off is recorded; a small one is synced in the Lambda as ever; a
// redelivered event starts no second task; while the runner's sync holds
// the entity's lock, even a small snapshot of that entity goes to it.
func TestHandOffToRunner(t *testing.T) {
	t.Parallel()
	runner := newMotoRunner(t, testutil.Moto(t))
	s := runner.settings()
	// 20 B/s without history, ×2: the 424-byte sample payments.json is
	// predicted at 53 s and fits the 60 s left of a 70 s invocation (10 s
	// margin); 200 patients (about 19 KB) would take about half an hour.
	s.DefaultRate = 20
	f := newFixtureWith(t, runner.ecs, s)
	const timeout = 70 * time.Second

	big := patientsSnapshot(t, 200)
	ev := f.event("s3-put-patients.json", func(string) []byte { return big })
	version, sequencer := eventVersion(t, ev)
	if err := f.invokeWithin(ev, timeout); err != nil {
		t.Fatalf("hand-off: %v", err)
	}

	// The hand-off, as recorded.
	runs := f.runs()
	if len(runs) != 1 {
		t.Fatalf("sync runs %+v, want the one hand-off", runs)
	}
	handOff := runs[0]
	why := regexp.MustCompile(`^handed to the ECS runner: predicted ([0-9,]+) s > (5[0-9]|60) s left \(([0-9,]+) bytes at 20 B/s, default: no history; ×2\); task (arn:aws:ecs:us-east-1:123456789012:task/\S+)$`)
	m := why.FindStringSubmatch(handOff.Why)
	if handOff.Source != "s3://"+bucket+"/patients.json" || handOff.Status != "skipped" || handOff.VersionID != version ||
		handOff.Sequencer != sequencer || m == nil || strings.ReplaceAll(m[3], ",", "") != strconv.Itoa(len(big)) {
		t.Fatalf("hand-off recorded as %+v; want skipped, version %s, sequencer %s, reason matching %s", handOff, version, sequencer, why)
	}
	if n := f.count("SELECT count(*) FROM patients"); n != 0 {
		t.Fatalf("%d patients written by the Lambda; the runner syncs this one", n)
	}

	// The task, as moto's ECS holds it.
	tasks := runner.tasks(t)
	if len(tasks) != 1 {
		t.Fatalf("%d runner tasks, want 1", len(tasks))
	}
	task := tasks[0]
	wantCommand := []string{"sync", "s3://" + bucket + "/patients.json?sequencer=" + sequencer + "&versionId=" + url.QueryEscape(version)}
	var command []string
	var container string
	if task.Overrides != nil && len(task.Overrides.ContainerOverrides) == 1 {
		command, container = task.Overrides.ContainerOverrides[0].Command, aws.ToString(task.Overrides.ContainerOverrides[0].Name)
	}
	if aws.ToString(task.TaskArn) != m[4] || aws.ToString(task.ClusterArn) != runner.cluster ||
		aws.ToString(task.TaskDefinitionArn) != runner.taskDefinition || task.LaunchType != types.LaunchTypeFargate ||
		container != synclambda.RunnerContainer || !slices.Equal(command, wantCommand) ||
		!strings.HasPrefix(aws.ToString(task.StartedBy), "patientsync-sync") {
		t.Fatalf("task %s in %s of %s, launch type %s, started by %s, container %q command %q;\nwant %s in %s of %s, FARGATE, container %q command %q",
			aws.ToString(task.TaskArn), aws.ToString(task.ClusterArn), aws.ToString(task.TaskDefinitionArn), task.LaunchType,
			aws.ToString(task.StartedBy), container, command, m[4], runner.cluster, runner.taskDefinition, synclambda.RunnerContainer, wantCommand)
	}
	// What was asked of ECS, on the wire (moto keeps only some of it).
	bodies := runner.requests.all()
	if len(bodies) != 1 {
		t.Fatalf("%d RunTask requests, want 1", len(bodies))
	}
	var req struct {
		Cluster, TaskDefinition, LaunchType, StartedBy, ClientToken string
		Count                                                       int
		NetworkConfiguration                                        struct {
			AwsvpcConfiguration struct {
				Subnets, SecurityGroups []string
				AssignPublicIp          string
			}
		}
		Overrides struct {
			ContainerOverrides []struct {
				Name    string
				Command []string
			}
		}
	}
	if err := json.Unmarshal(bodies[0], &req); err != nil {
		t.Fatal(err)
	}
	net := req.NetworkConfiguration.AwsvpcConfiguration
	if req.Cluster != runner.cluster || req.TaskDefinition != runner.taskDefinition || req.LaunchType != "FARGATE" || req.Count != 1 ||
		!slices.Equal(net.Subnets, []string{runner.subnet}) || !slices.Equal(net.SecurityGroups, []string{runner.sg}) || net.AssignPublicIp != "ENABLED" ||
		len(req.Overrides.ContainerOverrides) != 1 || !slices.Equal(req.Overrides.ContainerOverrides[0].Command, wantCommand) ||
		len(req.ClientToken) != 64 {
		t.Fatalf("RunTask request %s", bodies[0])
	}
	var subnet string
	for _, a := range task.Attachments {
		for _, d := range a.Details {
			if aws.ToString(d.Name) == "subnetId" {
				subnet = aws.ToString(d.Value)
			}
		}
	}
	if subnet != runner.subnet {
		t.Fatalf("task network interface in subnet %q, want %q", subnet, runner.subnet)
	}

	// A small snapshot is synced here, with the runner there.
	if err := f.invokeWithin(f.event("s3-put-payments.json", func(string) []byte { return sample(t, "payments.json") }), timeout); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM sync_runs WHERE source LIKE '%/payments.json' AND status = 'succeeded' AND inserted = 9"); n != 1 {
		t.Fatalf("small payments snapshot not synced in the Lambda: %+v", f.runs())
	}
	if n := len(runner.tasks(t)); n != 1 {
		t.Fatalf("%d runner tasks after a small snapshot, want still 1", n)
	}

	// The runner's sync, as the task's command makes it (in process here:
	// no container engine): it reads exactly the handed-off version, and
	// its 'running' row holds the entity while a newer, small patients
	// snapshot arrives, which goes to the runner too.
	b, k, id, err := s3source.ParseURL(command[1])
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s3source.New(f.client).Object(b, k, id)
	if err != nil {
		t.Fatal(err)
	}
	var runnerRun int64
	if err := f.pool.QueryRow(context.Background(), `INSERT INTO sync_runs (entity, source, version_id, sequencer, status)
		VALUES ('patients', $1, $2, $3, 'running') RETURNING id`, obj.Source, id.VersionID, id.Sequencer).Scan(&runnerRun); err != nil {
		t.Fatal(err)
	}
	newer := bytes.ReplaceAll(f.event("s3-put-patients.json", func(string) []byte { return sample(t, "patients.json") }),
		[]byte(sequencer), []byte("00674A1C3B2F9D8E99"))
	if err := f.invokeWithin(newer, timeout); err != nil {
		t.Fatal(err)
	}
	if last := f.runs()[len(f.runs())-1]; last.Status != "skipped" ||
		!strings.HasPrefix(last.Why, "handed to the ECS runner: a sync of this entity on the ECS runner holds its lock; task arn:") {
		t.Fatalf("newer small snapshot while the runner holds patients: %+v, want handed off", last)
	}
	if n := len(runner.tasks(t)); n != 2 {
		t.Fatalf("%d runner tasks, want 2", n)
	}

	// The runner's own run settles the row its "process" left (here: the
	// simulated one) and applies the version it was given.
	sy, err := syncer.New(f.pool, syncer.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sy.Sync(context.Background(), obj)
	if err != nil || res.Status != "succeeded" || res.Inserted != 200 || res.Identity.VersionID != version {
		t.Fatalf("runner sync: %+v, %v; want the 200 patients of version %s", res, err, version)
	}

	// S3 delivers the first event again: no second task for it.
	before := len(runner.tasks(t))
	if err := f.invokeWithin(ev, timeout); err != nil {
		t.Fatal(err)
	}
	if last := f.runs()[len(f.runs())-1]; last.Status != "skipped" || !strings.HasPrefix(last.Why, "duplicate event: already applied by run ") {
		t.Fatalf("redelivered event: %+v, want skipped as already applied", last)
	}
	if n := len(runner.tasks(t)); n != before {
		t.Fatalf("redelivered event started a task: %d tasks, had %d", n, before)
	}
}

// TestHandOffFailureIsTransient: when ECS refuses the task, nothing is
// recorded and the invocation fails, so that Lambda retries it.
func TestHandOffFailureIsTransient(t *testing.T) {
	t.Parallel()
	runner := newMotoRunner(t, testutil.Moto(t))
	s := runner.settings()
	s.Runner.TaskDefinition = "arn:aws:ecs:us-east-1:123456789012:task-definition/not-registered:1"
	s.DefaultRate = 20
	f := newFixtureWith(t, runner.ecs, s)
	err := f.invokeWithin(f.event("s3-put-patients.json", func(string) []byte { return patientsSnapshot(t, 200) }), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "RunTask") {
		t.Fatalf("invocation error %v, want the RunTask failure", err)
	}
	if runs := f.runs(); len(runs) != 0 {
		t.Fatalf("sync runs %+v after a failed hand-off, want none (the retry decides again)", runs)
	}
	if n := len(runner.tasks(t)); n != 0 {
		t.Fatalf("%d tasks", n)
	}
}

// TestNoRunnerSyncsHere: without a runner (the template without
// RunnerImageUri), a snapshot predicted not to fit is still synced in the
// Lambda, as before there was a runner.
func TestNoRunnerSyncsHere(t *testing.T) {
	t.Parallel()
	s := synclambda.DefaultSettings()
	s.DefaultRate = 1
	f := newFixtureWith(t, nil, s)
	if err := f.invokeWithin(f.event("s3-put-patients.json", func(string) []byte { return sample(t, "patients.json") }), time.Minute); err != nil {
		t.Fatal(err)
	}
	if runs := f.runs(); len(runs) != 1 || runs[0].Status != "succeeded" || runs[0].Inserted != 4 {
		t.Fatalf("sync runs %+v, want the snapshot applied here", runs)
	}
}
