"""Restoration models and DA-CLIP. ``registry`` maps a model name to a builder."""
