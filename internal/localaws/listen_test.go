package localaws

import (
	"context"
	"errors"
	"net"
	"testing"
)

// TestStartBusyAddress: a taken port fails Start before anything is
// started (no emulator, no database is needed to see it), naming the
// service, the address and the Config field.
func TestStartBusyAddress(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	for _, c := range []struct {
		cfg            Config
		service, field string
	}{
		{Config{S3Addr: addr, APIAddr: "127.0.0.1:0"}, "S3 endpoint", "S3Addr"},
		{Config{S3Addr: "127.0.0.1:0", APIAddr: addr}, "HTTP API", "APIAddr"},
	} {
		c.cfg.DatabaseURL = "postgres://127.0.0.1:1/unused"
		_, err := Start(context.Background(), c.cfg)
		var le *ListenError
		if !errors.As(err, &le) || le.Field != c.field || !le.InUse() {
			t.Fatalf("Start with %s busy: %v; want a *ListenError for %s in use", c.field, err, c.field)
		}
		if want := c.service + ": listen " + addr + ": address already in use"; err.Error() != want {
			t.Errorf("error %q; want %q", err, want)
		}
	}
}

func TestFreeAddrNear(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	got := FreeAddrNear(busy.Addr().String())
	if got == busy.Addr().String() {
		t.Fatalf("FreeAddrNear suggests the busy %s", got)
	}
	l, err := net.Listen("tcp", got)
	if err != nil {
		t.Fatalf("suggested %s: %v", got, err)
	}
	l.Close()
	if got := FreeAddrNear("no port"); got != "127.0.0.1:0" {
		t.Errorf("FreeAddrNear(no port) = %s; want 127.0.0.1:0", got)
	}
}
