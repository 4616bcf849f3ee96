package secret

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/portcullis-sec/portcullis/internal/mototest"
)

var motoURL string

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, false, &motoURL)) }

func motoConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"), config.WithBaseEndpoint(motoURL))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const material = "hooks-SECRET-9f8e7d6c-do-not-print"

func TestValueNeverPrints(t *testing.T) {
	v := New(material)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	log.Info("resolved", "webhook", v, "group", slog.Group("g", "v", v))
	slog.New(slog.NewTextHandler(&logs, nil)).Info("resolved", "webhook", v)
	js, err := json.Marshal(struct {
		V Value
		M map[Value]int
	}{v, map[Value]int{v: 1}})
	// A Value in an unexported field, as in a client struct printed by
	// mistake: fmt cannot call its methods there.
	type holder struct {
		name string
		v    Value
		in   struct{ v Value }
	}
	h := holder{name: "x", v: v}
	h.in.v = v
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{logs.String(), string(js), v.String(), v.GoString()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, &v), fmt.Sprintf(verb, struct{ V Value }{v}), fmt.Sprintf(verb, []Value{v}),
			fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h))
	}
	for _, o := range outs {
		if strings.Contains(o, material) || strings.Contains(o, fmt.Sprintf("%x", material)) {
			t.Errorf("the secret leaks: %s", o)
		}
	}
	if !strings.Contains(logs.String(), Redacted) || !strings.Contains(string(js), `"V":"[redacted]"`) {
		t.Errorf("redaction missing: %s %s", logs.String(), js)
	}
	if v.Reveal() != material || v.IsZero() || !New("").IsZero() {
		t.Error("Reveal/IsZero")
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	cfg := motoConfig(t)
	// Names unique to this run: -count=N reuses the server.
	sfx := fmt.Sprint(time.Now().UnixNano())
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/portcullis/slack-webhook-" + sfx),
		Value: aws.String("https://hooks.example.com/" + material), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(cfg)
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("portcullis/smtp-" + sfx), SecretString: aws.String("smtp://u:" + material + "@127.0.0.1:2525")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("portcullis/binary-" + sfx), SecretBinary: []byte("bin-" + material)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{in: "https://hooks.example.com/literal-" + material, want: "https://hooks.example.com/literal-" + material},
		{in: "", want: ""},
		{in: "ssm:/portcullis/slack-webhook-" + sfx, want: "https://hooks.example.com/" + material},
		{in: "secretsmanager:portcullis/smtp-" + sfx, want: "smtp://u:" + material + "@127.0.0.1:2525"},
		{in: "secretsmanager:" + aws.ToString(out.ARN), want: "smtp://u:" + material + "@127.0.0.1:2525"},
		{in: "secretsmanager:portcullis/binary-" + sfx, want: "bin-" + material},
		{in: "ssm:/portcullis/absent", wantErr: "read ssm parameter /portcullis/absent"},
		{in: "secretsmanager:portcullis/absent", wantErr: "read secret portcullis/absent"},
		{in: "ssm:", wantErr: `credential reference "ssm:"`},
		{in: "secretsmanager:", wantErr: `credential reference "secretsmanager:"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			v, err := Resolve(ctx, tc.in, cfg)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), material) {
					t.Errorf("the error quotes a secret: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			case v.Reveal() != tc.want:
				t.Errorf("got %q, want %q", v.Reveal(), tc.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	ctx := context.Background()
	cfg := motoConfig(t)
	env := map[string]string{"LITERAL": " https://hooks.example.com/" + material + " ", "REF": "ssm:/portcullis/nowhere"}
	getenv := func(k string) string { return env[k] }
	v, ok, err := Lookup(ctx, getenv, "LITERAL", cfg)
	if err != nil || !ok || v.Reveal() != "https://hooks.example.com/"+material {
		t.Errorf("literal: %v %v %q", ok, err, v.Reveal())
	}
	if _, ok, err := Lookup(ctx, getenv, "UNSET", cfg); ok || err != nil {
		t.Errorf("unset: %v %v", ok, err)
	}
	_, _, err = Lookup(ctx, getenv, "REF", cfg)
	if err == nil || !strings.HasPrefix(err.Error(), "REF: read ssm parameter /portcullis/nowhere") {
		t.Errorf("reference error %v", err)
	}
	if _, err := Fetch(ctx, "https://hooks.example.com/"+material, cfg); err == nil || strings.Contains(err.Error(), material) {
		t.Errorf("Fetch of a literal: %v", err)
	}
}
