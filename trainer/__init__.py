"""sigdetect trainer: data sets, the papers' architectures, training, TFLite export, enrollment (offline)."""
