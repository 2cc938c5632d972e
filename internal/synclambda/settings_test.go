package synclambda_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/synclambda"
)

func TestSettingsFromEnv(t *testing.T) {
	t.Parallel()
	runner := map[string]string{
		"RUNNER_CLUSTER": "arn:aws:ecs:us-east-1:1:cluster/c", "RUNNER_TASK_DEFINITION": "arn:aws:ecs:us-east-1:1:task-definition/t:3",
		"RUNNER_SUBNETS": "subnet-a, subnet-b", "RUNNER_SECURITY_GROUPS": "sg-1", "RUNNER_ASSIGN_PUBLIC_IP": "DISABLED",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range runner {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    func(*synclambda.Settings) // applied to DefaultSettings
		wantErr []string                   // substrings
	}{
		{name: "empty: no runner, the default prediction", env: nil},
		{name: "the template's runner", env: runner, want: func(s *synclambda.Settings) {
			s.Runner = synclambda.RunnerSettings{Cluster: runner["RUNNER_CLUSTER"], TaskDefinition: runner["RUNNER_TASK_DEFINITION"],
				Container: synclambda.RunnerContainer, Subnets: []string{"subnet-a", "subnet-b"}, SecurityGroups: []string{"sg-1"}}
		}},
		{name: "public IP and another container", env: with(map[string]string{"RUNNER_ASSIGN_PUBLIC_IP": "ENABLED", "RUNNER_CONTAINER": "app"}),
			want: func(s *synclambda.Settings) {
				s.Runner = synclambda.RunnerSettings{Cluster: runner["RUNNER_CLUSTER"], TaskDefinition: runner["RUNNER_TASK_DEFINITION"],
					Container: "app", Subnets: []string{"subnet-a", "subnet-b"}, SecurityGroups: []string{"sg-1"}, AssignPublicIP: true}
			}},
		{name: "prediction settings", env: map[string]string{"SYNC_HANDOFF_SAFETY_FACTOR": "3", "SYNC_HANDOFF_DEFAULT_RATE": "2500000",
			"SYNC_HANDOFF_DEFAULT_GZIP_RATE": "300000", "SYNC_DEADLINE_MARGIN": "30s"},
			want: func(s *synclambda.Settings) {
				s.Safety, s.DefaultRate, s.DefaultGzipRate, s.Margin = 3, 2.5e6, 3e5, 30*time.Second
			}},
		{name: "cluster without task definition", env: with(map[string]string{"RUNNER_TASK_DEFINITION": ""}), wantErr: []string{"RUNNER_TASK_DEFINITION"}},
		{name: "task definition without cluster", env: with(map[string]string{"RUNNER_CLUSTER": ""}), wantErr: []string{"RUNNER_CLUSTER"}},
		{name: "no subnets", env: with(map[string]string{"RUNNER_SUBNETS": " , "}), wantErr: []string{"RUNNER_SUBNETS"}},
		{name: "bad public IP", env: with(map[string]string{"RUNNER_ASSIGN_PUBLIC_IP": "yes"}), wantErr: []string{"RUNNER_ASSIGN_PUBLIC_IP"}},
		{name: "every bad number named", env: map[string]string{"SYNC_HANDOFF_SAFETY_FACTOR": "0.5", "SYNC_HANDOFF_DEFAULT_RATE": "0",
			"SYNC_HANDOFF_DEFAULT_GZIP_RATE": "NaN"},
			wantErr: []string{"SYNC_HANDOFF_SAFETY_FACTOR", "SYNC_HANDOFF_DEFAULT_RATE", "SYNC_HANDOFF_DEFAULT_GZIP_RATE"}},
		{name: "the syncer's own variables too", env: map[string]string{"SYNC_LOCK_TIMEOUT": "soon"}, wantErr: []string{"SYNC_LOCK_TIMEOUT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := synclambda.SettingsFromEnv(func(k string) string { return tt.env[k] })
			if len(tt.wantErr) > 0 {
				for _, w := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v, want one naming %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := synclambda.DefaultSettings()
			if tt.want != nil {
				tt.want(&want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("settings\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}
