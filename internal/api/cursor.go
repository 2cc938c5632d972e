package api

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strconv"
)

// A cursor is the last row's sort key, the route, a hash of the filter and
// the sync run the walk began at, as base64url JSON. Clients treat it as
// opaque; the hash makes a cursor replayed against another query fail
// loudly instead of skipping rows, and the run tells a later page that a
// sync came in between (changedDuringWalk).
type cursor[K any] struct {
	Route  string `json:"r"`
	Filter string `json:"f"`
	Walk   int64  `json:"w,omitempty"`
	Key    K      `json:"k"`
}

var errBadCursor = &ParamError{Param: "cursor", Detail: "invalid cursor; use the next link of a previous page, or drop cursor to start over"}

// maxCursor bounds what is decoded; real cursors are under 100 bytes.
const maxCursor = 512

func filterHash(route, filter string) string {
	h := fnv.New64a()
	h.Write([]byte(route))
	h.Write([]byte{0})
	h.Write([]byte(filter))
	return strconv.FormatUint(h.Sum64(), 36)
}

func encodeCursor[K any](route, filter string, walk int64, key K) string {
	b, err := json.Marshal(cursor[K]{Route: route, Filter: filterHash(route, filter), Walk: walk, Key: key})
	if err != nil {
		panic(err) // keys are plain structs
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor into key and returns the run its walk began at.
func decodeCursor[K any](s, route, filter string, key *K) (walk int64, err error) {
	if s == "" || len(s) > maxCursor {
		return 0, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, errBadCursor
	}
	var c cursor[K]
	if err := json.Unmarshal(b, &c); err != nil || c.Walk < 0 {
		return 0, errBadCursor
	}
	if c.Route != route {
		return 0, errBadCursor
	}
	if c.Filter != filterHash(route, filter) {
		return 0, &ParamError{Param: "cursor", Detail: "cursor belongs to a query with other filters; keep the filters of the first page, or drop cursor to start over"}
	}
	*key = c.Key
	return c.Walk, nil
}
