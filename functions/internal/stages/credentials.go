package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"google.golang.org/api/option"

	"github.com/portcullis-sec/portcullis/internal/secret"
)

// A credential reference names where a secret lives, never the secret:
//
//	ssm:/portcullis/gcp-credentials        SSM Parameter Store (SecureString decrypted)
//	secretsmanager:arn:aws:secretsmanager:… Secrets Manager (ARN or name)
//
// The value is read at invocation time and kept in memory only.
type credentialRef string

func (r credentialRef) validate() error {
	if r == "" {
		return nil
	}
	return secret.CheckReference(string(r))
}

// fetch reads the referenced secret (internal/secret). Errors name the
// reference, never the value.
func (r credentialRef) fetch(ctx context.Context, cfg aws.Config) ([]byte, error) {
	v, err := secret.Fetch(ctx, string(r), cfg)
	if err != nil {
		return nil, err
	}
	return []byte(v.Reveal()), nil
}

// gcpCredentials turns a Google credential configuration into a client
// option. Only the types Portcullis documents are accepted, as Google asks
// of externally sourced configurations
// (https://cloud.google.com/docs/authentication/external/externally-sourced-credentials):
// external_account (workload identity federation with AWS as the identity
// provider: keyless, the configuration is not even secret) and, where an
// organization has no federation, service_account keys.
func gcpCredentials(doc []byte) (option.ClientOption, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		// The error of json.Unmarshal may quote the input: say only where.
		return nil, errors.New("gcp credentials: not a JSON credential configuration")
	}
	switch head.Type {
	case "external_account":
		return option.WithAuthCredentialsJSON(option.ExternalAccount, doc), nil
	case "service_account":
		return option.WithAuthCredentialsJSON(option.ServiceAccount, doc), nil
	case "impersonated_service_account":
		return option.WithAuthCredentialsJSON(option.ImpersonatedServiceAccount, doc), nil
	}
	return nil, fmt.Errorf("gcp credentials: type %q is not accepted (want external_account, service_account or impersonated_service_account)", head.Type)
}

// azureCredentials is the JSON document of the Azure secret.
type azureCredentials struct {
	TenantID string `json:"tenantId"`
	ClientID string `json:"clientId"`
	// ClientSecret, when empty, selects workload identity federation: the
	// function's own AWS identity is exchanged for an Entra ID token
	// through an STS web identity token (IAM outbound identity
	// federation), and no Azure secret exists anywhere.
	ClientSecret string `json:"clientSecret,omitempty"`
	// Cloud is public (default), china or usgovernment.
	Cloud string `json:"cloud,omitempty"`
}

// azureTokenAudience is the audience Entra ID expects of federated
// credentials: https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust
const azureTokenAudience = "api://AzureADTokenExchange" //nolint:gosec // G101: Entra ID's public token-exchange audience, not a secret

func parseAzureCredentials(doc []byte) (azureCredentials, error) {
	var c azureCredentials
	if err := json.Unmarshal(doc, &c); err != nil {
		return c, errors.New("azure credentials: not a JSON document with tenantId and clientId")
	}
	if c.TenantID == "" || c.ClientID == "" {
		return c, errors.New("azure credentials: tenantId and clientId are required")
	}
	return c, nil
}

// azureCredential builds the credential the Azure provider uses
// (azure.Config.Credential): a client-secret credential, or without a
// secret a federated one whose client assertion is an AWS web identity
// token for Entra ID (sts:GetWebIdentityToken), fetched when azidentity
// needs a token. Nothing goes through the process environment or a file.
func azureCredential(cfg aws.Config, c azureCredentials) (azcore.TokenCredential, error) {
	opts := &azidentity.ClientSecretCredentialOptions{}
	if c.ClientSecret != "" {
		cred, err := azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.ClientSecret, opts)
		if err != nil {
			return nil, errors.New("azure client-secret credential: invalid tenant or client ID")
		}
		return cred, nil
	}
	assertion := func(ctx context.Context) (string, error) {
		out, err := sts.NewFromConfig(cfg).GetWebIdentityToken(ctx, &sts.GetWebIdentityTokenInput{
			Audience:         []string{azureTokenAudience},
			SigningAlgorithm: aws.String("RS256"), // the only algorithm Entra ID accepts
			DurationSeconds:  aws.Int32(900),
		})
		if err != nil {
			return "", fmt.Errorf("get aws web identity token for azure federation: %w", err)
		}
		return aws.ToString(out.WebIdentityToken), nil
	}
	cred, err := azidentity.NewClientAssertionCredential(c.TenantID, c.ClientID, assertion, nil)
	if err != nil {
		return nil, errors.New("azure federated credential: invalid tenant or client ID")
	}
	return cred, nil
}
