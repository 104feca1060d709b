"""The four Variables and the Connections, parsed and checked (rule 7); the config-check command."""
