package db

import "time"

// SetSecretRetryGap shortens the least time between two reads of the
// secret, for tests that rotate a password and must not wait 5 seconds.
func SetSecretRetryGap(c *Config, d time.Duration) { c.secretRetryGap = d }
