package syncer

import (
	"context"
	"fmt"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// entity is everything the sync does differently for one kind of snapshot:
// its staging columns and the SQL of each merge step, written out whole
// (no fragments spliced together), so that what runs can be read here.
//
// The merge reads one of two tables: {stage}, the snapshot (ord,
// external_id, valid, then the entity's columns) on a first load (see
// stage.go), and the temporary "changes" on every other sync: only what
// differs from the target (action i(nsert), u(pdate), r(estore),
// d(elete)), as the diff found it (see diff.go).
type entity struct {
	name  snapshot.Entity
	table string
	lock  int32 // advisory lock key, serializing syncs of this entity

	// stageDDL declares, and stageColumns names, the columns after the
	// common prefix; encode appends a valid record's values for them in
	// binary COPY format.
	stageDDL     string
	stageColumns []string
	encode       func(b []byte, r *snapshot.Record) []byte

	isEmpty   string // one boolean: the target table has no rows
	countLive string // one count: live rows of the target table

	// export sends the target's rows to the diff: id, external_id, whether
	// deleted, then the stageColumns (binary COPY TO).
	export string
	// changesDDL declares the changes table: ord, external_id, target_id,
	// action, the stageColumns, and old_ + the stageColumns when changesOld
	// (the values a change replaces, for the totals).
	changesDDL string
	changesOld bool
	// Row by row: insert, update and delete apply changes; firstLoad
	// inserts every valid staged row into an empty target instead of
	// diffing.
	insert, update, delete, firstLoad string
	// In bulk (see bulk.go): build fills <table>_build from the target and
	// changes, buildFirst from stage when the target is empty.
	build, buildFirst string

	// after runs once the rows are written: links and totals that live in
	// the other entity's table.
	after func(ctx context.Context, m *merger) error
}

// step is one statement of a merge, named for logs and errors.
type step struct {
	name string
	sql  string
}

var entities = map[snapshot.Entity]*entity{
	snapshot.Patients: &patients,
	snapshot.Payments: &payments,
}

func entityOf(e snapshot.Entity) (*entity, error) {
	ent, ok := entities[e]
	if !ok {
		return nil, fmt.Errorf("unknown entity %q", e)
	}
	return ent, nil
}
