"""The local lab: a podman hospital with emulated switches."""
