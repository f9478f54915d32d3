package metrics

import "errors"

var (
	// ErrTooManyRoutes: Install would bring the number of distinct route
	// names ever installed above Options.MaxRoutes.
	ErrTooManyRoutes = errors.New("metrics: too many distinct route names")
	// ErrTooManyUpstreams: Install would bring the number of distinct
	// upstream names ever installed above Options.MaxUpstreams.
	ErrTooManyUpstreams = errors.New("metrics: too many distinct upstream names")
)
