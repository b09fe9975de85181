"""Classifier experiments from the papers: log-mel tagging, spoken digits CNN vs RNN, the general pipeline."""
