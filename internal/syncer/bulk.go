package syncer

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The bulk path: when a sync writes a large share of a table (its first
// load, above all), building the table anew is several times cheaper than
// changing it row by row: rows are written once, in order, into a table
// without indexes, and each index is then built in one sorted pass instead
// of by random inserts. The new table is built beside the live one, which
// readers keep reading, and swapped in by name at the end of the
// transaction; the swap holds an ACCESS EXCLUSIVE lock on the live table
// from then until commit (readers wait, then read the new table under a
// new snapshot). Ids are kept, so payments.patient_id and API cursors stay
// valid.
//
// What the table is made of (columns, defaults, indexes, constraints,
// storage options, grants) is read from the catalog, so the migrations stay
// the one description of the schema.

// tableShape is what a table is rebuilt with.
type tableShape struct {
	owner      string   // the role that owns it
	reloptions []string // e.g. fillfactor=90
	indexes    []tableIndex
	grants     []string // GRANT statements that restore its privileges
	nextID     int64    // the identity's next value
}

type tableIndex struct {
	name       string // e.g. patients_pkey
	def        string // CREATE [UNIQUE] INDEX name ON schema.table USING ...
	constraint string // "p" primary key, "u" unique, "" none
}

// indexDef splits pg_get_indexdef's output.
var indexDef = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX (\S+) ON (\S+) (USING .*)$`)

// readShape reads table's shape from the catalog.
func readShape(ctx context.Context, tx pgx.Tx, table string) (tableShape, error) {
	var sh tableShape
	if err := tx.QueryRow(ctx, `SELECT quote_ident(relowner::regrole::text), coalesce(reloptions, '{}') FROM pg_class WHERE oid = $1::regclass`, table).Scan(&sh.owner, &sh.reloptions); err != nil {
		return sh, fmt.Errorf("read %s's options: %w", table, err)
	}
	rows, _ := tx.Query(ctx, `
		SELECT i.relname, pg_get_indexdef(x.indexrelid), coalesce(c.contype::text, '')
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
		WHERE x.indrelid = $1::regclass ORDER BY i.relname`, table)
	var err error
	sh.indexes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableIndex, error) {
		var ix tableIndex
		err := r.Scan(&ix.name, &ix.def, &ix.constraint)
		return ix, err
	})
	if err != nil {
		return sh, fmt.Errorf("read %s's indexes: %w", table, err)
	}
	rows, _ = tx.Query(ctx, `
		SELECT format('GRANT %s ON %I TO %s', a.privilege_type, c.relname,
		              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END)
		       || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
		FROM pg_class c, aclexplode(c.relacl) a
		WHERE c.oid = $1::regclass AND a.grantee <> c.relowner`, table)
	if sh.grants, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return sh, fmt.Errorf("read %s's grants: %w", table, err)
	}
	err = tx.QueryRow(ctx, `
		SELECT coalesce(CASE WHEN s.last_value IS NULL THEN s.start_value ELSE s.last_value + 1 END, 1)
		FROM pg_sequences s WHERE format('%I.%I', s.schemaname, s.sequencename) = pg_get_serial_sequence($1, 'id')`, table).Scan(&sh.nextID)
	if err != nil {
		return sh, fmt.Errorf("read %s's id sequence: %w", table, err)
	}
	return sh, nil
}

// createBuild creates table_build with table's columns, defaults, NOT NULL
// and check constraints and storage options, without its indexes and
// without an identity (the build sets ids itself).
func createBuild(ctx context.Context, tx pgx.Tx, table string, sh tableShape) error {
	with := ""
	if len(sh.reloptions) > 0 {
		with = " WITH (" + strings.Join(sh.reloptions, ", ") + ")"
	}
	sql := fmt.Sprintf(`CREATE TABLE %[1]s_build (LIKE %[1]s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)%[2]s`, table, with)
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create %s_build: %w", table, err)
	}
	return nil
}

// indexBuild builds table's indexes on table_build, named <index>_build.
func indexBuild(ctx context.Context, m *merger, table string, sh tableShape) error {
	for _, ix := range sh.indexes {
		p := indexDef.FindStringSubmatch(ix.def)
		if p == nil || p[2] != ix.name {
			return fmt.Errorf("index %s: cannot rebuild %q", ix.name, ix.def)
		}
		sql := fmt.Sprintf("CREATE %sINDEX %s_build ON %s_build %s", p[1], ix.name, table, p[4])
		if _, err := m.exec(ctx, "build index "+ix.name, sql); err != nil {
			return err
		}
	}
	// Autovacuum would analyze it only some time after the commit.
	_, err := m.exec(ctx, "analyze "+table+"_build", "ANALYZE "+table+"_build")
	return err
}

// swap puts table_build in table's place, with table's names, identity,
// owner and grants. It takes table's ACCESS EXCLUSIVE lock: call it last,
// just before commit, payments before patients (the order in which a
// reader that reads both locks them, so that the two never deadlock).
func swap(ctx context.Context, m *merger, table string, sh tableShape) error {
	stmts := []string{
		"LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE",
		"DROP TABLE " + table,
		"ALTER TABLE " + table + "_build RENAME TO " + table,
	}
	for _, ix := range sh.indexes {
		switch ix.constraint {
		case "p":
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY USING INDEX %s_build", table, ix.name, ix.name))
		case "u":
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s UNIQUE USING INDEX %s_build", table, ix.name, ix.name))
		default:
			stmts = append(stmts, fmt.Sprintf("ALTER INDEX %s_build RENAME TO %s", ix.name, ix.name))
		}
	}
	stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (START WITH %d)", table, max(sh.nextID, 1)))
	stmts = append(stmts, "ALTER TABLE "+table+" OWNER TO "+sh.owner)
	stmts = append(stmts, sh.grants...)
	for _, s := range stmts {
		if _, err := m.tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("swap in the rebuilt %s: %s: %w", table, s, err)
		}
	}
	return nil
}
