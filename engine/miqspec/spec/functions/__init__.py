"""The custom JMESPath functions a spec's expressions call, by family, and their registry."""
