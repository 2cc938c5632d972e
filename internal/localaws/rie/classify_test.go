package rie

import "testing"

func TestClassify(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		body     string
		wantType string // "" = success
	}{
		{"result", 200, `{"statusCode":200,"body":"[]"}`, ""},
		{"null result", 200, `null`, ""},
		{"string result", 200, `"done"`, ""},
		{"object with only errorMessage is a result", 200, `{"errorMessage":"x"}`, ""},
		{"handler error", 200, `{"errorMessage":"boom","errorType":"errorString"}`, "errorString"},
		{"timeout", 200, `Task timed out after 3.00 seconds`, "Sandbox.Timedout"},
		{"crash", 502, `{"errorType":"Runtime.ExitError","errorMessage":"exit status 3"}`, "Runtime.ExitError"},
		{"emulator busy", 400, ``, "Emulator.HTTP400"},
		{"emulator 500 text", 500, `oops`, "Emulator.HTTP500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := classify(c.status, []byte(c.body))
			switch {
			case c.wantType == "" && err != nil:
				t.Errorf("classify = %v; want success", err)
			case c.wantType != "" && err == nil:
				t.Errorf("classify = success; want %s", c.wantType)
			case c.wantType != "" && err.Type != c.wantType:
				t.Errorf("type = %q; want %q", err.Type, c.wantType)
			}
		})
	}
}
