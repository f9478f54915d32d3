package pool

// Placeholder implementation: replaced by the real pool.

type endpointState struct{}
