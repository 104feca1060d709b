"""The SMS gateway client, double opt-ins and operator alerts."""
