package api

import (
	"encoding/base64"
	"encoding/json"
	"hash/fnv"
	"strconv"
)

// A cursor is the last row's sort key, the route and a hash of the filter,
// as base64url JSON. Clients treat it as opaque; the hash makes a cursor
// replayed against another query fail loudly instead of skipping rows.
type cursor[K any] struct {
	Route  string `json:"r"`
	Filter string `json:"f"`
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

func encodeCursor[K any](route, filter string, key K) string {
	b, err := json.Marshal(cursor[K]{Route: route, Filter: filterHash(route, filter), Key: key})
	if err != nil {
		panic(err) // keys are plain structs
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor[K any](s, route, filter string, key *K) error {
	if s == "" || len(s) > maxCursor {
		return errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errBadCursor
	}
	var c cursor[K]
	if err := json.Unmarshal(b, &c); err != nil {
		return errBadCursor
	}
	if c.Route != route {
		return errBadCursor
	}
	if c.Filter != filterHash(route, filter) {
		return &ParamError{Param: "cursor", Detail: "cursor belongs to a query with other filters; keep the filters of the first page, or drop cursor to start over"}
	}
	*key = c.Key
	return nil
}
