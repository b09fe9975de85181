"""Recipes that build the shipped models from scratch: data, training, export, held-out measurement."""
