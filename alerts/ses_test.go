package alerts

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/portcullis-sec/portcullis/internal/mototest"
)

var motoURL string

func TestMain(m *testing.M) { os.Exit(mototest.Main(m, false, &motoURL)) }

// teeTransport records the message before passing it on.
type teeTransport struct {
	next Transport
	msg  []byte
}

func (t *teeTransport) Send(ctx context.Context, from string, to []string, msg []byte) error {
	t.msg = msg
	return t.next.Send(ctx, from, to, msg)
}

// motoRawMessages is what moto's SES backend recorded as sent from
// source, read from its model dump (/moto-api/data.json, ses.RawMessage).
func motoRawMessages(t *testing.T, source string) []string {
	t.Helper()
	resp, err := http.Get(motoURL + "/moto-api/data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		SES struct {
			RawMessage []struct {
				Source       string   `json:"source"`
				Destinations []string `json:"destinations"`
				RawData      string   `json:"raw_data"`
			}
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range d.SES.RawMessage {
		if m.Source == source {
			out = append(out, m.RawData)
		}
	}
	return out
}

func TestSES(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"), config.WithBaseEndpoint(motoURL))
	if err != nil {
		t.Fatal(err)
	}
	const from = "alerts-ses@example.com"
	if _, err := sesv2.NewFromConfig(cfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatal(err)
	}
	before := len(motoRawMessages(t, from)) // -count=N reuses the server
	tee := &teeTransport{next: NewSES(cfg)}
	e, err := NewEmail(tee, "Portcullis <"+from+">", []string{"oncall@example.com", "sec@example.com"}, EmailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Notify(ctx, realistic()); err != nil {
		t.Fatal(err)
	}
	got := motoRawMessages(t, from)[before:]
	if len(got) != 1 {
		t.Fatalf("moto recorded %d messages from %s, want 1", len(got), from)
	}
	if got[0] != string(tee.msg) {
		t.Errorf("moto recorded a different message:\n%.500s", got[0])
	}
	_, bodies := parts(t, []byte(got[0]))
	if !strings.Contains(bodies["text/html"], "&lt;!channel&gt;") || !strings.Contains(bodies["text/plain"], "203.0.113.10:22/tcp") {
		t.Error("the message moto recorded lacks the bodies")
	}

	// An unverified sender is refused (MessageRejected): an error, so the
	// alert stays pending.
	e2, err := NewEmail(NewSES(cfg), "unverified@example.com", []string{"oncall@example.com"}, EmailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.Notify(ctx, realistic()); err == nil || !strings.Contains(err.Error(), "unverified@example.com") {
		t.Errorf("send from an unverified identity: %v", err)
	}
	if n := len(motoRawMessages(t, "unverified@example.com")); n != 0 {
		t.Errorf("%d messages recorded from an unverified sender", n)
	}
}
