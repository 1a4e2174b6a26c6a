"""The demos: a live emulated org with simulated recruiters, and an offline sample of activity."""
