package syncer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	columns    []string // quoted names, in order
	types      []string // each column's type and collation, as a cast: ::text COLLATE "C"
	alters     []string // ALTER TABLE actions that complete a build: NOT NULL, defaults, storage, checks
	rules      []string // per NOT NULL or check constraint, what a row that breaks it satisfies
	comments   []string // COMMENT statements on the build's columns
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
	// The identity (id's) goes on at the swap; a generated column cannot be
	// filled by a build.
	rows, _ := tx.Query(ctx, `
		SELECT quote_ident(a.attname), a.attgenerated <> '', a.attnotnull,
		       '::' || format_type(a.atttypid, a.atttypmod)
		       || CASE WHEN a.attcollation <> t.typcollation THEN ' COLLATE ' || a.attcollation::regcollation::text ELSE '' END,
		       array_remove(ARRAY[
		         CASE WHEN d.adbin IS NOT NULL AND a.attidentity = '' THEN format('ALTER COLUMN %I SET DEFAULT %s', a.attname, pg_get_expr(d.adbin, d.adrelid)) END,
		         CASE WHEN a.attstorage <> t.typstorage THEN format('ALTER COLUMN %I SET STORAGE %s', a.attname,
		           CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END) END], NULL),
		       coalesce(format('COMMENT ON COLUMN %I.%I IS %L', c.relname || '_build', a.attname, col_description(a.attrelid, a.attnum)), '')
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_class c ON c.oid = a.attrelid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, table)
	var name, typ, comment string
	var generated, notNull bool
	var alters []string
	_, err := pgx.ForEachRow(rows, []any{&name, &generated, &notNull, &typ, &alters, &comment}, func() error {
		if generated {
			return fmt.Errorf("column %s is generated", name)
		}
		sh.columns, sh.types = append(sh.columns, name), append(sh.types, typ)
		if notNull {
			sh.alters = append(sh.alters, "ALTER COLUMN "+name+" SET NOT NULL")
			sh.rules = append(sh.rules, name+" IS NULL")
		}
		sh.alters = append(sh.alters, alters...)
		if comment != "" {
			sh.comments = append(sh.comments, comment)
		}
		return nil
	})
	if err != nil {
		return sh, fmt.Errorf("read %s's columns: %w", table, err)
	}
	rows, _ = tx.Query(ctx, `
		SELECT format('ADD CONSTRAINT %I %s', conname, pg_get_constraintdef(oid)), format('(%s) IS FALSE', pg_get_expr(conbin, conrelid))
		FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' ORDER BY conname`, table)
	var check, broken string
	if _, err := pgx.ForEachRow(rows, []any{&check, &broken}, func() error {
		sh.alters, sh.rules = append(sh.alters, check), append(sh.rules, broken)
		return nil
	}); err != nil {
		return sh, fmt.Errorf("read %s's check constraints: %w", table, err)
	}
	rows, _ = tx.Query(ctx, `
		SELECT i.relname, pg_get_indexdef(x.indexrelid), coalesce(c.contype::text, '')
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
		WHERE x.indrelid = $1::regclass ORDER BY i.relname`, table)
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

// createBuild creates table_build from fill, a query of table's columns
// in table's order, with table's column types and collations, NOT NULL
// and check constraints, defaults, storage, comments and options, without
// its indexes and without an identity (fill sets the ids). As CREATE TABLE
// AS, not INSERT: only the former may run its query in parallel (at 3M
// payments, joined to their patients: 2.5 s instead of 4.5 s). The NOT
// NULL and check constraints are then verified in one scan.
func createBuild(ctx context.Context, m *merger, table string, sh tableShape, fill string, args ...any) error {
	with := ""
	if len(sh.reloptions) > 0 {
		with = " WITH (" + strings.Join(sh.reloptions, ", ") + ")"
	}
	casts := make([]string, len(sh.columns))
	for i, c := range sh.columns {
		casts[i] = "q." + c + sh.types[i] + " AS " + c
	}
	sql := fmt.Sprintf("CREATE TABLE %s_build%s AS SELECT %s FROM (%s) q (%s)",
		table, with, strings.Join(casts, ", "), fill, strings.Join(sh.columns, ", "))
	if _, err := m.exec(ctx, "fill "+table+"_build", sql, args...); err != nil {
		return err
	}
	if err := constrainBuild(ctx, m, table, sh); err != nil {
		return err
	}
	for _, c := range sh.comments {
		if _, err := m.tx.Exec(ctx, c); err != nil {
			return fmt.Errorf("comment %s_build: %w", table, err)
		}
	}
	return nil
}

// constrainBuild completes table_build's columns and constraints. In a
// savepoint: the scan that verifies the constraints does not say which row
// breaks one, as an INSERT would, so a failure is reported with the first
// such row.
func constrainBuild(ctx context.Context, m *merger, table string, sh tableShape) error {
	if len(sh.alters) == 0 {
		return nil
	}
	sp, err := m.tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("constrain %s_build: %w", table, err)
	}
	start := time.Now()
	if _, err := sp.Exec(ctx, "ALTER TABLE "+table+"_build "+strings.Join(sh.alters, ", ")); err != nil {
		var pg *pgconn.PgError
		if rerr := sp.Rollback(ctx); rerr != nil || !errors.As(err, &pg) || pg.Code[:2] != "23" {
			return fmt.Errorf("constrain %s_build: %w", table, err)
		}
		broken := *pg
		sql := fmt.Sprintf("SELECT t::text FROM %s_build t WHERE %s LIMIT 1", table, strings.Join(sh.rules, " OR "))
		if rerr := m.tx.QueryRow(ctx, sql).Scan(&broken.Detail); rerr == nil {
			broken.Detail = "Failing row contains " + broken.Detail + "."
		}
		return fmt.Errorf("constrain %s_build: %w", table, &broken)
	}
	if err := sp.Commit(ctx); err != nil {
		return fmt.Errorf("constrain %s_build: %w", table, err)
	}
	m.log.Debug("sync step", "step", "constrain "+table+"_build", "seconds", time.Since(start).Seconds())
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
