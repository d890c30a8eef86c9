package sqlitestore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrationFiles are the schema's history: migrations/NNNN_name.sql, numbered
// from 0001 without gaps. File N takes a database from schema version N-1 to
// N; the version is kept in PRAGMA user_version. A new file runs them all.
// Released files never change (databases in the field were made by them);
// to change the schema, add the next file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations returns the migration scripts in order, checking that they are
// numbered 1, 2, 3… without gaps.
func migrations() ([]string, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	steps := make([]string, 0, len(names))
	for i, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		if n, err := strconv.Atoi(num); !ok || err != nil || n != i+1 {
			return nil, fmt.Errorf("migration %s: want number %04d here", base, i+1)
		}
		sql, err := fs.ReadFile(migrationFiles, name)
		if err != nil {
			return nil, err
		}
		steps = append(steps, string(sql))
	}
	return steps, nil
}

// migrate creates the schema or brings an older one up to date, inside one
// write transaction, so two processes opening a file at once do not both
// migrate it and a failed step leaves the file as it was.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	steps, err := migrations()
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	schemaVersion := len(steps)
	switch {
	case version > schemaVersion:
		return fmt.Errorf("schema version %d is newer than this program supports (%d)", version, schemaVersion)
	case version == schemaVersion:
		return nil
	case version < 0:
		return fmt.Errorf("schema version %d is not one this program made", version)
	}
	for v := version; v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
			return fmt.Errorf("migrate schema from version %d to %d: %w", v, v+1, err)
		}
	}
	// PRAGMA takes no bound parameters; schemaVersion is a number we made.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(schemaVersion)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}
