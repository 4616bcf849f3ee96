package aws

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeStreamMatchesUnmarshal checks that decodeStream gives what
// json.Unmarshal gives for the documents it accepts, and fails (so that
// readJSON falls back to Unmarshal) wherever Unmarshal fails.
func TestDecodeStreamMatchesUnmarshal(t *testing.T) {
	type doc struct {
		SecurityGroups []*securityGroup
		NextToken      []string
	}
	type resv struct {
		Reservations []struct{ Instances []*instance }
	}
	cases := []struct {
		name, in string
		fails    bool
	}{
		{"groups", `{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}, null, {"GroupId": "sg-2"}]}`, false},
		{"empty list", `{"SecurityGroups": []}`, false},
		{"null list", `{"SecurityGroups": null}`, false},
		{"empty object", `{}`, false},
		{"unknown keys skipped", `{"ResponseMetadata": {"RequestId": "x", "L": [1, 2]}, "SecurityGroups": [{"GroupId": "sg-1"}], "Other": 3}`, false},
		{"key case folded", `{"securitygroups": [{"GroupId": "sg-1"}]}`, false},
		{"last key wins", `{"SecurityGroups": [{"GroupId": "sg-1"}], "SecurityGroups": [{"GroupId": "sg-2"}]}`, false},
		{"trailing whitespace", "{\"SecurityGroups\": []}\n\n", false},
		{"data after", `{"SecurityGroups": []} {}`, true},
		{"not a list", `{"SecurityGroups": {"GroupId": "sg-1"}}`, true},
		{"wrong item type", `{"SecurityGroups": [{"GroupId": 7}]}`, true},
		{"syntax error", `{"SecurityGroups": [{"GroupId": "sg-1"`, true},
		{"not an object", `[1]`, true},
		{"empty file", ``, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want, got doc
			werr := json.Unmarshal([]byte(c.in), &want)
			gerr := decodeStream(strings.NewReader(c.in), &got)
			if (werr != nil) != c.fails {
				t.Fatalf("json.Unmarshal error = %v, case says fails=%v", werr, c.fails)
			}
			if (gerr != nil) != c.fails {
				t.Fatalf("decodeStream error = %v, want failure %v", gerr, c.fails)
			}
			if !c.fails && !reflect.DeepEqual(got, want) {
				t.Errorf("decodeStream = %+v, json.Unmarshal = %+v", got, want)
			}
		})
	}
	t.Run("nested lists", func(t *testing.T) {
		in := `{"Reservations": [{"Instances": [{"InstanceId": "i-1", "State": {"Name": "running"}}, {"InstanceId": "i-2"}]}, {"Instances": []}]}`
		var want, got resv
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if err := decodeStream(strings.NewReader(in), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || len(got.Reservations) != 2 {
			t.Errorf("decodeStream = %+v, json.Unmarshal = %+v", got, want)
		}
	})
	t.Run("not streamable", func(t *testing.T) {
		var tagged struct {
			X []int `json:"x"`
		}
		if err := decodeStream(strings.NewReader(`{"x": [1]}`), &tagged); !errors.Is(err, errNotStreamable) {
			t.Errorf("tagged field: error %v, want errNotStreamable", err)
		}
		var scalar struct{ N int }
		if err := decodeStream(strings.NewReader(`{"N": 1}`), &scalar); !errors.Is(err, errNotStreamable) {
			t.Errorf("scalar field: error %v, want errNotStreamable", err)
		}
	})
}
