"""Tests of the operations stage: VM operations and provisioning declared in the spec."""
