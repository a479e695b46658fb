"""Hypothesis profiles: `default` stays quick for CI; MINIGRAD_HYPOTHESIS_PROFILE=thorough draws many more."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", max_examples=12, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("MINIGRAD_HYPOTHESIS_PROFILE", "default"))
