"""tinysiam: a minimal tensor and reverse-mode autodiff engine for Siamese networks."""
