package localaws

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// ListenError is an address of the stack that could not be listened on.
// Field names the Config field that set it, so that a caller can name its
// own setting for it (a flag, a make variable).
type ListenError struct {
	Service string // "S3 endpoint" or "HTTP API"
	Field   string // "S3Addr" or "APIAddr"
	Addr    string
	Err     error
}

func (e *ListenError) Error() string {
	// "bind: address already in use" says less than the address does.
	cause := e.Err.Error()
	var se *os.SyscallError
	if errors.As(e.Err, &se) {
		cause = se.Err.Error()
	}
	return fmt.Sprintf("%s: listen %s: %s", e.Service, e.Addr, cause)
}

func (e *ListenError) Unwrap() error { return e.Err }

// InUse tells whether another process holds the address.
func (e *ListenError) InUse() bool { return errors.Is(e.Err, syscall.EADDRINUSE) }

func listen(service, field, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &ListenError{Service: service, Field: field, Addr: addr, Err: err}
	}
	return l, nil
}

// FreeAddrNear suggests an address to use instead of addr: the first of the
// next 20 ports on its host that is free now, else any free port on
// loopback ("127.0.0.1:0", which `patientsync up` reports once bound).
func FreeAddrNear(addr string) string {
	host, p, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(p)
	if err == nil && perr == nil && port > 0 {
		for next := port + 1; next <= min(port+20, 65535); next++ {
			a := net.JoinHostPort(host, strconv.Itoa(next))
			if l, err := net.Listen("tcp", a); err == nil {
				l.Close()
				return a
			}
		}
	}
	return "127.0.0.1:0"
}
