// Package migrations embeds the SQL migrations so that every binary can apply them.
package migrations

import "embed"

// FS holds the goose migrations, applied in file-name order.
//
//go:embed *.sql
var FS embed.FS
