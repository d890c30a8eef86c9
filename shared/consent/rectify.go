package consent

import (
	"context"
	"errors"
	"fmt"
)

// CurrentName is the name held on a person now, from their ledger (oldest
// first): the latest name they gave on a sign-up or that an import
// recorded, unless the operator corrected it later (a `rectified` event,
// whose name — empty when the name was removed — then stands). A sign-up
// without a name keeps the one held.
func CurrentName(ledger []Event) string {
	name := ""
	for _, e := range ledger {
		switch {
		case e.Type == EventRectified:
			name = e.Name
		case (e.Type == EventSignup || e.Type == EventImported) && e.Name != "":
			name = e.Name
		}
	}
	return name
}

// greetingName is the name a delivery job's email greets the person by:
// the name of the sign-up that queued it, unless the operator corrected
// the name after the job was queued (a retried job, or one still waiting).
func greetingName(job Job, ledger []Event) string {
	name := job.Name
	for _, e := range ledger {
		if e.Type == EventRectified && !e.At.Before(job.CreatedAt) {
			name = e.Name
		}
	}
	return name
}

// Rectify corrects the name held on the person with this address (the
// right to rectification) by appending a `rectified` event with the new
// name, method operator, and the request id from ev. An empty name removes
// the name. It reports whether it wrote one: false when the name held is
// already name. Names are checked as a sign-up's are (CheckName).
//
// A bad address or name is a *ValidationError, and so is an address
// nobody is on record with (there is nothing to rectify; an erased person
// has no record either).
func (s *Service) Rectify(ctx context.Context, address, name string, ev Evidence) (bool, error) {
	fields := map[string]string{}
	email, err := NormaliseAddress(address)
	if err != nil {
		fields["email"] = "Enter a valid email address, like name@example.com."
	}
	name, err = CheckName(name)
	var bad *NameError
	switch {
	case errors.As(err, &bad):
		fields["name"] = bad.Message
	case err != nil:
		fields["name"] = err.Error()
	}
	if len(fields) > 0 {
		return false, &ValidationError{Fields: fields}
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	written := false
	err = s.commitAfterLedger(ctx, subscriber, withdrawRetry, func(ledger []Event) (Write, error) {
		written = false
		if len(ledger) == 0 {
			return Write{}, &ValidationError{Fields: map[string]string{"email": "Nobody with this address is on record: there is nothing to rectify."}}
		}
		if CurrentName(ledger) == name {
			return Write{}, nil
		}
		written = true
		now := s.Now().UTC()
		return Write{Events: []Event{{
			Subscriber: subscriber, ID: NewEventID(now), Type: EventRectified, At: now, Email: email, Name: name,
			Method: MethodOperator, RequestID: ev.RequestID,
		}}}, nil
	})
	if err != nil {
		var verr *ValidationError
		if errors.As(err, &verr) {
			return false, err
		}
		return false, fmt.Errorf("rectify: %w", err)
	}
	return written, nil
}
