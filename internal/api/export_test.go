package api

// What the external tests (package api_test) compare with the OpenAPI
// document: the limits the handler enforces, from the code itself.
var (
	ProblemStatuses   = problemStatuses
	DecimalPattern    = decimalRe.String()
	MaxCursor         = maxCursor
	MaxSyncsLimit     = maxSyncsLimit
	DefaultSyncsLimit = defaultSyncsLimit
	SyncEntities      = syncEntities
	SyncStatuses      = syncStatuses
	MaxPushDecoded    = maxPushDecoded
	MaxUploadRequest  = maxUploadRequest
)
