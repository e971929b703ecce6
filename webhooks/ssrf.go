package webhooks

import (
	"context"
	"errors"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/netguard"
)

// CheckURL validates a webhook target with netguard.Check and words the
// refusal for the user.
func CheckURL(ctx context.Context, res netguard.Resolver, raw string, allowPrivate bool) error {
	err := netguard.Check(ctx, res, raw, allowPrivate)
	var refused *netguard.RefusedError
	switch {
	case errors.Is(err, netguard.ErrNotHTTP):
		return haven.Errorf(haven.EInvalid, "Invalid webhook URL %q: an absolute http or https URL is needed", raw)
	case errors.As(err, &refused):
		return haven.Errorf(haven.EInvalid, "Webhook URL %q is refused: %s (the server's operator may allow them with --webhooks-allow-private)", raw, refused)
	}
	return err
}
