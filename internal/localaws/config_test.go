package localaws

import (
	"path/filepath"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	d := Defaults()
	got := Config{}.withDefaults()
	if got.S3Addr != d.S3Addr || got.APIAddr != d.APIAddr || got.Bucket != d.Bucket || got.RIE != d.RIE ||
		got.BinDir != d.BinDir || got.SyncTimeout != d.SyncTimeout || got.RetryDelay != d.RetryDelay || got.Logger == nil {
		t.Fatalf("zero config = %+v, want the defaults %+v", got, d)
	}
	if b := got.Bootstrap("sync"); b != filepath.Join("bin", "lambda", "sync", "bootstrap") {
		t.Fatalf("sync bootstrap = %q", b)
	}
	if got.MaxRetries != 0 {
		t.Fatalf("MaxRetries = %d: zero means no retry, not a default", got.MaxRetries)
	}
	set := Config{S3Addr: "127.0.0.1:0", BinDir: "/opt/b", SyncTimeout: time.Minute, MaxRetries: 1}.withDefaults()
	if set.S3Addr != "127.0.0.1:0" || set.SyncTimeout != time.Minute || set.MaxRetries != 1 ||
		set.Bootstrap("payments") != filepath.Join("/opt/b", "lambda", "payments", "bootstrap") {
		t.Fatalf("explicit values changed: %+v", set)
	}
}
