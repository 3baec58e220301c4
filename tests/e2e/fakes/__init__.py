"""Fakes that let the harness check its own logic before (or without) the
generated services: a contract-following gateway and ML service in stdlib."""
