package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/patientsync/patientsync/internal/progress"
	"github.com/patientsync/patientsync/internal/snapgen"
)

func init() {
	register("gen", "write synthetic patients.json and payments.json of any size (with -drift, their successors)", runGen)
}

func runGen(_ context.Context, args []string) error {
	fs := newFlagSet("gen", "", "")
	o := snapgen.Options{}
	fs.Int64Var(&o.Patients, "patients", 1000, "number of patients")
	fs.Int64Var(&o.Payments, "payments", 3000, "number of payments")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed; the same seed gives the same data")
	fs.Float64Var(&o.OrphanShare, "orphans", 0.01, "share of payments whose patient is not in the patients snapshot")
	drift := fs.Float64("drift", 0, "if > 0, write the successor snapshot: this share of records changed, half of it deleted and half of it added (0.01 = 1% changed, 0.5% deleted, 0.5% new)")
	out := fs.String("out", ".", "output directory")
	csv := fs.Bool("csv", false, "also write patients.csv and payments.csv with the same rows (for COPY floor benchmarks)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if o.Patients < 0 || o.Payments < 0 || *drift < 0 || *drift > 1 {
		return usageErrorf(fs, "counts must be >= 0 and -drift within [0, 1]")
	}
	o.Change, o.Delete, o.Add = *drift, *drift/2, *drift/2
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	// rows is what the file is expected to hold (with -drift, about as many).
	write := func(name string, rows int64, fn func(io.Writer) error) error {
		path := filepath.Join(*out, name)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		var w io.Writer = f
		prog := newProgress(progress.Options{Label: name, Rows: rows})
		if prog != nil {
			w = countingWriter{w: f, rep: prog}
		}
		err = fn(w)
		prog.Done()
		if err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		st, _ := os.Stat(path)
		fmt.Printf("wrote %s (%d bytes)\n", path, st.Size())
		return nil
	}
	drifted := *drift > 0
	for _, asCSV := range []bool{false, true} {
		if asCSV && !*csv {
			break
		}
		ext := ".json"
		if asCSV {
			ext = ".csv"
		}
		if err := write("patients"+ext, o.Patients, func(w io.Writer) error { return snapgen.WritePatients(w, o, drifted, asCSV) }); err != nil {
			return err
		}
		if err := write("payments"+ext, o.Payments, func(w io.Writer) error { return snapgen.WritePayments(w, o, drifted, asCSV) }); err != nil {
			return err
		}
	}
	return nil
}
