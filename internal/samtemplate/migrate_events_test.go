package samtemplate_test

// events/migrate-*.json must be the requests CloudFormation sends the
// migrate function for template.yaml's custom resource: its type, logical
// id and properties, with the ids an answer must echo.

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/patientsync/patientsync/internal/migratelambda"
)

// cfnRequest is a custom resource request, field for field (CloudFormation
// also sends the ServiceToken at the top, beside the documented fields).
type cfnRequest struct {
	RequestType           string            `json:"RequestType"`
	ServiceToken          string            `json:"ServiceToken"`
	ResponseURL           string            `json:"ResponseURL"`
	StackID               string            `json:"StackId"`
	RequestID             string            `json:"RequestId"`
	LogicalResourceID     string            `json:"LogicalResourceId"`
	PhysicalResourceID    *string           `json:"PhysicalResourceId"`
	ResourceType          string            `json:"ResourceType"`
	ResourceProperties    map[string]string `json:"ResourceProperties"`
	OldResourceProperties map[string]string `json:"OldResourceProperties"`
}

var (
	stackARN   = regexp.MustCompile(`^arn:aws:cloudformation:([a-z0-9-]+):([0-9]{12}):stack/[A-Za-z][A-Za-z0-9-]*/[0-9a-f-]{36}$`)
	lambdaARN  = regexp.MustCompile(`^arn:aws:lambda:([a-z0-9-]+):([0-9]{12}):function:[A-Za-z0-9-_]+$`)
	uuid       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	versionNum = regexp.MustCompile(`^:[1-9][0-9]*$`)
)

func TestSampleMigrateEvents(t *testing.T) {
	t.Parallel()
	s, _, root := load(t)
	ids := s.tpl.OfType(migratelambda.ResourceType)
	if len(ids) != 1 {
		t.Fatalf("template has %v of %s", ids, migratelambda.ResourceType)
	}
	schema := ids[0]
	var props []string
	for k := range s.tpl.Resources[schema].Properties {
		props = append(props, k)
	}
	slices.Sort(props)

	tests := []struct {
		file, requestType string
		rollback          bool
	}{
		{"migrate-create.json", "Create", false},
		{"migrate-update.json", "Update", false},
		{"migrate-update-rollback.json", "Update", true},
		{"migrate-delete.json", "Delete", false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(root, "events", tc.file)
			var e cfnRequest
			decodeStrict(t, path, &e)
			if e.RequestType != tc.requestType || e.ResourceType != migratelambda.ResourceType || e.LogicalResourceID != schema {
				t.Errorf("RequestType %q ResourceType %q LogicalResourceId %q, want %q %q %q",
					e.RequestType, e.ResourceType, e.LogicalResourceID, tc.requestType, migratelambda.ResourceType, schema)
			}
			stack := stackARN.FindStringSubmatch(e.StackID)
			fn := lambdaARN.FindStringSubmatch(e.ServiceToken)
			if stack == nil || fn == nil || stack[1] != fn[1] || stack[2] != fn[2] {
				t.Errorf("StackId %q and ServiceToken %q: want a stack and a function of one account and region", e.StackID, e.ServiceToken)
			}
			if !uuid.MatchString(e.RequestID) {
				t.Errorf("RequestId %q is not a UUID", e.RequestID)
			}
			// The presigned S3 URL the answer goes to: its key names the
			// stack, the resource and the request.
			u, err := url.Parse(e.ResponseURL)
			if err != nil || u.Scheme != "https" || !strings.HasSuffix(u.Host, ".amazonaws.com") ||
				u.Query().Get("X-Amz-Signature") == "" || !strings.HasSuffix(u.Path, "|"+schema+"|"+e.RequestID) {
				t.Errorf("ResponseURL %q is not a presigned S3 URL for this request (%v)", e.ResponseURL, err)
			}

			// ResourceProperties: the template's properties, as strings.
			for name, p := range map[string]map[string]string{"ResourceProperties": e.ResourceProperties, "OldResourceProperties": e.OldResourceProperties} {
				if p == nil {
					continue
				}
				var keys []string
				for k := range p {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if !reflect.DeepEqual(keys, props) {
					t.Errorf("%s has %v, the template gives %v", name, keys, props)
				}
				if p["ServiceToken"] != e.ServiceToken || !versionNum.MatchString(strings.TrimPrefix(p[migratelambda.VersionProperty], e.ServiceToken)) {
					t.Errorf("%s: ServiceToken %q, %s %q: want the function and one of its versions", name, p["ServiceToken"], migratelambda.VersionProperty, p[migratelambda.VersionProperty])
				}
			}
			if (e.OldResourceProperties != nil) != (tc.requestType == "Update") {
				t.Errorf("OldResourceProperties present: %v; CloudFormation sends them with Update only", e.OldResourceProperties != nil)
			}
			// Create has no physical id yet; the others carry the function's.
			if (e.PhysicalResourceID == nil) != (tc.requestType == "Create") ||
				(e.PhysicalResourceID != nil && *e.PhysicalResourceID != migratelambda.PhysicalResourceID) {
				t.Errorf("PhysicalResourceId %v in a %s, want none in a Create, else %q", e.PhysicalResourceID, tc.requestType, migratelambda.PhysicalResourceID)
			}

			var ev cfn.Event
			data, _ := json.Marshal(e)
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Fatal(err)
			}
			if _, _, rb := migratelambda.Rollback(ev); rb != tc.rollback {
				t.Errorf("a rollback by its versions: %v, want %v", rb, tc.rollback)
			}
		})
	}
}
