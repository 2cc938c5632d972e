package rie

import "testing"

func TestRewriteReport(t *testing.T) {
	const report = "REPORT RequestId: 7f\tInit Duration: 1.20 ms\tDuration: 3.10 ms\tBilled Duration: 4 ms\tMemory Size: 1024 MB\tMax Memory Used: 1024 MB\t"
	cases := []struct {
		name, line string
		mb         int64
		ok         bool
		want       string
	}{
		{"measured", report, 37, true,
			"REPORT RequestId: 7f\tInit Duration: 1.20 ms\tDuration: 3.10 ms\tBilled Duration: 4 ms\tMemory Size: 1024 MB\tMax Memory Used: 37 MB\t"},
		{"not measured: dropped", report, 0, false,
			"REPORT RequestId: 7f\tInit Duration: 1.20 ms\tDuration: 3.10 ms\tBilled Duration: 4 ms\tMemory Size: 1024 MB\t"},
		{"no trailing tab", "REPORT RequestId: 7f\tMemory Size: 128 MB\tMax Memory Used: 128 MB", 9, true,
			"REPORT RequestId: 7f\tMemory Size: 128 MB\tMax Memory Used: 9 MB"},
		{"other lines untouched", "Max Memory Used: 1024 MB", 5, true, "Max Memory Used: 1024 MB"},
		{"function output untouched", `{"msg":"REPORT of the day"}`, 5, true, `{"msg":"REPORT of the day"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := rewriteReport(c.line, c.mb, c.ok); got != c.want {
				t.Errorf("rewriteReport = %q\nwant           %q", got, c.want)
			}
		})
	}
}
