"""Images for tinysiam: built-in synthetic digits, MNIST, Omniglot, and the pair sampler."""
