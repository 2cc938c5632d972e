package synclambda

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/syncer"
)

// The ECS runner: the same CLI as a Fargate task (template.yaml,
// RunnerTaskDefinition), for snapshots that cannot finish within a Lambda
// invocation. The sync function starts it with ECS RunTask, one task per
// snapshot, and records the hand-off in sync_runs; the task records its
// own run.

// RunnerContainer is the name of the CLI's container in the task
// definition, the default of RUNNER_CONTAINER.
const RunnerContainer = "patientsync"

// RunnerSettings say where to run the task (the RUNNER_* variables, which
// template.yaml sets when RunnerImageUri is given). Without a cluster there
// is no runner: every snapshot is synced in the Lambda.
type RunnerSettings struct {
	Cluster        string   // RUNNER_CLUSTER: name or ARN
	TaskDefinition string   // RUNNER_TASK_DEFINITION: family[:revision] or ARN
	Container      string   // RUNNER_CONTAINER
	Subnets        []string // RUNNER_SUBNETS, comma-separated
	SecurityGroups []string // RUNNER_SECURITY_GROUPS, comma-separated
	// AssignPublicIP (RUNNER_ASSIGN_PUBLIC_IP=ENABLED) for subnets whose
	// route to ECR, S3 and Secrets Manager is an internet gateway.
	AssignPublicIP bool
}

// Configured reports whether there is a runner.
func (r RunnerSettings) Configured() bool { return r.Cluster != "" }

// runnerFromEnv reads the RUNNER_* variables, naming every wrong one.
func runnerFromEnv(getenv func(string) string) (RunnerSettings, error) {
	r := RunnerSettings{
		Cluster:        strings.TrimSpace(getenv("RUNNER_CLUSTER")),
		TaskDefinition: strings.TrimSpace(getenv("RUNNER_TASK_DEFINITION")),
		Container:      strings.TrimSpace(getenv("RUNNER_CONTAINER")),
		Subnets:        splitList(getenv("RUNNER_SUBNETS")),
		SecurityGroups: splitList(getenv("RUNNER_SECURITY_GROUPS")),
	}
	var errs []error
	switch v := getenv("RUNNER_ASSIGN_PUBLIC_IP"); strings.ToUpper(v) {
	case "", "DISABLED":
	case "ENABLED":
		r.AssignPublicIP = true
	default:
		errs = append(errs, fmt.Errorf("RUNNER_ASSIGN_PUBLIC_IP=%q: want ENABLED or DISABLED", v))
	}
	if r.Container == "" {
		r.Container = RunnerContainer
	}
	switch {
	case r.Cluster == "" && r.TaskDefinition == "":
		return RunnerSettings{}, errors.Join(errs...) // no runner
	case r.Cluster == "":
		errs = append(errs, errors.New("RUNNER_TASK_DEFINITION is set but RUNNER_CLUSTER is not: set both or neither"))
	case r.TaskDefinition == "":
		errs = append(errs, errors.New("RUNNER_CLUSTER is set but RUNNER_TASK_DEFINITION is not: set both or neither"))
	}
	if len(r.Subnets) == 0 {
		errs = append(errs, errors.New("RUNNER_SUBNETS is empty: a Fargate task needs at least one subnet"))
	}
	return r, errors.Join(errs...)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// RunTaskAPI is the part of the ECS client the hand-off uses.
type RunTaskAPI interface {
	RunTask(context.Context, *ecs.RunTaskInput, ...func(*ecs.Options)) (*ecs.RunTaskOutput, error)
}

// RunnerCommand is the container command that syncs exactly the object
// version the event names: `patientsync sync s3://bucket/key?versionId=V&sequencer=S`.
func RunnerCommand(bucket, key string, id syncer.Identity) []string {
	return []string{"sync", s3source.FormatURL(bucket, key, id)}
}

// runTaskInput is the RunTask request for one snapshot. The client token
// is derived from the request itself: a retried invocation (say, the
// hand-off's recording failed) gets the task ECS already started for it
// instead of a second one, while ECS keeps the token.
func (r RunnerSettings) runTaskInput(command []string, startedBy string) *ecs.RunTaskInput {
	assign := types.AssignPublicIpDisabled
	if r.AssignPublicIP {
		assign = types.AssignPublicIpEnabled
	}
	sum := sha256.Sum256([]byte(strings.Join(append([]string{r.Cluster, r.TaskDefinition, r.Container}, command...), "\x00")))
	return &ecs.RunTaskInput{
		Cluster:        aws.String(r.Cluster),
		TaskDefinition: aws.String(r.TaskDefinition),
		LaunchType:     types.LaunchTypeFargate,
		Count:          aws.Int32(1),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: r.Subnets, SecurityGroups: r.SecurityGroups, AssignPublicIp: assign,
		}},
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{
			{Name: aws.String(r.Container), Command: command},
		}},
		StartedBy:   aws.String(startedBy),
		ClientToken: aws.String(hex.EncodeToString(sum[:])), // 64 characters, ECS's maximum
	}
}

// handOff starts the runner task for obj and records the hand-off as a
// skipped run whose reason names the prediction and the task, unless obj
// was applied or handed off before (then it records only a skipped run).
// Any failure is transient: the invocation fails and Lambda retries it.
func (h *Handler) handOff(ctx context.Context, s *syncer.Syncer, bucket, key string, obj syncer.Object, d Decision, startedBy string, log *slog.Logger) (syncer.Result, error) {
	if reason, err := handledBefore(ctx, h.pool, obj); err != nil || reason != "" {
		if err != nil {
			return syncer.Result{}, err
		}
		return s.RecordSkipped(ctx, obj, syncer.CodeDuplicate, reason)
	}
	in := h.s.Runner.runTaskInput(RunnerCommand(bucket, key, obj.Identity), startedBy)
	out, err := h.ecs.RunTask(ctx, in)
	if err != nil {
		return syncer.Result{}, fmt.Errorf("hand to the ECS runner: RunTask: %w", err)
	}
	if len(out.Tasks) == 0 {
		var why []string
		for _, f := range out.Failures {
			why = append(why, aws.ToString(f.Arn)+": "+aws.ToString(f.Reason)+" "+aws.ToString(f.Detail))
		}
		return syncer.Result{}, fmt.Errorf("hand to the ECS runner: RunTask started no task: %s", strings.Join(why, "; "))
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	log.Info("handed to the ECS runner", "task", arn, "prediction", d.Why, "command", in.Overrides.ContainerOverrides[0].Command)
	return s.RecordSkipped(ctx, obj, syncer.CodeHandedOff, handOffPrefix+d.Why+"; task "+arn)
}
