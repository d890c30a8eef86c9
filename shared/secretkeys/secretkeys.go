// Package secretkeys loads the service's keys from AWS Secrets Manager.
package secretkeys

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/unbundled/unbundled/shared/token"
)

// API is the part of the Secrets Manager client this package uses.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Load reads the signing keyring (flat JSON {"active":"k1","k1":"…"}) and the
// subject key (a plain string) from two secrets.
func Load(ctx context.Context, client API, signingSecretID, subjectSecretID string) (token.Keys, error) {
	signing, err := secretString(ctx, client, signingSecretID)
	if err != nil {
		return token.Keys{}, fmt.Errorf("signing keys secret: %w", err)
	}
	subject, err := secretString(ctx, client, subjectSecretID)
	if err != nil {
		return token.Keys{}, fmt.Errorf("subject key secret: %w", err)
	}
	keys, err := token.NewKeys([]byte(signing), []byte(subject))
	if err != nil {
		return token.Keys{}, fmt.Errorf("keys from Secrets Manager: %w", err)
	}
	return keys, nil
}

// String returns the string value of secret id (e.g. the webhook signing
// secret).
func String(ctx context.Context, client API, id string) (string, error) {
	return secretString(ctx, client, id)
}

func secretString(ctx context.Context, client API, id string) (string, error) {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", fmt.Errorf("get secret value: %w", err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret has no string value")
	}
	return *out.SecretString, nil
}
