"""Calibration: event logs read and counted, transition probabilities
estimated with their uncertainty, on one machine or a Dask cluster."""
