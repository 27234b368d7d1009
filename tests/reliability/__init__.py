"""Hostile APIs, hostile input, faults: the attack and fault cases of issue 14, kept as tests."""
