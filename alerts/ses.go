package alerts

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// SES sends mail through Amazon SES v2 SendEmail with raw content, so the
// message SES delivers is exactly the one Compose built (both bodies, our
// headers). The sender must be a verified identity in the region
// (https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html).
type SES struct {
	client *sesv2.Client
	// ConfigurationSet, when set, names the SES configuration set (event
	// publishing, suppression) the messages go through.
	ConfigurationSet string
}

// NewSES returns a transport over cfg (its region is the SES region).
func NewSES(cfg aws.Config) *SES { return &SES{client: sesv2.NewFromConfig(cfg)} }

// Send implements Transport.
func (s *SES) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if len(to) == 0 {
		return errors.New("ses: no recipients")
	}
	// SES's raw messages are at most 40 MB; ours are far smaller.
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &sestypes.Destination{ToAddresses: to},
		Content:          &sestypes.EmailContent{Raw: &sestypes.RawMessage{Data: msg}},
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	if _, err := s.client.SendEmail(ctx, in); err != nil {
		return fmt.Errorf("ses send email from %s: %w", from, err)
	}
	return nil
}
