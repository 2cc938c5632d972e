package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/patientsync/patientsync/internal/logging"
)

func TestLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want slog.Level
	}{
		{nil, slog.LevelInfo},
		{map[string]string{"LOG_LEVEL": "debug"}, slog.LevelDebug},
		{map[string]string{"LOG_LEVEL": "WARN"}, slog.LevelWarn},
		{map[string]string{"LOG_LEVEL": "nonsense"}, slog.LevelInfo},
		{map[string]string{"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, slog.LevelDebug},
		{map[string]string{"AWS_LAMBDA_LOG_LEVEL": "FATAL"}, slog.LevelError},
		{map[string]string{"LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_LEVEL": "ERROR"}, slog.LevelError},
	}
	for _, tt := range tests {
		if got := logging.Level(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("Level(%v) = %v, want %v", tt.env, got, tt.want)
		}
	}
}

func TestJSONHonoursLevel(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	log := logging.JSON(&b, func(k string) string { return map[string]string{"LOG_LEVEL": "DEBUG"}[k] })
	log.Debug("step", "n", 1)
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil || line["level"] != "DEBUG" || line["msg"] != "step" {
		t.Fatalf("debug line = %q (%v)", b.String(), err)
	}
}
