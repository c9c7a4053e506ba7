"""The scripts API's shared machinery: token authentication, scopes, throttling, errors,
idempotency and pagination. Each app's endpoints live in its own `api` package."""
