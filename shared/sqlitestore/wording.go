package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// ArchiveWording stores v under v.ID, with archived_at = at, unless that id
// is already archived, and records that magnetID uses it, in one
// transaction. v.ArchivedAt is ignored; a version keeps the time of its
// first archive. If v.ID is archived with different content the error wraps
// consent.ErrConflict and nothing is written. It fails, without wrapping
// consent.ErrConflict, if magnetID or v.ID is empty or at is outside years
// 0000-9999.
func (s *Store) ArchiveWording(ctx context.Context, magnetID string, v consent.WordingVersion, at time.Time) error {
	if err := consent.CheckArchive(magnetID, v, at); err != nil {
		return err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("archive wording %s: begin: %w", v.ID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO wordings (id, wording, privacy_policy_url, frequency, controller, archived_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`,
		v.ID, v.Wording, v.PrivacyPolicyURL, v.Frequency, v.Controller, at.UTC().Format(timeLayout)); err != nil {
		return fmt.Errorf("archive wording %s: %w", v.ID, err)
	}
	stored, err := scanWording(tx.QueryRowContext(ctx, `
		SELECT id, wording, privacy_policy_url, frequency, controller, archived_at
		FROM wordings WHERE id = ?`, v.ID))
	if err != nil {
		return fmt.Errorf("archive wording %s: read back: %w", v.ID, err)
	}
	if !stored.SameContent(v) {
		return fmt.Errorf("archive wording %s: different content under the same id: %w", v.ID, consent.ErrConflict)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO magnet_wordings (magnet, wording_id) VALUES (?, ?)
		ON CONFLICT (magnet, wording_id) DO NOTHING`, magnetID, v.ID); err != nil {
		return fmt.Errorf("archive wording %s: link magnet %s: %w", v.ID, magnetID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("archive wording %s: commit: %w", v.ID, err)
	}
	return nil
}

// Wording returns archived version id if magnetID uses it; otherwise an
// error wrapping consent.ErrNotFound.
func (s *Store) Wording(ctx context.Context, magnetID, id string) (consent.WordingVersion, error) {
	v, err := scanWording(s.db.QueryRowContext(ctx, `
		SELECT w.id, w.wording, w.privacy_policy_url, w.frequency, w.controller, w.archived_at
		FROM magnet_wordings AS l JOIN wordings AS w ON w.id = l.wording_id
		WHERE l.magnet = ? AND l.wording_id = ?`, magnetID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return consent.WordingVersion{}, fmt.Errorf("wording %s of magnet %s: %w", id, magnetID, consent.ErrNotFound)
	}
	if err != nil {
		return consent.WordingVersion{}, fmt.Errorf("wording %s of magnet %s: %w", id, magnetID, err)
	}
	return v, nil
}

// scanWording reads one wordings row: id, wording, privacy_policy_url,
// frequency, controller, archived_at. The error is sql.ErrNoRows if there is
// none.
func scanWording(row *sql.Row) (consent.WordingVersion, error) {
	var v consent.WordingVersion
	var at string
	if err := row.Scan(&v.ID, &v.Wording, &v.PrivacyPolicyURL, &v.Frequency, &v.Controller, &at); err != nil {
		return consent.WordingVersion{}, err
	}
	t, err := time.Parse(timeLayout, at)
	if err != nil {
		return consent.WordingVersion{}, fmt.Errorf("wording %s: bad archived_at: %w", v.ID, err)
	}
	v.ArchivedAt = t
	return v, nil
}
