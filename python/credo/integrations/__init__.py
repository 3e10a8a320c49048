"""Integrations with data-processing frameworks (optional extras).

- :mod:`credo.integrations.ray` — batch scoring, calibration and evaluation on Ray Data.
- :mod:`credo.integrations.openai` — the ``openai`` client with credo's decision attached.
"""
