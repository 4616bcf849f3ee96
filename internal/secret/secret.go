// Package secret holds secrets in memory so that they do not leak through
// formatting, logs or JSON, and resolves the references that name where a
// secret lives (SSM Parameter Store, Secrets Manager).
package secret

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Redacted is what every rendering of a Value prints.
const Redacted = "[redacted]"

// Value is a secret. Every way of printing it (fmt with any verb, slog,
// encoding/json, encoding.TextMarshaler) prints [redacted]; only Reveal
// returns the secret, so each use of it is visible in the code.
//
// The secret sits behind a pointer: fmt cannot call the methods of a
// Value held in another struct's unexported field, and prints such a
// field by reflection, but it prints a nested pointer as an address and
// never follows it. (So == compares identity, not content.)
type Value struct {
	p *string
}

// New wraps s.
func New(s string) Value { return Value{p: &s} }

// Reveal returns the secret itself.
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// IsZero reports whether the value is empty.
func (v Value) IsZero() bool { return v.Reveal() == "" }

func (Value) String() string   { return Redacted }
func (Value) GoString() string { return Redacted }

// Format covers the verbs String does not: without it %d or %x of a Value
// would print its field.
func (Value) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }

// LogValue implements slog.LogValuer.
func (Value) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (YAML, JSON map keys, …).
func (Value) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// Reference prefixes: a reference names where a secret lives, never the
// secret.
//
//	ssm:/portcullis/slack-webhook            SSM Parameter Store (SecureString decrypted)
//	secretsmanager:arn:aws:secretsmanager:…  Secrets Manager (ARN or name)
const (
	PrefixSSM            = "ssm:"
	PrefixSecretsManager = "secretsmanager:"
)

// IsReference reports whether s names a secret (ssm: or secretsmanager:)
// rather than holding it.
func IsReference(s string) bool {
	return strings.HasPrefix(s, PrefixSSM) || strings.HasPrefix(s, PrefixSecretsManager)
}

// CheckReference reports whether ref is a well-formed reference. The error
// quotes ref only when it has a reference prefix: anything else may be a
// secret put where a reference belongs.
func CheckReference(ref string) error {
	const want = "want ssm:<parameter name> or secretsmanager:<secret ARN or name>"
	switch {
	case strings.HasPrefix(ref, PrefixSSM) && len(ref) > len(PrefixSSM):
		return nil
	case strings.HasPrefix(ref, PrefixSecretsManager) && len(ref) > len(PrefixSecretsManager):
		return nil
	case IsReference(ref):
		return fmt.Errorf("credential reference %q: %s", ref, want)
	}
	return fmt.Errorf("credential reference (value not shown): %s", want)
}

// Resolve returns the secret that s holds or names: a reference (ssm:…,
// secretsmanager:…) is read with cfg at call time; anything else is the
// secret itself, returned as it is without touching AWS. An empty s gives
// the zero Value. Errors name the reference, never a value, so a literal
// secret never appears in one.
func Resolve(ctx context.Context, s string, cfg aws.Config) (Value, error) {
	if !IsReference(s) {
		return New(s), nil
	}
	return Fetch(ctx, s, cfg)
}

// Fetch reads the secret that ref names (ssm:… or secretsmanager:…).
// An SSM parameter is read with decryption (SecureString); a Secrets
// Manager secret's SecretString, or its SecretBinary when it has no string.
// An empty secret is an error.
func Fetch(ctx context.Context, ref string, cfg aws.Config) (Value, error) {
	if err := CheckReference(ref); err != nil {
		return Value{}, err
	}
	switch {
	case strings.HasPrefix(ref, PrefixSSM):
		name := strings.TrimPrefix(ref, PrefixSSM)
		out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
		if err != nil {
			return Value{}, fmt.Errorf("read ssm parameter %s: %w", name, err)
		}
		if out.Parameter == nil || aws.ToString(out.Parameter.Value) == "" {
			return Value{}, fmt.Errorf("read ssm parameter %s: empty value", name)
		}
		return New(aws.ToString(out.Parameter.Value)), nil
	default:
		id := strings.TrimPrefix(ref, PrefixSecretsManager)
		out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			return Value{}, fmt.Errorf("read secret %s: %w", id, err)
		}
		if out.SecretString != nil && *out.SecretString != "" {
			return New(*out.SecretString), nil
		}
		if len(out.SecretBinary) > 0 {
			return New(string(out.SecretBinary)), nil
		}
		return Value{}, fmt.Errorf("read secret %s: empty value", id)
	}
}

// Lookup resolves the environment variable name through getenv (os.Getenv
// in the CLI): ok is false when it is unset or empty. Errors start with the
// variable's name and never quote its value.
func Lookup(ctx context.Context, getenv func(string) string, name string, cfg aws.Config) (v Value, ok bool, err error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return Value{}, false, nil
	}
	v, err = Resolve(ctx, s, cfg)
	if err != nil {
		return Value{}, false, fmt.Errorf("%s: %w", name, err)
	}
	return v, true, nil
}
