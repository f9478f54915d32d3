package gateway

import (
	"log/slog"

	"github.com/hotpath/hotpath/fdlimit"
)

// raiseOpenFileLimit raises the soft open-file limit to the hard one, so
// that the gateway holds as many connections as the system lets it (the
// engine derives its connection budget from the soft limit it finds, see
// engine/fdguard.go), and logs both.
func raiseOpenFileLimit(log *slog.Logger) {
	l, err := fdlimit.Raise()
	if err != nil {
		log.Warn("cannot raise the open-file limit", "soft", l.Soft, "hard", l.Hard, "err", err)
		return
	}
	log.Info("open-file limit", "soft", l.Soft, "hard", l.Hard, "soft_before", l.Before)
}
