// Package logging builds the project's slog loggers: JSON lines on stdout in
// Lambda (CloudWatch parses them, and filters by their "level"), text on
// stderr in the CLI; the level comes from the environment in both.
package logging

import (
	"io"
	"log/slog"
)

// Level reads LOG_LEVEL, or Lambda's advanced logging control
// AWS_LAMBDA_LOG_LEVEL (which wins), as DEBUG, INFO, WARN or ERROR; default
// INFO. Lambda's TRACE and FATAL map to DEBUG and ERROR.
func Level(getenv func(string) string) slog.Level {
	level := slog.LevelInfo
	for _, name := range []string{"LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"} {
		switch v := getenv(name); v {
		case "":
		case "TRACE", "trace":
			level = slog.LevelDebug
		case "FATAL", "fatal":
			level = slog.LevelError
		default:
			_ = level.UnmarshalText([]byte(v)) // an unknown name keeps the level
		}
	}
	return level
}

// JSON is the Lambda functions' logger.
func JSON(w io.Writer, getenv func(string) string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: Level(getenv)}))
}

// Text is the CLI's logger.
func Text(w io.Writer, getenv func(string) string) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: Level(getenv)}))
}
