"""Model definitions for training: the seed architectures and the losses / batch samplers (Keras 3)."""
