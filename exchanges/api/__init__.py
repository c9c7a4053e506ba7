"""Exchange accounts, instruments and tickers in the scripts API (/api/v1/exchange-accounts/)."""
