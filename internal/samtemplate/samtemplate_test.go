package samtemplate_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/patientsync/patientsync/internal/samtemplate"
)

func TestParseExpandsShortForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want any
	}{
		{"Ref", `!Ref Bucket`, map[string]any{"Ref": "Bucket"}},
		{"pseudo Ref", `!Ref AWS::NoValue`, map[string]any{"Ref": "AWS::NoValue"}},
		{"GetAtt dotted", `!GetAtt Queue.Arn`, map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}},
		{"GetAtt nested attribute", `!GetAtt Stack.Outputs.Url`, map[string]any{"Fn::GetAtt": []any{"Stack", "Outputs.Url"}}},
		{"GetAtt list", `!GetAtt [Queue, Arn]`, map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}},
		{"Sub scalar", `!Sub "arn:${AWS::Partition}:s3:::${Name}/*"`, map[string]any{"Fn::Sub": "arn:${AWS::Partition}:s3:::${Name}/*"}},
		{"If with nested tags", `!If [HasVpc, !Ref Subnets, !Ref AWS::NoValue]`, map[string]any{"Fn::If": []any{
			"HasVpc", map[string]any{"Ref": "Subnets"}, map[string]any{"Ref": "AWS::NoValue"},
		}}},
		{"Condition", `!Condition HasVpc`, map[string]any{"Condition": "HasVpc"}},
		{"Not Equals Join", `!Not [!Equals [!Join ["", !Ref Ids], ""]]`, map[string]any{"Fn::Not": []any{
			map[string]any{"Fn::Equals": []any{
				map[string]any{"Fn::Join": []any{"", map[string]any{"Ref": "Ids"}}}, "",
			}},
		}}},
		{"long form untouched", `{"Fn::GetAtt": ["Queue", "Arn"]}`, map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}},
		{"YAML's own tags stay values", `!!str 900`, "900"},
		{"plain numbers", `900`, 900},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := samtemplate.Parse([]byte("Resources:\n  R:\n    Type: X\n    Properties:\n      V: " + tc.yaml + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			got := tpl.Resources["R"].Properties["V"]
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"duplicate key", "Resources:\n  R: {Type: X}\n  R: {Type: Y}\n", "duplicate key"},
		{"GetAtt without attribute", "Resources:\n  R:\n    Type: X\n    Properties: {A: !GetAtt Queue}\n", "no attribute"},
		{"no Resources", "Parameters: {}\n", "no Resources"},
		{"resource without Type", "Resources:\n  R: {Properties: {}}\n", "no Type"},
		{"merge key", "Resources:\n  R:\n    <<: {Type: X}\n", "merge keys"},
		{"DependsOn not an id", "Resources:\n  R: {Type: X, DependsOn: [{Ref: S}]}\n", "DependsOn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := samtemplate.Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestFunctionPropertiesMergesGlobalsLikeSAM(t *testing.T) {
	t.Parallel()
	tpl, err := samtemplate.Parse([]byte(`
Globals:
  Function:
    Timeout: 3
    Layers: [a]
    VpcConfig: !If [HasVpc, {SubnetIds: [s]}, !Ref AWS::NoValue]
    Environment: {Variables: {A: "1", B: "1"}}
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 900
      Layers: [b]
      Environment: {Variables: {B: "2", C: !Ref P}}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := tpl.FunctionProperties("F")
	want := map[string]any{
		"Timeout":     900,
		"Layers":      []any{"a", "b"},
		"VpcConfig":   map[string]any{"Fn::If": []any{"HasVpc", map[string]any{"SubnetIds": []any{"s"}}, map[string]any{"Ref": "AWS::NoValue"}}},
		"Environment": map[string]any{"Variables": map[string]any{"A": "1", "B": "2", "C": map[string]any{"Ref": "P"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func TestParseDependsOn(t *testing.T) {
	t.Parallel()
	tpl, err := samtemplate.Parse([]byte("Resources:\n  A: {Type: X, DependsOn: S, DeletionPolicy: Retain, UpdateReplacePolicy: Delete}\n  B: {Type: X, DependsOn: [S, T]}\n  C: {Type: X}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]string{"A": {"S"}, "B": {"S", "T"}, "C": nil} {
		if got := tpl.Resources[id].DependsOn; !reflect.DeepEqual(got, want) {
			t.Errorf("%s.DependsOn = %v, want %v", id, got, want)
		}
	}
	if p := tpl.Resources["A"].DeletionPolicy; p != "Retain" {
		t.Errorf("A.DeletionPolicy = %q", p)
	}
	if p := tpl.Resources["A"].UpdateReplacePolicy; p != "Delete" {
		t.Errorf("A.UpdateReplacePolicy = %q", p)
	}
}
