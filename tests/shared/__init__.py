"""What the processes share: the layout of the packages, the one vocabulary, typed app keys."""
