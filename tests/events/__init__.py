"""Tests of miqspec.events (targets, mapping, cursor, queue) and of the targeted refresh and
event polling it drives through the pipeline, one file per job."""
