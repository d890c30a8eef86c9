package consent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Limits bound what one address or one source can make us do. They are
// kept in the store with a TTL, so they hold across Lambda instances and
// restarts. A zero count turns that limit off.
type Limits struct {
	// EmailsPerAddress caps emails of any kind (freebie, confirm link,
	// receipt, withdrawal link) to one address in any rolling EmailWindow.
	// Past the cap a sign-up still succeeds and is recorded, marked
	// DeliveryLimited, but sends nothing.
	EmailsPerAddress int
	EmailWindow      time.Duration
	// SignupsPerSource caps sign-ups and withdrawal-link requests from one
	// source (an IPv4 address or an IPv6 /64) per fixed SourceWindow; more
	// get a *RateLimitError and nothing is stored or sent.
	SignupsPerSource int
	SourceWindow     time.Duration
}

// DefaultLimits are on unless configured otherwise: 3 emails per address
// per 24 hours, 20 sign-ups per source per 10 minutes.
var DefaultLimits = Limits{EmailsPerAddress: 3, EmailWindow: 24 * time.Hour, SignupsPerSource: 20, SourceWindow: 10 * time.Minute}

// CheckSource counts one request from sourceIP and returns a
// *RateLimitError once the source is over its limit for the current window.
// Sign-ups and withdrawal-link requests call it themselves; the web layer
// calls it for posts it drops as bots, so a bot is slowed down like anyone.
// Requests without a parseable source IP are not limited here (they cannot
// come through API Gateway or the local server's socket).
func (s *Service) CheckSource(ctx context.Context, sourceIP string) error {
	l := s.Limits
	if l.SignupsPerSource <= 0 || l.SourceWindow <= 0 {
		return nil
	}
	source, ok := sourceKey(sourceIP)
	if !ok {
		return nil
	}
	now := s.Now().UTC()
	start := now.Truncate(l.SourceWindow)
	end := start.Add(l.SourceWindow)
	// The counter key holds a keyed hash of the source, never the IP itself.
	key := "src#" + s.Keys.Subject.SubscriberID("source:"+source) + "#" + strconv.FormatInt(start.Unix(), 10)
	n, err := s.Counters.Count(ctx, key, end, now)
	if err != nil {
		return fmt.Errorf("count requests from source: %w", err)
	}
	if n > l.SignupsPerSource {
		return &RateLimitError{RetryAfter: end.Sub(now)}
	}
	return nil
}

// sourceKey is the unit a source limit applies to: an IPv4 address, or the
// /64 an IPv6 address belongs to (one host can use a whole /64).
func sourceKey(ip string) (string, bool) {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return "", false
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String(), true
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return "", false
	}
	return p.String(), true
}

// mailSlot finds a free place under the address's email cap: one of
// EmailsPerAddress claim keys, each held for EmailWindow after the email
// that took it, so the cap is exact over any rolling window. ok is false
// when every slot is held. The caller commits the claim with the job, so
// two writers racing for one slot cannot both send: one gets ErrClaimTaken
// and tries again. With the cap off it returns no claim and ok.
func (s *Service) mailSlot(ctx context.Context, subscriber string) (slot []ClaimRecord, ok bool, err error) {
	l := s.Limits
	if l.EmailsPerAddress <= 0 || l.EmailWindow <= 0 {
		return nil, true, nil
	}
	now := s.Now().UTC()
	for i := range l.EmailsPerAddress {
		key := "mail#" + subscriber + "#" + strconv.Itoa(i)
		_, err := s.Ledger.GetClaim(ctx, key, now)
		if errors.Is(err, ErrNotFound) {
			return []ClaimRecord{{Key: key, ExpiresAt: now.Add(l.EmailWindow)}}, true, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("read email cap: %w", err)
		}
	}
	return nil, false, nil
}
